"""Integrity: races, retries, double clicks, and forged, replayed or out-of-order callbacks."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from urllib.parse import urlencode

import aiohttp
import pytest
from conftest import MakeBell
from fakes.ci import FakeCI, post
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS, PEOPLE

pytest_plugins = ("fakes.fixtures",)


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url))


def states(bell: LocalShipbell) -> dict[str, int]:
    rows = bell.core.store.all("SELECT state, COUNT(*) AS n FROM deploys GROUP BY state")
    return {r["state"]: r["n"] for r in rows}


async def test_fifty_simultaneous_requests_one_runs(bell: LocalShipbell, ci: FakeCI) -> None:
    users = list(PEOPLE)
    acks = await asyncio.gather(*(
        bell.command("/deploy", f"api@v{i} to production", user=users[i % len(users)])
        for i in range(50)
    ))
    assert all(a.status == 200 for a in acks)
    assert sum("Deploying" in a.text for a in acks) == 1
    assert sum("is queued" in a.text for a in acks) == 49
    assert states(bell) == {"triggered": 1, "queued": 49}
    jobs = await ci.wait_jobs(1)
    await bell.idle()
    assert len(ci.jobs) == 1
    first = jobs[0]["deploy_id"]
    _, body = await ci.callback(bell.runtime.url, first, "succeeded")
    assert body["state"] == "succeeded"
    await ci.wait_jobs(2)
    await bell.idle()
    assert len(ci.jobs) == 2 and ci.jobs[1]["deploy_id"] == min(
        r["id"] for r in bell.core.store.all("SELECT id FROM deploys WHERE state != 'succeeded'"))
    assert states(bell) == {"succeeded": 1, "triggered": 1, "queued": 48}


async def test_retried_command_request_does_not_deploy_twice(bell: LocalShipbell) -> None:
    form = {"token": "t", "team_id": bell.double.team_id, "channel_id": DEPLOYS,
            "channel_name": "deploys", "user_id": ANA, "user_name": "ana",
            "command": "/deploy", "text": "api to production",
            "api_app_id": bell.double.app_id, "is_enterprise_install": "false",
            "response_url": bell.double.new_response_url(DEPLOYS, ANA),
            "trigger_id": bell.double.new_trigger_id()}
    body = urlencode(form).encode()
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               **bell.driver.sign(body, int(time.time()))}
    first = await bell.driver.raw(body, headers)
    again = await bell.driver.raw(body, headers)
    assert "Deploying api@main to production (#1)" in first.text
    assert again.text == "Already on it: deploy #1."
    assert states(bell) == {"triggered": 1}


async def test_forged_tampered_and_stale_callbacks_are_refused(bell: LocalShipbell, ci: FakeCI,
                                                               clock: FakeClock) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    url = bell.runtime.url
    assert (await ci.callback(url, 1, "succeeded", secret="guessed"))[0] == 401
    stale = clock.now() - timedelta(minutes=6)
    assert (await ci.callback(url, 1, "succeeded", at=stale))[0] == 401
    body, headers = ci.signed({"deploy_id": 1, "status": "failed"})
    tampered = body.replace(b"failed", b"succeeded")
    assert (await post(url + "/hooks/deploy", tampered, headers))[0] == 401
    assert (await post(url + "/hooks/deploy", body, {"Content-Type": "application/json"}))[0] \
        == 401
    assert (await ci.callback(url, 99, "succeeded"))[0] == 404
    assert (await ci.callback(url, 1, "exploded"))[0] == 400
    await bell.idle()
    assert states(bell) == {"triggered": 1}
    events = bell.core.store.all("SELECT state FROM deploy_events WHERE deploy_id = 1")
    assert [e["state"] for e in events if e["state"] != "note"] == [
        "requested", "queued", "triggered"]


async def test_replayed_and_out_of_order_callbacks_are_ignored(bell: LocalShipbell, ci: FakeCI
                                                              ) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    url = bell.runtime.url
    status, body = await ci.callback(url, 1, "succeeded", delivery="d-1", version="v9")
    assert (status, body["applied"]) == (200, True)
    status, body = await ci.callback(url, 1, "failed", delivery="d-1")
    assert (status, body.get("ignored")) == (200, "replayed delivery")
    status, body = await ci.callback(url, 1, "running", delivery="d-2")
    assert (status, body["applied"], body["state"]) == (200, False, "succeeded")
    status, body = await ci.callback(url, 1, "failed", delivery="d-3")
    assert (body["applied"], body["state"]) == (False, "succeeded")
    await bell.idle()
    row = bell.core.store.one("SELECT state, version, error FROM deploys WHERE id = 1")
    assert row == {"state": "succeeded", "version": "v9", "error": None}
    async with aiohttp.ClientSession() as session, session.get(
            bell.runtime.url + "/metrics") as resp:
        exposed = await resp.text()
    assert 'shipbell_deploy_callbacks_total{outcome="replayed"} 1.0' in exposed
    assert 'shipbell_deploy_callbacks_total{outcome="stale"} 2.0' in exposed
    assert ('shipbell_deploys_finished_total{env="production",service="api",state="succeeded"}'
            ' 1.0') in exposed


async def test_double_click_cancel_acts_once(bell: LocalShipbell, ci: FakeCI) -> None:
    await bell.command("/deploy", "api@v1 to production")
    await bell.command("/deploy", "api@v2 to production", user=BOB)
    await bell.idle()
    message = next(m for m in bell.double.messages(DEPLOYS)
                   if m.get("blocks") and m["text"].startswith("Deploy #2"))
    from shipbell.handlers.deploy.ids import Action
    await asyncio.gather(bell.driver.press(message, Action.CANCEL, user=BOB),
                         bell.driver.press(message, Action.CANCEL, user=BOB))
    calls = await bell.double.wait_for_count("response_url", 2)
    assert sorted(c.args["text"] for c in calls) == ["Cancelled deploy #2.",
                                                      "Deploy #2 already cancelled."]
    cancels = bell.core.store.all("SELECT * FROM audit_log WHERE action = 'deploy.cancel'")
    assert len(cancels) == 1 and cancels[0]["actor"] == BOB
