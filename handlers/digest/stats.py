"""`/deploy stats [service] [1d|7d|28d]`: the digest on demand, answered only to the asker.

The `/deploy` router owns the command and calls ``fn(ack, cmd)``; this acks at once (or
answers bad input in one sentence) and computes in a persisted task, off the event loop,
replying through the response_url.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Awaitable, Callable
from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.dora.digest import build_digest, has_service, known_services
from shipbell.bot.inputs import CHANNEL_MENTION, GROUP_MENTION, USER_MENTION
from shipbell.bot.slack import gateway
from shipbell.handlers.common import SlashCommand, ephemeral
from shipbell.handlers.digest import messages
from shipbell.handlers.digest.ids import SUBCOMMAND, Task

PERIOD = re.compile(r"^([0-9]{1,4})\s*(d|days?|w|weeks?)$", re.IGNORECASE)  # ASCII: not "²d"
NUMBER = re.compile(r"^[0-9]+$")
SERVICE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,79}$")
ALLOWED_DAYS = (1, 7, 28)
KNOWN_LIMIT = 200  # service names walked for a "did you mean" (one index step each)
SHOWN_SERVICES = 12
USAGE = (
    "Try `/deploy stats`, `/deploy stats api` or `/deploy stats api 28d` "
    "(periods: 1d, 7d, 28d)."
)

StatsFn = Callable[[Any, SlashCommand], Awaitable[None]]


def quoted(word: str, limit: int = 40) -> str:
    """A word echoed back safely: short, and unable to ping, link or break the code span."""
    short = word if len(word) <= limit else word[: limit - 1] + "…"
    return "`" + messages.escape(short).replace("`", "'") + "`"


def _not_a_service(word: str) -> str:
    if USER_MENTION.fullmatch(word) or GROUP_MENTION.fullmatch(word):
        return f"That's a person or a group; stats are per service. {USAGE}"
    if CHANNEL_MENTION.fullmatch(word):
        return f"That's a channel; stats are per service. {USAGE}"
    if NUMBER.match(word) and len(word) <= 4:
        return f"{quoted(word)} needs a unit: `{word}d`. {USAGE}"
    return f"{quoted(word)} isn't a service name. {USAGE}"


def parse(words: list[str]) -> tuple[str | None, int | None, str | None]:
    """(service, days, error): at most one service name and one period, in any order."""
    service: str | None = None
    days: int | None = None
    for word in words:
        period = PERIOD.match(word)
        if period:
            length = int(period.group(1)) * (7 if period.group(2)[0] in "wW" else 1)
            if length not in ALLOWED_DAYS:
                return None, None, f"{quoted(word)} isn't a period I keep; {USAGE}"
            if days is not None:
                return None, None, f"One period at a time (`{days}d` or {quoted(word)}). {USAGE}"
            days = length
        elif not SERVICE.match(word) or NUMBER.match(word):
            return None, None, _not_a_service(word)
        elif service is not None:
            return None, None, (f"One service at a time ({quoted(service)} or {quoted(word)})."
                                f" {USAGE}")
        else:
            service = word
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
        await core.store.run(core.tasks.submit, Task.STATS, {
            "url": cmd.response_url, "service": service, "days": days, "user": cmd.user})

    return fn


async def respond_stats(core: Core, payload: dict[str, Any]) -> None:
    cfg = core.settings.digest
    tz = cfg.zone(core.settings.timezone)
    service, days = payload.get("service"), payload.get("days")
    at = core.clock.now()

    def compute(conn: Any) -> tuple[Any, list[str] | None]:
        if service and not has_service(conn, service):
            return None, known_services(conn, limit=KNOWN_LIMIT)
        return build_digest(conn, cfg, tz, at, service=service, days=days), None

    digest, known = await core.store.read(compute)
    if digest is None:
        message = ephemeral(unknown_service(str(service), known or []))
    else:
        message = messages.stats(digest)
    await gateway.reply(core, payload["url"], message)


def unknown_service(service: str, known: list[str]) -> str:
    """One sentence: the closest known name if there is one, else the names on record."""
    close = difflib.get_close_matches(service.lower(), [k.lower() for k in known], n=1)
    if close:
        name = next(k for k in known if k.lower() == close[0])
        return (f"{quoted(service)}? I have no deploys of it on record; did you mean "
                f"`/deploy stats {name}`?")
    names = ", ".join(f"`{n}`" for n in known[:SHOWN_SERVICES])
    more = ", …" if len(known) > SHOWN_SERVICES else ""
    hint = f" Services with deploys: {names}{more}." if names else " No deploys are recorded yet."
    return f"{quoted(service)}? I have no deploys of it on record.{hint}"
