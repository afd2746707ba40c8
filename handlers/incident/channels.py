"""An incident's channel and people, through the Slack gateway (``bot.slack.gateway``).

Refusals (archived channel, departed user, name taken…) come back as values so the caller
can tell the user; transient errors raise, so the task runner retries the whole step.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.inputs import is_group
from shipbell.bot.slack import gateway
from shipbell.handlers.incident import naming


async def create_channel(
    core: Core, name: str, *, private: bool, previous: str | None,
    record: Callable[[str], Awaitable[None]], owned: Callable[[str], Awaitable[bool]],
) -> tuple[str | None, str, str | None]:
    """(channel id, name, error): a taken name gets `-2`, `-3`…, then a random suffix.

    Each name is recorded (``record``) before Slack is asked for it. ``previous`` is the name
    an earlier attempt recorded: if that attempt created the channel and then crashed before
    storing its id, Slack now says name_taken for it, and we adopt that channel instead of
    orphaning it, provided Shipbell created it and no incident ``owned`` it already.
    Both are awaited: they read and write the store (on its thread, through ``store.run``).
    """
    error: str | None = None
    tries = [*naming.candidates(name)]
    tries.append(name[: naming.MAX_NAME - 7].rstrip("-_") + "-" + secrets.token_hex(3))
    if previous:
        tries = [previous, *(t for t in tries if t != previous)]
    for candidate in tries:
        await record(candidate)
        created = await gateway.call(core, "conversations.create",
                                     {"name": candidate, "is_private": private})
        error = created.failed
        if error is None:
            return str(created.data["channel"]["id"]), candidate, None
        if error != "name_taken":
            break
        if candidate == previous:
            orphan = await _own_channel_named(core, candidate)
            if orphan and not await owned(orphan):
                logs.logger.warning(logs.INCIDENT_CHANNEL_ADOPTED, candidate, orphan)
                return orphan, candidate, None
    return None, name, error


async def _own_channel_named(core: Core, name: str) -> str | None:
    """The id of the unarchived channel called ``name`` if this bot created it."""
    cursor = ""
    while True:
        page = await gateway.call(core, "conversations.list", {
            "types": "public_channel,private_channel", "exclude_archived": True,
            "limit": 1000, "cursor": cursor})
        data, error = page.data, page.failed
        for channel in data.get("channels", []):
            if channel.get("name") == name:
                mine = channel.get("creator") == core.identity.bot_user_id
                return str(channel["id"]) if mine else None
        cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
        if error or not cursor:
            return None


async def members_of(core: Core, ids: list[str]) -> list[str]:
    """Expand user groups (S…) to their members; user ids pass through; order kept, no dups."""
    users: list[str] = []
    for slack_id in ids:
        if is_group(slack_id):
            group = await gateway.call(core, "usergroups.users.list", {"usergroup": slack_id})
            users.extend(group.data.get("users", []))
        else:
            users.append(slack_id)
    bot = core.identity.bot_user_id
    return [u for u in dict.fromkeys(users) if u and u != bot]


async def names_of(core: Core, users: list[str], most: int = 40) -> dict[str, str]:
    """Display names for a document read outside Slack; an unknown user keeps their id."""
    names: dict[str, str] = {}
    for user in users[:most]:
        info = await gateway.call(core, "users.info", {"user": user})
        person = info.data.get("user") or {}
        profile = person.get("profile") or {}
        name = profile.get("display_name") or person.get("name") or person.get("real_name")
        if name:
            names[user] = str(name)
    return names
