"""Freeze windows from the release calendar, as the deploy gates see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bot.core import Core


@dataclass(frozen=True)
class FreezeWindow:
    source: str  # e.g. "release train web-weekly"
    reason: str
    starts_at: datetime
    ends_at: datetime | None


def active_freeze(core: Core, service: str, env: str, at: datetime) -> FreezeWindow | None:
    """The release-calendar freeze covering ``service`` in ``env`` at ``at``, if any."""
    return None
