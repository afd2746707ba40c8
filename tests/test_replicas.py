"""Three `shipbell serve` processes on one store, signed traffic spread over them; each test
runs on an SQLite file and on a fresh PostgreSQL database.

Each replica is a real process (as `serve` runs in production) against one Slack double and
one fake CI in this test process; the tasks' lease is 3 s, so a killed replica's work is
taken over by the survivors within seconds.  At the end every live replica is stopped with
SIGTERM (its in-flight work finishes), then the workspace is inspected: one message per
deploy, each thread note once, one status message and one announcement per incident.
"""

from __future__ import annotations

import asyncio
import json
import re
import signal
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from conftest import BACKENDS, need_postgres
from fakes import postgres
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.process import Running, clean_env
from shipbell.bot.clock import to_db
from shipbell.bot.local import PEOPLE
from shipbell.bot.schema import all_migrations
from shipbell.bot.slack.kinds import SlackTask
from shipbell.bot.slackdouble import SlackDouble, SlackDriver
from shipbell.bot.slackdouble.cast import DEPLOYS, INCIDENTS, METRICS, RELEASES
from shipbell.bot.storage import open_store, parse_url
from shipbell.handlers.digest.ids import Task as DigestTask
from shipbell.handlers.release.ids import Kind
from shipbell.scheduled.digest import JOB_ID as DIGEST_JOB

SIGNING = "replicas-signing-secret-0123456789"
LEASE = 3  # seconds: the beat is every second
REPLICAS = 3
RELEASE_JOB = "release:web:release"  # the train's release-day announcement
SLOW = 60.0  # a bound for waits on three loaded processes, never a measured threshold


class Cluster:
    """The replicas, their URLs and a signed driver for each."""

    def __init__(self, tmp: Path, double: SlackDouble, ci: FakeCI, store_url: str,
                 **extra: str) -> None:
        self.tmp, self.double, self.ci, self.store_url = tmp, double, ci, store_url
        self.env = clean_env(**extra,
            SLACK_BOT_TOKEN=double.token, SLACK_SIGNING_SECRET=SIGNING,
            **{SECRET_ENV: SECRET},
            SHIPBELL_SLACK__API_URL=double.api_url, SHIPBELL_SERVER__PORT="0",
            SHIPBELL_STORAGE__URL=store_url,
            SHIPBELL_SERVER__TASK_LEASE_SECONDS=str(LEASE),
            SHIPBELL_DEPLOY=json.dumps(deploy_config(ci.url)["deploy"]),
            SHIPBELL_INCIDENT=json.dumps({"announcements_channel": INCIDENTS}),
        )
        self.procs: list[Running | None] = [None] * REPLICAS
        self.urls: list[str] = [""] * REPLICAS
        self.drivers: list[SlackDriver | None] = [None] * REPLICAS

    async def start(self, i: int) -> None:
        proc = await Running.start("serve", cwd=self.tmp,
                                   env={**self.env, "SHIPBELL_SERVER__REPLICA_NAME": f"r{i}"})
        self.procs[i] = proc
        self.urls[i] = (await proc.line(r"listening on (http://[^/\s]+)", SLOW)).group(1)
        self.drivers[i] = SlackDriver(self.urls[i] + "/slack/events", SIGNING, self.double)

    def proc(self, i: int) -> Running:
        proc = self.procs[i]
        assert proc is not None
        return proc

    def driver(self, i: int) -> SlackDriver:
        driver = self.drivers[i]
        assert driver is not None
        return driver

    async def stop(self, i: int) -> None:
        """SIGTERM: in-flight work finishes (or is handed back), exit 0."""
        proc = self.proc(i)
        proc.signal(signal.SIGTERM)
        assert await proc.exit_code(SLOW) == 0, proc.output
        await self.driver(i).close()
        self.procs[i] = self.drivers[i] = None

    async def kill(self, i: int) -> None:
        """SIGKILL: the process dies mid-work, its leases held."""
        proc = self.proc(i)
        proc.signal(signal.SIGKILL)
        await proc.exit_code(SLOW)
        await self.driver(i).close()
        self.procs[i] = self.drivers[i] = None

    async def taken_over(self, kind: str) -> Running:
        """Wait for a live replica to log that it took over a ``kind`` task; that replica."""
        live = [p for p in self.procs if p is not None]
        waits = {asyncio.ensure_future(p.line(rf"Took over task {kind} #", SLOW)): p
                 for p in live}
        done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
        for each in pending:
            each.cancel()
        winner = next(iter(done))
        winner.result()
        return waits[winner]

    async def metric(self, i: int, name: str) -> float:
        async with aiohttp.ClientSession() as session, \
                session.get(self.urls[i] + "/metrics") as response:
            text = await response.text()
        return sum(float(value) for value in re.findall(rf"^{name}{{[^}}]*}} (\S+)$", text,
                                                        re.MULTILINE))

    async def stop_all(self) -> None:
        for i, proc in enumerate(self.procs):
            if proc is not None:
                await self.stop(i)

    def outputs(self) -> str:
        return "\n".join(p.output for p in self.procs if p is not None)

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
        """Read the shared store as an operator would (its own connection)."""
        return read_store(self.store_url, query, params)

    def holder(self, kind: str) -> int:
        """Which replica holds the unfinished ``kind`` task (replica names are r0, r1, r2)."""
        owners = {row["owner"] for row in self.rows(
            "SELECT owner FROM tasks WHERE kind = ? AND status IN ('pending', 'running')",
            (kind,))}
        assert len(owners) == 1 and None not in owners, owners
        return int(str(owners.pop()).split(":")[0].removeprefix("r"))


def read_store(url: str, query: str, params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    store = open_store(parse_url(url), pool_size=1)
    try:
        return store.all(query, params)
    finally:
        store.close()


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The store the replicas share: an SQLite file, or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shared.db'}"
        return
    need_postgres()
    with postgres.fresh_database() as url:
        yield url


MakeCluster = Callable[..., Awaitable[Cluster]]


@pytest.fixture
async def make_cluster(tmp_path: Path, store_url: str) -> AsyncIterator[MakeCluster]:
    """Start the Slack double, the CI and three replicas (``extra``: more environment)."""
    made: list[Cluster] = []

    async def make(before: Callable[[SlackDouble], None] | None = None, **extra: str) -> Cluster:
        made.append(await start_cluster(tmp_path, store_url, extra, before))
        return made[-1]

    yield make
    for each in made:
        await stop_cluster(each)


@pytest.fixture
async def cluster(make_cluster: MakeCluster) -> Cluster:
    return await make_cluster()


async def start_cluster(tmp_path: Path, store_url: str, extra: dict[str, str],
                        before: Callable[[SlackDouble], None] | None) -> Cluster:
    double = SlackDouble()
    await double.start()
    double.add_cast(channel_members=[*PEOPLE, double.bot_user_id])
    if before is not None:
        before(double)
    ci = await FakeCI(SECRET, lambda: datetime.now(UTC)).start()
    made = Cluster(tmp_path, double, ci, store_url, **extra)
    try:
        await asyncio.gather(*(made.start(i) for i in range(REPLICAS)))
    except BaseException:
        await stop_cluster(made)
        raise
    return made


async def stop_cluster(made: Cluster) -> None:
    for proc in made.procs:
        if proc is not None:
            await proc.kill()
    for driver in made.drivers:
        if driver is not None:
            await driver.close()
    if made.ci.hold is not None:
        made.ci.hold.set()
    await made.ci.stop()
    await made.double.stop()


def deploy_thread(double: SlackDouble) -> tuple[list[dict[str, Any]], list[str]]:
    """The top-level messages in #deploys, and every line of the thread under the first."""
    posted = double.messages(DEPLOYS)
    top = [m for m in posted if m.get("thread_ts") in (None, m["ts"])]
    lines = [line for m in posted if top and m.get("thread_ts") == top[0]["ts"]
             and m["ts"] != top[0]["ts"] for line in m["text"].splitlines()]
    return top, lines


def said_twice(lines: list[str]) -> list[str]:
    return [line for line, n in Counter(lines).items() if n > 1]


async def note_posted(double: SlackDouble, word: str) -> None:
    await double.wait_for("chat.postMessage", lambda c: bool(c.args.get("thread_ts"))
                          and word in str(c.args.get("text")), timeout=SLOW)


async def test_callbacks_spread_over_replicas_post_each_note_once_and_a_restart_takes_nothing(
    cluster: Cluster
) -> None:
    ci, double = cluster.ci, cluster.double
    ci.hold = asyncio.Event()  # the CI takes the job and is slow to answer: r0 is mid-task
    ack = await cluster.driver(0).command("/deploy", "web to staging")
    assert ack.status == 200 and "Deploying" in ack.text, ack.text
    await ci.wait_jobs(1, timeout=SLOW)
    # Restarting another replica resumes only what nobody holds: not r0's in-flight deploy.
    await cluster.stop(1)
    await cluster.start(1)
    ci.hold.set()
    ci.hold = None
    await double.wait_for("chat.postMessage", lambda c: "job sent" in str(c.args.get("text")),
                          timeout=SLOW)
    # The CI's two callbacks reach two other replicas.  The first one's render is held in
    # the middle (its thread note is on its way to Slack, not yet marked posted) until the
    # second one's render has either posted too (two renders at once: the note twice) or
    # is waiting for the deploy's message lease (they take turns): deterministic both ways.
    double.hold("chat.postMessage")
    running, _ = await ci.callback(cluster.urls[1], 1, "running", log_url="https://ci/1")
    await double.wait_held("chat.postMessage", timeout=SLOW)
    succeeded, _ = await ci.callback(cluster.urls[2], 1, "succeeded", version="v9")
    assert running == succeeded == 200
    both = asyncio.ensure_future(double.wait_held("chat.postMessage", 2, timeout=SLOW))
    turn = asyncio.ensure_future(cluster.proc(2).line(r"Waiting for lease deploy:1:message, "
                                                      r"held by replica r1:", SLOW))
    await asyncio.wait([both, turn], return_when=asyncio.FIRST_COMPLETED)
    for each in (both, turn):
        each.cancel()
    double.release("chat.postMessage")
    await note_posted(double, "succeeded")
    await cluster.stop_all()
    top, lines = deploy_thread(double)
    assert len(top) == 1 and "succeeded" in top[0]["text"], [m["text"] for m in top]
    assert said_twice(lines) == [], lines
    assert len(ci.jobs) == 1, ci.jobs  # the restart sent no second job


async def test_a_replica_killed_mid_deploy_is_taken_over_and_the_deploy_finishes_once(
    cluster: Cluster
) -> None:
    ci, double = cluster.ci, cluster.double
    ci.hold = asyncio.Event()
    await cluster.driver(0).command("/deploy", "web to staging")
    await ci.wait_jobs(1, timeout=SLOW)
    await cluster.kill(0)  # mid-deploy: its run task is waiting for the CI's answer
    ci.hold.set()
    ci.hold = None
    survivor = await cluster.taken_over("deploy.run")
    assert survivor in (cluster.procs[1], cluster.procs[2])
    await double.wait_for("chat.postMessage", lambda c: "job sent" in str(c.args.get("text")),
                          timeout=SLOW)
    for status, replica in (("running", 1), ("succeeded", 2)):
        code, _ = await ci.callback(cluster.urls[replica], 1, status, version="v9")
        assert code == 200
    await note_posted(double, "succeeded")
    taken = sum([await cluster.metric(i, "shipbell_task_leases_taken_over_total")
                 for i in (1, 2)])
    assert taken >= 1
    await cluster.stop_all()
    top, lines = deploy_thread(double)
    assert len(top) == 1 and "succeeded" in top[0]["text"], [m["text"] for m in top]
    assert said_twice(lines) == [], lines
    assert {job["deploy_id"] for job in ci.jobs} == {1}


async def test_a_replica_killed_mid_incident_set_up_is_taken_over_and_it_finishes_once(
    cluster: Cluster
) -> None:
    double = cluster.double
    double.hold("conversations.setTopic")  # r0 stops in the middle of the set-up
    ack = await cluster.driver(0).command("/incident", "open DB latency sev2",
                                          channel=INCIDENTS)
    assert ack.status == 200 and "INC-1" in ack.text, ack.text
    await double.wait_for("conversations.invite", timeout=SLOW)
    await cluster.kill(0)
    double.release("conversations.setTopic")
    await cluster.taken_over("incident.setup")
    await double.wait_for("response_url", lambda c: "declared" in str(c.args.get("text")),
                          timeout=SLOW)
    await cluster.stop_all()
    created = [c for c in double.calls_to("conversations.create") if c.response.get("ok")]
    assert len(created) == 1
    channel = created[0].response["channel"]["id"]
    kinds = Counter(m.get("metadata", {}).get("event_type")
                    for where in (channel, INCIDENTS) for m in double.messages(where))
    assert kinds["shipbell_incident_status"] == 1, kinds
    assert kinds["shipbell_incident_announcement"] == 1, kinds
    assert len([c for c in double.calls_to("pins.add") if c.response.get("ok")]) == 1
    declared = [c for c in double.calls_to("response_url") if "declared" in str(c.args)]
    assert len(declared) == 1


async def test_a_replica_killed_mid_scheduled_post_is_taken_over_and_it_is_posted_once(
    make_cluster: MakeCluster, store_url: str
) -> None:
    """The release announcement is due as the replicas start (the train was set up ten
    minutes ago, its release time was two minutes ago): one replica claims the run and is
    SIGKILLed while its post is on its way to Slack; the post lands, and the survivor that
    takes the task over finds it in the channel instead of posting it again."""
    now = datetime.now(UTC)
    due = now - timedelta(minutes=2)
    seed = open_store(parse_url(store_url), pool_size=1)
    try:
        seed.migrate(all_migrations())
        seed.execute("INSERT INTO scheduled_jobs (job_id, kind, first_seen, last_seen)"
                     " VALUES (?, ?, ?, ?)", (RELEASE_JOB, Kind.DAY.value,
                                              to_db(now - timedelta(minutes=10)),
                                              to_db(now - timedelta(minutes=10))))
    finally:
        seed.close()
    train = {"channel": RELEASES, "services": ["web"], "timezone": "UTC",
             "cron": f"{due.minute} {due.hour} * * *", "freeze": "0", "reminders": ["0"]}
    cluster = await make_cluster(lambda double: double.hold("chat.postMessage"),
                                 SHIPBELL_RELEASE=json.dumps({"trains": {"web": train}}))
    double = cluster.double
    await double.wait_held("chat.postMessage", timeout=SLOW)
    claimant = cluster.holder(SlackTask.CALL)
    await cluster.kill(claimant)  # mid-post: the call reached Slack, no answer came back
    double.release("chat.postMessage")
    survivor = await cluster.taken_over(SlackTask.CALL)
    await survivor.line(fr"post: its message in {RELEASES} .* adopted", SLOW)
    taken = sum([await cluster.metric(i, "shipbell_task_leases_taken_over_total")
                 for i in range(REPLICAS) if cluster.procs[i] is not None])
    assert taken == 1
    await cluster.stop_all()
    posts = double.messages(RELEASES)
    assert len(posts) == 1, [m["text"] for m in posts]
    ledger = cluster.rows("SELECT status FROM scheduled_runs WHERE job_id = ?", (RELEASE_JOB,))
    assert len(ledger) == 1, ledger  # one replica claimed the run; the others saw it claimed
    assert cluster.rows("SELECT id FROM tasks WHERE status != 'done'") == []


def first_seen(store_url: str, job_id: str, kind: str, at: datetime) -> None:
    """Seed the store as if ``job_id`` had been registered at ``at`` (a run is due now)."""
    seed = open_store(parse_url(store_url), pool_size=1)
    try:
        seed.migrate(all_migrations())
        seed.execute("INSERT INTO scheduled_jobs (job_id, kind, first_seen, last_seen)"
                     " VALUES (?, ?, ?, ?)", (job_id, kind, to_db(at), to_db(at)))
    finally:
        seed.close()


async def test_a_replica_killed_mid_digest_post_is_taken_over_and_it_is_posted_once(
    make_cluster: MakeCluster, store_url: str
) -> None:
    """The daily digest is due as the replicas start: one replica claims the run, builds
    the digest, and is SIGKILLed while its summary is on its way to Slack; the summary
    lands, and the survivor that takes the posting task over adopts it (found by its
    metadata) and finishes the thread under it, instead of posting the digest again."""
    now = datetime.now(UTC)
    due = now - timedelta(minutes=2)
    first_seen(store_url, DIGEST_JOB, "digest", now - timedelta(minutes=10))
    digest = {"channel": METRICS, "time": f"{due:%H:%M}", "timezone": "UTC"}
    cluster = await make_cluster(lambda double: double.hold("chat.postMessage"),
                                 SHIPBELL_DIGEST=json.dumps(digest))
    double = cluster.double
    await double.wait_held("chat.postMessage", timeout=SLOW)
    claimant = cluster.holder(DigestTask.POST)
    await cluster.kill(claimant)  # mid-post: the summary reached Slack, no answer came back
    double.release("chat.postMessage")
    survivor = await cluster.taken_over(DigestTask.POST)
    await survivor.line(fr"post: its message in {METRICS} .* adopted", SLOW)
    await cluster.stop_all()
    posted = double.messages(METRICS)
    top = [m for m in posted if m.get("thread_ts", m["ts"]) == m["ts"]]
    replies = [m for m in posted if m not in top]
    assert len(top) == 1, [m["text"] for m in top]
    assert len(replies) == 2 and {m["thread_ts"] for m in replies} == {top[0]["ts"]}, replies
    ledger = cluster.rows("SELECT status FROM scheduled_runs WHERE job_id = ?", (DIGEST_JOB,))
    assert ledger == [{"status": "posted"}], ledger
    stored = cluster.rows("SELECT summary_ts, done_at FROM digest_posts")
    assert len(stored) == 1 and stored[0]["summary_ts"] == top[0]["ts"] and stored[0]["done_at"]
    assert cluster.rows("SELECT id FROM tasks WHERE status != 'done'") == []


async def test_races_spread_over_replicas_one_deploy_and_gap_free_incident_numbers(
    cluster: Cluster
) -> None:
    """Fifty deploy requests for one service at once, round-robin over the replicas: one
    deploy runs, 49 queue, one CI job.  Six incidents declared at once through different
    replicas: INC-1 … INC-6, each once, each set up once."""
    ci, double = cluster.ci, cluster.double
    users = list(PEOPLE)
    acks = await asyncio.gather(*(
        cluster.driver(i % REPLICAS).command("/deploy", f"api@v{i} to production",
                                             user=users[i % len(users)])
        for i in range(50)))
    assert all(a.status == 200 for a in acks), [a.text for a in acks]
    assert sum("Deploying" in a.text for a in acks) == 1, [a.text for a in acks]
    assert sum("is queued" in a.text for a in acks) == 49
    declared = await asyncio.gather(*(
        cluster.driver(i % REPLICAS).command("/incident", f"open outage {i} sev3",
                                             channel=INCIDENTS)
        for i in range(6)))
    numbers = sorted(int(m.group(1)) for a in declared
                     if (m := re.search(r"INC-(\d+)", a.text)))
    assert numbers == [1, 2, 3, 4, 5, 6], [a.text for a in declared]
    await ci.wait_jobs(1, timeout=SLOW)
    await double.wait_for_count("response_url", 6, lambda c: "declared" in str(c.args),
                                timeout=SLOW)
    await cluster.stop_all()
    assert len(ci.jobs) == 1, ci.jobs
    states = Counter(r["state"] for r in cluster.rows("SELECT state FROM deploys"))
    assert states == {"triggered": 1, "queued": 49}, states
    messages = Counter(m["metadata"]["event_payload"]["deploy_id"]
                       for m in double.messages(DEPLOYS) if m.get("metadata"))
    assert sorted(messages) == list(range(1, 51)) and set(messages.values()) == {1}, messages
    created = [c for c in double.calls_to("conversations.create") if c.response.get("ok")]
    assert len(created) == 6
    announced = Counter(m.get("metadata", {}).get("event_payload", {}).get("incident_id")
                        for m in double.messages(INCIDENTS)
                        if m.get("metadata", {}).get("event_type")
                        == "shipbell_incident_announcement")
    assert sorted(announced) == [1, 2, 3, 4, 5, 6] and set(announced.values()) == {1}, announced
    assert cluster.rows("SELECT id FROM tasks WHERE status NOT IN ('done')") == []
