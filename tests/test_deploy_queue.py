"""The queue: a deploy that waited too long is stale, so it drops out and its requester hears."""

from __future__ import annotations

import logging

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.slackdouble.cast import BOB, CARL, DEPLOYS

pytest_plugins = ("fakes.fixtures",)


def state(bell: LocalShipbell, deploy_id: int) -> str:
    return str(bell.core.store.one("SELECT state FROM deploys WHERE id = ?",
                                   (deploy_id,))["state"])  # type: ignore[index]


async def test_stale_queued_deploy_expires_and_requester_is_told(
        make_bell: MakeBell, ci: FakeCI, clock: FakeClock,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    config = merge(deploy_config(ci.url, timeout_minutes=180),
                   {"deploy": {"queue_ttl_minutes": 60}})
    bell = await make_bell(config)
    await bell.command("/deploy", "api@v1 to production")
    queued = await bell.command("/deploy", "api@v2 to production", user=BOB)
    assert queued.text == ("Deploy #2 of api@v2 to production is queued, 1st in line behind #1;"
                           " it starts by itself, or drops out if it hasn't started within 1 h"
                           " (`/deploy cancel 2` to drop it now).")
    await ci.wait_jobs(1)
    await bell.idle()
    top = next(m for m in bell.double.messages(DEPLOYS) if "Deploy #2:" in m["text"])
    assert "leaves the queue" in str(top["blocks"])
    clock.advance(minutes=59)
    await bell.core.scheduler.run_due()
    assert state(bell, 2) == "queued"
    clock.advance(minutes=2)
    await bell.core.scheduler.run_due()
    assert state(bell, 2) == "cancelled" and state(bell, 1) == "triggered"
    assert "Deploy #2 api/production expired unstarted: expired after 1 h" in caplog.text
    await bell.idle()
    note = (f"<@{BOB}>: expired after 1 h in the queue behind #1; "
            "`/deploy api@v2 to production` again if it's still wanted.")
    thread = [m for m in bell.double.messages(DEPLOYS)
              if m.get("thread_ts") == top["ts"] and note in m["text"]]
    assert thread, "the requester is mentioned in the deploy's thread"
    top = next(m for m in bell.double.messages(DEPLOYS) if "Deploy #2:" in m["text"])
    assert "cancelled" in top["text"] and "Cancel" not in str(top["blocks"])
    # Finishing #1 later starts nothing: the stale deploy stays dropped.
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v1")
    await bell.idle()
    assert len(ci.jobs) == 1 and state(bell, 2) == "cancelled"


async def test_queue_clock_starts_when_approval_queues_it(
        make_bell: MakeBell, ci: FakeCI, clock: FakeClock) -> None:
    """Time spent awaiting approval doesn't count against the queue."""
    bell = await make_bell(merge(deploy_config(ci.url, approvals=1, timeout_minutes=180),
                                 {"deploy": {"queue_ttl_minutes": 60}}))
    await bell.command("/deploy", "api@v1 to production --hotfix", user=CARL)
    await bell.command("/deploy", "api@v2 to production")
    await bell.idle()
    clock.advance(minutes=25)
    messages = [m for m in bell.double.messages(DEPLOYS) if m.get("blocks")]
    for m in messages:  # approve both: #1 runs, #2 queues behind it
        await bell.driver.press(m, "deploy.approve", user=BOB)
    await ci.wait_jobs(1)
    clock.advance(minutes=50)  # 75 min since #2 was requested, 50 since it queued
    await bell.core.scheduler.run_due()
    assert state(bell, 2) == "queued"
    clock.advance(minutes=11)
    await bell.core.scheduler.run_due()
    assert state(bell, 2) == "cancelled"
    await bell.idle()
