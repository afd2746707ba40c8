"""The scheduler's own table: when each job was first registered.

Without it a job that never ran yet has no ledger entry, and runs missed while the bot was
down before its first fire would be invisible: neither posted nor counted as missed.
"""

from shipbell.bot.storage.migrations import Migration, sql

MIGRATIONS: list[Migration] = [
    sql(
        "scheduled_0001_jobs",
        """
        CREATE TABLE scheduled_jobs (
            job_id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL
        )
        """,
    ),
]
