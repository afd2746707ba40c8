"""Calendar changes announced in the train's channel, through the persisted task runner.

The change is already stored and audited when this runs; if Slack refuses the post for good
(archived channel, Shipbell not in it, channel gone) the person who made the change is told
through their command's response_url, so nobody believes a channel heard what it didn't.
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.slack import gateway
from shipbell.handlers.release import messages
from shipbell.handlers.release.ids import Task


def submit(core: Core, channel: str, text: str, response_url: str | None) -> None:
    core.tasks.submit(Task.ANNOUNCE, {"channel": channel, "text": text,
                                      "response_url": response_url})


def register(core: Core) -> None:
    async def run(payload: dict[str, Any]) -> None:
        channel = payload["channel"]
        posted = await gateway.call(core, "chat.postMessage",
                                    {"channel": channel, **messages.announcement(payload["text"])})
        if not posted.ok:
            await gateway.reply(core, payload.get("response_url"), messages.not_announced(channel))

    core.tasks.register(Task.ANNOUNCE, run)
