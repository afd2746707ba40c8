"""Housekeeping forgets old idempotency keys and finished tasks, and nothing newer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.local import LocalShipbell


async def test_daily_purge_keeps_what_can_still_matter(
    bell: LocalShipbell, clock: FakeClock
) -> None:
    store = bell.core.store
    now = clock.now()
    for key, age in (("old", 31), ("recent", 29)):
        at = to_db(now - timedelta(days=age))
        store.execute("INSERT INTO idempotency_keys (key, created_at) VALUES (?, ?)", (key, at))
        for status in ("done", "pending"):
            store.execute(
                "INSERT INTO tasks (kind, payload, status, created_at, updated_at)"
                " VALUES ('x', '{}', ?, ?, ?)", (status, at, at))
    for job, age in (("sweep", 40), ("sweep", 35), ("train", 90)):
        at = to_db(now - timedelta(days=age))
        store.execute("INSERT INTO scheduled_runs (job_id, scheduled_for, claimed_at, claimed_by)"
                      " VALUES (?, ?, ?, 'test')", (job, at, at))
    clock.set(datetime(2026, 11, 3, 3, 17, 5, tzinfo=UTC))
    outcomes = [o for o in await bell.core.scheduler.run_due() if o.job_id == "housekeeping"]
    assert [o.outcome for o in outcomes] == ["posted"]
    assert [r["key"] for r in store.all("SELECT key FROM idempotency_keys")] == ["recent"]
    seeded = store.one("SELECT COUNT(*) AS n FROM tasks WHERE kind = 'x'")  # not the runs' tasks
    assert seeded["n"] == 3  # old pending task stays
    kept = store.all("SELECT job_id, scheduled_for FROM scheduled_runs"
                     " WHERE job_id IN ('sweep', 'train') ORDER BY job_id")
    assert kept == [{"job_id": "sweep", "scheduled_for": to_db(now - timedelta(days=35))},
                    {"job_id": "train", "scheduled_for": to_db(now - timedelta(days=90))}]
    again = [o for o in await bell.core.scheduler.run_due() if o.job_id == "housekeeping"]
    assert again == []
