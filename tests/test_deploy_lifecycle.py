"""A deploy from `/deploy` to the CI and back, its Slack message, and restart recovery."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV, deploy_config

from bot.clock import FakeClock
from bot.local import LocalShipbell


@pytest.fixture
async def ci(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeCI]:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    fake = await FakeCI(SECRET, clock.now).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url))


def row(bell: LocalShipbell, deploy_id: int) -> dict[str, Any]:
    found = bell.core.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,))
    assert found is not None
    return found


def messages(bell: LocalShipbell) -> list[dict[str, Any]]:
    return [m for m in bell.double.messages("C_DEPLOYS") if "thread_ts" not in m
            or m["thread_ts"] == m["ts"]]


async def test_deploy_reaches_ci_and_callback_finishes_it(bell: LocalShipbell, ci: FakeCI,
                                                          clock: FakeClock) -> None:
    ack = await bell.command("/deploy", 'api@v1.2.0 to production --reason "new login"')
    assert ack.status == 200
    assert "Deploying api@v1.2.0 to production (#1)" in ack.text
    jobs = await ci.wait_jobs(1)
    assert jobs[0]["deploy_id"] == 1 and jobs[0]["ref"] == "v1.2.0"
    assert jobs[0]["environment"] == "production" and jobs[0]["requester"] == "U_ANA"
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
    thread = [m for m in bell.double.messages("C_DEPLOYS") if m.get("thread_ts") == top[0]["ts"]
              and m["ts"] != top[0]["ts"]]
    assert any("running" in m["text"] for m in thread)
    assert any("succeeded" in m["text"] for m in thread)
    audit = bell.core.store.one("SELECT * FROM audit_log WHERE action = 'deploy.request'")
    assert audit is not None and audit["actor"] == "U_ANA" and audit["channel"] == "C_DEPLOYS"
