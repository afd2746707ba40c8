"""Calendar periods in the digest's time zone, turned into UTC bounds for the queries.

A digest posted on day D covers the ``days`` whole local days before D; the prior period
is the same length just before it.  Bounds are local midnights converted to UTC, so a
period spanning a daylight-saving change is 167 or 169 hours long, as the team lives it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from shipbell.bot.clock import to_db


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


@dataclass(frozen=True)
class Period:
    first_day: date  # inclusive, local
    days: int
    tz: ZoneInfo

    @property
    def end_day(self) -> date:
        """The first local day after the period."""
        return self.first_day + timedelta(days=self.days)

    @property
    def last_day(self) -> date:
        return self.end_day - timedelta(days=1)

    @cached_property
    def start(self) -> datetime:
        return local_midnight(self.first_day, self.tz)

    @cached_property
    def end(self) -> datetime:
        return local_midnight(self.end_day, self.tz)

    @property
    def bounds(self) -> tuple[str, str]:
        """Stored-text bounds, half-open [start, end), for index range scans."""
        return to_db(self.start), to_db(self.end)

    def contains(self, when: datetime) -> bool:
        return self.start <= when < self.end

    def previous(self) -> Period:
        return Period(self.first_day - timedelta(days=self.days), self.days, self.tz)

    @property
    def label(self) -> str:
        """`Nov 18–24`, `Oct 28–Nov 3`, or `Nov 24` for a one-day period."""
        first, last = self.first_day, self.last_day
        if first == last:
            return f"{first:%b} {first.day}"
        if first.month == last.month:
            return f"{first:%b} {first.day}–{last.day}"
        return f"{first:%b} {first.day}–{last:%b} {last.day}"


def current_period(posting_day: date, days: int, tz: ZoneInfo) -> Period:
    """The period a digest posted on ``posting_day`` reports: the days just before it."""
    return Period(posting_day - timedelta(days=days), days, tz)


def weeks_before(end_day: date, weeks: int, tz: ZoneInfo) -> list[Period]:
    """Consecutive 7-day periods ending the day before ``end_day``, oldest first."""
    return [Period(end_day - timedelta(days=7 * k), 7, tz) for k in range(weeks, 0, -1)]
