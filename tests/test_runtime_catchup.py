"""Catch-up is for runs missed while Shipbell was down, never for runs due before it first
started: a first `serve` at 09:30 on a new database does not post that morning's digest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipbell.bot.clock import FakeClock
from shipbell.bot.local import MakeBell
from shipbell.bot.slackdouble.cast import METRICS, ONCALL
from shipbell.scheduled.digest import JOB_ID

CONFIG = {"timezone": "Europe/Paris", "digest": {"channel": METRICS, "time": "09:00"}}
HALF_PAST_NINE = datetime(2026, 11, 25, 8, 30, tzinfo=UTC)  # 09:30 Paris, 30 min after 09:00


def ledger(bell: object) -> list[tuple[str, str]]:
    rows = bell.core.store.all(  # type: ignore[attr-defined]
        "SELECT scheduled_for, status FROM scheduled_runs WHERE job_id = ?", (JOB_ID,))
    return [(r["scheduled_for"], r["status"]) for r in rows]


async def test_first_start_on_a_new_database_posts_no_catch_up(
    make_bell: MakeBell, clock: FakeClock
) -> None:
    clock.set(HALF_PAST_NINE)
    bell = await make_bell(CONFIG, scheduler=True)  # a real start: scheduler.start() catches up
    await bell.idle()
    assert bell.double.messages(METRICS) == []
    assert ledger(bell) == []

    # The next morning it was down at 09:00 and starts at 09:30: that run was missed, and
    # it is caught up (once), as before.
    clock.set(HALF_PAST_NINE + timedelta(days=1))
    await bell.restart()
    await bell.idle()
    assert [status for _, status in ledger(bell)] == ["posted"]
    assert len([m for m in bell.double.messages(METRICS)
                if m.get("thread_ts", m["ts"]) == m["ts"]]) == 1


async def test_upkeep_jobs_still_run_at_every_start(make_bell: MakeBell, clock: FakeClock) -> None:
    """Per-process caches (user groups) are filled at start, first start included."""
    clock.set(HALF_PAST_NINE)
    bell = await make_bell({"release": {"managers": [ONCALL]}}, scheduler=True)
    await bell.idle()
    assert bell.core.scheduler.jobs and bell.double.calls_to("usergroups.users.list")
