"""Daily housekeeping: forget keys, finished tasks and ledger rows once they can't matter.

Slack retries an event for minutes and a double click is over in seconds, so a key older
than the retention window can never be needed again; finished tasks are kept as long for
post-mortems of Shipbell itself.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from apscheduler.triggers.cron import CronTrigger
from shipbell.bot.clock import to_db
from shipbell.bot.core import Core
from shipbell.bot.scheduling import ScheduledJob
from shipbell.bot.tasks import FINISHED

RETENTION = timedelta(days=30)


def purge(core: Core, now: datetime) -> str:
    cutoff = to_db(now - RETENTION)
    with core.store.transaction() as conn:
        keys = conn.execute("DELETE FROM idempotency_keys WHERE created_at < ?", (cutoff,))
        tasks = conn.execute(
            "DELETE FROM tasks WHERE status IN (?, ?) AND updated_at < ?", (*FINISHED, cutoff)
        )
        # The ledger only needs each job's latest run to know what is due next.
        runs = conn.execute(
            "DELETE FROM scheduled_runs WHERE scheduled_for < ? AND (job_id, scheduled_for)"
            " NOT IN (SELECT job_id, MAX(scheduled_for) FROM scheduled_runs GROUP BY job_id)",
            (cutoff,),
        )
    return f"purged {keys.rowcount} keys, {tasks.rowcount} tasks, {runs.rowcount} ledger rows"


def register(core: Core) -> None:
    async def run(when: datetime) -> str:
        return await core.store.run(purge, core, when)  # on the store's thread

    core.scheduler.add(ScheduledJob("housekeeping", CronTrigger(hour=3, minute=17, timezone="UTC"),
                                    run, kind="housekeeping", coalesce=True))
