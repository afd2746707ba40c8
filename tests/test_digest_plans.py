"""The digest reads only the periods it shows: every query is an index range, never a scan.

SQLite picks plans without statistics in a bot's database (nobody runs ANALYZE), so the
plans are checked on a small database exactly as the bot would have it.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store
from test_digest_reference import PARIS, POSTED, seed_reference

TABLES = ("deploys", "deploy_changes", "incidents", "incident_deploys", "followups",
          "incident_updates")
# Walking history: a table scan, all of a service's deploys, or "declared before now".
HISTORY_WALK = re.compile(
    rf"^SCAN (\w+ AS )?({'|'.join(TABLES)}|d|d2|c|c2|i|x|r|r2|f|u)\b"
    r"|deploys_service(_env)? \(|deploys_service_env_state \((?!.*finished_at)"
    r"|incidents_declared \(declared_at<\?\)"
)


@pytest.mark.sqlite_only("EXPLAIN QUERY PLAN, and a planner without statistics, are SQLite's;"
                         " PostgreSQL's plans are checked after ANALYZE in test_query_plans")
def test_no_digest_query_walks_the_history(tmp_path: Path) -> None:
    store = Store(tmp_path / "plans.db")
    store.migrate(all_migrations())
    seed_reference(store)
    statements: list[str] = []
    store.conn.set_trace_callback(statements.append)
    build_digest(store.conn, DigestSettings(), PARIS, POSTED)
    build_digest(store.conn, DigestSettings(), PARIS, POSTED, service="api")
    store.conn.set_trace_callback(None)
    queries = [s for s in statements if s.lstrip().upper().startswith(("SELECT", "WITH"))]
    assert len(queries) >= 8
    walks = []
    for sql in queries:
        for row in store.conn.execute(f"EXPLAIN QUERY PLAN {sql}"):
            if HISTORY_WALK.search(row[3]):
                walks.append(f"{row[3]}  ←  {sql[:120]}")
    assert walks == []
