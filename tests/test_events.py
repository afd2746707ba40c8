"""The event seam: a reaction to an incident event is one subscriber, added here from the test.

A fake pager (a task kind of its own, like the paging issue's) subscribes to "incident
declared" for SEV1 and SEV2.  It runs once per declaration through the signed endpoint (a
double submit of the form pages once), is persisted with the incident so it survives a
restart, starts only after the commit, and never runs when the transaction rolls back.
"""

from __future__ import annotations

import asyncio
from enum import StrEnum
from typing import Any

import pytest
from fakes.waiting import until
from shipbell.bot.core import Core
from shipbell.bot.events import Bus
from shipbell.bot.incidents.models import Event
from shipbell.bot.slackdouble import SlackDriver
from shipbell.bot.slackdouble.cast import ANA, GENERAL
from shipbell.bot.tasks import TaskStatus
from shipbell.handlers.incident.ids import Block, Field
from shipbell.handlers.incident.ids import Task as IncidentTask
from test_incident_support import start


class PagerTask(StrEnum):
    PAGE = "test.pager.page"


class FakePager:
    """Records pages; while ``gate`` is clear a page waits (the process may stop meanwhile)."""

    def __init__(self) -> None:
        self.pages: list[dict[str, Any]] = []
        self.started = 0
        self.gate = asyncio.Event()
        self.gate.set()

    async def page(self, payload: dict[str, Any]) -> None:
        self.started += 1
        await self.gate.wait()
        self.pages.append(payload)

    def plugin(self, core: Core) -> None:
        """What a paging feature's ``register`` does: its task kind, then one subscriber."""
        core.tasks.register(PagerTask.PAGE, self.page)
        self.subscribe(core.events)

    def subscribe(self, bus: Bus) -> None:
        bus.subscribe(
            Event.DECLARED, PagerTask.PAGE,
            payload=lambda d: {"incident": d["id"], "severity": d["severity"]},
            key=lambda d: f"{PagerTask.PAGE}:{d['id']}",
            when=lambda d: d["severity"] <= 2)


def page_rows(core: Core) -> list[dict[str, Any]]:
    return core.store.all("SELECT status, payload FROM tasks WHERE kind = ?", (PagerTask.PAGE,))


async def test_a_subscriber_pages_once_per_sev1_or_sev2_declaration(make_bell):
    pager = FakePager()
    bell = await start(lambda config: make_bell(config, plugins=[pager.plugin]))
    for text in ("open Checkout down sev1", "open Slow search sev3", "open Login errors sev2"):
        ack = await bell.command("/incident", text, channel=GENERAL)
        assert ack.status == 200 and "Declared" in ack.text, ack.text
    await bell.idle()
    assert pager.pages == [{"incident": 1, "severity": 1}, {"incident": 3, "severity": 2}]
    # the form submitted twice at once (a double click) declares once and pages once
    await bell.command("/incident", "", channel=GENERAL)
    view = (await bell.double.wait_for("views.open")).response["view"]
    values = {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("Payments failing")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("1", "SEV1")},
        Block.SERVICE: {Field.SERVICE: SlackDriver.text_value("api")},
        Block.DESCRIPTION: {Field.DESCRIPTION: SlackDriver.text_value("")},
        Block.PRIVATE: {Field.PRIVATE: SlackDriver.checkbox_values([])},
    }
    await asyncio.gather(bell.driver.submit_view(view, values),
                         bell.driver.submit_view(view, values))
    await bell.idle()
    assert pager.pages[2:] == [{"incident": 4, "severity": 1}]
    assert len(page_rows(bell.core)) == 3
    # the incident's own reactions are subscribers too: one set-up per declaration
    setups = bell.core.store.all("SELECT key FROM tasks WHERE kind = ?", (IncidentTask.SETUP,))
    assert sorted(r["key"] for r in setups) == [f"{IncidentTask.SETUP}:{i}" for i in (1, 2, 3, 4)]


async def test_a_page_the_process_could_not_send_is_sent_after_a_restart(make_bell):
    pager = FakePager()
    pager.gate.clear()  # the pager hangs: the process stops before the page goes out
    bell = await start(lambda config: make_bell(config, plugins=[pager.plugin]))
    ack = await bell.command("/incident", "open Checkout down sev1", channel=GENERAL)
    assert "Declared INC-1" in ack.text
    await until(lambda: pager.started == 1)
    await bell.restart()  # grace 0: the running page is cancelled and stays pending
    await until(lambda: pager.started == 2)  # resumed by the new process from the store
    assert pager.pages == []
    pager.gate.set()  # the pager answers again
    await bell.idle()
    assert pager.started == 2
    assert pager.pages == [{"incident": 1, "severity": 1}]
    assert [r["status"] for r in page_rows(bell.core)] == [TaskStatus.DONE]


async def test_a_subscribed_task_starts_after_the_commit_and_not_after_a_rollback(make_bell):
    pager = FakePager()
    bell = await start(lambda config: make_bell(config, plugins=[pager.plugin]))
    core = bell.core
    bus = Bus(core.tasks)  # only the pager listens here: the event below is made up
    pager.subscribe(bus)
    declared = {"id": 7, "actor": ANA, "severity": 1, "title": "t", "service": None,
                "private": False, "test": False}
    with pytest.raises(RuntimeError), core.store.transaction():
        bus.publish(Event.DECLARED, declared)
        assert len(page_rows(core)) == 1 and not core.tasks.running  # written, not started
        raise RuntimeError("the state change failed")
    await bell.idle()
    assert page_rows(core) == [] and pager.started == 0  # no row, no run
    with core.store.transaction():
        bus.publish(Event.DECLARED, declared)
        assert not core.tasks.running  # nothing runs before the commit
    assert len(core.tasks.running) == 1  # started by the commit
    await bell.idle()
    assert pager.pages == [{"incident": 7, "severity": 1}]
    bus.publish(Event.DECLARED, declared)  # the same event again: the key holds
    await bell.idle()
    assert len(pager.pages) == 1 and len(page_rows(core)) == 1


async def test_a_subscription_names_a_registered_task_kind(bell):
    with pytest.raises(KeyError, match="register it before subscribing"):
        bell.core.events.subscribe(Event.DECLARED, "nobody.handles.this", payload=dict)
