"""The release feature's book: one per Shipbell, in ``core.registry``."""

from __future__ import annotations

from shipbell.bot.core import Core
from shipbell.bot.releases.service import ReleaseBook


def releases_of(core: Core) -> ReleaseBook:
    """The core's release book, built from its settings on first use."""
    return core.registry.ensure(ReleaseBook, lambda: ReleaseBook(
        core.store, core.clock, core.settings.release, core.settings.timezone))
