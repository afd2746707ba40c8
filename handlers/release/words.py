"""Reading people's words for `/release`: dates, mentions, counts, and echoing words back."""

from __future__ import annotations

import re
from datetime import date

from bot.inputs import inline
from handlers.common import user_id

MENTION = re.compile(r"^<@([UW][A-Z0-9_]+)(?:\|[^>]*)?>$")  # also the test workspace's U_ANA
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


def mentioned(word: str) -> str | None:
    found = user_id(word)
    if found is None and (match := MENTION.match(word)):
        found = match.group(1)
    return found
