"""Durations as people type them (`3d`, `24h`, `90m`, `1h30m`, `0`), for config and commands."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)\s*(d|h|m|min|w)", re.IGNORECASE)
_WHOLE = re.compile(r"^(?:\s*\d+\s*(?:d|h|m|min|w)\s*)+$", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "min": "minutes"}
EXAMPLE = "such as 30m, 2h, 1h30m or 3d"
MAX = timedelta(days=3660)  # ten years: anything longer is a typo, and overflows date math


def parse_duration(text: str) -> timedelta:
    """Parse ``3d``/``24h``/``90m``/``1h30m``; ``0`` means "at the time itself"."""
    raw = text.strip()
    if raw == "0":
        return timedelta(0)
    if not _WHOLE.match(raw):
        raise ValueError(f"{text!r} is not a duration; use a number and unit {EXAMPLE}")
    total = timedelta(0)
    try:
        for amount, unit in _PART.findall(raw):
            total += timedelta(**{_UNITS[unit.lower()]: int(amount)})
    except OverflowError:  # "9999999999d": too long for any clock, not a crash
        raise ValueError(f"{text!r} is far too long; use a duration {EXAMPLE}") from None
    if total > MAX:
        raise ValueError(f"{text!r} is far too long; use a duration {EXAMPLE}")
    return total


def format_duration(delta: timedelta) -> str:
    """The short form back (``3d``, ``2h``, ``1h30m``), for messages about reminders."""
    minutes = int(delta.total_seconds() // 60)
    if minutes == 0:
        return "0"
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    parts = [f"{days}d" if days else "", f"{hours}h" if hours else "", f"{mins}m" if mins else ""]
    return "".join(parts)
