"""Socket Mode through Shipbell's own connection loop (`SocketConnection`).

Connected, it answers commands over the WebSocket. When Slack answers but its WebSocket
doesn't take us: one line per attempt naming the handshake error, a growing delay, a fresh
URL each time, and a stop request honoured between and during attempts."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web
from fakes.server import LocalServer
from fakes.waiting import until
from pydantic import SecretStr
from shipbell.bot import logs
from shipbell.bot.core import build_core
from shipbell.bot.runtime import Runtime, SocketConnection
from shipbell.bot.settings import Secrets, Settings
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS


class BrokenSocketSlack(LocalServer):
    """`apps.connections.open` works; the WebSocket URL it hands out answers 404."""

    def __init__(self) -> None:
        super().__init__()
        self.opened = 0

    def routes(self, app: web.Application) -> None:
        async def open_connection(request: web.Request) -> web.Response:
            self.opened += 1
            url = str(request.url.with_path("/link/").with_query(ticket=f"t-{self.opened}"))
            url = url.replace("http", "ws", 1)
            return web.json_response({"ok": True, "url": url})

        async def other(_: web.Request) -> web.Response:
            return web.json_response({"ok": False, "error": "unknown_method"})

        app.router.add_post("/api/apps.connections.open", open_connection)
        app.router.add_route("*", "/api/{method}", other)


async def test_a_failing_websocket_handshake_is_retried_with_one_line_each(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    slack = BrokenSocketSlack()
    api_url = await slack.serve("/api/")
    core = build_core(Settings(slack={"api_url": api_url},
                               storage={"path": str(tmp_path / "s.db")}),
                      Secrets(SLACK_BOT_TOKEN=SecretStr("xoxb-x"),
                              SLACK_APP_TOKEN=SecretStr("xapp-x")))
    runtime = Runtime(core, socket_mode=True)
    connection = SocketConnection(runtime, "xapp-x", first_delay=0.01, max_delay=0.04)
    stop = asyncio.Event()
    connecting = asyncio.ensure_future(connection.connect(stop))
    try:
        def retries() -> list[str]:
            return [r.getMessage() for r in caplog.records if r.msg == logs.SOCKET_RETRY]

        await until(lambda: len(retries()) >= 4, timeout=10)
        stop.set()
        async with asyncio.timeout(5):
            assert await connecting is False
    finally:
        connecting.cancel()
        await connection.close()
        core.store.close()
        await slack.stop()
    assert all("WSServerHandshakeError: 404" in line for line in retries()), retries()
    assert not [line for line in retries() if "ticket=" in line]  # the URL's one-time ticket
    delays = [r.args[1] for r in caplog.records if r.msg == logs.SOCKET_RETRY][:4]
    assert delays == [0.01, 0.02, 0.04, 0.04]  # doubling, capped
    assert slack.opened >= 4  # a fresh URL for every attempt
    assert all(r.exc_info is None for r in caplog.records)
    assert not [r for r in caplog.records
                if r.name.startswith("shipbell.socket") and r.levelno >= logging.WARNING]


async def test_connected_through_shipbells_loop_answers_commands(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SlackDouble() as double:
        core = build_core(Settings(slack={"api_url": double.api_url},
                                   storage={"path": str(tmp_path / "s.db")}),
                          Secrets(SLACK_BOT_TOKEN=SecretStr(double.token),
                                  SLACK_APP_TOKEN=SecretStr(double.app_token)))
        runtime = Runtime(core, socket_mode=True)
        await runtime.start("127.0.0.1", 0, scheduler=False)
        connection = SocketConnection(runtime, double.app_token)
        try:
            assert await connection.connect(asyncio.Event()) is True
            ack = await double.socket.send("slash_commands", {
                "command": "/deploy", "text": "warp", "user_id": ANA,
                "channel_id": DEPLOYS, "team_id": double.team_id,
                "response_url": double.new_response_url(DEPLOYS, ANA),
                "trigger_id": double.new_trigger_id(),
            })
        finally:
            await connection.close()
            await runtime.stop(0)
            core.store.close()
    assert "`/deploy warp`?" in ack["text"]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING], caplog.text


class HangingSlack(LocalServer):
    """`apps.connections.open` is received and never answered (Slack down, connection open)."""

    def __init__(self) -> None:
        super().__init__()
        self.asked = asyncio.Event()
        self.released = asyncio.Event()  # set at the end, so the fake itself can stop

    def routes(self, app: web.Application) -> None:
        async def open_connection(_: web.Request) -> web.Response:
            self.asked.set()
            await self.released.wait()
            return web.json_response({"ok": False, "error": "fatal_error"})

        app.router.add_post("/api/apps.connections.open", open_connection)


async def test_a_stop_request_ends_a_connection_attempt_that_hangs(tmp_path: Path) -> None:
    slack = HangingSlack()
    api_url = await slack.serve("/api/")
    core = build_core(Settings(slack={"api_url": api_url},
                               storage={"path": str(tmp_path / "s.db")}),
                      Secrets(SLACK_BOT_TOKEN=SecretStr("xoxb-x"),
                              SLACK_APP_TOKEN=SecretStr("xapp-x")))
    connection = SocketConnection(Runtime(core, socket_mode=True), "xapp-x")
    stop = asyncio.Event()
    connecting = asyncio.ensure_future(connection.connect(stop))
    try:
        async with asyncio.timeout(5):
            await slack.asked.wait()
        stop.set()
        async with asyncio.timeout(2):  # not the client's 15 s timeout
            assert await connecting is False
    finally:
        connecting.cancel()
        await connection.close()
        core.store.close()
        slack.released.set()
        await slack.stop()
