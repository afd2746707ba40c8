"""Scheduled jobs: what runs on a clock (release posts, the digest, housekeeping, reminders).

The engine that runs them is core infrastructure (``bot.scheduling``); this package only says
what to run and when.
"""

from __future__ import annotations

from shipbell.bot.core import Core
from shipbell.scheduled import digest, housekeeping, incidents, releases


def register(core: Core) -> None:
    """Add every scheduled job; after the features, whose services the jobs use."""
    housekeeping.register(core)
    incidents.register(core)
    releases.register(core)
    digest.add_digest_job(core)
