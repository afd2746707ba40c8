"""`/deploy stats [service] [1d|7d|28d]`: the digest on demand, answered only to the asker.

The `/deploy` router owns the command and calls ``fn(ack, cmd)``; this acks at once (or
answers bad input in one sentence) and computes in a persisted task, off the event loop,
replying through the response_url.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

from bot.core import Core
from bot.dora.digest import build_digest, has_service, known_services
from bot.slack import outbox
from handlers.common import SlashCommand, ephemeral
from handlers.digest import messages
from handlers.digest.ids import SUBCOMMAND, Task

PERIOD = re.compile(r"^(\d+)\s*d(ays?)?$", re.IGNORECASE)
SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,79}$")
ALLOWED_DAYS = (1, 7, 28)
USAGE = (
    "Try `/deploy stats`, `/deploy stats api` or `/deploy stats api 28d` "
    "(periods: 1d, 7d, 28d)."
)

StatsFn = Callable[[Any, SlashCommand], Awaitable[None]]


def parse(words: list[str]) -> tuple[str | None, int | None, str | None]:
    """(service, days, error): at most one service name and one period, in any order."""
    service: str | None = None
    days: int | None = None
    for word in words:
        period = PERIOD.match(word)
        if period:
            if int(period.group(1)) not in ALLOWED_DAYS:
                return None, None, f"`{word}` isn't a period I keep; {USAGE}"
            days = int(period.group(1))
        elif service is not None:
            return None, None, f"One service at a time (`{service}` or `{word}`). {USAGE}"
        elif SERVICE.match(word):
            service = word
        else:
            return None, None, f"`{word}` isn't a service name. {USAGE}"
    return service, days, None


def register_stats(core: Core) -> StatsFn:
    async def answer(payload: dict[str, Any]) -> None:
        await respond_stats(core, payload)

    core.tasks.register(Task.STATS, answer)

    async def fn(ack: Any, cmd: SlashCommand) -> None:
        words = cmd.words
        if words and words[0].lower() == SUBCOMMAND:
            words = words[1:]
        service, days, error = parse(words)
        if error:
            await ack(text=error)
            return
        if not cmd.response_url:
            await ack(text="I can only answer that from Slack (no response_url came with it).")
            return
        await ack()
        core.tasks.submit(Task.STATS, {"url": cmd.response_url, "service": service,
                                       "days": days, "user": cmd.user})

    return fn


async def respond_stats(core: Core, payload: dict[str, Any]) -> None:
    cfg = core.settings.digest
    tz = cfg.zone(core.settings.timezone)
    service, days = payload.get("service"), payload.get("days")
    at = core.clock.now()

    def compute(conn: Any) -> tuple[Any, list[str] | None]:
        if service and not has_service(conn, service):
            return None, known_services(conn)
        return build_digest(conn, cfg, tz, at, service=service, days=days), None

    digest, known = await core.store.read(compute)
    if digest is None:
        names = ", ".join(f"`{n}`" for n in known or [])
        hint = f" Services with deploys: {names}." if names else " No deploys are recorded yet."
        message = ephemeral(f"`{service}`? I have no deploys of it on record.{hint}")
    else:
        message = messages.stats(digest)
    await outbox.respond(payload["url"], message)
