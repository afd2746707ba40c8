"""Time, injected: production reads the wall clock, tests move a FakeClock by hand.

All stored times are UTC ISO-8601 strings of fixed width, so they sort as text and
indexes on them serve range queries.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class FakeClock:
    """A clock that only moves when told; sleepers wake when it passes their deadline."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
        self._sleepers: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._seq = itertools.count()
        self._new_sleeper: asyncio.Event | None = None

    def now(self) -> datetime:
        return self._now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(
            self._sleepers, (self._now + timedelta(seconds=seconds), next(self._seq), future)
        )
        if self._new_sleeper is not None:
            self._new_sleeper.set()
        await future

    async def until_sleeping(self, count: int = 1, timeout: float = 5.0) -> None:
        """Wait (in real time, bounded) until ``count`` tasks sleep on this clock."""
        async with asyncio.timeout(timeout):
            while self.sleepers < count:
                self._new_sleeper = asyncio.Event()
                await self._new_sleeper.wait()

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        """Move forward by ``delta`` (or timedelta kwargs) and wake every sleeper now due."""
        self.set(self._now + (delta if delta is not None else timedelta(**kwargs)))
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self._now = when.astimezone(UTC)
        while self._sleepers and self._sleepers[0][0] <= self._now:
            _, _, future = heapq.heappop(self._sleepers)
            if not future.done():
                future.set_result(None)

    @property
    def sleepers(self) -> int:
        return sum(1 for _, _, f in self._sleepers if not f.done())


def to_db(when: datetime) -> str:
    """Serialise an aware datetime as fixed-width UTC text."""
    if when.tzinfo is None:
        raise ValueError("naive datetimes are not stored; attach a time zone")
    return when.astimezone(UTC).isoformat(timespec="microseconds")


def from_db(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def slack_date(when: datetime, fmt: str = "{date_short_pretty} {time}") -> str:
    """Slack's `<!date^…>` token: each reader sees their own local time, with a UTC fallback."""
    epoch = int(when.timestamp())
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{epoch}^{fmt}|{fallback}>"


def humanize(delta: timedelta) -> str:
    """Short durations for chat: 45 s, 12 min, 2 h, 3 d."""
    seconds = int(delta.total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400 * 2:
        hours, rest = divmod(seconds, 3600)
        return f"{hours} h" if rest < 60 * 5 else f"{hours} h {rest // 60} min"
    return f"{seconds // 86400} d"


def named_time(at: datetime, zone: ZoneInfo) -> str:
    """``Tue 3 Nov 14:00 CET``: local time with the zone's abbreviation, or its name where it
    has none; plain text every reader reads the same, for answers that say until when."""
    local = at.astimezone(zone)
    abbr = local.tzname() or ""
    name = abbr if abbr[:1].isalpha() else zone.key
    return f"{local:%a} {local.day} {local:%b %H:%M} {name}"
