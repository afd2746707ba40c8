"""Cadence arithmetic for one train: nominal dates, weekend/holiday rules, captain rotation.

Pure functions of the configuration (no database): the scheduler's triggers, the freeze
gate and `/release calendar` all read the same dates from here.  Nominal times come from
the cadence (every N weeks from a start date, or an APScheduler cron trigger) in the
train's time zone, so daylight-saving changes keep the wall-clock time.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from shipbell.bot.releases.config import WEEKDAYS, TrainSettings, holiday_calendars

MAX_MOVE_DAYS = 14  # a release never moves further than this to find a working day
ROTATION_ANCHOR = date(2026, 1, 1)  # cron trains count captain turns from here
MAX_SCAN = 5000  # nominal dates looked at per query; bounds work for odd cron cadences


@dataclass(frozen=True)
class Occurrence:
    """One release of a train: when it was due, when it happens (None when skipped), why."""

    train: str
    nominal: datetime
    at: datetime | None
    turn: int  # captain rotation index
    note: str = ""  # e.g. "moved from Fri 25 Dec (Christmas Day)" or "skipped: Christmas Day"

    @property
    def local_date(self) -> date:
        return (self.at or self.nominal).date()


class TrainCalendar:
    def __init__(self, name: str, train: TrainSettings, default_tz: str = "UTC") -> None:
        self.name = name
        self.train = train
        self.zone = train.timezone or default_tz
        self.tz = ZoneInfo(self.zone)
        self._cron = (
            CronTrigger.from_crontab(train.cron, timezone=self.tz) if train.cron else None
        )
        self._holidays = (
            holiday_calendars().country_holidays(train.holidays, subdiv=train.holiday_subdivision)
            if train.holidays else None
        )
        self._cron_times: list[tuple[datetime, int]] = []
        self._cron_start: datetime | None = None  # the cache holds every fire time >= this
        self._cron_gen = 0
        if not self._cron:
            assert train.weekday and train.time
            weekday = WEEKDAYS.index(train.weekday)
            start = train.start_date or ROTATION_ANCHOR
            self._first = start + timedelta(days=(weekday - start.weekday()) % 7)
            self._time = time.fromisoformat(train.time)
            self._period = timedelta(weeks=train.every_weeks)

    # -- nominal cadence ----------------------------------------------------------------------
    def _nominal_from(self, since: datetime) -> Iterator[tuple[datetime, int]]:
        """Nominal release times >= ``since`` in the train's zone, with their rotation turn."""
        if self._cron is not None:
            yield from self._cron_from(since)
            return
        local = since.astimezone(self.tz)
        periods = max(0, (local.date() - self._first).days // self._period.days)
        for k in range(periods, periods + MAX_SCAN):
            day = self._first + k * self._period
            when = datetime.combine(day, self._time, tzinfo=self.tz)
            if when >= since:
                yield when, k

    def _cron_from(self, since: datetime) -> Iterator[tuple[datetime, int]]:
        """Cron fire times >= ``since``, memoised: a cron step costs ~150 µs and the freeze
        gate asks on every deploy, always about roughly the same few weeks.  The cache holds
        every fire time from ``_cron_start`` on, contiguously, and grows forward on demand."""
        stale = len(self._cron_times) > 4 * MAX_SCAN  # bound memory: start over
        if self._cron_start is None or since < self._cron_start or stale:
            self._cron_start = since
            self._cron_times = []
            self._cron_turn0 = self._cron_turn(since)
            self._cron_cursor: datetime = since.astimezone(UTC)
            self._cron_raw: datetime | None = None
            self._cron_gen += 1
        gen, last = self._cron_gen, since
        i = bisect_left(self._cron_times, since, key=lambda item: item[0])
        for _ in range(MAX_SCAN):
            if gen != self._cron_gen:  # another query rebuilt the cache meanwhile
                yield from self._cron_from(last + timedelta(microseconds=1))
                return
            if i >= len(self._cron_times) and not self._extend_cron():
                return
            item = self._cron_times[i]
            i += 1
            if item[0] < since:  # the cache ended before ``since``: walk it forward
                continue
            last = item[0]
            yield item

    def _extend_cron(self) -> bool:
        assert self._cron is not None
        while True:
            nxt = self._cron.get_next_fire_time(self._cron_raw, self._cron_cursor)
            if nxt is None:
                return False
            previous, self._cron_raw = self._cron_raw, nxt
            # Step in UTC: local arithmetic drops fold=1 and would step backwards.
            self._cron_cursor = nxt.astimezone(UTC) + timedelta(seconds=1)
            # When clocks go back, cron matches 02:30 twice (fold 0 and 1): one release.
            if previous is None or not _same_wall_time(nxt, previous):
                turn = self._cron_times[-1][1] + 1 if self._cron_times else self._cron_turn0
                self._cron_times.append((nxt, turn))
                return True

    def _cron_turn(self, since: datetime) -> int:
        return _count_cron(self.train.cron or "", self.zone,
                           since.astimezone(UTC).replace(second=0, microsecond=0))

    # -- working days -------------------------------------------------------------------------
    def holiday_name(self, day: date) -> str | None:
        if self._holidays is not None and day in self._holidays:
            return str(self._holidays.get(day))
        return None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and self.holiday_name(day) is None

    def _why_not(self, day: date) -> str:
        return self.holiday_name(day) or day.strftime("%A")

    def _adjust(self, nominal: datetime, turn: int) -> Occurrence:
        day = nominal.date()
        if self.is_working_day(day):
            return Occurrence(self.name, nominal, nominal, turn)
        why = self._why_not(day)
        rule = self.train.on_holiday
        if rule != "skip":
            step = timedelta(days=1 if rule == "next" else -1)
            candidate = day
            for _ in range(MAX_MOVE_DAYS):
                candidate += step
                if self.is_working_day(candidate):
                    moved = datetime.combine(candidate, nominal.timetz().replace(tzinfo=None),
                                             tzinfo=self.tz)
                    note = f"moved from {day:%a %d %b} ({why})"
                    return Occurrence(self.name, nominal, moved, turn, note)
        return Occurrence(self.name, nominal, None, turn, f"skipped: {why}")

    # -- queries ------------------------------------------------------------------------------
    def occurrences(self, since: datetime) -> Iterator[Occurrence]:
        """Releases whose actual (or, if skipped, nominal) time is >= ``since``, in order."""
        last: datetime | None = None
        start = since - timedelta(days=MAX_MOVE_DAYS + 1)
        for nominal, turn in self._nominal_from(start):
            occ = self._adjust(nominal, turn)
            if occ.at is not None and last is not None and occ.at <= last:
                occ = Occurrence(self.name, nominal, None, turn,
                                 f"skipped: moved onto the {last:%a %d %b} release")
            if occ.at is not None:
                last = occ.at
            if (occ.at or occ.nominal) >= since:
                yield occ

    def upcoming(self, since: datetime, count: int) -> list[Occurrence]:
        out: list[Occurrence] = []
        for occ in self.occurrences(since):
            out.append(occ)
            if len(out) >= count:
                break
        return out

    def held_between(self, start: datetime, end: datetime) -> list[Occurrence]:
        """Releases that are not holiday-skipped with ``start <= at < end``."""
        out = []
        for occ in self.occurrences(start):
            if (occ.at or occ.nominal) >= end:
                break
            if occ.at is not None:
                out.append(occ)
        return out

    def rotation_captain(self, occ: Occurrence) -> str | None:
        captains = self.train.captains
        return captains[occ.turn % len(captains)] if captains else None


@lru_cache(maxsize=256)
def _count_cron(expr: str, zone: str, until: datetime) -> int:
    """Cron fire times from the rotation anchor up to ``until``: the captain turn number."""
    trigger = CronTrigger.from_crontab(expr, timezone=zone)
    tz = ZoneInfo(zone)
    cursor = datetime.combine(ROTATION_ANCHOR, time(0), tzinfo=tz)
    previous: datetime | None = None
    count = 0
    while count < 100_000:
        nxt = trigger.get_next_fire_time(previous, cursor)
        if nxt is None or nxt >= until:
            break
        if previous is None or not _same_wall_time(nxt, previous):
            count += 1
        previous, cursor = nxt, nxt.astimezone(UTC) + timedelta(seconds=1)
    return count


def _same_wall_time(a: datetime, b: datetime) -> bool:
    return a.replace(tzinfo=None, fold=0) == b.astimezone(a.tzinfo).replace(tzinfo=None, fold=0)
