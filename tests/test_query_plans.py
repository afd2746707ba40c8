"""Every query on a request path is bounded by an index, never by the length of history.

A Shipbell with a seeded history answers the commands people type most; every statement the
store runs meanwhile is recorded and its plan read, on each backend with its own EXPLAIN.
On SQLite (EXPLAIN QUERY PLAN, whose planner has no statistics): a full scan of a history
table, or a temp B-tree sorting one, fails the test with the statement named.  On PostgreSQL
(EXPLAIN after ANALYZE, so the planner knows the table sizes): a sequential scan of a table
holding the seeded history fails it.  Such a query costs more every day the installation runs.
"""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import UTC
from typing import Any

import pytest
from conftest import MakeBell
from fakes.history import seed_history
from shipbell.bot.clock import FakeClock
from shipbell.bot.deploys.models import State
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.slackdouble.cast import ANA, BOB, RELEASES
from shipbell.bot.storage import Store
from shipbell.bot.storage.postgres import PostgresStore

# Tables that grow with history; the small ones (locks, config-sized tables) may be scanned.
HISTORY = ("deploys", "deploy_events", "deploy_changes", "deploy_approvals", "incidents",
           "incident_timeline", "incident_deploys", "incident_updates", "followups",
           "audit_log", "tasks", "idempotency_keys", "scheduled_runs")
SERVICES = ["web", "api", "worker", "billing", "search"]
TRAIN = {"channel": RELEASES, "services": ["web", "api"], "timezone": "Europe/Paris",
         "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA, BOB]}


def config() -> dict[str, object]:
    envs = {"staging": {}, "production": {}}
    services = {s: {"repository": f"acme/{s}", "provider": "sim", "environments": envs}
                for s in [*SERVICES, "fresh"]}
    return merge({"deploy": {"providers": {"sim": {"type": "dry-run", "seconds": 0}},
                             "services": services}},
                 {"release": {"trains": {"weekly": TRAIN}}})


def plan(conn: sqlite3.Connection, sql: str) -> list[str]:
    return [row[3] for row in conn.execute("EXPLAIN QUERY PLAN " + sql)]


# A search on one of these reads a bounded set of rows: one deploy's events, one incident's
# updates, one key.  A sort of such a set is cheap however long the history.
PER_PARENT = re.compile(r"\((deploy_id|incident_id|id|rowid|idempotency_key|channel_id|"
                        r"source_key|key|job_id)=\?")
# A search from a lower bound (``finished_at>?``) reads a window that ends now: the deploys of
# the last release cycle, the suspects of the last hours.  Its size follows the deploy rate,
# not the history's length.
WINDOW = re.compile(r"\w+>=?\?")
FINAL = {str(s) for s in State if s.final} | {"resolved", "closed"}


def _open_only(sql: str) -> bool:
    """The statement filters on deploy state / incident status with in-flight values only."""
    found = re.findall(r"\b(?:state|status)\s*(?:=\s*'(\w+)'|IN\s*\(([^)]*)\))", sql)
    if not found:
        return False
    values = {v.strip(" '") for one, many in found for v in ([one] if one else many.split(","))}
    return not values & FINAL


def unbounded(conn: sqlite3.Connection, sql: str) -> list[str]:
    """The plan lines that read a history table in full or sort a slice that grows with it."""
    lines = plan(conn, sql)
    bad = [line for line in lines
           if any(re.fullmatch(rf"SCAN {t}( USING (COVERING )?INDEX \w+)?", line)
                  for t in HISTORY)]
    searches = [line for line in lines
                if any(re.match(rf"SEARCH {t}\b", line) for t in HISTORY)]
    bounded = all(PER_PARENT.search(line) or WINDOW.search(line)
                  or (("state=?" in line or "status=?" in line) and _open_only(sql))
                  for line in searches)
    if (searches or bad) and not bounded:
        bad += [line for line in lines if "TEMP B-TREE" in line]
        if len(searches) == 1 and " JOIN " not in sql.upper():
            # An index that covers only part of the filter walks every row of the rest: the
            # service's deploys found by walking the environment's whole history.
            wanted = set(re.findall(r"\b(\w+) (?:= (?:'[^']*'|\d+)|IN \()", sql))
            used = set(re.findall(r"(\w+)[=<>]", searches[0]))
            if missing := wanted - used - {"test", "private", "kind"}:
                bad.append(f"{searches[0]} (filters {sorted(missing)} row by row)")
    return bad


async def recorded(bell: LocalShipbell, script: list[tuple[str, str]]) -> list[str]:
    statements: list[str] = []
    with bell.core.store.trace(statements.append):
        for command, text in script:
            ack = await bell.command(command, text)
            assert ack.status == 200, (command, text, ack.status)
            await bell.idle()
    return [s for s in statements if re.match(r"\s*(SELECT|UPDATE|DELETE|WITH)", s, re.I)]


async def test_request_paths_never_scan_history(make_bell: MakeBell, clock: FakeClock) -> None:
    bell = await make_bell(config())
    store = bell.core.store
    with store.transaction() as conn:
        seed_history(conn, deploys=6000, incidents=800, services=SERVICES,
                     envs=["staging", "production"], end=clock.now().astimezone(UTC), days=400)
    script = [
        ("/deploy", "status"),
        ("/deploy", "status web"),
        ("/deploy", "history web"),
        ("/deploy", "history web production --limit 5"),
        ("/deploy", "explain web to production"),
        ("/deploy", "web to staging"),
        ("/deploy", "api to staging"),
        ("/deploy", "api to staging"),  # queued behind the first: its place in line
        ("/deploy", "rollback search production"),
        ("/deploy", "rollback fresh production"),  # no history at all for this service
        ("/deploy", "lock billing production db migration"),
        ("/deploy", "locks"),
        ("/incident", "list"),
        ("/incident", "open Checkout slow sev3 --service web"),
        ("/incident", "list"),
        ("/release", "next"),
        ("/release", "weekly"),
    ]
    statements = await recorded(bell, script)
    assert len(statements) > 40, "the commands ran queries"
    check = seq_scans_of(store) if isinstance(store, PostgresStore) else sqlite_check(store)
    assert check("SELECT * FROM deploy_events WHERE note = 'x'"), "the check sees a scan"
    offenders = {sql: bad for sql in dict.fromkeys(statements) if (bad := check(sql))}
    assert not offenders, "\n\n".join(f"{sql}\n  -> {bad}" for sql, bad in offenders.items())


@pytest.mark.sqlite_only("reads EXPLAIN QUERY PLAN of an in-memory SQLite database; the"
                         " PostgreSQL check is shown to catch a scan in the test above")
def test_the_check_itself_catches_a_scan() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE deploys (id INTEGER PRIMARY KEY, service TEXT, env TEXT)")
    conn.execute("CREATE INDEX deploys_service ON deploys (service)")
    assert unbounded(conn, "SELECT * FROM deploys WHERE env = 'x'")
    assert unbounded(conn, "SELECT * FROM deploys WHERE service = 'x' ORDER BY env")
    assert not unbounded(conn, "SELECT * FROM deploys WHERE service = 'x' ORDER BY id DESC")
    assert not unbounded(conn, "SELECT * FROM deploys WHERE id = 3")
    conn.execute("CREATE TABLE deploy_events (id INTEGER PRIMARY KEY, deploy_id INT, at TEXT)")
    conn.execute("CREATE INDEX deploy_events_deploy ON deploy_events (deploy_id)")
    assert not unbounded(conn, "SELECT * FROM deploy_events WHERE deploy_id = 3 ORDER BY at")
    conn.execute("ALTER TABLE deploys ADD COLUMN state TEXT")
    conn.execute("CREATE INDEX deploys_state ON deploys (state)")
    assert not unbounded(conn, "SELECT * FROM deploys WHERE state IN ('queued') ORDER BY env")
    assert unbounded(conn, "SELECT * FROM deploys WHERE state = 'succeeded' ORDER BY env")



def sqlite_check(store: Store) -> Any:
    return lambda sql: unbounded(store.conn, sql)


def seq_scans_of(store: PostgresStore) -> Any:
    """PostgreSQL's check: after ANALYZE, no statement reads a big history table in full."""
    raw = store.pg.raw
    raw.execute("ANALYZE")
    big = {name for name, rows in raw.execute(
        "SELECT relname, reltuples FROM pg_class WHERE relkind = 'r'"
        " AND relnamespace = current_schema()::regnamespace") if rows >= 500}
    assert {"deploys", "deploy_events", "incidents"} <= big, big

    def check(sql: str) -> list[str]:
        (document,), = raw.execute("EXPLAIN (FORMAT JSON) " + sql).fetchall()
        plan = document if isinstance(document, list) else json.loads(document)
        return [f"Seq Scan on {node['Relation Name']}" for node in _nodes(plan[0]["Plan"])
                if node["Node Type"] == "Seq Scan" and node.get("Relation Name") in big]

    return check


def _nodes(node: dict[str, Any]) -> list[dict[str, Any]]:
    return [node] + [n for child in node.get("Plans", []) for n in _nodes(child)]
