"""Slack calls for incidents: one wrapper that turns final Slack errors into values.

Final errors (archived channel, departed user, name taken…) come back as an error string
so the caller can tell the user; transient ones (rate limit after retries, Slack 5xx)
raise, so the task runner retries the whole idempotent step.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import logs
from bot.core import Core
from bot.incidents import naming
from bot.slack.kinds import SlackTask

TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                       "request_timeout"})
JSON_METHODS = frozenset({"chat.postMessage", "chat.update", "chat.postEphemeral", "views.open",
                          "views.update", "views.push"})
GONE = frozenset({"is_archived", "channel_not_found", "not_in_channel"})


async def api(core: Core, method: str, args: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """(data, None) on success, ({}, error) on a final error; transient errors raise."""
    try:
        if method in JSON_METHODS:
            response = await core.client.api_call(method, json=args)
        else:  # form-encoded like Slack documents for these methods
            form = {k: (str(v).lower() if isinstance(v, bool) else v) for k, v in args.items()}
            response = await core.client.api_call(method, data=form)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        core.metrics.slack_errors.labels(method, error).inc()
        if error in TRANSIENT:
            raise
        logs.logger.warning(logs.SLACK_CALL_FAILED, method, error)
        return {}, error
    data = response.data if isinstance(response.data, dict) else {}
    return dict(data), None


def respond(core: Core, response_url: str | None, text: str) -> None:
    """An ephemeral answer through the (persisted) generic response task."""
    if response_url:
        core.tasks.submit(SlackTask.RESPOND, {"url": response_url, "message": {
            "response_type": "ephemeral", "replace_original": False, "text": text}})


def replace(core: Core, response_url: str | None, text: str) -> None:
    """Replace the message the button was on (a done follow-up, a snoozed reminder)."""
    if response_url:
        core.tasks.submit(SlackTask.RESPOND, {"url": response_url, "message": {
            "replace_original": True, "text": text}})


async def create_channel(
    core: Core, name: str, *, private: bool, previous: str | None,
    record: Callable[[str], None], owned: Callable[[str], bool],
) -> tuple[str | None, str, str | None]:
    """(channel id, name, error): a taken name gets `-2`, `-3`…, then a random suffix.

    Each name is recorded (``record``) before Slack is asked for it. ``previous`` is the name
    an earlier attempt recorded: if that attempt created the channel and then crashed before
    storing its id, Slack now says name_taken for it, and we adopt that channel instead of
    orphaning it, provided Shipbell created it and no incident ``owned`` it already.
    """
    error: str | None = None
    tries = [*naming.candidates(name)]
    tries.append(name[: naming.MAX_NAME - 7].rstrip("-_") + "-" + secrets.token_hex(3))
    if previous:
        tries = [previous, *(t for t in tries if t != previous)]
    for candidate in tries:
        record(candidate)
        data, error = await api(core, "conversations.create",
                                {"name": candidate, "is_private": private})
        if error is None:
            return str(data["channel"]["id"]), candidate, None
        if error != "name_taken":
            break
        if candidate == previous:
            orphan = await _own_channel_named(core, candidate)
            if orphan and not owned(orphan):
                logs.logger.warning(logs.INCIDENT_CHANNEL_ADOPTED, candidate, orphan)
                return orphan, candidate, None
    return None, name, error


async def _own_channel_named(core: Core, name: str) -> str | None:
    """The id of the unarchived channel called ``name`` if this bot created it."""
    cursor = ""
    while True:
        data, error = await api(core, "conversations.list", {
            "types": "public_channel,private_channel", "exclude_archived": True,
            "limit": 1000, "cursor": cursor})
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
        if slack_id.startswith("S"):
            data, _ = await api(core, "usergroups.users.list", {"usergroup": slack_id})
            users.extend(data.get("users", []))
        else:
            users.append(slack_id)
    bot = core.identity.bot_user_id
    return [u for u in dict.fromkeys(users) if u and u != bot]


async def invite(core: Core, channel: str, users: list[str]) -> tuple[list[str], dict[str, str]]:
    """Invite everyone we can: (invited, {user: error}); one departed user blocks no one."""
    if not users:
        return [], {}
    _, error = await api(core, "conversations.invite",
                         {"channel": channel, "users": ",".join(users)})
    if error is None:
        return users, {}
    if error == "already_in_channel" or error in GONE:
        return [], {} if error == "already_in_channel" else dict.fromkeys(users, error)
    invited, failed = [], {}
    for user in users:
        _, err = await api(core, "conversations.invite", {"channel": channel, "users": user})
        if err is None:
            invited.append(user)
        elif err != "already_in_channel":
            failed[user] = err
    return invited, failed


async def names_of(core: Core, users: list[str], most: int = 40) -> dict[str, str]:
    """Display names for a document read outside Slack; an unknown user keeps their id."""
    names: dict[str, str] = {}
    for user in users[:most]:
        data, _ = await api(core, "users.info", {"user": user})
        person = data.get("user") or {}
        profile = person.get("profile") or {}
        name = profile.get("display_name") or person.get("name") or person.get("real_name")
        if name:
            names[user] = str(name)
    return names
