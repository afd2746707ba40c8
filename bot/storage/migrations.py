"""Ordered schema migrations.

Each migration has a stable id and is applied once, in list order, inside a transaction.
Migrations are written in SQLite's DDL; on PostgreSQL, ``bot.storage.dialect`` translates
each statement as it runs (types, ``INTEGER PRIMARY KEY``), so there is one set for both.
The foundation's migrations create the tables every feature shares; each feature appends
its own in ``bot/<feature>/schema.py`` and never edits one that has shipped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol


class Executes(Protocol):
    """What ``apply`` is given: a sqlite-utils Database, or PostgreSQL's translating DDL."""

    def execute(self, sql: str, parameters: Any = ...) -> Any: ...


@dataclass(frozen=True)
class Migration:
    id: str
    apply: Callable[[Executes], None]


def sql(migration_id: str, script: str) -> Migration:
    """A migration made of plain SQL statements separated by semicolons."""

    def apply(db: Executes) -> None:
        for statement in filter(None, (s.strip() for s in script.split(";"))):
            db.execute(statement)

    return Migration(migration_id, apply)


FOUNDATION: list[Migration] = [
    sql(
        "0001_core",
        """
        CREATE TABLE audit_log (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            channel TEXT,
            action TEXT NOT NULL,
            subject TEXT,
            detail TEXT
        );
        CREATE INDEX audit_log_at ON audit_log (at);
        CREATE TABLE idempotency_keys (
            key TEXT PRIMARY KEY,
            created_at TEXT NOT NULL,
            result TEXT
        );
        CREATE TABLE tasks (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            payload TEXT NOT NULL,
            key TEXT UNIQUE,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            last_error TEXT
        );
        CREATE INDEX tasks_status ON tasks (status);
        CREATE TABLE scheduled_runs (
            job_id TEXT NOT NULL,
            scheduled_for TEXT NOT NULL,
            claimed_at TEXT NOT NULL,
            claimed_by TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'claimed',
            detail TEXT,
            PRIMARY KEY (job_id, scheduled_for)
        )
        """,
    ),
    sql(
        "0002_deploys",
        """
        CREATE TABLE deploys (
            id INTEGER PRIMARY KEY,
            service TEXT NOT NULL,
            env TEXT NOT NULL,
            ref TEXT NOT NULL,
            version TEXT,
            state TEXT NOT NULL,
            requester TEXT NOT NULL,
            channel TEXT,
            reason TEXT,
            provider TEXT,
            provider_ref TEXT,
            log_url TEXT,
            error TEXT,
            is_rollback INTEGER NOT NULL DEFAULT 0,
            is_hotfix INTEGER NOT NULL DEFAULT 0,
            rollback_of INTEGER REFERENCES deploys (id),
            break_glass TEXT,
            incident_id INTEGER,
            message_channel TEXT,
            message_ts TEXT,
            idempotency_key TEXT UNIQUE,
            requested_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT
        );
        CREATE INDEX deploys_service_env ON deploys (service, env, state);
        CREATE INDEX deploys_env_finished ON deploys (env, finished_at);
        CREATE INDEX deploys_state ON deploys (state);
        CREATE TABLE deploy_events (
            id INTEGER PRIMARY KEY,
            deploy_id INTEGER NOT NULL REFERENCES deploys (id),
            at TEXT NOT NULL,
            state TEXT NOT NULL,
            actor TEXT,
            note TEXT
        );
        CREATE INDEX deploy_events_deploy ON deploy_events (deploy_id);
        CREATE TABLE deploy_changes (
            id INTEGER PRIMARY KEY,
            deploy_id INTEGER NOT NULL REFERENCES deploys (id),
            sha TEXT NOT NULL,
            title TEXT,
            author TEXT,
            committed_at TEXT,
            UNIQUE (deploy_id, sha)
        );
        CREATE TABLE locks (
            service TEXT NOT NULL,
            env TEXT NOT NULL,
            holder TEXT NOT NULL,
            reason TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'manual',
            created_at TEXT NOT NULL,
            expires_at TEXT,
            PRIMARY KEY (service, env)
        )
        """,
    ),
    sql(
        "0003_incidents",
        """
        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            title TEXT NOT NULL,
            severity INTEGER NOT NULL,
            status TEXT NOT NULL,
            service TEXT,
            description TEXT,
            private INTEGER NOT NULL DEFAULT 0,
            test INTEGER NOT NULL DEFAULT 0,
            reporter TEXT NOT NULL,
            commander TEXT,
            comms TEXT,
            channel_id TEXT UNIQUE,
            channel_name TEXT,
            status_message_ts TEXT,
            announcement_channel TEXT,
            announcement_ts TEXT,
            summary TEXT,
            idempotency_key TEXT UNIQUE,
            declared_at TEXT NOT NULL,
            mitigated_at TEXT,
            resolved_at TEXT,
            closed_at TEXT,
            last_update_at TEXT
        );
        CREATE INDEX incidents_status ON incidents (status);
        CREATE INDEX incidents_declared ON incidents (declared_at);
        CREATE INDEX incidents_resolved ON incidents (resolved_at);
        CREATE TABLE incident_timeline (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            at TEXT NOT NULL,
            kind TEXT NOT NULL,
            actor TEXT,
            text TEXT,
            permalink TEXT,
            source_key TEXT UNIQUE
        );
        CREATE INDEX incident_timeline_incident ON incident_timeline (incident_id, at);
        CREATE TABLE incident_deploys (
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            deploy_id INTEGER NOT NULL REFERENCES deploys (id),
            relation TEXT NOT NULL CHECK (relation IN ('caused', 'fixed')),
            actor TEXT,
            linked_at TEXT NOT NULL,
            PRIMARY KEY (incident_id, deploy_id, relation)
        );
        CREATE INDEX incident_deploys_deploy ON incident_deploys (deploy_id);
        CREATE TABLE followups (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            text TEXT NOT NULL,
            owner TEXT,
            due_date TEXT,
            created_at TEXT NOT NULL,
            done_at TEXT,
            reminded_at TEXT
        );
        CREATE INDEX followups_due ON followups (done_at, due_date)
        """,
    ),
    sql(
        "tasks_0001_leases",
        """
        ALTER TABLE tasks ADD COLUMN owner TEXT;
        ALTER TABLE tasks ADD COLUMN lease_until TEXT;
        CREATE INDEX tasks_lease ON tasks (status, lease_until);
        CREATE TABLE leases (
            name TEXT PRIMARY KEY,
            owner TEXT NOT NULL,
            until TEXT NOT NULL
        )
        """,
    ),
]
