"""The scheduler core: exactly once across restarts and processes, catch-up, DST, metrics."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from apscheduler.triggers.cron import CronTrigger
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.scheduling import ScheduledJob, Scheduler
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner

DAILY_9 = "0 9 * * *"


class Recorder:
    """A job body that remembers which scheduled times it ran for."""

    def __init__(self) -> None:
        self.ran: list[datetime] = []

    async def __call__(self, when: datetime) -> str:
        await asyncio.sleep(0)  # let a competing scheduler interleave
        self.ran.append(when)
        return "posted"


def scheduler_on(store: Store, clock: FakeClock, **options: timedelta) -> Scheduler:
    """A process's scheduler and the task runner its claimed runs run in."""
    metrics = Metrics()
    return Scheduler(store, clock, metrics, TaskRunner(store, clock, metrics), **options)


def make(path: Path, clock: FakeClock, recorder: Recorder, *, cron: str = DAILY_9,
         tz: str = "UTC", grace: timedelta = timedelta(hours=1), coalesce: bool = False,
         ) -> tuple[Scheduler, Store]:
    store = Store(path)
    store.migrate(all_migrations())
    scheduler = scheduler_on(store, clock, grace=grace)
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    scheduler.add(ScheduledJob("digest", trigger, recorder, kind="test", coalesce=coalesce))
    return scheduler, store


def metric(scheduler: Scheduler, outcome: str) -> float:
    value = scheduler.metrics.registry.get_sample_value(
        "shipbell_scheduled_runs_total", {"job": "test", "outcome": outcome})
    return value or 0.0


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=UTC)


async def test_runs_once_when_due_and_not_again(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder()
    scheduler, _ = make(tmp_path / "s.db", clock, rec)
    clock.set(at(2, 8, 59))
    assert await scheduler.run_due() == []
    clock.set(at(2, 9))
    outcomes = await scheduler.run_due()
    assert [o.outcome for o in outcomes] == ["posted"]
    assert await scheduler.run_due() == []
    assert rec.ran == [at(2, 9)]


async def test_exactly_once_across_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder()
    first, store = make(tmp_path / "s.db", clock, rec)
    clock.set(at(2, 9, 5))
    await first.run_due()
    store.close()
    second, _ = make(tmp_path / "s.db", clock, rec)  # a new process on the same file
    await second.start()
    await second.stop()
    assert await second.run_due() == []
    assert rec.ran == [at(2, 9)]


async def test_two_schedulers_sharing_a_database_post_once(
    tmp_path: Path, clock: FakeClock
) -> None:
    rec = Recorder()
    one, _ = make(tmp_path / "s.db", clock, rec)
    two, _ = make(tmp_path / "s.db", clock, rec)
    one.instance, two.instance = "host-a:1", "host-b:2"
    for day in (2, 3, 4):
        clock.set(at(day, 9))
        outcomes = await asyncio.gather(one.run_due(), two.run_due())
        posted = [o for batch in outcomes for o in batch if o.outcome == "posted"]
        assert len(posted) == 1
    assert rec.ran == [at(2, 9), at(3, 9), at(4, 9)]
    row = one.store.one("SELECT COUNT(*) AS n FROM scheduled_runs WHERE job_id = 'digest'")
    assert row == {"n": 3}


async def test_catch_up_inside_the_grace_window(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder()
    clock.set(at(2, 8))
    _, store = make(tmp_path / "s.db", clock, rec)  # registered, then the process dies
    store.close()
    clock.set(at(2, 9, 40))  # back up 40 minutes after the run was due
    scheduler, _ = make(tmp_path / "s.db", clock, rec)
    outcomes = await scheduler.start()
    await scheduler.stop()
    assert [(o.scheduled_for, o.outcome) for o in outcomes] == [(at(2, 9), "posted")]
    assert metric(scheduler, "posted") == 1


async def test_missed_beyond_grace_is_logged_counted_never_posted(
    tmp_path: Path, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    rec = Recorder()
    clock.set(at(2, 8))
    _, store = make(tmp_path / "s.db", clock, rec)
    store.close()
    clock.set(at(4, 10, 30))  # down for two days and a half: three runs missed
    scheduler, _ = make(tmp_path / "s.db", clock, rec)
    with caplog.at_level(logging.WARNING, logger="shipbell"):
        outcomes = await scheduler.run_due()
    assert [o.outcome for o in outcomes] == ["missed", "missed", "missed"]
    assert rec.ran == []
    assert metric(scheduler, "missed") == 3
    assert sum("beyond the grace window" in r.getMessage() for r in caplog.records) == 3
    assert b'outcome="missed"' in scheduler.metrics.render()
    assert await scheduler.run_due() == []  # counted once, never spammed
    clock.set(at(5, 9))
    assert [o.outcome for o in await scheduler.run_due()] == ["posted"]


async def test_grace_window_is_configurable(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder()
    clock.set(at(2, 9, 30))
    scheduler, _ = make(tmp_path / "s.db", clock, rec, grace=timedelta(minutes=10))
    clock.set(at(3, 9, 20))
    assert [o.outcome for o in await scheduler.run_due()] == ["missed"]
    rec2 = Recorder()
    clock.set(at(2, 9, 30))
    lenient, _ = make(tmp_path / "t.db", clock, rec2, grace=timedelta(hours=3))
    clock.set(at(3, 11, 59))
    assert [o.outcome for o in await lenient.run_due()] == ["posted"]


async def test_wall_clock_time_survives_daylight_saving(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder()
    clock.set(datetime(2026, 10, 23, 12, tzinfo=UTC))
    scheduler, _ = make(tmp_path / "s.db", clock, rec, tz="Europe/Paris")
    for day in (24, 25, 26):  # Paris leaves summer time on Sunday 25 October
        clock.set(datetime(2026, 10, day, 9, 1, tzinfo=ZoneInfo("Europe/Paris")))
        assert [o.outcome for o in await scheduler.run_due()] == ["posted"]
    assert [w.astimezone(UTC).hour for w in rec.ran] == [7, 8, 8]
    assert {str(w.hour) for w in rec.ran} == {"9"}


async def test_coalesced_job_runs_only_the_latest_due_time(
    tmp_path: Path, clock: FakeClock
) -> None:
    rec = Recorder()
    clock.set(at(2, 9, 0))
    scheduler, _ = make(tmp_path / "s.db", clock, rec, cron="*/10 * * * *", coalesce=True)
    clock.set(at(2, 9, 45))
    outcomes = await scheduler.run_due()
    assert [(o.scheduled_for, o.outcome) for o in outcomes] == [(at(2, 9, 40), "posted")]


async def test_failed_run_is_recorded_and_not_retried(tmp_path: Path, clock: FakeClock) -> None:
    store = Store(tmp_path / "s.db")
    store.migrate(all_migrations())
    scheduler = scheduler_on(store, clock)

    async def boom(when: datetime) -> str:
        raise RuntimeError("provider down")

    scheduler.add(ScheduledJob("boom", CronTrigger.from_crontab(DAILY_9, timezone="UTC"), boom,
                               kind="test"))
    clock.set(at(2, 9))
    assert [o.outcome for o in await scheduler.run_due()] == ["failed"]
    row = store.one("SELECT status, detail FROM scheduled_runs WHERE job_id = 'boom'"
                    " AND scheduled_for = ?", (to_db(at(2, 9)),))
    assert row == {"status": "failed", "detail": "RuntimeError: provider down"}
    assert await scheduler.run_due() == []


async def test_removed_job_no_longer_runs(tmp_path: Path, clock: FakeClock) -> None:
    rec = Recorder()
    scheduler, _ = make(tmp_path / "s.db", clock, rec)
    scheduler.remove("digest")
    clock.set(at(2, 9))
    assert await scheduler.run_due() == []
    with pytest.raises(ValueError, match="added twice"):
        job = ScheduledJob("x", CronTrigger.from_crontab(DAILY_9), rec)
        scheduler.add(job)
        scheduler.add(job)


async def test_coalesced_job_catches_up_at_once_after_a_long_downtime(
    tmp_path: Path, clock: FakeClock
) -> None:
    rec = Recorder()
    clock.set(at(2, 9, 0))
    scheduler, store = make(tmp_path / "s.db", clock, rec, cron="* * * * *", coalesce=True)
    await scheduler.run_due()
    store.close()
    clock.set(at(4, 9, 0))  # two days of one-minute sweeps: 2,880 fire times
    again, _ = make(tmp_path / "s.db", clock, rec, cron="* * * * *", coalesce=True)
    outcomes = await again.run_due()
    assert [(o.scheduled_for, o.outcome) for o in outcomes] == [(at(4, 9), "posted")]
    assert rec.ran == [at(2, 9), at(4, 9)]


async def test_run_interrupted_by_a_crash_is_rerun_only_if_idempotent(
    tmp_path: Path, clock: FakeClock
) -> None:
    rec, fragile = Recorder(), Recorder()
    store = Store(tmp_path / "s.db")
    store.migrate(all_migrations())
    crashed = scheduler_on(store, clock)
    trigger = CronTrigger.from_crontab(DAILY_9, timezone="UTC")
    crashed.add(ScheduledJob("post", trigger, rec, kind="test", rerun_claimed=True))
    crashed.add(ScheduledJob("once", trigger, fragile, kind="test"))
    clock.set(at(2, 9))
    assert crashed._claim("post", at(2, 9), "claimed")  # claimed, then the process died
    assert crashed._claim("once", at(2, 9), "claimed")
    store.close()
    clock.set(at(2, 9, 20))
    store = Store(tmp_path / "s.db")
    again = scheduler_on(store, clock)
    again.add(ScheduledJob("post", trigger, rec, kind="test", rerun_claimed=True))
    again.add(ScheduledJob("once", trigger, fragile, kind="test"))
    outcomes = await again.start()
    await again.stop()
    assert [(o.job_id, o.outcome) for o in outcomes] == [("post", "posted")]
    assert rec.ran == [at(2, 9)] and fragile.ran == []
    assert await again.rerun_interrupted() == []  # finished now: not rerun again


async def test_cron_in_the_repeated_hour_fires_once_when_clocks_go_back(
    tmp_path: Path, clock: FakeClock
) -> None:
    rec = Recorder()
    clock.set(datetime(2026, 10, 23, 12, tzinfo=UTC))
    scheduler, _ = make(tmp_path / "s.db", clock, rec, cron="30 2 * * *", tz="Europe/Paris")
    start = datetime(2026, 10, 23, 23, 0, tzinfo=UTC)
    for step in range(0, 3 * 24 * 4):  # every 15 minutes for three days, one pass each
        clock.set(start + timedelta(minutes=15 * step))
        await scheduler.run_due()
    paris = [w.astimezone(ZoneInfo("Europe/Paris")) for w in rec.ran]
    assert [f"{w:%d %H:%M}" for w in paris] == ["24 02:30", "25 02:30", "26 02:30"]
    assert metric(scheduler, "duplicate") == 0
    with_gap = Recorder()
    clock.set(datetime(2026, 10, 25, 0, 0, tzinfo=UTC))
    late, _ = make(tmp_path / "t.db", clock, with_gap, cron="30 2 * * *", tz="Europe/Paris",
                   grace=timedelta(hours=3))
    clock.set(datetime(2026, 10, 25, 2, 0, tzinfo=UTC))  # both 02:30s are due at once
    assert len(await late.run_due()) == 1


async def test_a_local_job_runs_in_every_process_and_leaves_no_ledger(
    tmp_path: Path, clock: FakeClock
) -> None:
    one, two = Recorder(), Recorder()
    clock.set(at(2, 9, 0))
    store = Store(tmp_path / "s.db")
    store.migrate(all_migrations())
    trigger = CronTrigger.from_crontab("*/10 * * * *", timezone="UTC")
    schedulers = [scheduler_on(store, clock) for _ in (one, two)]
    for scheduler, rec in zip(schedulers, (one, two), strict=True):
        scheduler.add(ScheduledJob("cache", trigger, rec, kind="test", coalesce=True,
                                   local=True))
    clock.set(at(2, 9, 25))
    for scheduler in schedulers:
        await scheduler.run_due()
        await scheduler.run_due()  # and only once per due time within a process
    assert one.ran == two.ran == [at(2, 9, 20)]
    assert store.all("SELECT * FROM scheduled_runs") == []
