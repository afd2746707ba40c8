"""Socket Mode: the same app answers commands that arrive over the WebSocket."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr
from shipbell.bot.core import build_core
from shipbell.bot.runtime import Runtime
from shipbell.bot.settings import Secrets, Settings
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler


async def test_command_over_socket_mode(tmp_path: Path) -> None:
    async with SlackDouble() as double:
        settings = Settings(slack={"api_url": double.api_url},
                            storage={"path": str(tmp_path / "s.db")})
        secrets = Secrets(SLACK_BOT_TOKEN=SecretStr(double.token),
                          SLACK_APP_TOKEN=SecretStr(double.app_token))
        core = build_core(settings, secrets)
        runtime = Runtime(core, socket_mode=True)
        await runtime.start(http=False, scheduler=False)
        handler = AsyncSocketModeHandler(runtime.app, double.app_token)
        await handler.connect_async()
        try:
            ack = await double.socket.send("slash_commands", {
                "command": "/deploy", "text": "warp", "user_id": ANA,
                "channel_id": DEPLOYS, "team_id": double.team_id,
                "response_url": double.new_response_url(DEPLOYS, ANA),
                "trigger_id": double.new_trigger_id(),
            })
        finally:
            await handler.close_async()
            await runtime.stop(0)
            core.store.close()
        assert "`/deploy warp`?" in ack["text"]
        assert double.calls_to("apps.connections.open")[0].token == double.app_token


async def test_malformed_payload_over_socket_mode_is_one_line_not_a_traceback(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with SlackDouble() as double:
        settings = Settings(slack={"api_url": double.api_url},
                            storage={"path": str(tmp_path / "s.db")})
        secrets = Secrets(SLACK_BOT_TOKEN=SecretStr(double.token),
                          SLACK_APP_TOKEN=SecretStr(double.app_token))
        core = build_core(settings, secrets)
        runtime = Runtime(core, socket_mode=True)
        await runtime.start(http=False, scheduler=False)
        handler = AsyncSocketModeHandler(runtime.app, double.app_token)
        await handler.connect_async()
        try:
            with caplog.at_level(logging.INFO):
                ack = await double.socket.send("interactive", {
                    "type": "block_actions", "user": {"id": ANA}, "actions": "nope",
                    "response_url": double.new_response_url(DEPLOYS, ANA)})
        finally:
            await handler.close_async()
            await runtime.stop(0)
            core.store.close()
        assert ack == {}  # acknowledged, so Slack does not redeliver it
        assert not [r for r in caplog.records if r.exc_info]
        assert [r.getMessage() for r in caplog.records if "malformed" in r.getMessage()] == [
            "Refused a malformed Slack request (400): BlockActions field actions: "
            "Input should be a valid list"]
        assert not double.calls_to("response_url")
