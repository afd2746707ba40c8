"""This feature's migrations, appended after the foundation's; ids must never change.

The foundation's `deploys`, `deploy_events`, `deploy_changes` and `locks` tables keep their
meaning (other features query them); these only add what the state machine needs.
"""

from shipbell.bot.storage.migrations import Migration, sql

MIGRATIONS: list[Migration] = [
    sql(
        "deploys_0001_gates",
        """
        ALTER TABLE deploys ADD COLUMN approvals_needed INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE deploys ADD COLUMN expires_at TEXT;
        ALTER TABLE deploys ADD COLUMN deadline_at TEXT;
        ALTER TABLE deploys ADD COLUMN sha TEXT;
        ALTER TABLE deploy_events ADD COLUMN posted INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE locks ADD COLUMN channel TEXT;
        ALTER TABLE locks ADD COLUMN reminded_at TEXT;
        CREATE TABLE deploy_approvals (
            deploy_id INTEGER NOT NULL REFERENCES deploys (id),
            approver TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('approved', 'rejected')),
            at TEXT NOT NULL,
            channel TEXT,
            PRIMARY KEY (deploy_id, approver)
        );
        CREATE INDEX deploys_requested ON deploys (service, env, requested_at)
        """,
    ),
    sql(
        "deploys_0002_history_indexes",
        # Every request-path read of a service's deploys is one index search, however long the
        # history: (service, env, state, finished_at) finds the last good version of a service
        # (it replaces (service, env, state), its prefix); (service) and (service, env) keep
        # rowid order, so `history` reads its newest N rows without sorting the rest.
        """
        DROP INDEX deploys_service_env;
        CREATE INDEX deploys_service_env_state ON deploys (service, env, state, finished_at);
        CREATE INDEX deploys_service ON deploys (service);
        CREATE INDEX deploys_service_env ON deploys (service, env)
        """,
    ),
    sql(
        "deploys_0003_lock_requests",
        """
        CREATE TABLE lock_requests (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL CHECK (kind IN ('takeover', 'unlock')),
            service TEXT NOT NULL,
            env TEXT NOT NULL,
            requester TEXT NOT NULL,
            holder TEXT NOT NULL,
            lock_created_at TEXT NOT NULL,
            reason TEXT,
            ttl_minutes INTEGER,
            channel TEXT,
            created_at TEXT NOT NULL,
            used_at TEXT
        )
        """,
    ),
]
