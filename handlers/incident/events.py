"""pin_added / reaction_added (:pushpin:): the message joins the timeline at its own time.

Slack retries are already dropped by event_id in the app middleware; the task key and the
timeline's unique ``source_key`` make capture idempotent on its own as well.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.incidents import timeline
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.incidents.timeline import Entry
from shipbell.bot.slack import gateway
from shipbell.handlers.incident import messages
from shipbell.handlers.incident.ids import Task
from slack_bolt.async_app import AsyncApp

PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})


def register(app: AsyncApp, core: Core, svc: IncidentService) -> None:
    async def run_capture(payload: dict[str, Any]) -> None:
        await capture_message(core, payload)

    core.tasks.register(Task.CAPTURE, run_capture)

    def capture(channel: str, ts: str, actor: str, kind: str, message: dict[str, Any]) -> None:
        """(On the store's thread.)  The capture task of a message in an incident's channel."""
        inc = svc.by_channel(channel)
        if inc is None or not ts or ts == inc.status_message_ts:
            return
        core.tasks.submit(Task.CAPTURE, {
            "id": inc.id, "channel": channel, "ts": ts, "actor": actor, "kind": kind,
            "message": message}, key=f"{Task.CAPTURE}:{channel}:{ts}")

    @app.event("pin_added")
    async def on_pin(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        message = item.get("message") or {}
        channel = item.get("channel") or event.get("channel_id") or ""
        await core.store.run(capture, channel, str(message.get("ts") or ""),
                             event.get("user", ""), Entry.PIN, message)

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        await core.store.run(capture, item.get("channel", ""), str(item.get("ts") or ""),
                             event.get("user", ""), Entry.REACTION, {})


def _captured(core: Core, source_key: str) -> bool:
    """(On the store's thread.)  Whether the timeline holds the message already."""
    return core.store.one("SELECT 1 AS x FROM incident_timeline WHERE source_key = ?",
                          (source_key,)) is not None


async def capture_message(core: Core, payload: dict[str, Any]) -> None:
    """A pinned (or :pushpin:-ed) message joins the timeline at its own time, once."""
    channel, ts = payload["channel"], payload["ts"]
    source_key = f"msg:{channel}:{ts}"
    if await core.store.run(_captured, core, source_key):
        return
    message = payload.get("message") or {}
    if not message.get("text"):
        replies = await gateway.call(core, "conversations.replies",
                                     {"channel": channel, "ts": ts, "limit": 50})
        found = [m for m in replies.data.get("messages", []) if m.get("ts") == ts]
        if replies.failed or not found:
            return
        message = found[0]
    link = (await gateway.call(core, "chat.getPermalink",
                               {"channel": channel, "message_ts": ts})).data
    at = datetime.fromtimestamp(float(ts), UTC)
    text = messages.clip(message.get("text") or "(attachment)", 1000)
    text += f" (added by <@{payload['actor']}>)"
    await core.store.run(timeline.add, core.store, int(payload["id"]), at, payload["kind"],
                         message.get("user"), text, permalink=link.get("permalink"),
                         source_key=source_key)
