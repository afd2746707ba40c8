"""End to end: a signed `/deploy` to the job arriving at a local webhook provider.

One run, side by side, over real HTTP on loopback:
  floor  a signed `/deploy help`: the ack-only path through the whole Shipbell app
  e2e    a signed `/deploy sN to production` (distinct services, so none queue) until the
         signed JSON job reaches a local CI server, which checks its signature
  burst  50 distinct signed deploys at once (asyncio.gather): ack p50/p99, and that every
         job reached the CI
Deploys are sent one at a time (latency, not throughput): back to back (the next as soon as
the job reached the CI, while the last one's Slack posts are still going out), then the
burst, then each to an idle Shipbell (all background work of the last one finished).
Prints p50/p99 and the ratios; the SQL statements one request runs (traced on the store's
connection); the Slack calls per deploy by method; the HTTP connections the Slack double and
the CI saw.  Last, the ack as Slack sees it: `/deploy help` and real deploys sent from a
separate process (one kept-alive connection, 20 ms apart), so the time is what the sender
waits for, not also the background work a same-process client must let run first.

    .venv/bin/python bench/deploy_e2e.py [--deploys 300] [--floor 300] [--burst 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from shipbell.bot.clock import SystemClock
from shipbell.bot.deploys import signing
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS

SECRET_ENV = "SHIPBELL_BENCH_CI_SECRET"
SECRET = "bench-secret-0123456789abcdef"


class CI:
    """Receives jobs, verifies them, and stamps their arrival time."""

    def __init__(self) -> None:
        self.arrived: dict[int, float] = {}
        self.waiters: dict[int, asyncio.Future[float]] = {}
        self.bad = 0
        self.connections: set[tuple[str, int]] = set()

    async def job(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.connections.add((str(peer[0]), int(peer[1])))
        raw = await request.read()
        now = time.perf_counter()
        if not signing.verify(SECRET, request.headers.get(signing.TIMESTAMP_HEADER, ""), raw,
                              request.headers.get(signing.SIGNATURE_HEADER, ""), time.time()):
            self.bad += 1
            return web.json_response({}, status=401)
        deploy_id = int(json.loads(raw)["deploy_id"])
        waiter = self.waiters.get(deploy_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(now)
        return web.json_response({})


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def config(url: str, services: int) -> dict[str, Any]:
    return {"log_level": "WARNING", "deploy": {
        "providers": {"ci": {"type": "webhook", "url": url, "secret_env": SECRET_ENV}},
        "services": {f"s{i}": {"provider": "ci", "environments": {"production": {}}}
                     for i in range(services)},
    }}


SETUP = {"auth.test", "users.info", "usergroups.list", "usergroups.users.list"}

# Slack's view of the ack: requests sent from another process, as Slack sends them from another
# machine, so the time is what the sender waits for, not also the Shipbell's background work
# that a same-process client must let run before it can read its answer.
SENDER = """
import http.client, json, sys, time, urllib.parse
from slack_sdk.signature import SignatureVerifier
url, secret, path, pause = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
with open(path) as file:
    forms = json.load(file)
where = urllib.parse.urlsplit(url)
connection = http.client.HTTPConnection(where.hostname, where.port, timeout=10)  # kept alive
verifier, out = SignatureVerifier(secret), []
for kind, body in forms:
    data, stamp = body.encode(), str(int(time.time()))
    headers = {"Content-Type": "application/x-www-form-urlencoded",
               "X-Slack-Request-Timestamp": stamp,
               "X-Slack-Signature": verifier.generate_signature(timestamp=stamp, body=data)}
    began = time.perf_counter()
    connection.request("POST", where.path, body=data, headers=headers)
    connection.getresponse().read()
    out.append([kind, time.perf_counter() - began])
    time.sleep(pause)
print(json.dumps(out))
"""


async def from_outside(bell: LocalShipbell, first: int, count: int) -> dict[str, list[float]]:
    """Alternate `/deploy help` and a real deploy, sent by a separate process on one kept-alive
    connection, 20 ms apart (Slack's requests come from elsewhere, one person at a time)."""
    forms = []
    for i in range(count):
        for kind, text in (("floor", "help"), ("deploy", f"s{first + i} to production")):
            forms.append([kind, urlencode({
                "token": "x", "team_id": bell.double.team_id, "channel_id": DEPLOYS,
                "channel_name": "deploys", "user_id": ANA, "user_name": "ana",
                "command": "/deploy", "text": text, "api_app_id": bell.double.app_id,
                "response_url": bell.double.new_response_url(DEPLOYS, ANA),
                "trigger_id": bell.double.new_trigger_id()})])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "forms.json"
        path.write_text(json.dumps(forms))
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", SENDER, bell.runtime.slack_url, bell.signing_secret,
            str(path), "0.02", stdout=asyncio.subprocess.PIPE)
        out, _ = await proc.communicate()
    times: dict[str, list[float]] = {"floor": [], "deploy": []}
    for kind, seconds in json.loads(out):
        times[kind].append(seconds)
    return times


async def run(deploys: int, floor_n: int, burst: int) -> None:
    os.environ[SECRET_ENV] = SECRET
    ci = CI()
    app = web.Application()
    app.router.add_post("/jobs", ci.job)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/jobs"
    with tempfile.TemporaryDirectory() as tmp:
        bell = LocalShipbell(Path(tmp) / "bench.db", config=config(url, 3 * deploys + burst + 2),
                             clock=SystemClock())
        await bell.start()
        try:
            for _ in range(20):  # warm up: connections, Bolt's first-request work
                await bell.command("/deploy", "help")
            floor = []
            for _ in range(floor_n):
                started = time.perf_counter()
                ack = await bell.command("/deploy", "help")
                floor.append(time.perf_counter() - started)
                assert ack.status == 200
            e2e, acks = [], []
            loop = asyncio.get_running_loop()
            window: list[str] = []
            calls_before = len(bell.double.calls)
            for i in range(deploys):
                deploy_id = i + 1
                ci.waiters[deploy_id] = loop.create_future()
                if i == deploys - 1:  # the SQL run between sending a request and its ack
                    bell.core.store.set_trace(window.append)
                started = time.perf_counter()
                ack = await bell.command("/deploy", f"s{i} to production")
                acks.append(time.perf_counter() - started)
                bell.core.store.set_trace(None)
                assert "Deploying" in ack.text, ack.text
                arrived = await asyncio.wait_for(ci.waiters[deploy_id], 10)
                e2e.append(arrived - started)
            await bell.idle(60)
            calls = Counter(c.method for c in bell.double.calls[calls_before:]
                            if c.method not in SETUP)
            slack_conns, ci_conns = len(bell.double.connections), len(ci.connections)
            # The request's own statements: with nothing else running, all it runs before its
            # first task starts (a task's first statement marks it running).
            traced: list[str] = []
            bell.core.store.set_trace(traced.append)
            ci.waiters[deploys + 1] = loop.create_future()
            await bell.command("/deploy", f"s{deploys + burst} to production")
            bell.core.store.set_trace(None)
            await asyncio.wait_for(ci.waiters[deploys + 1], 10)
            await bell.idle(60)
            own = next((n for n, sql in enumerate(traced)
                        if sql.startswith("UPDATE tasks SET status = 'running'")), len(traced))

            async def one(n: int) -> float:
                started = time.perf_counter()
                ack = await bell.command("/deploy", f"s{deploys + n} to production")
                assert "Deploying" in ack.text, ack.text
                return time.perf_counter() - started

            first_burst = deploys + 2
            for n in range(burst):
                ci.waiters[first_burst + n] = loop.create_future()
            burst_acks = list(await asyncio.gather(*(one(n) for n in range(burst))))
            arrived_all = await asyncio.wait_for(asyncio.gather(
                *(ci.waiters[first_burst + n] for n in range(burst))), 30)
            await bell.idle(60)
            quiet = []  # each request sent to an idle Shipbell: the previous deploy's posts done
            for j in range(deploys):
                deploy_id = first_burst + burst + j
                ci.waiters[deploy_id] = loop.create_future()
                await bell.idle(60)
                started = time.perf_counter()
                ack = await bell.command("/deploy", f"s{deploys + burst + 1 + j} to production")
                quiet.append(time.perf_counter() - started)
                assert "Deploying" in ack.text, ack.text
                await asyncio.wait_for(ci.waiters[deploy_id], 10)
            await bell.idle(60)
            outside = await from_outside(bell, 2 * deploys + burst + 2, min(deploys, 200))
            await bell.idle(60)
        finally:
            await bell.stop()
    await runner.cleanup()
    ms = 1000.0

    def line(name: str, values: list[float]) -> str:
        mean = statistics.mean(values) * ms
        return (f"{name:<28} n={len(values):<5} p50={pct(values, 50) * ms:7.2f} ms"
                f"  p99={pct(values, 99) * ms:7.2f} ms  mean={mean:6.2f} ms")

    print(line("floor (/deploy help ack)", floor))
    print(line("/deploy ack, back to back", acks))
    print(line("/deploy ack, Shipbell idle", quiet))
    print(line("/deploy -> job at CI", e2e))
    print(f"ratio e2e/floor: p50 {pct(e2e, 50) / pct(floor, 50):.1f}x, "
          f"p99 {pct(e2e, 99) / pct(floor, 99):.1f}x; target p50 < 25 ms: "
          f"{'met' if pct(e2e, 50) < 0.025 else 'MISSED'}; bad signatures: {ci.bad}")
    ratio, idle_ratio = pct(acks, 50) / pct(floor, 50), pct(quiet, 50) / pct(floor, 50)
    print(f"ratio ack/floor p50: back to back {ratio:.1f}x, Shipbell idle {idle_ratio:.1f}x; "
          f"target <= 3x: {'met' if idle_ratio <= 3 else 'MISSED'} (idle), "
          f"{'met' if ratio <= 3 else 'MISSED'} (back to back)")
    o_floor, o_deploy = outside["floor"], outside["deploy"]
    print(line("outside: floor ack", o_floor))
    print(line("outside: /deploy ack", o_deploy))
    print(f"ratio ack/floor p50 as Slack sees it (sent from another process, paced):"
          f" {pct(o_deploy, 50) / pct(o_floor, 50):.1f}x; target <= 3x:"
          f" {'met' if pct(o_deploy, 50) / pct(o_floor, 50) <= 3 else 'MISSED'}")
    print(f"SQL statements of one deploy request: {own} (in its ack window, with the "
          f"background tasks of it and the one before: {len(window)})")
    per = {method: round(n / deploys, 2) for method, n in sorted(calls.items())}
    print(f"Slack calls per deploy (no CI callbacks): {sum(calls.values()) / deploys:.2f} {per}")
    print(f"client connections for {deploys} deploys: Slack double {slack_conns}, "
          f"CI {ci_conns}")
    print(line(f"burst of {burst} ack", burst_acks))
    print(f"burst: {len(arrived_all)}/{burst} jobs arrived at the CI; ack p99 < 300 ms: "
          f"{'met' if pct(burst_acks, 99) < 0.3 else 'MISSED'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deploys", type=int, default=300)
    parser.add_argument("--floor", type=int, default=300)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    asyncio.run(run(args.deploys, args.floor, args.burst))


if __name__ == "__main__":
    main()
