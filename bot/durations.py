"""Durations as people type them: one grammar for config values and every command.

A duration is one or more parts, each ASCII digits (twelve at most) then a unit: ``w``
(weeks), ``d`` (days), ``h`` (hours), ``m`` or ``min`` (minutes). Case doesn't matter, parts
may come in any order and may be separated by spaces: ``30m``, ``2h``, ``1h30m``,
``1h 30min``, ``1d12h``, ``2w``. ``0`` alone means "no time" (a reminder at the time itself).
Each use checks its own range: `/deploy lock --for` takes 1m to 14d, `/release freeze` to 30d.
"""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)\s*(min|[wdhm])", re.IGNORECASE)
_WHOLE = re.compile(r"\s*(?:[0-9]+\s*(?:min|[wdhm])\s*)+", re.IGNORECASE)
_UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes", "min": "minutes"}
_MAX_DIGITS = 12  # per part: more than any clock holds, few enough for int(); more is a typo
EXAMPLE = "such as 30m, 2h, 1h30m or 3d"
MAX = timedelta(days=3660)  # ten years: anything longer is a typo, and overflows date math


class DurationError(ValueError):
    """Not a duration (``too_long`` False), or one longer than ``MAX`` (``too_long`` True)."""

    def __init__(self, message: str, *, too_long: bool) -> None:
        super().__init__(message)
        self.too_long = too_long


def parse_duration(text: str) -> timedelta:
    """``30m``, ``2h``, ``1h30m``, ``1h 30min``, ``2w``; ``0`` is zero; else DurationError."""
    raw = text.strip()
    if raw == "0":
        return timedelta(0)
    if not _WHOLE.fullmatch(raw):
        raise DurationError(f"{text!r} is not a duration; use a number and unit {EXAMPLE}",
                            too_long=False)
    parts = _PART.findall(raw)
    if any(len(amount) > _MAX_DIGITS for amount, _ in parts):
        raise DurationError(f"{text!r} is not a duration; use a number and unit {EXAMPLE}",
                            too_long=False)
    total = timedelta(0)
    try:
        for amount, unit in parts:
            total += timedelta(**{_UNITS[unit.lower()]: int(amount)})
    except OverflowError:  # "9999999999d": too long for any clock, not a crash
        raise DurationError(f"{text!r} is far too long; use a duration {EXAMPLE}",
                            too_long=True) from None
    if total > MAX:
        raise DurationError(f"{text!r} is far too long; use a duration {EXAMPLE}", too_long=True)
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
