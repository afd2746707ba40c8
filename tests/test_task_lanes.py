"""Backlog work (scheduled, caught up, resumed) runs a few at a time; requests' work never waits.

A catch-up after a long downtime can fan out thousands of reminders at once.  They must not
all start together, nor delay the task a person's request just handed over.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from conftest import MakeBell
from fakes.waiting import until
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.schema import all_migrations
from shipbell.bot.slackdouble.cast import GENERAL
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner, backlog


class Blocking:
    """A task handler that holds until released, recording how many run at once."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.now = 0
        self.most = 0
        self.done: list[str] = []

    async def __call__(self, payload: dict[str, Any]) -> None:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            if payload.get("hold", True):
                await self.release.wait()
        finally:
            self.now -= 1
        self.done.append(payload["name"])


def gauge(metrics: Metrics, lane: str, state: str) -> float:
    text = metrics.render().decode()
    for line in text.splitlines():
        if line.startswith(f'shipbell_background_tasks{{lane="{lane}",state="{state}"}}'):
            return float(line.split()[-1])
    return 0.0


async def test_backlog_runs_a_few_at_a_time_and_requests_go_first(tmp_path: Path) -> None:
    store = Store(tmp_path / "lanes.db")
    store.migrate(all_migrations())
    clock, metrics = FakeClock(), Metrics()
    runner = TaskRunner(store, clock, metrics, backlog_slots=3)
    handler = Blocking()
    runner.register("test.block", handler)
    with backlog():
        for i in range(20):
            runner.submit("test.block", {"name": f"catch-up {i}"})
    await until(lambda: handler.now == 3)
    assert gauge(metrics, "backlog", "running") == 3
    assert gauge(metrics, "backlog", "waiting") == 17
    runner.submit("test.block", {"name": "request", "hold": False})  # a request's work
    await until(lambda: "request" in handler.done)
    assert handler.done == ["request"], "the request's task ran while the backlog waited"
    handler.release.set()
    await runner.idle()
    assert handler.most == 4  # three backlog slots plus the request's task
    assert len(handler.done) == 21
    assert gauge(metrics, "backlog", "waiting") == 0 and gauge(metrics, "backlog", "running") == 0
    store.close()


async def test_resumed_tasks_join_the_backlog(make_bell: MakeBell, clock: FakeClock) -> None:
    """Tasks a previous process left behind resume a few at a time after a restart."""
    bell = await make_bell({"server": {"backlog_slots": 2}})
    now = to_db(clock.now())
    with bell.core.store.transaction() as conn:
        conn.executemany(
            "INSERT INTO tasks (kind, payload, created_at, updated_at) VALUES (?, ?, ?, ?)",
            [("slack.call", json.dumps({"method": "chat.postMessage",
                                        "args": {"channel": GENERAL, "text": f"left {i}"}}),
              now, now) for i in range(12)])
    bell.double.hold("chat.postMessage")
    await bell.restart()
    await until(lambda: bell.double.waiting.get("chat.postMessage") == 2)
    assert gauge(bell.core.metrics, "backlog", "waiting") == 10
    assert gauge(bell.core.metrics, "backlog", "running") == 2
    ack = await bell.command("/deploy", "help")  # the app still answers at once
    assert ack.status == 200
    assert bell.double.waiting["chat.postMessage"] == 2, "still two at a time"
    bell.double.release("chat.postMessage")
    await bell.idle()
    texts = {c.args["text"] for c in bell.double.calls_to("chat.postMessage")}
    assert {f"left {i}" for i in range(12)} <= texts
