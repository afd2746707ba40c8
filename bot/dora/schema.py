"""This feature's migrations, appended after the foundation's; ids must never change.

The indexes let the digest read only the periods it shows: deploys by (env, state, finish
time), rollbacks by their target, changes by sha (the "first shipped" check) and incidents
by cause.  ``digest_posts`` records each day's digest before any of it reaches Slack, and
which of its three parts (summary, thread, chart) already went out, so a retried post
never repeats a part.
"""

from bot.storage.migrations import Migration, sql

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
]
