"""The one parser for numbers from outside, and the one escape for echoed text."""

from __future__ import annotations

import pytest
from shipbell.bot.inputs import (
    CHANNEL_ID,
    GROUP_ID,
    SQLITE_MAX_INT,
    USER_ID,
    escape,
    is_group,
    mentioned_user,
    parse_count,
    parse_id,
    strict_int,
    user_text,
)
from shipbell.bot.people import PERSON, person
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS, ONCALL


@pytest.mark.parametrize("text", ["", "0", "-1", "²", "1²", "1e3", "1.0", " ", "abc",
                                  "99999999999999999999999", str(SQLITE_MAX_INT + 1), "٣"])
def test_parse_id_refuses_what_is_not_a_stored_id(text: str) -> None:
    assert parse_id(text) is None


@pytest.mark.parametrize(("text", "value"), [("1", 1), ("#42", 42), (" 7 ", 7),
                                             (str(SQLITE_MAX_INT), SQLITE_MAX_INT)])
def test_parse_id_reads_ascii_digits(text: str, value: int) -> None:
    assert parse_id(text) == value


def test_parse_id_takes_only_text() -> None:
    assert parse_id(True) is None
    assert parse_id(5) is None


def test_parse_count_keeps_its_range() -> None:
    assert parse_count("50", 1, 50) == 50
    assert parse_count("51", 1, 50) is None
    assert parse_count("0", 1, 50) is None


def test_strict_int_refuses_bools_and_floats() -> None:
    assert strict_int(True) is None
    assert strict_int(1.0) is None
    assert strict_int(1e30) is None
    assert strict_int(3) == 3
    assert strict_int(2**64) is None


def test_escape_defuses_broadcasts_and_links() -> None:
    assert escape("<!here|@here> & <https://x|y>") == "&lt;!here|@here&gt; &amp; &lt;https://x|y&gt;"


# ---- Slack ids: one grammar, as Slack issues them ----------------------------------------
@pytest.mark.parametrize("text", ["U024BE7LH", "W012A3CDE", "U02UD2WE3HA", "USLACKBOT", ANA])
def test_user_ids_are_a_kind_letter_and_upper_case_letters_or_digits(text: str) -> None:
    assert USER_ID.fullmatch(text)


@pytest.mark.parametrize("text", ["U_ANA", "U0ANA_0001", "u024be7lh", "U024be7lh", "U123",
                                  "WARNING", "C024BE91L", "S0614TZR7", "U024BE7LH ", ""])
def test_anything_else_is_not_a_user_id(text: str) -> None:
    assert not USER_ID.fullmatch(text)


def test_each_kind_has_its_letters() -> None:
    assert CHANNEL_ID.fullmatch(DEPLOYS) and CHANNEL_ID.fullmatch("G024BE91L")
    assert not CHANNEL_ID.fullmatch("D024BE91L") and not CHANNEL_ID.fullmatch("C_DEPLOYS")
    assert GROUP_ID.fullmatch(ONCALL) and not GROUP_ID.fullmatch("S_ONCALL")
    assert is_group(ONCALL) and not is_group(ANA) and not is_group("S_ONCALL")


def test_a_mention_of_an_id_slack_never_issues_is_no_mention() -> None:
    assert mentioned_user(f"<@{ANA}|ana>") == ANA and mentioned_user(f"<@{ANA}>") == ANA
    for word in ("<@U_ANA|ana>", "<@u0ana0001>", "<@U1>", f"<@{ANA}|ana>x"):
        assert mentioned_user(word) is None
    # kept as a mention only when it is one; anything else is shown, escaped, never a ping
    assert user_text(f"<@{ANA}|ana> <@U_ANA|ana>") == f"<@{ANA}> &lt;@U_ANA|ana&gt;"
    assert user_text("<!subteam^S_SRE|@sre>") == "&lt;!subteam^S_SRE|@sre&gt;"
    assert PERSON.fullmatch(person(ONCALL)) and not PERSON.fullmatch(person("U_ANA"))
