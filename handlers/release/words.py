"""Reading people's words for `/release`: dates, counts, and echoing words back."""

from __future__ import annotations

import re
from datetime import date

from shipbell.bot.inputs import inline

COUNT_WORD = re.compile(r"[0-9]{1,6}")  # ASCII only: "²".isdigit() is True, int("²") raises


def shown(word: str) -> str:
    """Echo someone's word safely: short, no backticks to break the code span, `&<>` escaped
    (so no pings, no links)."""
    return inline(word, 40)


def read_day(word: str | None, example: str) -> date | str:
    try:
        return date.fromisoformat(word or "")
    except ValueError:
        return f"`{shown(word or '')}` isn't a date; give it as YYYY-MM-DD, e.g. `{example}`."

