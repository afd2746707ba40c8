"""Replicas: ack latency and throughput of real `shipbell serve` processes, side by side.

  sqlite x1     one process on an SQLite file (the embedded default)
  postgres x1   one process on a fresh PostgreSQL database
  postgres x3   three processes on one fresh PostgreSQL database, the bench spreading
                requests over them round-robin (what a load balancer does)

Signed slash commands over real HTTP on loopback, against one Slack double in this process.
Two requests: `/deploy help` (reads only) and `/deploy worker@vN to staging` (a deploy request:
gates read and the deploy, its events and its task written in one write transaction; the
dry-run provider runs it).  Prints p50/p99 ack latency and throughput at a concurrency, and
each figure's ratio to sqlite x1.  Nothing is asserted: figures go to the report.

    .venv/bin/python bench/replicas.py [--requests 300] [--concurrency 20]

PostgreSQL: SHIPBELL_TEST_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test);
each configuration gets a database of its own, dropped afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from fakes import postgres
from fakes.process import Running, clean_env
from shipbell.bot.slackdouble import SlackDouble, SlackDriver
from shipbell.bot.slackdouble.cast import PEOPLE

SIGNING = "bench-signing-secret-0123456789abcdef"
DEPLOY = {"providers": {"sim": {"type": "dry-run", "seconds": 1}},
          "services": {"worker": {"repository": "acme/worker", "provider": "sim",
                                  "environments": {"staging": {}}}}}


async def start(url: str, replicas: int, double: SlackDouble, tmp: Path
                ) -> tuple[list[Running], list[SlackDriver]]:
    env = clean_env(SLACK_BOT_TOKEN=double.token, SLACK_SIGNING_SECRET=SIGNING,
                    SHIPBELL_SLACK__API_URL=double.api_url, SHIPBELL_SERVER__PORT="0",
                    SHIPBELL_STORAGE__URL=url,
                    SHIPBELL_DEPLOY=json.dumps(DEPLOY))
    procs = [await Running.start("serve", cwd=tmp, env={**env,
                                 "SHIPBELL_SERVER__REPLICA_NAME": f"r{i}"})
             for i in range(replicas)]
    drivers = []
    for proc in procs:
        match = await proc.line(r"listening on (http://[^/\s]+)", 60)
        drivers.append(SlackDriver(match.group(1) + "/slack/events", SIGNING, double))
    return procs, drivers


async def measure(drivers: list[SlackDriver], texts: list[str], total: int, concurrency: int
                  ) -> dict[str, float]:
    """Send ``total`` requests, taking ``texts`` in turn; latencies are those of the first
    text's requests (``help`` amid deploys: how a read-only request fares among writes)."""
    latencies: list[float] = []
    turn = itertools.cycle(drivers)  # round-robin, request by request
    numbers = iter(range(total))
    users = itertools.cycle(PEOPLE)

    async def worker() -> None:
        for n in numbers:
            text = texts[n % len(texts)]
            ack = await next(turn).command("/deploy", text.format(n=n), user=next(users))
            assert ack.status == 200, ack.body
            if text == texts[0]:
                latencies.append(ack.latency)

    for driver in drivers:  # warm-up: connections, imports, caches, in every replica
        for _ in range(10):
            await driver.command("/deploy", "help")
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"p50": statistics.median(latencies) * 1000,
            "p99": latencies[max(int(len(latencies) * 0.99) - 1, 0)] * 1000,
            "rps": total / elapsed}


def locations(stack: ExitStack, tmp: Path) -> Iterator[tuple[str, str, int]]:
    yield "sqlite x1", f"sqlite:///{tmp / 'bench.db'}", 1
    reason = postgres.unavailable()
    if reason:
        print(f"skipping PostgreSQL: {reason}")
        return
    yield "postgres x1", stack.enter_context(postgres.fresh_database()), 1
    yield "postgres x3", stack.enter_context(postgres.fresh_database()), 3


async def main(total: int, concurrency: int) -> None:
    deploy = "worker@v{n} to staging"
    requests = {"help": ["help"], "deploy": [deploy], "help+": ["help", deploy]}
    results: dict[str, dict[str, dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as folder, ExitStack() as stack:
        tmp = Path(folder)
        for name, url, replicas in locations(stack, tmp):
            double = SlackDouble()
            await double.start()
            double.add_cast(channel_members=[*PEOPLE, double.bot_user_id])
            procs, drivers = await start(url, replicas, double, tmp)
            try:
                results[name] = {kind: await measure(drivers, text, total, concurrency)
                                 for kind, text in requests.items()}
            finally:
                for proc in procs:
                    await proc.kill()
                for driver in drivers:
                    await driver.close()
                await double.stop()
    base = results["sqlite x1"]
    print(f"\n{total} requests each, concurrency {concurrency}; ratios to sqlite x1"
          "\n(help+: help and deploy requests alternating, help's latency, all requests' rate)")
    print(f"{'':14}{'request':>8}{'p50 ms':>9}{'p99 ms':>9}{'req/s':>9}"
          f"{'p50 x':>8}{'p99 x':>8}{'req/s x':>9}")
    for name, by_kind in results.items():
        for kind, got in by_kind.items():
            ref = base[kind]
            print(f"{name:14}{kind:>8}{got['p50']:9.1f}{got['p99']:9.1f}{got['rps']:9.0f}"
                  f"{got['p50'] / ref['p50']:8.2f}{got['p99'] / ref['p99']:8.2f}"
                  f"{got['rps'] / ref['rps']:9.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=20)
    args = parser.parse_args()
    if not re.fullmatch(r"\d+", str(args.requests)) or args.requests < 1:
        sys.exit("--requests must be a positive number")
    asyncio.run(main(args.requests, args.concurrency))
