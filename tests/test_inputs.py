"""The one parser for numbers from outside, and the one escape for echoed text."""

from __future__ import annotations

import pytest
from shipbell.bot.inputs import SQLITE_MAX_INT, escape, parse_count, parse_id, strict_int


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
