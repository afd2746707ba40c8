"""What every slash-command handler shares: parsing the payload and phrasing replies."""

from __future__ import annotations

import asyncio
import re
import shlex
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import aiohttp
from shipbell.bot.inputs import escape, is_group
from shipbell.bot.people import CHANNEL, PERSON
from shipbell.bot.slack import gateway
from slack_sdk.errors import SlackApiError

if TYPE_CHECKING:
    from shipbell.bot.core import Core


@dataclass(frozen=True)
class SlashCommand:
    """A slash command as Shipbell needs it, independent of Bolt's dict."""

    command: str
    text: str
    user: str
    channel: str
    response_url: str | None
    trigger_id: str | None

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> SlashCommand:
        return cls(
            command=body.get("command", ""),
            text=(body.get("text") or "").strip(),
            user=body.get("user_id", ""),
            channel=body.get("channel_id", ""),
            response_url=body.get("response_url"),
            trigger_id=body.get("trigger_id"),
        )

    @cached_property
    def words(self) -> list[str]:
        """Split once per command, however many readers (the listener, then its router)."""
        return split_words(self.text)


# Text without quotes or backslashes whose only spaces are shlex's own: shlex.split would
# give exactly str.split(), so the common case (`help`, `status api`) skips shlex.
_PLAIN = re.compile(r"[^\s\"'\\]*(?:[ \t\r\n]+[^\s\"'\\]*)*")


def split_words(text: str) -> list[str]:
    """Shell-like split that keeps quoted reasons together and never fails on a stray quote."""
    normalised = text.replace("“", '"').replace("”", '"').replace("‘", "'").replace("’", "'")
    if _PLAIN.fullmatch(normalised):
        return normalised.split()
    try:
        return shlex.split(normalised)
    except ValueError:
        return normalised.split()


def ephemeral(text: str, blocks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    message: dict[str, Any] = {"response_type": "ephemeral", "text": text}
    if blocks:
        message["blocks"] = blocks
    return message


def unknown_subcommand(command: str, word: str, known: list[str]) -> str:
    return (
        f"`{command} {escape(word)}`? I don't know that one. "
        f"Try {', '.join(f'`{command} {k}`' for k in known)}, or `{command} help`."
    )


PERSON_CHECK_SECONDS = 1.0  # users.info answers in ~100 ms; the ack must leave within 3 s


async def absent_people(core: Core, users: list[str]) -> list[str]:
    """Which of ``users`` Slack says are not (or no longer) in the workspace.

    Asked before a role, owner or captain is stored, so nobody is assigned to a ghost. The
    check is bounded: if Slack is slow or failing, the person is given the benefit of the
    doubt (the later invite reports a departed user), rather than refusing a real command.
    """
    gone: list[str] = []
    for user in dict.fromkeys(users):
        try:
            reply = await asyncio.wait_for(gateway.call(core, "users.info", {"user": user}),
                                           PERSON_CHECK_SECONDS)
        except (SlackApiError, TimeoutError, OSError, aiohttp.ClientError):
            continue  # transient: the benefit of the doubt
        if reply.gone:
            gone.append(user)
        person = reply.data.get("user") or {}
        if isinstance(person, dict) and person.get("deleted"):
            gone.append(user)
    return gone


def not_here(users: list[str], example: str) -> str:
    """The one sentence for a mention of someone Slack doesn't know."""
    who = ", ".join(f"`{escape(u)}`" for u in users)
    return (f"{who} isn't anyone in this workspace (left, or a mistyped mention); mention"
            f" someone who is, e.g. `{example}`.")


def mention(principal: str) -> str:
    """A person pings as ``<@U…>``, a user group as ``<!subteam^S…>``."""
    return f"<!subteam^{principal}>" if is_group(principal) else f"<@{principal}>"


T = TypeVar("T")


def mentions(message: T) -> T:
    """A domain's people and channels (``bot.people``) as Slack mentions, in a text or
    anywhere in a message's strings. Text stored with mentions already is left as it is."""
    if isinstance(message, str):
        text = CHANNEL.sub(lambda m: f"<#{m.group(1)}>", message)
        return PERSON.sub(lambda m: mention(m.group(1)), text)  # type: ignore[return-value]
    if isinstance(message, dict):
        return {k: mentions(v) for k, v in message.items()}  # type: ignore[return-value]
    if isinstance(message, list):
        return [mentions(v) for v in message]  # type: ignore[return-value]
    return message
