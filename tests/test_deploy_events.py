"""The deploy event seam: a reaction to a deploy's end is one subscriber, added from this file.

First the domain alone: the deploy service takes a ``publish`` callable (no notifier, no
Slack) and records each change as an event with ids and values, in the order it happened.

A fake change log (a task kind of its own, as a change-log or tracker feature would have)
subscribes to "deploy succeeded" and "deploy failed". It runs once per deploy through the
signed CI callback (a replayed or late report adds nothing), is persisted with the change so
it survives a restart, and never runs when the transaction of the change rolls back; the
deploy's own reactions (its message, direct messages) are subscribers too.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import aiohttp
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from fakes.waiting import until
from shipbell.bot.clock import FakeClock
from shipbell.bot.core import Core
from shipbell.bot.deploys import approvals
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.deploys.gates import Ask
from shipbell.bot.deploys.models import Event, Task
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.events import Data
from shipbell.bot.http import Http
from shipbell.bot.local import LocalShipbell
from shipbell.bot.observability import Metrics
from shipbell.bot.schema import all_migrations
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner, TaskStatus

pytest_plugins = ("fakes.fixtures",)


@dataclass
class Parts:
    """What the deploy service may use (``bot.infra.Infra``), on a real store."""

    store: Store
    clock: FakeClock = field(default_factory=FakeClock)
    metrics: Metrics = field(default_factory=Metrics)
    http: Http = field(default_factory=Http)
    tasks: TaskRunner = field(init=False)

    def __post_init__(self) -> None:
        self.tasks = TaskRunner(self.store, self.clock, self.metrics)

    def audit(self, actor: str, action: str, subject: str | None = None, *,
              channel: str | None = None, **detail: Any) -> None:
        pass


async def test_the_service_records_each_change_as_an_event(tmp_path: Path) -> None:
    store = Store(tmp_path / "events.db")
    store.migrate(all_migrations())
    infra = Parts(store)
    sent: list[tuple[str, int]] = []  # the service's own tasks: send a job, cancel one
    for kind in (Task.RUN, Task.PROVIDER_CANCEL):
        async def task(payload: dict[str, Any], kind: str = kind) -> None:
            sent.append((kind, payload["deploy_id"]))
        infra.tasks.register(kind, task)
    config = DeploySettings.model_validate({
        "providers": {"sim": {"type": "dry-run"}},
        "services": {"api": {"provider": "sim", "environments": {
            "staging": {}, "production": {"approvals": 1, "approvers": [BOB]}}}}})
    events: list[tuple[Event, dict[str, Any]]] = []

    def publish(event: StrEnum, data: dict[str, Any]) -> None:
        events.append((Event(event), data))

    svc = DeployService(infra, config, publish, freeze=lambda service, env, at: None,
                        incidents=lambda service: [])
    assert svc.request(Ask("api", "staging", ANA, DEPLOYS), "v1").ok
    assert svc.request(Ask("api", "production", ANA, DEPLOYS), "v2").ok
    assert approvals.approve(svc, 2, BOB, DEPLOYS).ok
    assert svc.cancel(1, ANA, DEPLOYS).ok
    assert [(e, d["id"], d["actor"]) for e, d in events] == [
        (Event.REQUESTED, 1, ANA), (Event.STARTED, 1, None),
        (Event.REQUESTED, 2, ANA),
        (Event.APPROVED, 2, BOB), (Event.QUEUED, 2, BOB), (Event.STARTED, 2, None),
        (Event.CANCELLED, 1, ANA),
    ]
    requested = events[2][1]
    assert {k: requested[k] for k in ("service", "env", "ref", "requester", "state")} == {
        "service": "api", "env": "production", "ref": "v2", "requester": ANA,
        "state": "awaiting_approval"}
    assert events[3][1]["approvals"] == events[3][1]["needed"] == 1
    shown = json.dumps([d for _, d in events])  # ids and values: JSON, and no chat markup
    assert "<@" not in shown and "<person:" not in shown
    await infra.tasks.idle()
    assert sent == [(Task.RUN, 1), (Task.RUN, 2), (Task.PROVIDER_CANCEL, 1)]


class ChangeLogTask(StrEnum):
    RECORD = "test.changelog.record"


class FakeChangeLog:
    """Records entries; while ``gate`` is clear an entry waits (the process may stop
    meanwhile)."""

    def __init__(self) -> None:
        self.entries: list[dict[str, Any]] = []
        self.started = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def record(self, payload: dict[str, Any]) -> None:
        self.started += 1
        await self.gate.wait()
        self.entries.append(payload)

    def plugin(self, core: Core) -> None:
        """What a change-log feature's ``register`` does: its task kind, then subscribers."""
        core.tasks.register(ChangeLogTask.RECORD, self.record)
        for event in (Event.SUCCEEDED, Event.FAILED):
            core.events.subscribe(
                event, ChangeLogTask.RECORD, payload=lambda d, e=event: entry(e, d),
                key=lambda d: f"{ChangeLogTask.RECORD}:{d['id']}")


class Breaker:
    """A subscriber to "deploy started" that fails while ``on``: the transaction that
    publishes the event fails with it, and rolls back."""

    def __init__(self) -> None:
        self.on = False

    def plugin(self, core: Core) -> None:
        core.events.subscribe(Event.STARTED, ChangeLogTask.RECORD, payload=self.payload,
                              when=lambda d: self.on)

    def payload(self, data: Data) -> dict[str, Any]:
        raise RuntimeError("this reaction can't be written")


def entry(event: Event, d: Data) -> dict[str, Any]:
    return {"deploy": d["id"], "what": f"{d['service']} {d['env']}", "event": str(event),
            "version": d["version"], "by": d["requester"], "error": d["error"]}


def rows(bell: LocalShipbell) -> list[dict[str, Any]]:
    return bell.core.store.all("SELECT status, key FROM tasks WHERE kind = ? ORDER BY id",
                               (ChangeLogTask.RECORD,))


def state(bell: LocalShipbell, deploy_id: int) -> str:
    found = bell.core.store.one("SELECT state FROM deploys WHERE id = ?", (deploy_id,))
    assert found is not None
    return str(found["state"])


async def started(make_bell: MakeBell, ci: FakeCI, log: FakeChangeLog,
                  breaker: Breaker | None = None) -> LocalShipbell:
    plugins = [log.plugin, *([breaker.plugin] if breaker else [])]
    return await make_bell(deploy_config(ci.url), plugins=plugins)


async def report(bell: LocalShipbell, ci: FakeCI, deploy_id: int, status: str,
                 **fields: Any) -> int:
    """A signed CI callback; the HTTP status Shipbell answered."""
    body, headers = ci.signed({"deploy_id": deploy_id, "status": status, **fields})
    async with aiohttp.ClientSession() as session, session.post(
            bell.runtime.url + "/hooks/deploy", data=body, headers=headers) as resp:
        return resp.status


async def test_the_change_log_records_each_deploy_once(make_bell: MakeBell, ci: FakeCI) -> None:
    log = FakeChangeLog()
    bell = await started(make_bell, ci, log)
    for text in ("api@v1.2.0 to production", "web@v7 to production", "api@v1.3.0 to staging"):
        assert "Deploying" in (await bell.command("/deploy", text)).text
    await ci.wait_jobs(3)
    url = bell.runtime.url
    assert (await ci.callback(url, 1, "running"))[0] == 200
    assert (await ci.callback(url, 1, "succeeded", version="v1.2.0"))[0] == 200
    assert (await ci.callback(url, 1, "succeeded", version="v1.2.0"))[0] == 200  # replayed
    assert (await ci.callback(url, 2, "failed", error="tests red"))[0] == 200
    assert (await ci.callback(url, 2, "succeeded"))[0] == 200  # too late: it failed
    assert (await bell.command("/deploy", "cancel 3")).text == "Cancelled deploy #3."
    await bell.idle()
    assert log.entries == [
        {"deploy": 1, "what": "api production", "event": "deploy.succeeded",
         "version": "v1.2.0", "by": ANA, "error": None},
        {"deploy": 2, "what": "web production", "event": "deploy.failed", "version": None,
         "by": ANA, "error": "tests red"},
    ]
    assert rows(bell) == [{"status": TaskStatus.DONE, "key": f"{ChangeLogTask.RECORD}:{n}"}
                          for n in (1, 2)]


async def test_an_entry_the_process_could_not_write_is_written_after_a_restart(
        make_bell: MakeBell, ci: FakeCI) -> None:
    log = FakeChangeLog()
    log.gate.clear()  # the change log hangs: the process stops before the entry is written
    bell = await started(make_bell, ci, log)
    await bell.command("/deploy", "api@v1.2.0 to production")
    await ci.wait_jobs(1)
    assert (await ci.callback(bell.runtime.url, 1, "succeeded", version="v1.2.0"))[0] == 200
    await until(lambda: log.started == 1)
    await bell.restart()  # grace 0: the running entry is cancelled and stays pending
    # Resumed by the new process from the store: the entry starts once its task took a turn
    # on the store's thread (marking it running), which may be after the start returns.
    await until(lambda: log.started == 2)
    assert log.started == 2 and log.entries == []
    log.gate.set()
    await bell.idle()
    assert log.started == 2 and [e["deploy"] for e in log.entries] == [1]
    assert [r["status"] for r in rows(bell)] == [TaskStatus.DONE]


async def test_a_change_that_rolls_back_leaves_no_reaction_behind(
        make_bell: MakeBell, ci: FakeCI) -> None:
    log, breaker = FakeChangeLog(), Breaker()
    bell = await started(make_bell, ci, log, breaker)
    await bell.command("/deploy", "api@v1 to production")
    queued = await bell.command("/deploy", "api@v2 to production", user=BOB)
    assert "queued" in queued.text
    await ci.wait_jobs(1)
    await bell.idle()
    # #1's end starts #2 in the same transaction; a subscriber failing on that start rolls
    # back the whole change: #1 still runs, #2 still waits, nothing was enqueued for either
    breaker.on = True
    assert await report(bell, ci, 1, "succeeded", version="v1") == 500  # the CI may retry
    await bell.idle()
    assert (state(bell, 1), state(bell, 2)) == ("triggered", "queued")
    assert rows(bell) == [] and log.started == 0
    breaker.on = False  # the CI retries: now the change goes through, once
    assert await report(bell, ci, 1, "succeeded", version="v1") == 200
    await ci.wait_jobs(2)
    await bell.idle()
    assert (state(bell, 1), state(bell, 2)) == ("succeeded", "triggered")
    assert [e["deploy"] for e in log.entries] == [1]
    # the rolled-back change let go of the message refresh it had claimed: #1's message
    # shows the end the retry brought
    top = [m for m in bell.double.messages(DEPLOYS) if m.get("thread_ts") in (None, m["ts"])]
    assert "succeeded" in top[0]["text"], top[0]["text"]
