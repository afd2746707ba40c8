"""A scheduled run's claim and its body are one persisted task: a replica that dies mid-run
has the run taken over by a survivor within the lease time (never by two, never lost).

Two schedulers with their own task runners on one SQLite file stand for two replicas; a
FakeClock moves lease time, and the beat a replica runs every third of the lease is called
by hand.  A replica "dies" by stalling inside the run: it never renews its lease again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from apscheduler.triggers.cron import CronTrigger
from fakes.waiting import until
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.scheduling import ScheduledJob, Scheduler
from shipbell.bot.scheduling.runs import RunStatus, SchedulerTask
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner, TaskStatus

LEASE = 30.0
NINE = datetime(2026, 11, 2, 9, tzinfo=UTC)
GRACE = timedelta(minutes=10)


class Replica:
    """One process: its scheduler, task runner, and the runs its job body saw."""

    def __init__(self, path: Path, clock: FakeClock, name: str, *, rerun: bool) -> None:
        self.store = Store(path)
        self.store.migrate(all_migrations())
        self.metrics = Metrics()
        self.tasks = TaskRunner(self.store, clock, self.metrics, replica=name,
                                lease_seconds=LEASE)
        self.scheduler = Scheduler(self.store, clock, self.metrics, self.tasks, grace=GRACE,
                                   instance=name)
        self.started: list[datetime] = []
        self.finished: list[datetime] = []
        self.gate = asyncio.Event()  # the body runs until this is set
        self.scheduler.add(ScheduledJob(
            "digest", CronTrigger(hour=9, minute=0, timezone="UTC"), self.body, kind="test",
            grace=GRACE, rerun_claimed=rerun))

    async def body(self, when: datetime) -> str:
        self.started.append(when)
        await self.gate.wait()
        self.finished.append(when)
        return "posted"

    def taken_over(self) -> float:
        value = self.metrics.registry.get_sample_value(
            "shipbell_task_leases_taken_over_total", {"kind": SchedulerTask.RUN})
        return value or 0.0


Make = Callable[..., Replica]


@pytest.fixture
async def replicas(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Make]:
    made: list[Replica] = []
    clock.set(NINE - timedelta(hours=1))  # the job is registered before its first run

    def make(name: str, *, rerun: bool = True) -> Replica:
        made.append(Replica(tmp_path / "shared.db", clock, name, rerun=rerun))
        return made[-1]

    yield make
    for replica in made:
        replica.gate.set()
        await replica.tasks.shutdown(1.0)
        replica.store.close()


def ledger(replica: Replica) -> list[dict[str, object]]:
    return replica.store.all("SELECT scheduled_for, claimed_by, status FROM scheduled_runs")


def run_task(replica: Replica) -> dict[str, object]:
    row = replica.store.one("SELECT status, owner, attempts FROM tasks WHERE kind = ?",
                            (SchedulerTask.RUN,))
    assert row is not None
    return row


async def a_dies_mid_run(a: Replica, clock: FakeClock) -> asyncio.Task[object]:
    """``a`` claims the 09:00 run and stalls in its body; its lease then runs out."""
    clock.set(NINE + timedelta(seconds=5))
    stalled = asyncio.ensure_future(a.scheduler.run_due())
    await until(lambda: a.started == [NINE])
    assert ledger(a) == [{"scheduled_for": to_db(NINE), "claimed_by": "a", "status": "claimed"}]
    assert run_task(a) == {"status": TaskStatus.RUNNING, "owner": "a", "attempts": 1}
    clock.advance(seconds=LEASE + 1)
    return stalled


async def test_a_run_whose_replica_dies_is_taken_over_by_a_survivors_beat_and_runs_once(
    replicas: Make, clock: FakeClock
) -> None:
    a, b = replicas("a"), replicas("b")
    stalled = await a_dies_mid_run(a, clock)
    assert await b.scheduler.run_due() == []  # claimed: b never claims it a second time
    b.gate.set()
    await b.tasks.beat()  # b's next beat: a's lease ran out
    await until(lambda: b.finished == [NINE])
    await b.tasks.idle()
    assert ledger(b) == [{"scheduled_for": to_db(NINE), "claimed_by": "a", "status": "posted"}]
    assert run_task(b) == {"status": TaskStatus.DONE, "owner": "b", "attempts": 2}
    assert b.taken_over() == 1
    # a comes back from its stall: its next beat finds the run taken and stops its copy.
    await a.tasks.renew()
    await asyncio.wait_for(stalled, 5)
    assert a.finished == [] and b.started == [NINE]
    assert ledger(a)[0]["status"] == "posted"


async def test_a_live_replica_keeps_its_run_and_nobody_else_starts_it(
    replicas: Make, clock: FakeClock
) -> None:
    a, b = replicas("a"), replicas("b")
    b.gate.set()  # b would run it through, were it to start it
    clock.set(NINE + timedelta(seconds=5))
    running = asyncio.ensure_future(a.scheduler.run_due())
    await until(lambda: a.started == [NINE])
    for _ in range(5):  # minutes of a slow run, a renewing its lease at every beat
        clock.advance(seconds=LEASE / 3)
        await a.tasks.beat()
        await b.tasks.beat()
    assert await b.scheduler.rerun_interrupted() == []  # b restarting takes nothing either
    assert b.started == [] and b.taken_over() == 0
    a.gate.set()
    assert [o.outcome for o in await running] == [RunStatus.POSTED]
    assert ledger(a)[0]["status"] == "posted"


async def test_a_restart_takes_over_a_dead_replicas_run_and_reports_it(
    replicas: Make, clock: FakeClock
) -> None:
    a = replicas("a")
    await a_dies_mid_run(a, clock)
    b = replicas("b")
    b.gate.set()
    outcomes = await b.scheduler.start()  # b starting up: the interrupted run, once
    await b.scheduler.stop()
    assert [(o.scheduled_for, o.outcome) for o in outcomes] == [(NINE, RunStatus.POSTED)]
    assert b.finished == [NINE] and b.taken_over() == 1


async def test_a_job_that_may_not_run_twice_is_not_rerun_by_the_survivor(
    replicas: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = replicas("a", rerun=False), replicas("b", rerun=False)
    await a_dies_mid_run(a, clock)
    with caplog.at_level(logging.WARNING, logger="shipbell"):
        await b.tasks.beat()
        await until(lambda: run_task(b)["status"] == TaskStatus.DONE)
    assert b.started == []
    assert ledger(b)[0]["status"] == "claimed"  # as before runs were tasks
    assert any("not run again: its job may not run twice" in r.getMessage()
               for r in caplog.records)


async def test_a_run_taken_over_beyond_the_grace_window_is_not_posted_late(
    replicas: Make, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = replicas("a"), replicas("b")
    await a_dies_mid_run(a, clock)
    clock.advance(minutes=15)  # every replica was down past the job's grace window
    with caplog.at_level(logging.WARNING, logger="shipbell"):
        await b.tasks.beat()
        await until(lambda: run_task(b)["status"] == TaskStatus.DONE)
    assert b.started == []
    assert any("not run again: beyond the grace window" in r.getMessage()
               for r in caplog.records)
