"""What one deploy costs: SQL on the ack path, Slack calls per deploy, HTTP connections."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import aiohttp
import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock
from shipbell.bot.core import build_client
from shipbell.bot.deploys.models import Event
from shipbell.bot.deploys.repo import DeployRepo
from shipbell.bot.http import Http
from shipbell.bot.local import LocalShipbell
from shipbell.bot.settings import Settings
from shipbell.bot.slackdouble.cast import DEPLOYS
from slack_sdk.web.async_client import AsyncWebClient

pytest_plugins = ("fakes.fixtures",)

SETUP = {"auth.test", "users.info", "usergroups.list", "usergroups.users.list"}
BACKGROUND = re.compile(r"UPDATE tasks SET status = 'running'")


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url))


def slack_calls(bell: LocalShipbell) -> Counter[str]:
    return Counter(c.method for c in bell.double.calls if c.method not in SETUP)


async def finish(bell: LocalShipbell, ci: FakeCI, clock: FakeClock, deploy_id: int) -> None:
    """The CI's happy path: running, then succeeded, each callback on its own."""
    await ci.wait_jobs(deploy_id)
    await bell.idle()
    clock.advance(minutes=1)
    status, _ = await ci.callback(bell.runtime.url, deploy_id, "running", log_url="https://ci/1")
    assert status == 200
    await bell.idle()
    clock.advance(minutes=4)
    status, _ = await ci.callback(bell.runtime.url, deploy_id, "succeeded", version="v1.2.0")
    assert status == 200
    await bell.idle()


def changed(bell: LocalShipbell, deploy_id: int) -> None:
    """An event about the deploy, as the domain records one: its subscribers refresh the
    message."""
    d = DeployRepo(bell.core.store).get(deploy_id)
    assert d is not None
    bell.core.events.publish(Event.PROGRESSED, d.event_data(None, note=None, log_url=None))


async def request_statements(bell: LocalShipbell, text: str) -> tuple[str, list[str]]:
    """The ack's text and the SQL the listener ran (the request's own tasks run after it:
    each starts with marking itself running)."""
    await bell.idle()
    statements: list[str] = []
    with bell.core.store.trace(statements.append):
        ack = await bell.command("/deploy", text)
    first_task = next((i for i, s in enumerate(statements) if BACKGROUND.match(s)),
                      len(statements))
    return ack.text, statements[:first_task]


async def test_happy_path_deploy_costs_six_slack_calls(bell: LocalShipbell, ci: FakeCI,
                                                       clock: FakeClock) -> None:
    ack = await bell.command("/deploy", "api@v1.2.0 to production")
    assert "Deploying" in ack.text
    await finish(bell, ci, clock, 1)
    calls = slack_calls(bell)
    # the message, one thread reply for requested + job sent, then for running and for
    # succeeded an update and a reply: never an update that changes nothing
    assert calls == {"chat.postMessage": 4, "chat.update": 2}, calls
    posted = bell.double.messages(DEPLOYS)
    top = [m for m in posted if m.get("thread_ts") in (None, m["ts"])]
    assert len(top) == 1 and "succeeded" in top[0]["text"]
    thread = [m["text"] for m in posted if m.get("thread_ts") not in (None, m["ts"])]
    assert "requested" in thread[0] and "job sent" in thread[0]
    assert any("running" in t for t in thread) and any("succeeded" in t for t in thread)


async def test_changes_in_quick_succession_make_one_update(bell: LocalShipbell, ci: FakeCI,
                                                           clock: FakeClock) -> None:
    await bell.command("/deploy", "api@v1.2.0 to production")
    await ci.wait_jobs(1)
    await bell.idle()
    before = slack_calls(bell)
    # three refreshes asked for in one turn of the loop (as the deploy's events ask for
    # them), with nothing new to show
    for _ in range(3):
        changed(bell, 1)
    await bell.idle()
    after = slack_calls(bell)
    assert after - before == Counter(), "nothing changed: no update at all"
    status, _ = await ci.callback(bell.runtime.url, 1, "running")
    assert status == 200
    changed(bell, 1)  # two more on top of the hook's: still one update
    changed(bell, 1)
    await bell.idle()
    assert slack_calls(bell)["chat.update"] - before["chat.update"] == 1


async def test_request_reads_the_queue_by_count(bell: LocalShipbell, ci: FakeCI) -> None:
    text, first = await request_statements(bell, "api@v1 to production")
    assert "Deploying" in text
    assert len(first) <= 12, "\n".join(first)  # was 22: the queue loaded twice, re-reads
    await bell.command("/deploy", "api@v2 to production")
    text, third = await request_statements(bell, "api@v3 to production")
    assert "queued, 2nd in line behind #1" in text
    loads_queue = [s for s in third if re.search(r"SELECT \* FROM deploys WHERE state IN "
                                                 r"\('queued'\)", s)]
    assert not loads_queue, loads_queue
    assert len(third) <= 14, "\n".join(third)


async def test_connections_are_reused_across_deploys(bell: LocalShipbell, ci: FakeCI,
                                                     clock: FakeClock) -> None:
    for n in range(1, 6):
        ack = await bell.command("/deploy", f"api@v1.{n} to production")
        assert "Deploying" in ack.text, ack.text
        await finish(bell, ci, clock, n)
    assert sum(slack_calls(bell).values()) == 30
    # before: a connection per Slack call and per job (about 35 here)
    assert len(bell.double.connections) <= 2, bell.double.connections
    assert len(ci.connections) == 1, ci.connections
    assert bell.core.http.opened == 1


async def test_stop_closes_the_shared_session(tmp_path: Path) -> None:
    bell = LocalShipbell(tmp_path / "s.db")
    await bell.start()
    session = bell.core.http.session
    assert bell.core.client.session is session, "the Slack client uses the shared session"
    await bell.command("/deploy", "help")
    await bell.stop()
    assert session.closed


class DropFirst:
    """A Slack-like API that drops the connection of its first request without answering:
    the kept-alive connection a server closed just as a call was written on it."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        self.server: asyncio.Server | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
            if not head:
                break
            line = head.split(b"\r\n", 1)[0].decode()
            length = int(re.search(rb"(?i)content-length: (\d+)", head).group(1))  # type: ignore[union-attr]
            await reader.readexactly(length)
            self.requests.append(line.split()[1])
            if len(self.requests) == 1:
                writer.close()  # read it, answer nothing
                return
            body = b'{"ok": true, "channel": "C0DEPLOYS", "ts": "1.000001"}'
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
            await writer.drain()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self.handle, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/api/"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()


async def client_for(url: str) -> tuple[AsyncWebClient, Http]:
    http = Http()
    settings = Settings(slack={"api_url": url})
    return build_client(settings, "xoxb-test", http), http


async def test_a_post_is_not_replayed_after_a_dropped_connection() -> None:
    api = DropFirst()
    async with api as url:
        client, http = await client_for(url)
        with pytest.raises(aiohttp.ServerDisconnectedError):
            await client.api_call("chat.postMessage", json={"channel": DEPLOYS, "text": "hi"})
        await http.close()
    assert api.requests == ["/api/chat.postMessage"], "sent once: Slack may have posted it"


async def test_an_update_is_replayed_after_a_dropped_connection() -> None:
    api = DropFirst()
    async with api as url:
        client, http = await client_for(url)
        response = await client.api_call("chat.update",
                                         json={"channel": DEPLOYS, "ts": "1.0", "text": "hi"})
        await http.close()
    assert response["ok"] is True
    assert api.requests == ["/api/chat.update", "/api/chat.update"]


async def test_a_burst_of_distinct_deploys_all_reach_the_ci(make_bell: MakeBell,
                                                            ci: FakeCI) -> None:
    config = deploy_config(ci.url)
    config["deploy"]["services"] = {
        f"s{n}": {"provider": "ci", "environments": {"production": {}}} for n in range(20)}
    bell = await make_bell(config)
    acks = await asyncio.gather(*(bell.command("/deploy", f"s{n} to production")
                                  for n in range(20)))
    assert all("Deploying" in ack.text for ack in acks), [a.text for a in acks]
    jobs = await ci.wait_jobs(20)
    assert sorted(j["deploy_id"] for j in jobs) == list(range(1, 21))
    await bell.idle()
    posted = bell.double.messages(DEPLOYS)
    tops = [m for m in posted if m.get("thread_ts") in (None, m["ts"])]
    assert len(tops) == 20, "one message per deploy"
    assert slack_calls(bell) == {"chat.postMessage": 40}, "a message and one reply each"

