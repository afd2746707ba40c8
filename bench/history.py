"""Benchmark: per-request cost as history grows, side by side in one run.

For histories of 1k, 10k, 100k and 1M finished deploys (one incident per 50 deploys), a real
Shipbell on
loopback answers the commands people type most, through signed requests to the real endpoint:
``/deploy status``, ``history``, ``explain``, a real deploy request (the ack), ``/incident list``
and ``/release next``. Each row prints p50/p99 per history and the ratio of the largest history's
p50 to the smallest's (target: within 1.5x). A row that grows with history names a query that
reads history it doesn't need.  Then start-up: `shipbell serve` on a copy of each history, from
exec to the first 200 from /healthz (median of three starts; target: under 1.5 s at 1M).

Generated databases are cached under /tmp/shipbell-bench (``--fresh`` rebuilds them).
Usage: .venv/bin/python bench/history.py [--sizes 1000,10000,100000,1000000]
       [--incidents 20000] [--requests 200] [--fresh]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shipbell.bot.slackdouble.cast import ANA, RELEASES

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes.history import seed_history
from shipbell.bot.clock import SystemClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store

CACHE = Path("/tmp/shipbell-bench")
SERVICES = [f"svc-{i:02d}" for i in range(20)]
ENVS = ["staging", "production"]
FRESH = [f"new-{i:02d}" for i in range(40)]  # configured, never deployed: deploy targets


def config() -> dict[str, Any]:
    envs = {"staging": {}, "production": {}}
    services = {s: {"repository": f"acme/{s}", "provider": "sim", "environments": envs}
                for s in [*SERVICES, *FRESH]}
    train = {"channel": RELEASES, "services": SERVICES[:5], "timezone": "Europe/Paris",
             "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA]}
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
    store.migrate(all_migrations())
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_up(path: Path, runs: int = 3) -> list[float]:
    """Seconds from exec of `shipbell serve` to a 200 from /healthz, on fresh copies of path."""
    shipbell = Path(sys.executable).parent / "shipbell"
    env = {**os.environ, "SLACK_BOT_TOKEN": "xoxb-bench", "SLACK_SIGNING_SECRET": "bench"}
    times = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "serve.db"
            shutil.copy(path, db)
            port = free_port()
            config = Path(tmp) / "shipbell.toml"
            config.write_text(f'[slack]\napi_url = "http://127.0.0.1:9/api/"\n[server]\n'
                              f'port = {port}\n[storage]\npath = "{db}"\n')
            began = time.perf_counter()
            proc = subprocess.Popen([str(shipbell), "--config", str(config), "serve"], env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                while True:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz",
                                                    timeout=5) as answer:
                            if answer.status == 200:
                                break
                    except OSError:
                        if proc.poll() is not None:
                            raise SystemExit(f"serve exited with {proc.returncode}") from None
                        time.sleep(0.01)  # bench only: polling a process we started
                times.append(time.perf_counter() - began)
            finally:
                proc.terminate()
                proc.wait(30)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000,1000000")
    parser.add_argument("--incidents", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--fresh", action="store_true")
    parser.add_argument("--no-startup", action="store_true", help="skip the start-up timing")
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
    if args.no_startup:
        return
    starts = {n: start_up(paths[n]) for n in sizes}
    print(f"\n{'start-up':<26}" + "".join(
        f"{statistics.median(starts[n]):>21.2f}s" for n in sizes)
        + f"{statistics.median(starts[sizes[-1]]) / statistics.median(starts[sizes[0]]):>10.2f}x")
    print("start-up: exec of `shipbell serve` to the first 200 from /healthz, median of 3"
          " (target: under 1.5 s at the largest history)")


if __name__ == "__main__":
    main()

