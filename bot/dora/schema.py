"""This feature's migrations, appended after the foundation's; ids must never change.

The indexes let the digest read only the periods it shows: deploys by (env, state, finish
time), rollbacks by their target, changes by sha (the "first shipped" check) and incidents
by cause.  ``digest_posts`` records each day's digest before any of it reaches Slack, and
which of its three parts (summary, thread, chart) already went out, so a retried post
never repeats a part.

``dora_0002`` makes the window reads index-only: deploys by (env, state, finish time) now
carry what the digest shows of them (service, rollback and hotfix flags), changes are
found by deploy with their commit time and sha, and the "first shipped" check finds a
sha's other deploys in the sha index itself.  The deploys and sha indexes replace the ones
they extend, so a write maintains one more index than before, not three.

``dora_0003`` keeps the lead times of days that are over (``bot.dora.leadcache``), so the
daily post computes the 8-week trend's days once, not every morning.
"""

from shipbell.bot.storage.migrations import Migration, sql

MIGRATIONS: list[Migration] = [
    sql(
        "dora_0001_indexes_and_posts",
        """
        CREATE INDEX dora_deploys_env_state_finished ON deploys (env, state, finished_at);
        CREATE INDEX dora_deploys_rollback_of ON deploys (rollback_of);
        CREATE INDEX dora_changes_sha ON deploy_changes (sha);
        CREATE INDEX dora_incident_deploys_relation ON incident_deploys (relation, deploy_id);
        CREATE TABLE digest_posts (
            day TEXT PRIMARY KEY,
            channel TEXT NOT NULL,
            summary TEXT NOT NULL,
            details TEXT NOT NULL,
            chart BLOB,
            created_at TEXT NOT NULL,
            summary_ts TEXT,
            details_ts TEXT,
            chart_file TEXT,
            done_at TEXT
        )
        """,
    ),
    sql(
        "dora_0002_covering_indexes",
        """
        DROP INDEX dora_deploys_env_state_finished;
        CREATE INDEX dora_deploys_window ON deploys
            (env, state, finished_at, service, is_rollback, is_hotfix);
        DROP INDEX dora_changes_sha;
        CREATE INDEX dora_changes_sha_deploy ON deploy_changes (sha, deploy_id);
        CREATE INDEX dora_changes_deploy_committed ON deploy_changes (deploy_id, committed_at, sha)
        """,
    ),
    sql(
        "dora_0003_lead_days",
        """
        CREATE TABLE dora_lead_days (
            scope TEXT NOT NULL,
            version INTEGER NOT NULL,
            lo TEXT NOT NULL,
            hi TEXT NOT NULL,
            ms TEXT NOT NULL,
            PRIMARY KEY (scope, version, lo, hi)
        ) WITHOUT ROWID
        """,
    ),
]
