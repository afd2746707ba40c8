"""Messages Shipbell tags with Slack message metadata, so it can find its own posts again.

Posting and storing the posted message's ts are two steps; a crash (or a lost reply) between
them leaves a message Shipbell doesn't know about, and a retry would post a second one. So a
post that is kept up to date (a deploy's message, an incident's status and announcement)
carries ``metadata`` naming what it is for, the intent to post is stored first, and a retry
that finds an intent without a ts looks the message up in the channel's history and adopts
it instead of posting again.

A post's thread parts are kept once the same way: a reply carries its key as metadata and a
repeated attempt reads the thread (``conversations.replies``) before posting it
(``reply_keyed``); a file carries no metadata, so a repeated upload into a thread looks there
for Shipbell's own share of a file of that name (``upload_once``).  First attempts make no
extra calls: only a repeated attempt (``bot.tasks.repeated``) can have posted before.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.slack import gateway
from shipbell.bot.slack.kinds import SlackTask
from shipbell.bot.tasks import repeated

PAGE = 200  # messages per conversations.history page
PAGES = 5  # look this far back at most; past it, post afresh
SKEW = timedelta(minutes=1)  # Slack's clock and ours may disagree a little
POST_EVENT = "shipbell_post"  # metadata event_type of a keyed post that must appear once


def tag(event_type: str, **payload: Any) -> dict[str, Any]:
    """The ``metadata`` argument of chat.postMessage / chat.update, in Slack's shape."""
    return {"metadata": {"event_type": event_type, "event_payload": payload}}


async def find(core: Core, channel: str, event_type: str, since: datetime,
               **payload: Any) -> str | None:
    """The ts of Shipbell's own top-level message in ``channel`` posted after ``since``
    whose metadata is ``event_type`` with ``payload``; None when there is none, or when
    the history can't be read (a DM, a missing scope): then posting afresh is all we can do.
    A transient error raises: the task is retried rather than risk a second post."""
    cursor = ""
    for _ in range(PAGES):
        me = await _me(core)
        history = await gateway.call(core, "conversations.history", {
            "channel": channel, "oldest": f"{(since - SKEW).timestamp():.6f}",
            "limit": PAGE, "include_all_metadata": True, "cursor": cursor})
        if not history.ok:
            return None
        data = history.data
        for message in data.get("messages") or []:
            if _ours(me, message, event_type, payload):
                return str(message["ts"])
        cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return None
    return None


async def _me(core: Core) -> str:
    """Shipbell's own user id (asked of Slack when a task resumed before start-up learnt it)."""
    if core.identity.bot_user_id:
        return core.identity.bot_user_id
    return str((await gateway.call(core, "auth.test", {})).data.get("user_id") or "")


def _ours(me: str, message: dict[str, Any], event_type: str, payload: dict[str, Any]) -> bool:
    """Posted by Shipbell itself (another app could copy the metadata) and tagged so."""
    metadata = message.get("metadata") or {}
    found = metadata.get("event_payload") or {}
    return (bool(me) and message.get("user") == me and metadata.get("event_type") == event_type
            and all(found.get(k) == v for k, v in payload.items()))


def post_once(core: Core, args: dict[str, Any], *, key: str) -> None:
    """chat.postMessage as a persisted task keyed ``key`` (a scheduled post), appearing once.

    The message carries its key as metadata; a run that repeats an attempt (a failure, or a
    replica that died mid-call: its post may have reached Slack) looks for it in the channel
    first (``posted_before``) and posts only if it is not there.  Synchronous, as it writes
    the task: call it on the store's thread (inside a ``Store.run`` fn)."""
    core.tasks.submit(SlackTask.CALL, {
        "method": "chat.postMessage", "args": {**args, **tag(POST_EVENT, key=key)},
        "once": {"key": key, "since": core.clock.now().isoformat()}}, key=key)


async def posted_before(core: Core, payload: dict[str, Any]) -> bool:
    """Whether a ``post_once`` task's message already reached its channel (an earlier attempt
    of this task posted it); the gateway's task skips the call then."""
    once, channel = payload["once"], str(payload["args"].get("channel"))
    found = await _earlier(core, channel, once["key"], datetime.fromisoformat(once["since"]))
    return found is not None


async def post_keyed(core: Core, args: dict[str, Any], *, key: str,
                     since: datetime) -> gateway.Result:
    """chat.postMessage from inside a task that records the ts itself (the digest's summary),
    appearing once: the message carries ``key`` as metadata, and a repeated attempt of the
    running task first looks for it in the channel (posted after ``since``) and adopts it,
    returning its ts as if it had just been posted."""
    channel = str(args.get("channel"))
    found = await _earlier(core, channel, key, since)
    if found is not None:
        return gateway.Result(gateway.Kind.OK, {"ok": True, "channel": channel, "ts": found})
    return await gateway.call(core, "chat.postMessage", {**args, **tag(POST_EVENT, key=key)})


async def _earlier(core: Core, channel: str, key: str, since: datetime) -> str | None:
    """On a repeated attempt of the running task: the ts of the ``key`` post an earlier
    attempt sent to ``channel`` (logged as adopted); None on a first attempt or if absent."""
    if not repeated():
        return None
    found = await find(core, channel, POST_EVENT, since, key=key)
    if found is not None:
        logs.logger.warning(logs.MESSAGE_ADOPTED, "post", channel, found)
    return found


async def reply_keyed(core: Core, args: dict[str, Any], *, key: str) -> gateway.Result:
    """chat.postMessage into the thread ``args["thread_ts"]`` from a task that records the
    ts itself (the digest's details), appearing once: the reply carries ``key`` as metadata,
    and a repeated attempt of the running task first reads the thread and adopts it,
    returning its ts as if it had just been posted."""
    channel, thread_ts = str(args.get("channel")), str(args.get("thread_ts"))
    if repeated():
        me = await _me(core)
        found = await _in_thread(core, channel, thread_ts,
                                 lambda m: _ours(me, m, POST_EVENT, {"key": key}))
        if found is not None:
            logs.logger.warning(logs.MESSAGE_ADOPTED, "reply", channel, found["ts"])
            return gateway.Result(gateway.Kind.OK,
                                  {"ok": True, "channel": channel, "ts": str(found["ts"])})
    return await gateway.call(core, "chat.postMessage", {**args, **tag(POST_EVENT, key=key)})


async def upload_once(core: Core, channel: str, *, thread_ts: str, file: bytes,
                      filename: str, title: str) -> gateway.Result:
    """files_upload_v2 into the thread ``thread_ts``, appearing once.  Files carry no
    metadata: a repeated attempt of the running task first looks in the thread for
    Shipbell's own share of a file named ``filename`` and adopts that file, returning it
    shaped like the upload's answer (``files``: id and title).  An upload that stopped
    before files.completeUploadExternal shared nothing, so it is uploaded afresh."""
    if repeated():
        me = await _me(core)

        def shared(message: dict[str, Any]) -> bool:
            return bool(me) and message.get("user") == me and any(
                f.get("name") == filename for f in message.get("files") or [])

        found = await _in_thread(core, channel, thread_ts, shared)
        if found is not None:
            logs.logger.warning(logs.MESSAGE_ADOPTED, "upload", channel, found["ts"])
            files = [{"id": f.get("id"), "title": f.get("title")}
                     for f in found["files"] if f.get("name") == filename]
            return gateway.Result(gateway.Kind.OK, {"ok": True, "files": files})
    return await gateway.upload(core, channel, thread_ts=thread_ts, file=file,
                                filename=filename, title=title)


async def _in_thread(core: Core, channel: str, thread_ts: str,
                     wanted: Callable[[dict[str, Any]], bool]) -> dict[str, Any] | None:
    """The first reply in the thread under ``thread_ts`` that is ``wanted``; None when there
    is none, or when the thread can't be read (then posting afresh is all we can do).  A
    transient error raises: the task is retried rather than risk a second post."""
    cursor = ""
    for _ in range(PAGES):
        replies = await gateway.call(core, "conversations.replies", {
            "channel": channel, "ts": thread_ts, "limit": PAGE, "include_all_metadata": True,
            "cursor": cursor})
        if not replies.ok:
            return None
        data = replies.data
        for message in data.get("messages") or []:
            if message.get("ts") != thread_ts and wanted(message):
                return dict(message)
        cursor = (data.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return None
    return None
