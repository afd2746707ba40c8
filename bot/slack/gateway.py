"""The one way Shipbell talks to Slack's Web API: one error taxonomy, typed results.

Every Slack error falls in one class, and every caller sees it the same way:

==============  =====================================================  ======================
class           errors                                                 what the caller sees
==============  =====================================================  ======================
transient       ratelimited (429: the client waits out Retry-After     the SlackApiError (or
                first), internal_error, fatal_error,                   connection error) is
                service_unavailable, request_timeout, connection       raised: the persisted
                errors (see ``bot.core.ReplayGuard``: a call that      task is retried whole,
                creates something is never replayed after a dropped   with back-off
                connection)
gone            the target no longer exists or can't be reached:       ``Result`` with
                channel_not_found, is_archived, not_in_channel,        ``kind == GONE``: the
                message_not_found, user_not_found, account_inactive…   caller explains it
already-done    already_in_channel, already_pinned, already_reacted,   ``Result.ok`` (logged
                already_archived                                       at debug)
final           everything else: invalid_blocks, msg_too_long,         ``Result`` with
                missing_scope, invalid_auth, name_taken, an error      ``kind == FINAL``,
                Slack adds tomorrow…                                   logged once, not retried
==============  =====================================================  ======================

An error nobody listed is final: retrying what Slack refused for a reason we don't know only
repeats the refusal (three times, with back-off). The persisted task kinds ``SlackTask.CALL``
(one Web API method) and ``SlackTask.RESPOND`` (one response_url post, ``bot/slack/kinds.py``)
carry a call that must survive a restart; their values are stored in the tasks table and never
change.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.slack.kinds import SlackTask
from slack_sdk.errors import SlackApiError


class Kind(StrEnum):
    OK = "ok"
    ALREADY = "already"  # the call's aim already holds: a success
    GONE = "gone"  # the target is gone or out of reach: the caller says so in words
    FINAL = "final"  # refused for good: logged once, given up


TRANSIENT = frozenset({"ratelimited", "internal_error", "fatal_error", "service_unavailable",
                       "request_timeout"})
GONE = frozenset({
    "channel_not_found", "is_archived", "not_in_channel", "user_not_in_channel",
    "message_not_found", "cant_update_message", "user_not_found", "users_not_found",
    "account_inactive", "user_disabled", "user_is_restricted", "expired_trigger_id",
    "expired_url", "used_url",
})
ALREADY_DONE = frozenset({"already_in_channel", "already_pinned", "already_reacted",
                          "already_archived"})


def classify(error: str) -> Kind | None:
    """The class of a Slack error; None for a transient one (it is raised, not returned)."""
    if error in TRANSIENT:
        return None
    if error in ALREADY_DONE:
        return Kind.ALREADY
    return Kind.GONE if error in GONE else Kind.FINAL


@dataclass(frozen=True)
class Result:
    """What a call came to: its data, or the error Slack gave and its class."""

    kind: Kind
    data: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind in (Kind.OK, Kind.ALREADY)

    @property
    def gone(self) -> bool:
        return self.kind is Kind.GONE

    @property
    def failed(self) -> str | None:
        """The error when the call did not reach its aim (None on success, already-done too)."""
        return None if self.ok else self.error

    @property
    def ts(self) -> str | None:
        ts = self.data.get("ts")
        return str(ts) if ts else None

    @property
    def channel(self) -> str | None:
        channel = self.data.get("channel")
        if isinstance(channel, dict):
            channel = channel.get("id")
        return str(channel) if channel else None


# Methods Slack accepts as JSON bodies; every other method takes form fields.
JSON_METHODS = frozenset({
    "chat.postMessage", "chat.postEphemeral", "chat.update", "chat.delete",
    "views.open", "views.push", "views.update", "views.publish",
})


async def call(core: Core, method: str, args: dict[str, Any]) -> Result:
    """Call a Web API method: a Result for success, gone, already-done and final errors;
    transient errors raise (after the client's own 429 and connection retries)."""
    try:
        if method in JSON_METHODS:
            response = await core.client.api_call(method, json=args)
        else:
            response = await core.client.api_call(method, data=_form(args))
    except SlackApiError as exc:
        return failed(core, method, exc)
    data = response.data if isinstance(response.data, dict) else {}
    return Result(Kind.OK, dict(data))


def failed(core: Core, method: str, exc: SlackApiError) -> Result:
    """Count and classify a refused call: raise it again when transient, else log it once."""
    error = str(exc.response.get("error", "unknown"))
    core.metrics.slack_errors.labels(method, error).inc()
    kind = classify(error)
    if kind is None:
        raise exc
    level = logging.DEBUG if kind is Kind.ALREADY else logging.WARNING
    logs.logger.log(level, logs.SLACK_CALL_FAILED, method, error)
    return Result(kind, {}, error)


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


# -- typed helpers for what Shipbell does -----------------------------------------------------
async def post(core: Core, channel: str, text: str, **fields: Any) -> Result:
    """chat.postMessage (``blocks``, ``thread_ts``, ``metadata``… as fields)."""
    return await call(core, "chat.postMessage", {"channel": channel, "text": text, **fields})


async def update(core: Core, channel: str, ts: str, **fields: Any) -> Result:
    return await call(core, "chat.update", {"channel": channel, "ts": ts, **fields})


async def set_topic(core: Core, channel: str, topic: str) -> Result:
    return await call(core, "conversations.setTopic", {"channel": channel, "topic": topic})


async def pin(core: Core, channel: str, ts: str) -> Result:
    return await call(core, "pins.add", {"channel": channel, "timestamp": ts})


async def bookmark(core: Core, channel: str, title: str, link: str) -> Result:
    return await call(core, "bookmarks.add", {"channel_id": channel, "title": title,
                                              "type": "link", "link": link})


async def open_view(core: Core, trigger_id: str, view: dict[str, Any]) -> Result:
    return await call(core, "views.open", {"trigger_id": trigger_id, "view": view})


async def upload(core: Core, channel: str, **fields: Any) -> Result:
    """files_upload_v2 (three Web API calls; the last one names the channel)."""
    try:
        response: Any = await core.client.files_upload_v2(channel=channel, **fields)
    except SlackApiError as exc:
        return failed(core, "files.completeUploadExternal", exc)
    data = response.data if isinstance(response.data, dict) else {}
    return Result(Kind.OK, dict(data))


@dataclass(frozen=True)
class Invited:
    invited: list[str]
    failed: dict[str, str]  # user → the Slack error that kept them out


async def invite(core: Core, channel: str, users: list[str]) -> Invited:
    """Invite everyone we can; one departed user blocks no one (the batch is retried one by
    one when Slack refuses it for a reason other than the channel itself)."""
    if not users:
        return Invited([], {})
    batch = await call(core, "conversations.invite", {"channel": channel, "users": ",".join(users)})
    if batch.kind is Kind.OK:
        return Invited(users, {})
    if batch.kind is Kind.ALREADY:
        return Invited([], {})
    if batch.error in ("is_archived", "channel_not_found", "not_in_channel"):
        return Invited([], dict.fromkeys(users, str(batch.error)))
    invited, refused = [], {}
    for user in users:
        one = await call(core, "conversations.invite", {"channel": channel, "users": user})
        if one.kind is Kind.OK:
            invited.append(user)
        elif not one.ok:
            refused[user] = str(one.error)
    return Invited(invited, refused)


# -- persisted calls and ephemeral replies ----------------------------------------------------
def enqueue(core: Core, method: str, args: dict[str, Any], *, key: str | None = None) -> None:
    """A call that must survive a restart: stored, then run (and retried) by the task runner."""
    core.tasks.submit(SlackTask.CALL, call_payload(method, args), key=key)


def call_payload(method: str, args: dict[str, Any]) -> dict[str, Any]:
    """A ``SlackTask.CALL`` task's payload (what ``enqueue`` stores, or an event subscriber's)."""
    return {"method": method, "args": args}


async def reply(core: Core, response_url: str | None, text: str | dict[str, Any], *,
                replace: bool = False) -> None:
    """The ephemeral answer to the person who clicked or typed: through their response_url,
    as a persisted task (written on the store's thread). ``replace`` swaps the message the
    button was on instead."""
    if response_url:
        await core.store.run(queue_reply, core, response_url, text, replace=replace)


def queue_reply(core: Core, response_url: str | None, text: str | dict[str, Any], *,
                replace: bool = False) -> None:
    """``reply`` from synchronous code already on the store's thread (inside a ``run``)."""
    if not response_url:
        return
    message = {"text": text} if isinstance(text, str) else dict(text)
    if replace:
        message = {"replace_original": True, **message}
    else:
        message = {"response_type": "ephemeral", "replace_original": False, **message}
    core.tasks.submit(SlackTask.RESPOND, {"url": response_url, "message": message})


async def tell(core: Core, user: str, text: str, *, response_url: str | None = None,
               channel: str | None = None) -> None:
    """Reach a person from a task: their response_url when there is one, else an ephemeral
    message in ``channel``, else (Shipbell isn't in that channel) a direct message."""
    if response_url:
        await reply(core, response_url, text)
        return
    if channel and (await call(core, "chat.postEphemeral",
                               {"channel": channel, "user": user, "text": text})).ok:
        return
    await post(core, user, text)


async def respond(core: Core, url: str, message: dict[str, Any]) -> Result:
    """The ``slack.respond`` task's work (callers use ``reply``): POST to a response_url on
    the shared session (``core.http``), one kept-alive connection instead of a handshake per
    post. A 5xx raises (transient); a refused URL (expired, used up) is gone."""
    async with core.http.session.post(url, json=message) as resp:
        await resp.read()  # drained, so the connection goes back to the pool
        if resp.status >= 500:
            raise RuntimeError(f"response_url answered {resp.status}")
        if resp.status >= 400:
            logs.logger.warning(logs.SLACK_CALL_FAILED, "response_url", resp.status)
            return Result(Kind.GONE, {}, f"http_{resp.status}")
    return Result(Kind.OK)


def register(core: Core, *,
             posted_before: Callable[[Core, dict[str, Any]], Awaitable[bool]] | None = None
             ) -> None:
    """The tasks behind ``enqueue`` and ``reply``.  ``posted_before`` (``tagged``'s, which
    calls Slack through this module) answers whether a ``post_once`` task's message is in its
    channel already, from an attempt that stopped before it knew."""
    async def run_call(payload: dict[str, Any]) -> None:
        if payload.get("once") and posted_before is not None \
                and await posted_before(core, payload):
            return
        await call(core, payload["method"], payload["args"])

    async def run_respond(payload: dict[str, Any]) -> None:
        await respond(core, payload["url"], payload["message"])

    core.tasks.register(SlackTask.CALL, run_call)
    core.tasks.register(SlackTask.RESPOND, run_respond)
