"""Slack calls for incidents: one wrapper that turns final Slack errors into values.

Final errors (archived channel, departed user, name taken…) come back as an error string
so the caller can tell the user; transient ones (rate limit after retries, Slack 5xx)
raise, so the task runner retries the whole idempotent step.
"""

from __future__ import annotations

import secrets
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import logs
from bot.core import Core
from bot.incidents import naming

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
        core.tasks.submit("slack.respond", {"url": response_url, "message": {
            "response_type": "ephemeral", "replace_original": False, "text": text}})


async def create_channel(
    core: Core, name: str, *, private: bool
) -> tuple[str | None, str, str | None]:
    """(channel id, name, error): a taken name gets `-2`, `-3`…, then a random suffix."""
    error: str | None = None
    tries = [*naming.candidates(name)]
    tries.append(name[: naming.MAX_NAME - 7].rstrip("-_") + "-" + secrets.token_hex(3))
    for candidate in tries:
        data, error = await api(core, "conversations.create",
                                {"name": candidate, "is_private": private})
        if error is None:
            return str(data["channel"]["id"]), candidate, None
        if error != "name_taken":
            break
    return None, name, error


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
