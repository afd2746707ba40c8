"""A deploy from `/deploy` to the CI and back, its Slack message, and restart recovery."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.waiting import tick, until
from shipbell.bot.clock import FakeClock
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DEPLOYS, EVE

pytest_plugins = ("fakes.fixtures",)


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url))


def row(bell: LocalShipbell, deploy_id: int) -> dict[str, Any]:
    found = bell.core.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,))
    assert found is not None
    return found


def messages(bell: LocalShipbell) -> list[dict[str, Any]]:
    return [m for m in bell.double.messages(DEPLOYS) if "thread_ts" not in m
            or m["thread_ts"] == m["ts"]]


async def test_deploy_reaches_ci_and_callback_finishes_it(bell: LocalShipbell, ci: FakeCI,
                                                          clock: FakeClock) -> None:
    ack = await bell.command("/deploy", 'api@v1.2.0 to production --reason "new login"')
    assert ack.status == 200
    assert "Deploying api@v1.2.0 to production (#1)" in ack.text
    jobs = await ci.wait_jobs(1)
    assert jobs[0]["deploy_id"] == 1 and jobs[0]["ref"] == "v1.2.0"
    assert jobs[0]["environment"] == "production" and jobs[0]["requester"] == ANA
    assert jobs[0]["callback_url"].endswith("/hooks/deploy")
    await bell.idle()
    assert row(bell, 1)["state"] == "triggered"
    clock.advance(minutes=2)
    status, body = await ci.callback(bell.runtime.url, 1, "running", log_url="https://ci/1")
    assert (status, body["state"]) == (200, "running")
    clock.advance(minutes=3)
    changes = [{"sha": "abc1234def", "title": "Fix login", "author": "ana",
                "committed_at": "2026-11-01T10:00:00Z"}]
    status, body = await ci.callback(bell.runtime.url, 1, "succeeded", version="v1.2.0",
                                     sha="abc1234def", changes=changes)
    assert (status, body["state"]) == (200, "succeeded")
    await bell.idle()
    deploy = row(bell, 1)
    assert deploy["version"] == "v1.2.0" and deploy["log_url"] == "https://ci/1"
    assert deploy["finished_at"] > deploy["started_at"] >= deploy["requested_at"]
    stored = bell.core.store.all("SELECT sha, committed_at FROM deploy_changes")
    assert stored == [{"sha": "abc1234def", "committed_at": "2026-11-01T10:00:00.000000+00:00"}]
    states = [e["state"] for e in bell.core.store.all(
        "SELECT state FROM deploy_events WHERE deploy_id = 1 AND state != 'note' ORDER BY id")]
    assert states == ["requested", "queued", "triggered", "running", "succeeded"]
    top = messages(bell)
    assert len(top) == 1, "one message per deploy, updated in place"
    assert "succeeded" in top[0]["text"]
    shown = str(top[0]["blocks"])
    assert "Fix login" in shown and "https://ci/1" in shown and "5 min" in shown
    assert bell.double.calls_to("chat.update")
    thread = [m for m in bell.double.messages(DEPLOYS) if m.get("thread_ts") == top[0]["ts"]
              and m["ts"] != top[0]["ts"]]
    assert any("running" in m["text"] for m in thread)
    assert any("succeeded" in m["text"] for m in thread)
    audit = bell.core.store.one("SELECT * FROM audit_log WHERE action = 'deploy.request'")
    assert audit is not None and audit["actor"] == ANA and audit["channel"] == DEPLOYS


async def test_restart_keeps_waiting_for_the_callback(bell: LocalShipbell, ci: FakeCI) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    await bell.idle()
    await bell.restart()
    status, body = await ci.callback(bell.runtime.url, 1, "succeeded", version="v1")
    assert (status, body["state"]) == (200, "succeeded")
    await bell.idle()
    assert len(ci.jobs) == 1, "never triggered twice"
    top = messages(bell)
    assert len(top) == 1 and "succeeded" in top[0]["text"], "the same message, updated"


async def test_restart_during_trigger_backoff_resumes(bell: LocalShipbell, ci: FakeCI,
                                                      clock: FakeClock) -> None:
    ci.fail_next = [503]
    await bell.command("/deploy", "api to production")
    await until(lambda: clock.sleepers > 0)  # backing off after the 503
    await bell.restart()
    jobs = await ci.wait_jobs(1)
    assert jobs[0]["deploy_id"] == 1 and len(ci.jobs) == 1


async def test_dry_run_resumes_polling_after_restart(bell: LocalShipbell, clock: FakeClock
                                                     ) -> None:
    await bell.command("/deploy", "worker@v4 to production")
    await until(lambda: row(bell, 1)["state"] == "running")
    await bell.restart()
    for _ in range(3):  # the demo deploy takes 30 s; the watcher resumed after the restart
        await tick(clock, 10)
    await until(lambda: row(bell, 1)["state"] == "succeeded")
    assert row(bell, 1)["version"] == "v4"


async def test_timeout_after_restart_and_provider_told(bell: LocalShipbell, ci: FakeCI,
                                                       clock: FakeClock) -> None:
    await bell.command("/deploy", "api to production")
    await bell.command("/deploy", "api@next to production", user=BOB)
    await ci.wait_jobs(1)
    await bell.idle()
    await bell.restart()
    clock.advance(minutes=29)
    await bell.core.scheduler.run_due()
    assert row(bell, 1)["state"] == "triggered"
    clock.advance(minutes=2)
    await bell.core.scheduler.run_due()
    deploy = row(bell, 1)
    assert deploy["state"] == "timed_out" and deploy["error"] == "no result within 30 min"
    cancels = await ci.wait_cancels(1)
    assert cancels[0]["deploy_id"] == 1
    jobs = await ci.wait_jobs(2)
    assert jobs[1]["ref"] == "next", "the queue moves on after a timeout"
    status, body = await ci.callback(bell.runtime.url, 1, "succeeded")
    assert (status, body["state"]) == (200, "timed_out")
    await bell.idle()


async def test_cancel_running_deploy_tells_the_ci(bell: LocalShipbell, ci: FakeCI) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    ack = await bell.command("/deploy", "cancel 1", user=EVE)
    assert ack.text == "Cancelled deploy #1."
    assert (await ci.wait_cancels(1))[0] == {"action": "cancel", "deploy_id": 1}
    again = await bell.command("/deploy", "cancel 1")
    assert again.text == "Deploy #1 already cancelled."
    await bell.idle()


async def test_cancel_while_the_job_is_being_sent(bell: LocalShipbell, ci: FakeCI) -> None:
    ci.hold = asyncio.Event()
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)  # the CI has the job but hasn't answered
    assert (await bell.command("/deploy", "cancel 1")).text == "Cancelled deploy #1."
    ci.hold.set()
    assert (await ci.wait_cancels(1))[0]["deploy_id"] == 1
    await bell.idle()
    assert row(bell, 1)["state"] == "cancelled"


async def succeed(bell: LocalShipbell, ci: FakeCI, text: str, n: int, version: str,
                  sha: str) -> None:
    await bell.command("/deploy", text)
    await ci.wait_jobs(n)
    await ci.callback(bell.runtime.url, n, "succeeded", version=version, sha=sha)
    await bell.idle()


async def test_rollback_redeploys_previous_and_locks(bell: LocalShipbell, ci: FakeCI) -> None:
    await succeed(bell, ci, "api@v1 to production", 1, "v1", "aaa111")
    await succeed(bell, ci, "api@v2 to production", 2, "v2", "bbb222")
    ack = await bell.command("/deploy", "rollback api in production", user=BOB)
    assert "Deploying api@aaa111 to production (#3)" in ack.text
    jobs = await ci.wait_jobs(3)
    assert jobs[2]["ref"] == "aaa111" and jobs[2]["is_rollback"] is True
    deploy = row(bell, 3)
    assert (deploy["is_rollback"], deploy["rollback_of"]) == (1, 2)
    blocked = await bell.command("/deploy", "api@v3 to production")
    assert blocked.text.startswith(f"production is locked by <@{BOB}>")
    assert "rolled back: fix before the next deploy" in blocked.text
    await ci.callback(bell.runtime.url, 3, "succeeded", version="v1", sha="aaa111")
    offer = await bell.command("/deploy", "unlock api production")  # bob's lock: confirm
    assert offer.text.endswith("Unlock it anyway? They'll be told.")
    from shipbell.handlers.deploy.ids import Action
    await bell.driver.press({"blocks": (offer.json or {})["blocks"]}, Action.UNLOCK)
    reply = await bell.double.wait_for("response_url")
    assert reply.args["text"] == "Unlocked api production."
    await bell.idle()
    dm = await bell.double.wait_for("chat.postMessage", lambda c: c.args["channel"] == BOB)
    assert f"<@{ANA}> unlocked api production" in dm.args["text"]
    svc = bell.core.registry.need(DeployService)
    reply = await svc.request_rollback("api", "production", user=CARL, channel=DEPLOYS,
                                       incident_id=None)
    assert reply == "api has nothing older than `aaa111` in production to roll back to.", \
        "v2 was rolled back away from: a second rollback must not re-ship it"
    assert "`prod`" in await svc.request_rollback("api", "prod", user=CARL,
                                                  channel=DEPLOYS)


async def test_lock_takeover_needs_confirmation_and_tells_holder(bell: LocalShipbell,
                                                                 clock: FakeClock) -> None:
    await bell.command("/deploy", "lock web production load test")
    clock.advance(hours=2)
    offer = await bell.command("/deploy", "lock web production hotfix --for 30m", user=BOB)
    assert offer.text == f"production is locked by <@{ANA}> 2 h ago: load test."
    assert offer.json is not None and offer.json["blocks"]
    from shipbell.handlers.deploy.ids import Action
    await bell.driver.press({"blocks": offer.json["blocks"]}, Action.TAKE_OVER, user=BOB)
    reply = await bell.double.wait_for("response_url")
    assert reply.args["text"].startswith("You now hold the lock on web production")
    lock = bell.core.store.one("SELECT holder, reason FROM locks")
    assert lock == {"holder": BOB, "reason": "hotfix"}
    dm = await bell.double.wait_for("chat.postMessage", lambda c: c.args["channel"] == ANA)
    assert dm.args["text"] == f"<@{BOB}> took over your lock on web production: hotfix."
    audit = bell.core.store.one("SELECT actor, detail FROM audit_log"
                                " WHERE action = 'lock.takeover'")
    assert audit is not None and audit["actor"] == BOB and ANA in audit["detail"]


async def test_forgotten_lock_holder_is_reminded_every_3h(bell: LocalShipbell,
                                                          clock: FakeClock) -> None:
    await bell.command("/deploy", "lock web staging exploring --for 10h")
    clock.advance(hours=2, minutes=59)
    await bell.core.scheduler.run_due()
    clock.advance(minutes=2)
    await bell.core.scheduler.run_due()
    clock.advance(minutes=1)
    await bell.core.scheduler.run_due()
    await bell.idle()
    reminders = [c for c in bell.double.calls_to("chat.postMessage")
                 if c.args["channel"] == ANA]
    assert len(reminders) == 1
    assert "You've held the lock on web staging for 3 h: exploring." in reminders[0].args["text"]


async def test_rollback_goes_through_the_incident_gate(bell: LocalShipbell, ci: FakeCI) -> None:
    await succeed(bell, ci, "api@v1 to production", 1, "v1", "aaa111")
    await succeed(bell, ci, "api@v2 to production", 2, "v2", "bbb222")
    cursor = bell.core.store.execute(
        "INSERT INTO incidents (title, severity, status, service, reporter, declared_at)"
        f" VALUES ('errors', 1, 'investigating', 'api', '{EVE}', '2026-11-02T09:00:00')"
        " RETURNING id")
    inc = int(cursor.fetchone()[0])
    blocked = await bell.command("/deploy", "rollback api production")
    assert blocked.text.startswith(f"api has an open incident INC-{inc} (SEV1, errors)")
    svc = bell.core.registry.need(DeployService)
    reply = await svc.request_rollback("api", "production", user=EVE, channel=DEPLOYS,
                                       incident_id=inc)
    assert reply.startswith("Deploying api@aaa111 to production (#3)")
    deploy = row(bell, 3)
    assert (deploy["is_rollback"], deploy["is_hotfix"], deploy["incident_id"]) == (1, 1, inc)
    await ci.wait_jobs(3)
    await bell.idle()


async def test_missing_secret_is_named_at_start(make_bell: MakeBell, ci: FakeCI,
                                                monkeypatch: pytest.MonkeyPatch,
                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.delenv(SECRET_ENV)
    await make_bell(deploy_config(ci.url))
    assert f"environment variable {SECRET_ENV} is not set" in caplog.text
    assert SECRET not in caplog.text


async def test_slack_hiccup_loses_no_thread_event(bell: LocalShipbell, ci: FakeCI,
                                                  clock: FakeClock) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    await bell.idle()
    bell.double.fail_next("chat.postMessage", "internal_error")
    status, _ = await ci.callback(bell.runtime.url, 1, "running")
    assert status == 200
    await bell.double.wait_for("chat.postMessage", lambda c: c.response.get("ok") is False)
    await tick(clock, 2)  # the task runner's retry backoff
    await bell.double.wait_for("chat.postMessage", lambda c: c.response.get("ok") is True
                               and "running" in c.args.get("text", ""))
    assert row(bell, 1)["state"] == "running"
