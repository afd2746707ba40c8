"""Freeze windows from the release calendar, as the deploy gates see them.

A service is frozen in a train's environment during the code-freeze lead time before each
release that will be held, and during any ad-hoc `/release freeze`.  The reason a gate
quotes says until when, in the train's time zone with its name (the gate's refusal is
plain text, so every reader gets the same clock time, named).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from shipbell.bot.clock import named_time as until
from shipbell.bot.releases.models import FreezeWindow
from shipbell.bot.releases.service import ReleaseBook

__all__ = ["FreezeWindow", "active_freeze", "until"]


def active_freeze(book: ReleaseBook, service: str, env: str,
                  at: datetime) -> FreezeWindow | None:
    """The release-calendar freeze covering ``service`` in ``env`` at ``at``, if any."""
    for name in book.trains_for(service, env):
        window = book.freeze_window(name, at)
        if window is not None:
            zone = book.calendars[name].tz
            ends = f", until {until(window.ends_at, zone)}" if window.ends_at else \
                ", until lifted with `/release unfreeze`"
            return replace(window, reason=window.reason + ends)
    return None
