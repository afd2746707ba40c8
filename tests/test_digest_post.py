"""The scheduled digest through the real app: summary in the channel, details and chart in
its thread, exactly once per day, caught up after downtime, silent in quiet mode."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shipbell.bot.clock import FakeClock
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.local import LocalShipbell
from shipbell.bot.scheduling import RunOutcome
from shipbell.bot.slackdouble.cast import BOB, METRICS
from shipbell.handlers.digest import messages
from shipbell.scheduled.digest import JOB_ID, prepare
from test_digest_reference import seed_reference

OLD = "C0OLD0001"  # archived, or no such channel

CONFIG = {"timezone": "Europe/Paris", "digest": {"channel": METRICS, "time": "09:00"}}
BEFORE_NINE = datetime(2026, 11, 25, 7, 59, tzinfo=UTC)  # 08:59 Paris


async def seeded(make_bell: Any, clock: FakeClock, at: datetime = BEFORE_NINE,
                 config: dict[str, Any] = CONFIG) -> LocalShipbell:
    """A bell at ``at`` whose database holds the reference dataset."""
    clock.set(at)
    bell: LocalShipbell = await make_bell(config)
    seed_reference(bell.core.store)
    return bell


async def due(bell: LocalShipbell) -> list[RunOutcome]:
    """Run every due job (as the scheduler would) and keep the digest's outcomes."""
    return [o for o in await bell.core.scheduler.run_due() if o.job_id == JOB_ID]


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        out += [e.get("text", "") for e in block.get("elements", [])]
    return "\n".join(out)


def posts(bell: LocalShipbell) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(top-level messages, thread replies) in the metrics channel."""
    msgs = bell.double.messages(METRICS)
    top = [m for m in msgs if m.get("thread_ts", m["ts"]) == m["ts"]]
    return top, [m for m in msgs if m not in top]


async def test_posts_summary_thread_and_chart_once(make_bell: Any, clock: FakeClock) -> None:
    bell = await seeded(make_bell, clock)
    assert await due(bell) == []
    clock.advance(minutes=1)
    outcomes = await due(bell)
    assert [(o.outcome, o.detail) for o in outcomes] == [("posted", "queued 2026-11-25")]
    await bell.idle()

    top, replies = posts(bell)
    assert len(top) == 1 and len(replies) == 2
    summary = texts(top[0]["blocks"])
    assert "Delivery digest · Nov 18–24" in summary
    assert "Nov 18–24 vs Nov 11–17 · production · 6 deploys" in summary
    assert "*Change failure rate:* 50.0% (3 of 6)  ↑ 25.0 pp from 25.0% :red_circle:" in summary
    assert "*Deploys:* 6 (0.9/day, on 5 of 7 days)  ↑ 50% from 4 :large_green_circle:" in summary
    assert "*Lead time:* median 2 h · p90 24 h (n=8 changes)  → same :white_circle:" in summary
    assert "2024 DORA cluster: low" in summary
    details = next(m for m in replies if m.get("blocks"))
    assert details["thread_ts"] == top[0]["ts"]
    detail_text = texts(details["blocks"])
    assert "*By service*" in detail_text and "• api: 4 deploys" in detail_text
    assert f"owner <@{BOB}>" in detail_text and "a private SEV1 incident: open 19 h" in detail_text
    assert "Secret" not in detail_text + summary and "payment" not in detail_text
    chart = next(m for m in replies if m.get("files"))
    assert chart["thread_ts"] == top[0]["ts"] and chart["files"][0]["name"] == "dora-2026-11-25.png"
    stored = bell.double.state.files[chart["files"][0]["id"]]["content"]
    assert stored.startswith(b"\x89PNG")

    # the same day never posts twice: not on a second pass, not after a restart
    clock.advance(minutes=30)
    assert await due(bell) == []
    await bell.restart()
    assert await due(bell) == []
    await bell.idle()
    assert len(bell.double.messages(METRICS)) == 3
    assert len(bell.double.calls_to("files.completeUploadExternal")) == 1


async def test_a_failed_upload_is_retried_without_reposting(
    make_bell: Any, clock: FakeClock
) -> None:
    bell = await seeded(make_bell, clock, BEFORE_NINE + timedelta(minutes=1))
    bell.double.fail_next("files.getUploadURLExternal", "internal_error")
    await due(bell)
    await bell.double.wait_for("files.getUploadURLExternal")
    await clock.until_sleeping()  # the post task backs off on the FakeClock
    clock.advance(seconds=2)
    await bell.idle()
    top, replies = posts(bell)
    assert len(top) == 1 and len(replies) == 2
    assert len([c for c in bell.double.calls_to("chat.postMessage")
                if c.args["channel"] == METRICS]) == 2
    row = bell.core.store.one("SELECT * FROM digest_posts WHERE day = '2026-11-25'")
    assert row is not None and row["done_at"] and row["chart_file"].startswith("F")
    assert row["chart"] is None  # posted: the PNG is not kept in the database


async def test_catch_up_inside_the_window_and_missed_outside(
    make_bell: Any, clock: FakeClock
) -> None:
    bell = await seeded(make_bell, clock)
    clock.set(datetime(2026, 11, 25, 12, tzinfo=UTC))  # down from 08:59 to 13:00 Paris
    outcomes = await due(bell)
    assert [o.outcome for o in outcomes] == ["posted"]
    await bell.idle()
    # down again until Nov 27 14:00 Paris: Nov 26 is 29 h late (missed), Nov 27 is 5 h late
    clock.set(datetime(2026, 11, 27, 13, tzinfo=UTC))
    outcomes = await due(bell)
    assert [(o.scheduled_for.date().isoformat(), o.outcome) for o in outcomes] == [
        ("2026-11-26", "missed"), ("2026-11-27", "posted")]
    await bell.idle()
    top, _ = posts(bell)
    assert [texts(m["blocks"]).split("\n")[0] for m in top] == [
        "Delivery digest · Nov 18–24", "Delivery digest · Nov 20–26"]


async def test_quiet_mode_posts_nothing_on_a_day_with_nothing_to_say(
    make_bell: Any, clock: FakeClock
) -> None:
    clock.set(BEFORE_NINE)
    bell = await make_bell({**CONFIG, "digest": {**CONFIG["digest"], "quiet": True}})
    clock.advance(minutes=1)
    outcomes = await due(bell)
    assert [o.outcome for o in outcomes] == ["skipped"]
    await bell.idle()
    assert bell.double.messages(METRICS) == []
    seed_reference(bell.core.store)  # the next day has news: it posts
    clock.advance(days=1)
    assert [o.outcome for o in await due(bell)] == ["posted"]
    await bell.idle()
    assert len(posts(bell)[0]) == 1


async def test_no_channel_means_no_scheduled_digest(make_bell: Any, clock: FakeClock) -> None:
    bell = await make_bell({"digest": {"channel": None}})
    assert "digest.daily" not in bell.core.scheduler.jobs


@pytest.mark.parametrize("error", ["is_archived", "channel_not_found"])
async def test_a_channel_slack_refuses_is_logged_not_retried(
    make_bell: Any, clock: FakeClock, caplog: pytest.LogCaptureFixture, error: str
) -> None:
    config = {**CONFIG, "digest": {**CONFIG["digest"], "channel": OLD}}
    bell = await seeded(make_bell, clock, BEFORE_NINE + timedelta(minutes=1), config)
    if error == "is_archived":  # else the channel was never created, or deleted since
        bell.double.add_channel("old-metrics", channel_id=OLD, is_archived=True)
    with caplog.at_level(logging.WARNING, logger="shipbell"):
        assert [o.outcome for o in await due(bell)] == ["posted"]
        await bell.idle()
    call = await bell.double.wait_for("chat.postMessage",
                                      lambda c: c.args["channel"] == OLD)
    assert call.response["error"] == error
    row = bell.core.store.one("SELECT summary, summary_ts, done_at FROM digest_posts")
    assert row is not None and row["summary_ts"] is None and row["done_at"]
    assert "Nov 18–24 vs Nov 11–17" in json.loads(row["summary"])["text"]  # kept, not lost
    assert bell.double.calls_to("files.getUploadURLExternal") == []
    task = bell.core.store.one("SELECT status, attempts FROM tasks WHERE kind = 'digest.post'")
    assert task == {"status": "done", "attempts": 1}
    assert any(f"2026-11-25 not posted to {OLD}" in r.getMessage() and
               "shipbell digest --as-of 2026-11-25" in r.getMessage() for r in caplog.records)


async def test_a_rate_limit_delays_but_never_doubles_a_part(
    make_bell: Any, clock: FakeClock
) -> None:
    bell = await seeded(make_bell, clock)
    await due(bell)  # other features' due jobs (follow-up reminders) post first
    await bell.idle()
    bell.double.rate_limit_next("chat.postMessage", retry_after=0, times=2)
    clock.advance(minutes=1)
    await due(bell)
    await bell.idle()
    for _ in range(5):  # each 429 is a back-off on the FakeClock, then a retry
        if bell.core.store.one("SELECT done_at FROM digest_posts")["done_at"]:
            break
        await clock.until_sleeping()
        clock.advance(seconds=60)
        await bell.idle()
    statuses = [c.status for c in bell.double.calls_to("chat.postMessage")
                if c.args["channel"] == METRICS]
    assert statuses.count(429) == 2 and statuses.count(200) == 2
    top, replies = posts(bell)
    assert len(top) == 1 and len(replies) == 2
    assert bell.double.problems == []


async def test_one_post_per_day_even_if_the_posting_time_changes(
    make_bell: Any, clock: FakeClock
) -> None:
    bell = await seeded(make_bell, clock, BEFORE_NINE + timedelta(minutes=1))
    assert [o.detail for o in await due(bell)] == ["queued 2026-11-25"]
    await bell.idle()
    later = datetime(2026, 11, 25, 10, tzinfo=UTC)  # as if reconfigured to 11:00 Paris
    assert await prepare(bell.core, later) == "already posted 2026-11-25"
    await bell.idle()
    assert len(posts(bell)[0]) == 1


async def test_a_stored_digest_whose_task_was_lost_is_posted_after_restart(
    make_bell: Any, clock: FakeClock
) -> None:
    bell = await seeded(make_bell, clock, BEFORE_NINE + timedelta(minutes=1))
    digest = await bell.core.store.read(lambda conn: build_digest(
        conn, bell.core.settings.digest, ZoneInfo("Europe/Paris"), clock.now()))
    bell.core.store.execute(  # stored, then the process died before queueing the post
        "INSERT INTO digest_posts (day, channel, summary, details, created_at)"
        f" VALUES ('2026-11-25', '{METRICS}', ?, ?, '2026-11-25T08:00:00.000000+00:00')",
        (json.dumps(messages.summary(digest)), json.dumps(messages.details(digest))),
    )
    assert posts(bell) == ([], [])
    await bell.restart()
    await bell.idle()
    top, replies = posts(bell)
    assert len(top) == 1 and len(replies) == 1  # no chart was stored: summary and details
