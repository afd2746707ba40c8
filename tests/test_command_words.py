"""How a slash command's text becomes words: shell-like, quotes keep a reason together."""

from __future__ import annotations

import shlex

from hypothesis import given
from hypothesis import strategies as st
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS
from shipbell.handlers.common import SlashCommand, split_words

TRICKY = list("ab1/@- \t\r\n\x0b\x0c\x1c\x85\u00a0\u2003\u3000\"'\\#“”‘’")


def shell_words(text: str) -> list[str]:
    """What split_words promises: shlex's split (curly quotes read as straight ones), or
    plain whitespace splitting when a quote is left open."""
    normalised = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    try:
        return shlex.split(normalised)
    except ValueError:
        return normalised.split()


@given(st.text(alphabet=st.sampled_from(TRICKY), max_size=30) | st.text(max_size=30))
def test_words_are_shlex_words_for_any_text(text: str) -> None:
    assert split_words(text) == shell_words(text)


def test_quoted_reasons_stay_together() -> None:
    assert split_words('lock api production "db migration" --for 2h') == [
        "lock", "api", "production", "db migration", "--for", "2h"]
    assert split_words("api to production --reason “hot fix”") == [
        "api", "to", "production", "--reason", "hot fix"]
    assert split_words("a\u00a0b c") == ["a\u00a0b", "c"]  # shlex splits on ASCII spaces only
    assert split_words('say "unclosed') == ["say", '"unclosed']


def test_a_command_is_split_once_for_all_its_readers() -> None:
    cmd = SlashCommand.from_body({"command": "/deploy", "text": " status  api ",
                                  "user_id": ANA, "channel_id": DEPLOYS})
    assert cmd.words == ["status", "api"]
    assert cmd.words is cmd.words
