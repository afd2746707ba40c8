"""A long history written straight into a store: deploys, their events and incidents.

Shared by the query-plan test (a few thousand rows, so the planner's choices are the ones a
big installation gets) and ``bench/history.py`` (up to a million deploys).  Rows are shaped
like the ones Shipbell writes: every deploy finished (succeeded, failed, rolled back), spread
evenly over ``days`` before ``end``, across ``services`` and ``envs``.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from shipbell.bot.clock import to_db
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS
from shipbell.bot.storage import Connection

BATCH = 20_000


def seed_history(conn: Connection, *, deploys: int, incidents: int,
                 services: list[str], envs: list[str], end: datetime, days: float = 365,
                 seed: int = 7) -> None:
    """Append ``deploys`` finished deploys and ``incidents`` closed incidents."""
    rnd = random.Random(seed)
    start = end - timedelta(days=days)
    step = days * 86400 / max(deploys, 1)
    base = conn.execute("SELECT COALESCE(MAX(id), 0) FROM deploys").fetchone()[0]
    batch: list[tuple[object, ...]] = []
    events: list[tuple[object, ...]] = []
    for i in range(1, deploys + 1):
        t = start + timedelta(seconds=i * step)
        state = "failed" if rnd.random() < 0.05 else "succeeded"
        did = base + i
        batch.append((did, rnd.choice(services), rnd.choice(envs), "main", f"v{did}", state,
                      ANA, DEPLOYS, to_db(t - timedelta(minutes=12)),
                      to_db(t - timedelta(minutes=10)), to_db(t)))
        events.append((did, to_db(t), state))
        if len(batch) >= BATCH:
            _flush(conn, batch, events)
    _flush(conn, batch, events)
    rows = []
    for i in range(1, incidents + 1):
        t = start + timedelta(seconds=i * days * 86400 / max(incidents, 1))
        rows.append((f"Old incident {i}", rnd.choice([1, 2, 3, 4]), "closed",
                     rnd.choice(services), ANA, to_db(t), to_db(t + timedelta(hours=1)),
                     to_db(t + timedelta(days=1))))
    conn.executemany(
        "INSERT INTO incidents (title, severity, status, service, reporter, declared_at,"
        " resolved_at, closed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _flush(conn: Connection, batch: list[tuple[object, ...]],
           events: list[tuple[object, ...]]) -> None:
    conn.executemany(
        "INSERT INTO deploys (id, service, env, ref, version, state, requester, channel,"
        " requested_at, started_at, finished_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        batch)
    conn.executemany(
        "INSERT INTO deploy_events (deploy_id, at, state, posted) VALUES (?, ?, ?, 1)", events)
    batch.clear()
    events.clear()
