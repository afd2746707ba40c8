"""Persisted Slack calls: the generic tasks any feature can hand a post to.

``slack.call`` runs one Web API method; ``slack.respond`` posts to a response_url.  Both
go through the task runner, so a post survives a restart and is retried on failure.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_sdk.errors import SlackApiError

from bot import logs
from bot.core import Core
from bot.slack.kinds import SlackTask

# Errors that retrying cannot fix: the call is logged and dropped, not retried.
FINAL_ERRORS = frozenset(
    {
        "is_archived",
        "channel_not_found",
        "not_in_channel",
        "user_not_found",
        "user_not_in_channel",
        "already_in_channel",
        "already_pinned",
        "already_reacted",
        "message_not_found",
        "cant_update_message",
        "invalid_blocks",
        "expired_trigger_id",
        "account_inactive",
    }
)


# Final errors that say the call's aim already holds (the person is in the channel, the
# message is pinned): nothing failed, so they are not worth a warning.
ALREADY_DONE = frozenset({"already_in_channel", "already_pinned", "already_reacted"})


# Methods Slack accepts as JSON bodies; every other method takes form fields.
JSON_METHODS = frozenset(
    {
        "chat.postMessage",
        "chat.postEphemeral",
        "chat.update",
        "chat.delete",
        "views.open",
        "views.push",
        "views.update",
        "views.publish",
    }
)


async def call(core: Core, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Call a Web API method; return its data, or None after logging a final error."""
    wire = {"json": args} if method in JSON_METHODS else {"data": _form(args)}
    try:
        response = await core.client.api_call(method, **wire)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "unknown"))
        core.metrics.slack_errors.labels(method, error).inc()
        if error in FINAL_ERRORS:
            level = logging.DEBUG if error in ALREADY_DONE else logging.WARNING
            logs.logger.log(level, logs.SLACK_CALL_FAILED, method, error)
            return None
        raise
    return dict(response.data) if isinstance(response.data, dict) else None


def _form(args: dict[str, Any]) -> dict[str, Any]:
    """Form fields are strings: lists become comma lists, structures JSON, booleans words."""
    out: dict[str, Any] = {}
    for key, value in args.items():
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
            out[key] = ",".join(value)
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value)
        elif value is not None:
            out[key] = value
    return out


async def respond(core: Core, url: str, message: dict[str, Any]) -> None:
    """POST to a response_url on the shared session (``core.http``): one kept-alive
    connection instead of a handshake per post."""
    async with core.http.session.post(url, json=message) as resp:
        await resp.read()  # drained, so the connection goes back to the pool
        if resp.status >= 500:
            raise RuntimeError(f"response_url answered {resp.status}")


def register(core: Core) -> None:
    async def run_call(payload: dict[str, Any]) -> None:
        await call(core, payload["method"], payload["args"])

    async def run_respond(payload: dict[str, Any]) -> None:
        await respond(core, payload["url"], payload["message"])

    core.tasks.register(SlackTask.CALL, run_call)
    core.tasks.register(SlackTask.RESPOND, run_respond)
