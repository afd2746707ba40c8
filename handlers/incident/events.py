"""pin_added / reaction_added (:pushpin:): the message joins the timeline at its own time.

Slack retries are already dropped by event_id in the app middleware; the task key and the
timeline's unique ``source_key`` make capture idempotent on its own as well.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core import Core
from bot.incidents.service import IncidentService

PIN_REACTIONS = frozenset({"pushpin", "round_pushpin"})


def register(app: AsyncApp, core: Core, svc: IncidentService) -> None:
    def capture(channel: str, ts: str, actor: str, kind: str, message: dict[str, Any]) -> None:
        inc = svc.by_channel(channel)
        if inc is None or not ts or ts == inc.status_message_ts:
            return
        core.tasks.submit("incident.capture", {
            "id": inc.id, "channel": channel, "ts": ts, "actor": actor, "kind": kind,
            "message": message}, key=f"incident.capture:{channel}:{ts}")

    @app.event("pin_added")
    async def on_pin(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if item.get("type") != "message":
            return
        message = item.get("message") or {}
        channel = item.get("channel") or event.get("channel_id") or ""
        capture(channel, str(message.get("ts") or ""), event.get("user", ""), "pin", message)

    @app.event("reaction_added")
    async def on_reaction(event: dict[str, Any]) -> None:
        item = event.get("item") or {}
        if event.get("reaction") not in PIN_REACTIONS or item.get("type") != "message":
            return
        capture(item.get("channel", ""), str(item.get("ts") or ""), event.get("user", ""),
                "reaction", {})
