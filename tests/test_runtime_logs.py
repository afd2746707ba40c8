"""What an operator reads: a real start and a failed post, each said in one line.

No library chatter at INFO (APScheduler's twenty lines, Bolt's "`token` will be unused"),
no routine sweep lines, and an error from Slack or the network is one line, not a
traceback; a bug in Shipbell keeps its traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from apscheduler.triggers.base import BaseTrigger
from fakes.waiting import tick, until
from pydantic import SecretStr
from shipbell.bot import logs
from shipbell.bot.clock import FakeClock
from shipbell.bot.core import build_core
from shipbell.bot.local import MakeBell
from shipbell.bot.runtime import Runtime
from shipbell.bot.scheduling import ScheduledJob
from shipbell.bot.settings import Secrets, Settings
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import METRICS, ONCALL
from shipbell.scheduled.digest import JOB_ID

CONFIG = {"timezone": "Europe/Paris", "digest": {"channel": METRICS, "time": "09:00"},
          "release": {"managers": [ONCALL]}}
BEFORE_NINE = datetime(2026, 11, 25, 7, 59, tzinfo=UTC)  # 08:59 Paris


@pytest.fixture
def operator_logging(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The CLI's logging policy at INFO (restored afterwards), captured by caplog."""
    names = (*logs.CHATTY, "")
    saved = {name: logging.getLogger(name).level for name in names}
    logs.setup("INFO")
    caplog.set_level(logging.INFO)
    yield caplog
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)


async def test_a_real_start_says_what_happened_and_nothing_else(
    make_bell: MakeBell, clock: FakeClock, operator_logging: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")  # what Bolt warned on
    clock.set(BEFORE_NINE)
    bell = await make_bell(CONFIG, scheduler=True)
    await bell.idle()
    await bell.core.scheduler.run_due()  # the sweeps run again: still silent
    records = operator_logging.records
    assert [r for r in records if r.name.startswith("apscheduler")] == []
    assert not [r for r in records if "`token`" in r.getMessage()]
    assert not [r for r in records if r.getMessage().startswith("Scheduled run")]
    assert all(r.exc_info is None for r in records)
    assert len(records) <= 3, [r.getMessage() for r in records]  # auth, and nothing routine


async def test_a_failed_digest_post_is_one_line_per_attempt(
    make_bell: MakeBell, clock: FakeClock, operator_logging: pytest.LogCaptureFixture,
) -> None:
    clock.set(BEFORE_NINE)
    bell = await make_bell(CONFIG)
    bell.double.fail_next("chat.postMessage", "internal_error", times=3)
    clock.advance(minutes=1)
    outcomes = [o for o in await bell.core.scheduler.run_due() if o.job_id == JOB_ID]
    assert [o.outcome for o in outcomes] == ["posted"]  # stored and queued
    await tick(clock, 2)
    await tick(clock, 4)
    await bell.idle()
    failed = [r for r in operator_logging.records if r.msg.startswith("Background task")]
    assert [r.getMessage().endswith("Slack answered internal_error") for r in failed] == [True] * 3
    assert all(r.exc_info is None for r in failed)
    assert "Traceback" not in operator_logging.text
    assert [r.getMessage() for r in operator_logging.records
            if r.getMessage().startswith("Scheduled run")] == [
        f"Scheduled run {JOB_ID} at 2026-11-25 09:00:00+01:00: posted"]


async def test_a_bug_keeps_its_traceback(
    make_bell: MakeBell, clock: FakeClock, operator_logging: pytest.LogCaptureFixture,
) -> None:
    bell = await make_bell()

    calls: list[int] = []

    async def broken(payload: dict[str, object]) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise KeyError("a bug")

    bell.core.tasks.register("test.broken", broken)
    bell.core.tasks.submit("test.broken", {})
    await tick(clock, 2)
    await bell.idle()
    failed = [r for r in operator_logging.records if r.msg.startswith("Background task")]
    assert failed[0].exc_info is not None and "Traceback" in operator_logging.text


def test_describe_says_slack_s_error_code_or_the_first_line() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web.slack_response import SlackResponse

    response = SlackResponse(client=None, http_verb="POST", api_url="u", req_args={},
                             data={"ok": False, "error": "not_in_channel"}, headers={},
                             status_code=200)
    assert logs.describe(SlackApiError("long\nmessage", response)) == \
        "Slack answered not_in_channel"
    assert logs.describe(ConnectionError("refused\nmore")) == "ConnectionError: refused"


async def test_a_crash_in_the_background_catch_up_is_reported_at_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`serve` doesn't wait for the catch-up; if it crashes (a bug), the log says so now."""

    class Broken(BaseTrigger):
        def get_next_fire_time(self, previous: datetime | None, now: datetime) -> datetime:
            raise RuntimeError("a bug in a trigger")

    async def never(when: datetime) -> str:
        return "posted"

    async with SlackDouble() as double:
        core = build_core(Settings(slack={"api_url": double.api_url},
                                   storage={"path": str(tmp_path / "s.db")}),
                          Secrets(SLACK_BOT_TOKEN=SecretStr(double.token)))
        core.scheduler.add(ScheduledJob("broken", Broken(), never))
        runtime = Runtime(core)
        await runtime.start(http=False, catch_up_in_background=True)
        try:
            await until(lambda: any(r.msg == logs.START_STEP_FAILED for r in caplog.records))
        finally:
            await runtime.stop(0)
            core.store.close()
    crash = next(r for r in caplog.records if r.msg == logs.START_STEP_FAILED)
    assert crash.exc_info is not None and "scheduler-start" in crash.getMessage()
