"""Task leases: replicas sharing one database, each running only the tasks it holds.

Two task runners on one SQLite file stand for two processes; a FakeClock moves lease time.
The beat (renew, then take over what nobody holds) is called by hand where a process would
run it every third of the lease.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fakes.waiting import until
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner, TaskStatus

KIND = "test.work"
LEASE = 30.0


class Replica:
    """One process's task runner and what its handler has seen."""

    def __init__(self, path: Path, clock: FakeClock, name: str) -> None:
        self.store = Store(path)
        self.store.migrate(all_migrations())
        self.metrics = Metrics()
        self.tasks = TaskRunner(self.store, clock, self.metrics, replica=name,
                                lease_seconds=LEASE)
        self.started: list[int] = []
        self.finished: list[int] = []
        self.gate = asyncio.Event()  # the handler runs until this is set
        self.tasks.register(KIND, self.work)

    async def work(self, payload: dict[str, Any]) -> None:
        self.started.append(payload["n"])
        await self.gate.wait()
        self.finished.append(payload["n"])

    def counted(self, metric: str) -> float:
        value = self.metrics.registry.get_sample_value(metric, {"kind": KIND})
        return value or 0.0


@pytest.fixture
async def replicas(tmp_path: Path, clock: FakeClock) -> AsyncIterator[Callable[[str], Replica]]:
    made: list[Replica] = []

    def make(name: str) -> Replica:
        made.append(Replica(tmp_path / "shared.db", clock, name))
        return made[-1]

    yield make
    for replica in made:
        replica.gate.set()
        await replica.tasks.shutdown(1.0)
        replica.store.close()


def row(replica: Replica, task_id: int) -> dict[str, Any]:
    found = replica.store.one("SELECT status, owner, lease_until, attempts FROM tasks"
                              " WHERE id = ?", (task_id,))
    assert found is not None
    return found


def watch_tries(replica: Replica) -> list[str]:
    """Each attempt ``replica`` makes to take a named lease."""
    tries: list[str] = []
    replica.store.set_trace(
        lambda sql: tries.append(sql) if sql.startswith("INSERT INTO leases") else None)
    return tries


async def test_a_submitted_task_is_held_by_its_replica_for_one_lease(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a = replicas("a")
    task_id = a.tasks.submit(KIND, {"n": 1})
    assert task_id is not None
    await until(lambda: a.started == [1])
    held = row(a, task_id)
    assert held["owner"] == "a" and held["status"] == TaskStatus.RUNNING
    assert held["lease_until"] == to_db(clock.now() + timedelta(seconds=LEASE))


async def test_starting_a_replica_never_takes_another_live_replicas_task(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a = replicas("a")
    task_id = a.tasks.submit(KIND, {"n": 1})
    await until(lambda: a.started == [1])
    for _ in range(3):  # a keeps beating: its lease never runs out
        clock.advance(seconds=LEASE * 2 / 3)
        assert await a.tasks.renew() == {task_id}
    b = replicas("b")
    assert await b.tasks.resume() == 0  # b's start-up
    await b.tasks.beat()
    assert b.started == [] and row(b, task_id)["owner"] == "a"
    a.gate.set()
    await a.tasks.idle()
    assert a.finished == [1] and row(a, task_id)["status"] == TaskStatus.DONE


async def test_a_dead_replicas_task_is_taken_over_once_its_lease_runs_out(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a, b, c = replicas("a"), replicas("b"), replicas("c")
    task_id = a.tasks.submit(KIND, {"n": 1})
    await until(lambda: a.started == [1])
    # a stops beating (it died, or stalled): nobody takes it before the lease runs out ...
    clock.advance(seconds=LEASE - 1)
    await b.tasks.beat()
    await c.tasks.beat()
    assert b.started == c.started == []
    # ... and exactly one survivor takes it after.
    clock.advance(seconds=2)
    await b.tasks.beat()
    await c.tasks.beat()
    await until(lambda: len(b.started + c.started) == 1)
    assert b.started == [1] and c.started == []
    assert row(b, task_id)["owner"] == "b"
    assert b.counted("shipbell_task_leases_taken_over_total") == 1
    assert c.counted("shipbell_task_leases_taken_over_total") == 0
    # a wakes up: its next beat finds the task gone and stops running it; its run can no
    # longer write the task's outcome.
    assert await a.tasks.renew() == set()
    await a.tasks.idle()
    assert a.finished == [] and a.counted("shipbell_task_claims_lost_total") == 1
    assert row(a, task_id)["owner"] == "b" and row(a, task_id)["status"] == TaskStatus.RUNNING
    b.gate.set()
    await b.tasks.idle()
    assert b.finished == [1] and row(b, task_id)["status"] == TaskStatus.DONE


async def test_a_claim_another_replica_made_first_is_lost_and_counted(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a, b = replicas("a"), replicas("b")
    a.store.execute("INSERT INTO tasks (kind, payload, created_at, updated_at)"
                    " VALUES (?, '{\"n\": 7}', ?, ?)", (KIND, to_db(clock.now()),
                                                       to_db(clock.now())))
    seen = b.store.all("SELECT id, kind, owner FROM tasks")  # b read it unowned ...
    assert await a.tasks.resume() == 1  # ... a claimed it meanwhile ...
    assert not b.tasks._claim(seen[0], to_db(clock.now()))  # ... so b's compare-and-set fails
    assert b.counted("shipbell_task_claims_lost_total") == 1
    await until(lambda: a.started == [7])
    assert b.started == []


async def test_a_graceful_stop_hands_its_tasks_back_at_once(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a = replicas("a")
    task_id = a.tasks.submit(KIND, {"n": 1})
    await until(lambda: a.started == [1])
    assert await a.tasks.shutdown(0) == 1  # grace over: cancelled, left pending
    assert row(a, task_id) == {"status": TaskStatus.PENDING, "owner": None,
                               "lease_until": None, "attempts": 1}
    b = replicas("b")  # no time passes: the restart resumes it at once
    assert await b.tasks.resume() == 1
    await until(lambda: b.started == [1])
    assert b.counted("shipbell_task_leases_taken_over_total") == 0  # handed over, not taken
    b.gate.set()
    await b.tasks.idle()
    assert row(b, task_id)["status"] == TaskStatus.DONE and row(b, task_id)["attempts"] == 2


async def test_a_task_submitted_while_stopping_is_left_for_any_replica(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a, b = replicas("a"), replicas("b")
    await a.tasks.shutdown(0)
    task_id = a.tasks.submit(KIND, {"n": 2})
    assert task_id is not None and row(a, task_id)["owner"] is None
    await b.tasks.beat()
    await until(lambda: b.started == [2])


async def test_exclusive_lets_one_replica_in_at_a_time(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a, b = replicas("a"), replicas("b")
    inside: list[str] = []
    entered_a, leave_a = asyncio.Event(), asyncio.Event()

    async def hold_a() -> None:
        async with a.tasks.exclusive("deploy:1:message"):
            inside.append("a")
            entered_a.set()
            await leave_a.wait()
            inside.append("a done")

    async def hold_b() -> None:
        async with b.tasks.exclusive("deploy:1:message"):
            inside.append("b")

    first = asyncio.ensure_future(hold_a())
    await entered_a.wait()
    tries = watch_tries(b)
    second = asyncio.ensure_future(hold_b())
    await until(lambda: len(tries) >= 2)  # b asked the database twice meanwhile
    assert inside == ["a"]
    leave_a.set()
    await asyncio.wait_for(asyncio.gather(first, second), 5)
    assert inside == ["a", "a done", "b"]
    assert a.store.one("SELECT COUNT(*) AS n FROM leases")["n"] == 0


async def test_exclusive_held_by_a_dead_replica_is_taken_after_the_lease(
    replicas: Callable[[str], Replica], clock: FakeClock
) -> None:
    a, b = replicas("a"), replicas("b")
    assert a.tasks._hold("incident:4:topic") is None  # a holds it, then dies without releasing
    entered = asyncio.Event()

    async def hold_b() -> None:
        async with b.tasks.exclusive("incident:4:topic"):
            entered.set()

    tries = watch_tries(b)
    waiting = asyncio.ensure_future(hold_b())
    await until(lambda: len(tries) >= 2)
    assert not entered.is_set()
    clock.advance(seconds=LEASE + 1)
    await asyncio.wait_for(waiting, 5)
    assert entered.is_set()
