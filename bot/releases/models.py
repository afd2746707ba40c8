"""Value objects shared by the release domain, the freeze gate and the handlers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from shipbell.bot.releases.calendar import Occurrence


@dataclass(frozen=True)
class FreezeWindow:
    source: str  # e.g. "release train web-weekly"
    reason: str
    starts_at: datetime
    ends_at: datetime | None


@dataclass(frozen=True)
class Skip:
    reason: str
    actor: str


@dataclass(frozen=True)
class Release:
    """An occurrence with what people changed about it: manual skip, swapped captain."""

    occ: Occurrence
    captain: str | None
    captain_swapped: bool
    skip: Skip | None
    freeze_at: datetime | None
    captain_gone: bool = False  # the captain's account is deactivated: someone must swap in

    @property
    def train(self) -> str:
        return self.occ.train

    @property
    def at(self) -> datetime | None:
        return self.occ.at

    @property
    def held(self) -> bool:
        """Will (or did) this release actually happen?"""
        return self.occ.at is not None and self.skip is None

    @property
    def day(self) -> str:
        return self.occ.local_date.isoformat()


@dataclass(frozen=True)
class Shipped:
    """A production deploy that rides (or rode) a train."""

    service: str
    version: str | None
    ref: str
    requester: str
    finished_at: datetime


@dataclass(frozen=True)
class Cargo:
    """What is on a train: the first deploys (oldest first) and how many there are in all."""

    items: list[Shipped]
    total: int

    def __len__(self) -> int:
        return self.total
