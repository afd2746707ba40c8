"""Benchmark: how long the digest takes as the history grows, beside a full table scan.

Two series, one run:
  * size: 10k, 100k and 1M production deploys spread over one year (so the periods the
    digest reads grow with the history), with proportional incidents, follow-ups and
    status updates;
  * fixed daily rate: the same number of deploys a day for 1, 3 and 10 years, where the
    digest must stay flat because it reads only the periods it shows.
For each history: the digest (median of warm runs, and the first run), the daily post's
digest (which also reads the 8-week lead-time trend for its chart) with a cold cache of
lead times and with the one yesterday's post left (``bot.dora.leadcache``), the chart render,
a full scan of ``deploys`` as the floor any history-reading design would pay, and the
extra memory (tracemalloc peak of Python objects, and RSS growth of the process).

Generated databases are cached under /tmp/shipbell-bench, one per schema (``--fresh``
rebuilds them).
Usage: .venv/bin/python bench/digest.py [--sizes 10000,100000,1000000] [--years 1,3,10]
       [--rate 40] [--repeat 7] [--fresh]
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sqlite3
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from shipbell.bot.clock import to_db
from shipbell.bot.dora.chart import render_chart
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.schema import all_migrations
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL
from shipbell.bot.storage import Store

CACHE = Path("/tmp/shipbell-bench")
END = datetime(2026, 11, 25, 8, tzinfo=UTC)  # the digest is computed for this instant
SERVICES = [f"svc-{i:02d}" for i in range(20)]
TZ = ZoneInfo("Europe/Paris")
BATCH = 20_000


def rows(n: int, days: float, seed: int = 7) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, batch of rows) for ``n`` production deploys evenly spread over ``days``."""
    rnd = random.Random(seed)
    start = END - timedelta(days=days)
    step = days * 86400 / n
    last_ok: dict[str, int] = {}
    last_sha: dict[str, str] = {}
    batches: dict[str, list[tuple[Any, ...]]] = {t: [] for t in (
        "deploys", "deploy_changes", "incidents", "incident_deploys", "followups",
        "incident_updates")}
    incident_id = 0
    for i in range(1, n + 1):
        t = start + timedelta(seconds=i * step + rnd.uniform(0, step))
        service = rnd.choice(SERVICES)
        state = "failed" if rnd.random() < 0.05 else "succeeded"
        rollback_of = last_ok.get(service) if rnd.random() < 0.02 else None
        batches["deploys"].append((
            i, service, "production", "main", state, ANA, to_db(t - timedelta(minutes=12)),
            to_db(t - timedelta(minutes=10)), to_db(t), int(rollback_of is not None),
            int(rnd.random() < 0.03), rollback_of))
        if rollback_of is None:
            for j in range(rnd.randint(1, 5)):
                age = min(max(rnd.lognormvariate(9.6, 1.4), 60), 30 * 86400)
                batches["deploy_changes"].append(
                    (i, f"{i:x}-{j}", to_db(t - timedelta(seconds=age))))
            if service in last_sha and rnd.random() < 0.02:  # re-shipped change
                batches["deploy_changes"].append((i, last_sha[service], to_db(t - timedelta(
                    hours=30))))
            last_sha[service] = f"{i:x}-0"
        if state == "succeeded":
            last_ok[service] = i
        if rnd.random() < 1 / 50:
            incident_id += 1
            declared = t + timedelta(minutes=rnd.uniform(5, 180))
            still_open = END - declared < timedelta(days=2) and rnd.random() < 0.5
            resolved = None if still_open else to_db(declared + timedelta(
                minutes=rnd.uniform(10, 600)))
            batches["incidents"].append((
                incident_id, f"Incident {incident_id}", rnd.randint(1, 4),
                "investigating" if still_open else "resolved", service,
                int(rnd.random() < 0.05), int(rnd.random() < 0.01), BOB,
                to_db(declared), resolved))
            if rnd.random() < 0.6 and state == "succeeded":
                batches["incident_deploys"].append((incident_id, i, "caused", to_db(declared)))
            for k in range(2):
                due = (declared + timedelta(days=rnd.randint(7, 30))).date().isoformat()
                done = to_db(declared + timedelta(days=k + 3)) if rnd.random() < 0.7 else None
                batches["followups"].append((incident_id, f"Follow-up {k}", CARL, due,
                                             to_db(declared), done))
            for k in range(3):
                batches["incident_updates"].append((
                    incident_id, to_db(declared + timedelta(minutes=30 * (k + 1))),
                    "investigating", int(rnd.random() < 0.85)))
        if i % BATCH == 0 or i == n:
            for table, batch in batches.items():
                if batch:
                    yield table, batch
                    batches[table] = []


SQL = {
    "deploys": "INSERT INTO deploys (id, service, env, ref, state, requester, requested_at,"
               " started_at, finished_at, is_rollback, is_hotfix, rollback_of)"
               " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "deploy_changes": "INSERT INTO deploy_changes (deploy_id, sha, committed_at) VALUES (?,?,?)",
    "incidents": "INSERT INTO incidents (id, title, severity, status, service, private, test,"
                 " reporter, declared_at, resolved_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
    "incident_deploys": "INSERT INTO incident_deploys (incident_id, deploy_id, relation,"
                        " linked_at) VALUES (?,?,?,?)",
    "followups": "INSERT INTO followups (incident_id, text, owner, due_date, created_at,"
                 " done_at) VALUES (?,?,?,?,?,?)",
    "incident_updates": "INSERT INTO incident_updates (incident_id, at, status, on_time)"
                        " VALUES (?,?,?,?)",
}


def history(n: int, days: float, fresh: bool) -> Path:
    """A cached database with ``n`` production deploys over ``days`` days.

    The name carries a digest of the migration ids, so a branch that adds an index (or
    another worktree on an older schema) never measures a database built without it.
    """
    CACHE.mkdir(exist_ok=True)
    schema = hashlib.sha256(",".join(m.id for m in all_migrations()).encode()).hexdigest()[:8]
    path = CACHE / f"digest-{n}-{int(days)}d-{schema}.db"
    if path.exists() and not fresh:
        return path
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    began = time.perf_counter()
    store = Store(path)
    store.migrate(all_migrations())
    has_updates = store.one("SELECT 1 AS x FROM sqlite_master WHERE name = 'incident_updates'")
    with store.transaction() as conn:
        for table, batch in rows(n, days):
            if table == "incident_updates" and not has_updates:
                continue
            conn.executemany(SQL[table], batch)
    store.close()
    print(f"  built {path.name} in {time.perf_counter() - began:.1f} s")
    return path


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(first run, median of the ``repeat`` runs after it) in milliseconds."""
    samples = []
    for _ in range(repeat + 1):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples[0], statistics.median(samples[1:]) if repeat else samples[0]


def rss_kb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def measure(path: Path, repeat: int) -> dict[str, float]:
    cfg = DigestSettings(timezone="Europe/Paris")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    # The daily post keeps the lead times of days that are over (bot.dora.leadcache), so it
    # needs a connection that writes, as the bot's worker thread has.
    post_conn = sqlite3.connect(path, isolation_level=None)
    post_conn.execute("PRAGMA synchronous = NORMAL")
    post_conn.execute("DELETE FROM dora_lead_days")
    rss_before = rss_kb()
    first, _ = timed(lambda: build_digest(conn, cfg, TZ, END), 0)
    # Yesterday's post, as the bot made it a day ago: what it kept is what today's post finds.
    yesterday = END - timedelta(days=1)
    build_digest(post_conn, cfg, TZ, yesterday, trend=True, now=yesterday)
    (kept_until,) = post_conn.execute("SELECT MAX(hi) FROM dora_lead_days").fetchone()

    def cold() -> None:
        post_conn.execute("DELETE FROM dora_lead_days")

    def warm() -> None:  # back to what yesterday's post left: today's run adds a day
        post_conn.execute("DELETE FROM dora_lead_days WHERE lo >= ?", (kept_until,))

    def post() -> Any:
        return build_digest(post_conn, cfg, TZ, END, trend=True, now=END)

    # The scan and the digests take turns, round after round, so a neighbour's burst on a
    # shared machine lands on all of them alike and the ratios stay comparable.
    runs: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "scan": (lambda: None, lambda: conn.execute(
            "SELECT COUNT(*), MAX(finished_at) FROM deploys NOT INDEXED").fetchone()),
        "warm": (lambda: None, lambda: build_digest(conn, cfg, TZ, END)),
        "post": (cold, post),
        "post_warm": (warm, post),
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeat):
        for name, (setup, fn) in runs.items():
            setup()
            began = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - began) * 1000)
    rss_growth = (rss_kb() - rss_before) / 1024
    m: dict[str, float] = {k: statistics.median(v) for k, v in samples.items()}
    cold()
    tracemalloc.start()
    digest = post()
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    if digest != build_digest(conn, cfg, TZ, END, trend=True):
        raise SystemExit("the cached post differs from the uncached one")
    cold()
    post_conn.close()
    render_chart(digest)  # warm matplotlib's font cache before timing
    _, chart = timed(lambda: render_chart(digest), max(1, repeat // 2))
    total = conn.execute("SELECT COUNT(*) FROM deploys").fetchone()[0]
    conn.close()
    return {**m, "deploys": total, "in_period": digest.current.deploys, "first": first,
            "chart": chart, "peak_mb": peak, "rss_mb": rss_growth}


def report(label: str, m: dict[str, float]) -> None:
    print(f"  {label:<22} {int(m['deploys']):>9,} {int(m['in_period']):>7,}"
          f" {m['first']:>8.1f} {m['warm']:>8.1f} {m['post']:>9.1f} {m['post_warm']:>9.1f}"
          f" {m['chart']:>8.1f} {m['scan']:>8.1f} {m['warm'] / m['scan']:>10.2f}"
          f" {m['post'] / m['scan']:>10.2f} {m['post_warm'] / m['scan']:>10.2f}"
          f" {m['peak_mb']:>8.1f} {m['rss_mb']:>7.1f}")


HEAD = (f"  {'history':<22} {'deploys':>9} {'7 days':>7} {'1st ms':>8} {'warm ms':>8}"
        f" {'post cold':>9} {'post warm':>9} {'chart ms':>8} {'scan ms':>8} {'warm/scan':>10}"
        f" {'cold/scan':>10} {'post/scan':>10} {'peak MB':>8} {'RSS MB':>7}")
LEGEND = ("  1st/warm: the digest as /deploy stats and the CLI compute it (two periods);"
          " post: plus the\n  8-week lead-time trend the daily post charts, with no lead"
          " times kept (cold, the first post)\n  and with yesterday's post's kept (warm, every"
          " post after it); chart: PNG render;\n  scan: full scan of deploys;"
          " warm/scan, cold/scan, post/scan: the on-demand digest, the cold\n  post and the"
          " warm post over the scan in the same run (target ≤ 3);\n"
          "  peak: tracemalloc peak of the cold post;"
          " RSS: process growth over the timed runs.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--years", default="1,3,10")
    parser.add_argument("--rate", type=int, default=40, help="deploys a day, fixed-rate series")
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--fresh", action="store_true", help="rebuild cached databases")
    args = parser.parse_args()

    print(LEGEND)
    print("\nSize series: production deploys over one year (7-day periods, 8-week chart)")
    paths = [(n, history(n, 365, args.fresh)) for n in map(int, args.sizes.split(","))]
    print(HEAD)
    for n, path in paths:
        report(f"{n:,} / 1 year", measure(path, args.repeat))
    print(f"\nFixed-rate series: {args.rate} deploys a day")
    paths = [(y, history(args.rate * 365 * y, 365 * y, args.fresh))
             for y in map(int, args.years.split(","))]
    print(HEAD)
    for years, path in paths:
        report(f"{years} year{'s' if years > 1 else ''}", measure(path, args.repeat))


if __name__ == "__main__":
    main()
