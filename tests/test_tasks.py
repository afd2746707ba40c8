"""Background work: persisted before it runs, retried, resumed after a restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slack import outbox
from shipbell.bot.slackdouble.cast import ANA, BOB, GENERAL


def statuses(bell: LocalShipbell) -> list[tuple[str, str]]:
    return [(r["kind"], r["status"]) for r in
            bell.core.store.all("SELECT kind, status FROM tasks ORDER BY id")]


async def test_outbox_call_is_persisted_and_posts(bell: LocalShipbell) -> None:
    bell.core.tasks.submit("slack.call", {"method": "chat.postMessage",
                                          "args": {"channel": GENERAL, "text": "hello"}})
    call = await bell.double.wait_for("chat.postMessage")
    assert call.args["text"] == "hello"
    await bell.idle()
    assert statuses(bell) == [("slack.call", "done")]


async def test_rate_limited_call_is_retried_after_retry_after(bell: LocalShipbell) -> None:
    bell.double.rate_limit_next("chat.postMessage", retry_after=0)
    data = await outbox.call(bell.core, "chat.postMessage", {"channel": GENERAL, "text": "x"})
    assert data is not None and data["ok"]
    posts = bell.double.calls_to("chat.postMessage")
    assert [c.status for c in posts] == [429, 200]


async def test_final_slack_errors_are_not_retried(bell: LocalShipbell) -> None:
    bell.double.add_channel("old", channel_id="C0OLD0001", is_archived=True)
    assert await outbox.call(bell.core, "chat.postMessage",
                             {"channel": "C0OLD0001", "text": "x"}) is None
    assert len(bell.double.calls_to("chat.postMessage")) == 1


async def test_failing_task_retries_with_backoff_then_fails(
    bell: LocalShipbell, clock: FakeClock
) -> None:
    attempts: list[int] = []

    async def flaky(payload: dict[str, Any]) -> None:
        attempts.append(payload["n"])
        raise RuntimeError("provider down")

    bell.core.tasks.register("test.flaky", flaky)
    bell.core.tasks.submit("test.flaky", {"n": 1})
    for _ in range(2):  # two back-offs between three attempts
        await clock.until_sleeping()
        clock.advance(seconds=30)
    await bell.idle()
    row = bell.core.store.one("SELECT status, attempts, last_error FROM tasks")
    assert row == {"status": "failed", "attempts": 3, "last_error": "RuntimeError: provider down"}
    assert "shipbell_background_task_failures_total" in bell.core.metrics.render().decode()


async def test_unfinished_task_survives_a_restart(bell: LocalShipbell, clock: FakeClock) -> None:
    done: list[str] = []
    started = asyncio.Event()

    async def slow(payload: dict[str, Any]) -> None:
        started.set()
        await bell.core.clock.sleep(3600)  # a provider that takes an hour
        done.append(payload["id"])

    bell.core.tasks.register("test.slow", slow)
    bell.core.tasks.submit("test.slow", {"id": "a"})
    await started.wait()
    await bell.runtime.stop(grace=0)  # SIGTERM: grace over, the task is left pending
    assert statuses(bell) == [("test.slow", "pending")]

    bell.core.store.close()
    resumed: list[str] = []

    async def quick(payload: dict[str, Any]) -> None:
        resumed.append(payload["id"])

    from shipbell.bot.core import build_core
    from shipbell.bot.runtime import Runtime

    bell.core = build_core(bell.core.settings, bell.core.secrets, clock=clock)
    bell.core.tasks.register("test.slow", quick)
    bell.runtime = Runtime(bell.core)
    await bell.runtime.start("127.0.0.1", 0, scheduler=False)
    await bell.idle()
    assert resumed == ["a"] and done == []
    assert statuses(bell) == [("test.slow", "done")]


async def test_same_key_never_runs_twice(bell: LocalShipbell) -> None:
    first = bell.core.tasks.submit("slack.call", {"method": "chat.postMessage",
                                                  "args": {"channel": GENERAL, "text": "x"}},
                                   key="deploy:42:announce")
    second = bell.core.tasks.submit("slack.call", {"method": "chat.postMessage",
                                                   "args": {"channel": GENERAL, "text": "x"}},
                                    key="deploy:42:announce")
    await bell.idle()
    assert first is not None and second is None
    assert len(bell.double.calls_to("chat.postMessage")) == 1


async def test_resume_does_not_start_a_task_this_process_already_runs(
    bell: LocalShipbell, clock: FakeClock
) -> None:
    runs: list[int] = []

    async def parked(payload: dict[str, Any]) -> None:
        runs.append(payload["n"])
        await bell.core.clock.sleep(60)

    bell.core.tasks.register("test.parked", parked)
    bell.core.tasks.submit("test.parked", {"n": 1})
    await clock.until_sleeping()
    assert await bell.core.tasks.resume() == 0
    clock.advance(seconds=60)
    await bell.idle()
    assert runs == [1]


async def test_form_methods_go_as_form_fields(bell: LocalShipbell) -> None:
    bell.double.add_usergroup("S0SRE0001", "sre", [ANA, BOB])
    data = await outbox.call(bell.core, "usergroups.users.list", {"usergroup": "S0SRE0001"})
    assert data is not None and data["users"] == [ANA, BOB]
    created = await outbox.call(bell.core, "conversations.create",
                                {"name": "form-wire", "is_private": False})
    assert created is not None and created["channel"]["name"] == "form-wire"


async def test_an_already_done_answer_is_no_warning(bell: LocalShipbell,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """Inviting someone already in the channel (Join pressed twice) is not a failure."""
    caplog.set_level(logging.DEBUG)
    args = {"channel": GENERAL, "users": ANA}
    assert await outbox.call(bell.core, "conversations.invite", args) is None
    assert bell.double.calls_to("conversations.invite")[0].response["error"] == \
        "already_in_channel"
    levels = {r.levelname for r in caplog.records if "already_in_channel" in r.getMessage()}
    assert levels == {"DEBUG"}
