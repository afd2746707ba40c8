"""This feature's migrations, appended after the foundation's; ids must never change.

The scheduler's table rides along here (scheduled/ belongs to the release feature).
"""

from shipbell.bot.scheduling.schema import MIGRATIONS as SCHEDULER
from shipbell.bot.storage.migrations import Migration, sql

MIGRATIONS: list[Migration] = [
    *SCHEDULER,
    sql(
        "releases_0001_calendar",
        """
        CREATE TABLE release_skips (
            train TEXT NOT NULL,
            release_date TEXT NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (train, release_date)
        );
        CREATE TABLE release_captains (
            train TEXT NOT NULL,
            release_date TEXT NOT NULL,
            captain TEXT NOT NULL,
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL,
            PRIMARY KEY (train, release_date)
        );
        CREATE TABLE release_freezes (
            id INTEGER PRIMARY KEY,
            train TEXT NOT NULL,
            starts_at TEXT NOT NULL,
            ends_at TEXT NOT NULL,
            reason TEXT NOT NULL,
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL,
            lifted_at TEXT,
            lifted_by TEXT
        );
        CREATE UNIQUE INDEX release_freezes_one_open ON release_freezes (train)
            WHERE lifted_at IS NULL;
        CREATE INDEX release_freezes_window ON release_freezes (train, starts_at, ends_at)
        """,
    ),
]
