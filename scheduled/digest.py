"""The daily digest job: compute, store, then post summary → thread → chart, each once.

The scheduler's ledger makes each day's run happen once (with catch-up inside the
configured window); the run is a persisted task, so a replica that dies while it computes
the digest has a survivor run it again (``rerun_claimed``: storing the day is insert-once).
The run computes the digest off the event loop, then stores the rendered messages and chart
in ``digest_posts`` and queues the posting task in one transaction; the task records each
part's ts as it goes, so a retry or a restart finishes the post without repeating the parts
that already reached Slack.  The summary carries its day as metadata (``tagged.post_keyed``):
a replica that dies after Slack took the summary but before its ts was stored has the
survivor that takes the task over find it in the channel and adopt it, not post it twice.
The thread parts are kept once the same way: the details reply carries its own key
(``tagged.reply_keyed``) and the chart is found by its file name (``tagged.upload_once``) in
the thread, looked for only on a repeated attempt.

No statement runs on the event loop: the digest is computed by ``Store.read`` (a thread of
its own), and every read and write of ``digest_posts`` goes to the store's thread
(``Store.run``), one call per stretch between two Slack calls.
"""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from shipbell.bot import logs
from shipbell.bot.clock import from_db, to_db
from shipbell.bot.core import Core
from shipbell.bot.dora.chart import render_chart
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.scheduling import ScheduledJob
from shipbell.bot.scheduling.runs import RunStatus
from shipbell.bot.slack import tagged
from shipbell.handlers.digest import messages
from shipbell.handlers.digest.ids import Task

JOB_ID = "digest.daily"
MIN_GRACE = timedelta(minutes=5)


def add_digest_job(core: Core) -> None:
    """Register the posting task, and schedule the daily post if a channel is configured.

    The task is registered even without a channel, so a post left pending by a process
    that had one still resumes after the config changed.
    """
    locks: dict[str, asyncio.Lock] = {}  # one poster per day at a time, in this process
    core.tasks.register(Task.POST, lambda payload: post(core, payload["day"], locks))
    resume_unfinished(core)
    cfg = core.settings.digest
    if not cfg.channel:
        return
    tz = cfg.zone(core.settings.timezone)
    at = cfg.post_time
    trigger = CronTrigger(hour=at.hour, minute=at.minute, timezone=tz)

    async def run(when: datetime) -> str | None:
        return await prepare(core, when)

    # APScheduler wakes a little after the hour; a grace of zero would miss every run.
    grace = max(timedelta(hours=cfg.catch_up_hours), MIN_GRACE)
    core.scheduler.add(ScheduledJob(JOB_ID, trigger, run, kind="digest", grace=grace,
                                    rerun_claimed=True))


def resume_unfinished(core: Core) -> int:
    """Queue any stored digest whose posting task was lost (a crash between the two writes).

    The task key dedupes, so a task that does exist is left to the runner's own resume.
    Called once, while the features register at start-up (before anything is served, where
    the store may be used on the loop: ``allow_loop``).
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return 0
    rows = core.store.all(
        "SELECT day FROM digest_posts WHERE done_at IS NULL ORDER BY day DESC LIMIT 7"
    )
    return sum(
        core.tasks.submit(Task.POST, {"day": r["day"]}, key=f"{Task.POST}:{r['day']}") is not None
        for r in rows
    )


async def prepare(core: Core, when: datetime) -> str:
    """Compute the digest for ``when``, store it, and queue its posting; "skipped" if quiet."""
    cfg = core.settings.digest
    assert cfg.channel is not None
    tz = cfg.zone(core.settings.timezone)
    now = core.clock.now()  # days over by now are kept for tomorrow's post (bot.dora.leadcache)
    digest = await core.store.read(
        lambda conn: build_digest(conn, cfg, tz, when, trend=True, now=now))
    day = when.astimezone(tz).date().isoformat()
    if cfg.quiet and not digest.has_news:
        return RunStatus.SKIPPED
    try:
        chart: bytes | None = await asyncio.to_thread(render_chart, digest)
    except Exception:  # a broken chart must not cost the team its numbers
        logs.logger.exception(logs.DIGEST_CHART_FAILED, day)
        chart = None
    summary = json.dumps(messages.summary(digest))
    details = json.dumps({**messages.details(digest),
                          "chart_title": messages.chart_title(digest)})
    return await core.store.run(_store, core, day, cfg.channel, summary, details, chart)


def _store(core: Core, day: str, channel: str, summary: str, details: str,
           chart: bytes | None) -> str:
    """(On the store's thread.)  Store ``day``'s rendered digest and queue its posting, in one
    transaction: stored and queued together, or neither."""
    with core.store.transaction():
        stored = core.store.execute(
            "INSERT INTO digest_posts (day, channel, summary, details, chart, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (day, channel, summary, details, chart, to_db(core.clock.now())),
        )
        if stored.rowcount == 0:  # e.g. the posting time was changed after today's post
            return f"already posted {day}"
        core.tasks.submit(Task.POST, {"day": day}, key=f"{Task.POST}:{day}")
    return f"queued {day}"


async def post(core: Core, day: str, locks: dict[str, asyncio.Lock]) -> None:
    """Post what is still unposted of ``day``'s digest; safe to run again after a failure.

    One poster per day at a time (``locks``, by day): the task runner can start the same task
    twice when it was queued just before start-up resumes pending tasks.
    """
    async with locks.setdefault(day, asyncio.Lock()):
        await _post(core, day)


async def _post(core: Core, day: str) -> None:
    row = await core.store.run(
        core.store.one, "SELECT * FROM digest_posts WHERE day = ?", (day,))
    if row is None or row["done_at"]:
        return
    channel = row["channel"]
    # What reached Slack, stored (on the store's thread) before the next call to Slack, and
    # with the day's end when that comes first: the same writes in the same order as ever.
    reached: dict[str, str] = {}

    async def settle(*, finish: bool = False) -> None:
        if reached or finish:
            await core.store.run(_settle, core, day, dict(reached), finish=finish)
            reached.clear()

    if not row["summary_ts"]:
        sent = await tagged.post_keyed(core, {"channel": channel, **json.loads(row["summary"])},
                                       key=f"{JOB_ID}:{day}", since=from_db(row["created_at"])
                                       or core.clock.now())
        if not sent.ok:  # a final error (archived, not in channel…): logged, give up
            logs.logger.warning(logs.DIGEST_NOT_POSTED, day, channel, day)
            await settle(finish=True)
            return
        reached["summary_ts"] = str(sent.data["ts"])
        row["summary_ts"] = sent.data["ts"]
    details = json.loads(row["details"])
    chart_title = details.pop("chart_title", "Delivery trend")
    if not row["details_ts"]:
        await settle()
        sent = await tagged.reply_keyed(core, {"channel": channel, "thread_ts": row["summary_ts"],
                                               **details}, key=f"{JOB_ID}:{day}:details")
        if sent.ok:
            reached["details_ts"] = str(sent.data["ts"])
    if row["chart"] and not row["chart_file"]:
        await settle()
        file_id = await _upload(core, channel, row["summary_ts"], day, row["chart"], chart_title)
        reached["chart_file"] = file_id or "-"
    await settle(finish=True)


async def _upload(
    core: Core, channel: str, thread_ts: str, day: str, png: bytes, title: str
) -> str | None:
    """files_upload_v2 (get an upload URL, send the bytes, complete into the thread), or on a
    repeated attempt the chart an earlier one already shared there (``tagged.upload_once``)."""
    uploaded = await tagged.upload_once(core, channel, thread_ts=thread_ts, file=png,
                                        filename=f"dora-{day}.png", title=title)
    if not uploaded.ok:
        return None
    files = uploaded.data.get("files") or [{}]
    return str(files[0].get("id") or "")


def _settle(core: Core, day: str, reached: dict[str, str], *, finish: bool) -> None:
    """(On the store's thread.)  Record what reached Slack (column → ts or file id), then,
    if ``finish``, mark the day done."""
    for column, value in reached.items():
        _record(core, day, column, value)
    if finish:
        _finish(core, day)


def _record(core: Core, day: str, column: str, value: str) -> None:
    assert column in ("summary_ts", "details_ts", "chart_file")
    core.store.execute(
        f"UPDATE digest_posts SET {column} = ? WHERE day = ? AND {column} IS NULL", (value, day)
    )


def _finish(core: Core, day: str) -> None:
    """Mark the day done and drop its PNG (70–130 kB; a year of them would be tens of MB);
    `shipbell digest --chart` redraws any day."""
    core.store.execute(
        "UPDATE digest_posts SET done_at = ?, chart = NULL WHERE day = ? AND done_at IS NULL",
        (to_db(core.clock.now()), day),
    )
