"""A replica whose PostgreSQL goes away, with a real server: the database is closed to new
connections and this replica's sessions are ended with pg_terminate_backend.

Requests that need the store get one sentence saying nothing was changed, nothing is
acknowledged that was not stored, the log gets one line per request (no traceback),
/healthz turns 503 with the reason, and everything works again once the database is back.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import pytest
from conftest import need_postgres
from fakes import postgres
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slack.app import STORE_DOWN
from shipbell.bot.slackdouble import SlackDriver
from shipbell.bot.slackdouble.cast import BOB, EVE, GENERAL, INCIDENTS
from shipbell.handlers.incident.ids import Action, Block, Field
from test_incident_support import CONFIG

pytest_plugins = ("fakes.fixtures",)


class Database:
    """A database of its own on the test server, which the test can close and reopen."""

    def __init__(self) -> None:
        self.name = f"outage_{secrets.token_hex(5)}"
        self.url = urlunsplit(urlsplit(postgres.base_url())._replace(path=f"/{self.name}"))

    def admin(self, sql: str) -> None:
        import psycopg

        with psycopg.connect(postgres.base_url(), autocommit=True) as conn:
            conn.execute(sql)

    def go_away(self) -> None:
        """No new connections, and every open one (this replica's) terminated."""
        self.admin(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS false")
        self.admin("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                   f" WHERE datname = '{self.name}'")

    def come_back(self) -> None:
        self.admin(f"ALTER DATABASE {self.name} ALLOW_CONNECTIONS true")


@pytest.fixture
def database() -> Iterator[Database]:
    need_postgres()
    db = Database()
    db.admin(f"CREATE DATABASE {db.name}")
    try:
        yield db
    finally:
        db.admin(f"DROP DATABASE {db.name} WITH (FORCE)")


@pytest.fixture
async def bell(database: Database, clock: FakeClock) -> AsyncIterator[LocalShipbell]:
    async with LocalShipbell(database.url, config=CONFIG, clock=clock) as started:
        yield started


async def health(bell: LocalShipbell) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as http, http.get(bell.runtime.url + "/healthz") as resp:
        return resp.status, await resp.json()


async def healthy_again(bell: LocalShipbell, timeout: float = 10.0) -> dict[str, Any]:
    """Poll /healthz (each poll a real round trip) until the replica has reconnected."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        status, body = await health(bell)
        if status == 200:
            return body
    raise AssertionError(f"/healthz still failing after {timeout} s: {body}")


async def stored(bell: LocalShipbell, sql: str) -> list[dict[str, Any]]:
    """Rows read on the store's own thread, through the connection Shipbell uses (the one
    /healthz saw reconnect). The test's thread has a connection of its own, ended with the
    others; nothing of Shipbell's reads on it any more to notice that and reopen it."""
    return await bell.core.store.run(bell.core.store.all, sql)


async def incidents(bell: LocalShipbell) -> list[int]:
    return [r["id"] for r in await stored(bell, "SELECT id FROM incidents ORDER BY id")]


async def test_unreachable_database_gets_one_sentence_and_stores_nothing(
    bell: LocalShipbell, database: Database, caplog: pytest.LogCaptureFixture
) -> None:
    ack = await bell.command("/incident", "open Checkout slow sev2", channel=GENERAL)
    assert "Declared INC-1" in ack.text
    await bell.idle()
    announcement = bell.double.messages(INCIDENTS)[0]
    posted = len(bell.double.calls)
    assert (await health(bell))[1]["backend"] == "postgresql"

    database.go_away()
    caplog.clear()
    with caplog.at_level(logging.INFO):
        ack = await bell.command("/incident", "open Payments down sev1", channel=GENERAL)
        assert ack.status == 200 and ack.json == {"response_type": "ephemeral",
                                                  "text": STORE_DOWN}
        assert "Declared" not in ack.text
        # A button: the answer goes to its response_url directly (a persisted reply would
        # need the database); nothing else happens.
        await bell.driver.press(announcement, Action.JOIN, user=EVE)
        answered = await bell.double.wait_for(
            "response_url", lambda call: call.args.get("text") == STORE_DOWN)
        assert answered.args["response_type"] == "ephemeral"
        # An event is refused with a 503, so that Slack delivers it again later.
        event = await bell.driver.event({"type": "member_joined_channel", "user": BOB,
                                         "channel": GENERAL})
        assert event.status == 503
        status, body = await health(bell)
    assert status == 503 and body["store"] is False and body["status"] == "degraded"
    assert body["backend"] == "postgresql" and body["store_error"]
    assert "postgresql://" not in str(body)  # the backend, never the url
    lines = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert [r.getMessage().split(" (")[0] for r in lines] == [
        "Database unreachable while handling /incident",
        "Database unreachable while handling block_actions",
        "Database unreachable while handling event_callback"], [r.getMessage() for r in lines]
    assert all(r.exc_info is None for r in caplog.records)  # no traceback anywhere
    await bell.idle()
    sent = [c.method for c in bell.double.calls[posted:]]
    assert sent == ["response_url"]  # nothing posted, no channel made, nobody invited

    database.come_back()
    back = await healthy_again(bell)
    assert back["store"] is True and "store_error" not in back
    ack = await bell.command("/incident", "open Payments down sev1", channel=GENERAL)
    assert "Declared INC-2" in ack.text  # the refused one took no number
    assert await incidents(bell) == [1, 2]
    await bell.idle()
    first = (await stored(bell, "SELECT channel_id FROM incidents WHERE id = 1"))[0]
    assert EVE not in bell.double.state.channels[first["channel_id"]].members


async def test_a_ci_callback_while_the_database_is_away_is_refused_for_a_retry(
    database: Database, clock: FakeClock, ci: FakeCI, caplog: pytest.LogCaptureFixture
) -> None:
    async with LocalShipbell(database.url, config=deploy_config(ci.url), clock=clock) as bell:
        await bell.command("/deploy", "api to production")
        await ci.wait_jobs(1)
        await bell.idle()
        database.go_away()
        caplog.clear()
        status, _ = await ci.callback(bell.runtime.url, 1, "succeeded")
        assert status == 503
        assert [r.getMessage().split(" (")[0] for r in caplog.records
                if r.levelno >= logging.WARNING] == [
            "Database unreachable while handling /hooks/deploy"]
        assert all(r.exc_info is None for r in caplog.records)
        database.come_back()
        await healthy_again(bell)
        status, body = await ci.callback(bell.runtime.url, 1, "succeeded")
        assert (status, body["state"]) == (200, "succeeded")  # CI's retry lands


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_health_names_the_backend_and_metrics_show_the_pool(
    backend: str, tmp_path: Any, clock: FakeClock
) -> None:
    """/healthz says which backend (never the url); /metrics shows PostgreSQL's read pool
    (in use while a read holds a connection, and its size), and nothing of a pool on SQLite."""
    with ExitStack() as stack:
        location = str(tmp_path / "bell.db")
        if backend == "postgresql":
            need_postgres()
            location = stack.enter_context(postgres.fresh_schema())
        config = {"storage": {"pool_size": 3}} if backend == "postgresql" else {}
        async with LocalShipbell(location, config=config, clock=clock) as bell:
            status, body = await health(bell)
            assert (status, body["backend"], body["store"]) == (200, backend, True)
            assert location not in str(body)
            holding, release = asyncio.Event(), threading.Event()

            def hold(conn: Any) -> None:  # a slow read (the digest) keeps its connection
                conn.execute("SELECT 1")
                bell_loop.call_soon_threadsafe(holding.set)
                release.wait(10)

            bell_loop = asyncio.get_running_loop()
            reading = asyncio.ensure_future(bell.core.store.read(hold))
            await asyncio.wait_for(holding.wait(), 10)
            text = await metrics(bell)
            release.set()
            await reading
            if backend == "sqlite":
                assert "shipbell_store_pool_connections{" not in text
            else:
                assert 'shipbell_store_pool_connections{state="in_use"} 1.0' in text
                assert 'shipbell_store_pool_connections{state="size"} 3.0' in text
                after = await metrics(bell)
                assert 'shipbell_store_pool_connections{state="in_use"} 0.0' in after


async def metrics(bell: LocalShipbell) -> str:
    async with aiohttp.ClientSession() as http, http.get(bell.runtime.url + "/metrics") as resp:
        return await resp.text()


async def test_a_form_submitted_while_the_database_is_away_stays_open_with_the_sentence(
    bell: LocalShipbell, database: Database
) -> None:
    await bell.command("/incident", "", channel=GENERAL)
    view = (await bell.double.wait_for("views.open")).response["view"]
    values = {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("Checkout is down")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("1", "SEV1")},
        Block.SERVICE: {Field.SERVICE: SlackDriver.text_value("api")},
        Block.DESCRIPTION: {Field.DESCRIPTION: SlackDriver.text_value("")},
        Block.PRIVATE: {Field.PRIVATE: SlackDriver.checkbox_values([])},
    }
    database.go_away()
    ack = await bell.driver.submit_view(view, values)
    assert ack.status == 200 and ack.json is not None
    assert ack.json["response_action"] == "errors"
    assert list(ack.json["errors"].values()) == [STORE_DOWN]
    database.come_back()
    await healthy_again(bell)
    assert await incidents(bell) == []
    ack = await bell.driver.submit_view(view, values)  # the same form, sent again
    await bell.idle()
    assert await incidents(bell) == [1]
