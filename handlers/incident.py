"""`/incident`: placeholder listener until the feature lands; answers with a short usage."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core import Core
from handlers.common import SlashCommand, unknown_subcommand

COMMAND = "/incident"
KNOWN = ["help"]
HELP = "`/incident help`: this feature is being built; nothing to do yet."


def register(app: AsyncApp, core: Core) -> None:
    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any]) -> None:
        cmd = SlashCommand.from_body(body)
        words = cmd.words
        if not words or words[0] == "help":
            await ack(text=HELP)
            return
        await ack(text=unknown_subcommand(COMMAND, words[0], KNOWN))
