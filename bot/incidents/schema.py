"""This feature's migrations, appended after the foundation's; ids must never change."""

from shipbell.bot.storage.migrations import Migration, sql

MIGRATIONS: list[Migration] = [
    sql(
        "incidents_0001_updates_reminders",
        """
        ALTER TABLE incidents ADD COLUMN next_reminder_at TEXT;
        ALTER TABLE incidents ADD COLUMN missed_updates INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE incidents ADD COLUMN origin_channel TEXT;
        ALTER TABLE incidents ADD COLUMN postmortem TEXT;
        CREATE INDEX incidents_next_reminder ON incidents (next_reminder_at);
        CREATE INDEX incidents_channel_name ON incidents (channel_name);
        CREATE TABLE incident_updates (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            at TEXT NOT NULL,
            actor TEXT,
            status TEXT NOT NULL,
            text TEXT,
            due_at TEXT,
            on_time INTEGER
        );
        CREATE INDEX incident_updates_at ON incident_updates (at);
        CREATE INDEX incident_updates_incident ON incident_updates (incident_id, at);
        CREATE TABLE incident_reminders (
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            slot TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            escalated INTEGER NOT NULL DEFAULT 0,
            snoozed_by TEXT,
            PRIMARY KEY (incident_id, slot)
        )
        """,
    ),
    sql(
        "incidents_0002_topic",
        """
        ALTER TABLE incidents ADD COLUMN topic TEXT
        """,
    ),
]
