"""Freeze windows from the release calendar, as the deploy gates see them.

A service is frozen in a train's environment during the code-freeze lead time before each
release that will be held, and during any ad-hoc `/release freeze`.
"""

from __future__ import annotations

from datetime import datetime

from bot.core import Core
from bot.releases.models import FreezeWindow

__all__ = ["FreezeWindow", "active_freeze"]


def active_freeze(core: Core, service: str, env: str, at: datetime) -> FreezeWindow | None:
    """The release-calendar freeze covering ``service`` in ``env`` at ``at``, if any."""
    from bot.releases.service import releases_of

    book = releases_of(core)
    for name in book.trains_for(service, env):
        window = book.freeze_window(name, at)
        if window is not None:
            return window
    return None
