"""The one place where text from outside becomes a number, and user text becomes safe mrkdwn.

Every id, count or limit read from a command, a button value or a callback body goes through
``parse_id`` / ``parse_count``: ASCII digits only (``"²".isdigit()`` is True and ``int("²")``
raises) and within SQLite's signed 64-bit range, so a 20-digit id is "no such thing", never an
OverflowError.  Every piece of user text Shipbell echoes into Slack goes through ``escape``.
"""

from __future__ import annotations

import re

SQLITE_MAX_INT = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")


def parse_int(text: object, *, lo: int = 0, hi: int = SQLITE_MAX_INT) -> int | None:
    """An integer in [lo, hi] written in ASCII digits (an optional leading '#'), else None.

    Only ``str`` is accepted: ``True`` and ``1e3`` are not numbers here.
    """
    if not isinstance(text, str):
        return None
    text = text.strip().removeprefix("#")
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def parse_id(text: object) -> int | None:
    """A stored row id (1 … 2**63-1), else None."""
    return parse_int(text, lo=1)


def parse_count(text: object, lo: int, hi: int) -> int | None:
    """A count or limit the user typed, within [lo, hi], else None."""
    return parse_int(text, lo=lo, hi=hi)


def strict_int(value: object, *, lo: int = 0, hi: int = SQLITE_MAX_INT) -> int | None:
    """An int from decoded JSON: a real int (not a bool, not a float) in range, else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if lo <= value <= hi else None


def escape(text: str) -> str:
    """mrkdwn control characters, so user text can't ping a channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
