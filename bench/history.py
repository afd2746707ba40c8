"""Benchmark: per-request cost as history grows, side by side in one run.

For histories of 1k, 10k, 100k and 1M finished deploys (one incident per 50 deploys), a real
Shipbell on
loopback answers the commands people type most, through signed requests to the real endpoint:
``/deploy status``, ``history``, ``explain``, a real deploy request (the ack), ``/incident list``
and ``/release next``. Each row prints p50/p99 per history and the ratio of the largest history's
p50 to the smallest's (target: within 1.5x). A row that grows with history names a query that
reads history it doesn't need.

Generated databases are cached under /tmp/shipbell-bench (``--fresh`` rebuilds them).
Usage: .venv/bin/python bench/history.py [--sizes 1000,10000,100000,1000000]
       [--incidents 20000] [--requests 200] [--fresh]
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.history import seed_history

from bot.clock import SystemClock
from bot.local import LocalShipbell
from bot.storage import Store

CACHE = Path("/tmp/shipbell-bench")
SERVICES = [f"svc-{i:02d}" for i in range(20)]
ENVS = ["staging", "production"]
FRESH = [f"new-{i:02d}" for i in range(40)]  # configured, never deployed: deploy targets


def config() -> dict[str, Any]:
    envs = {"staging": {}, "production": {}}
    services = {s: {"repository": f"acme/{s}", "provider": "sim", "environments": envs}
                for s in [*SERVICES, *FRESH]}
    train = {"channel": "C_RELEASES", "services": SERVICES[:5], "timezone": "Europe/Paris",
             "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": ["U_ANA"]}
    return {"deploy": {"providers": {"sim": {"type": "dry-run", "seconds": 0}},
                       "services": services},
            "release": {"trains": {"weekly": train}}}


def history(n: int, incidents: int, fresh: bool) -> Path:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"history-{n}-{incidents}.db"
    if path.exists() and not fresh:
        return path
    for stale in CACHE.glob(f"{path.name}*"):
        stale.unlink()
    began = time.perf_counter()
    store = Store(path)
    store.migrate()
    with store.transaction() as conn:
        seed_history(conn, deploys=n, incidents=incidents, services=SERVICES, envs=ENVS,
                     end=datetime.now(UTC), days=3650)
    store.close()
    print(f"  built {path.name} in {time.perf_counter() - began:.1f} s", flush=True)
    return path


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


ROWS = [
    ("/deploy status", "/deploy", lambda i: "status"),
    ("/deploy status <svc>", "/deploy", lambda i: f"status {SERVICES[i % 20]}"),
    ("/deploy history <svc>", "/deploy", lambda i: f"history {SERVICES[i % 20]}"),
    ("/deploy explain", "/deploy", lambda i: f"explain {SERVICES[i % 20]} to production"),
    ("/deploy <new svc> (real)", "/deploy", lambda i: f"{FRESH[i % len(FRESH)]} to staging"),
    ("/incident list", "/incident", lambda i: "list"),
    ("/release next", "/release", lambda i: "next"),
]


async def measure(path: Path, requests: int) -> dict[str, list[float]]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        shutil.copy(path, db)
        bell = LocalShipbell(db, config=config(), clock=SystemClock())
        await bell.start()
        try:
            for _ in range(20):
                await bell.command("/deploy", "help")
            out: dict[str, list[float]] = {}
            for name, command, text in ROWS:
                samples = []
                for i in range(requests):
                    began = time.perf_counter()
                    ack = await bell.command(command, text(i))
                    samples.append(time.perf_counter() - began)
                    assert ack.status == 200, (name, ack.status)
                    if "(real)" in name:
                        await bell.idle(30)  # finish it off the clock: next ack starts clean
                out[name] = samples
            await bell.idle(30)
        finally:
            await bell.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--incidents", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--fresh", action="store_true")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    paths = {n: history(n, min(args.incidents, n // 50), args.fresh) for n in sizes}
    results = {n: asyncio.run(measure(paths[n], args.requests)) for n in sizes}
    ms = 1000.0
    head = f"{'request':<26}" + "".join(f"{f'{n:,} p50/p99 ms':>22}" for n in sizes)
    print(head + f"{'p50 ratio':>11}")
    for name, _, _ in ROWS:
        cells = "".join(
            f"{pct(results[n][name], 50) * ms:>12.2f} /{pct(results[n][name], 99) * ms:>7.2f}"
            for n in sizes)
        ratio = pct(results[sizes[-1]][name], 50) / pct(results[sizes[0]][name], 50)
        print(f"{name:<26}{cells}{ratio:>10.2f}x")
    print(f"ratio: p50 at {sizes[-1]:,} deploys / p50 at {sizes[0]:,} (target <= 1.5x);"
          f" {args.requests} requests a row; incidents: 1 per 50 deploys, at most"
          f" {args.incidents:,}")


if __name__ == "__main__":
    main()
