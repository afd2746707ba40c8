"""The declare modal: opened right after the ack, validated on submit, declared once per view."""

from __future__ import annotations

import json
from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.incidents.models import cut_title, parse_severity
from shipbell.bot.inputs import CONVERSATION_ID
from shipbell.bot.slack import gateway
from shipbell.handlers.common import SlashCommand
from shipbell.handlers.incident import messages
from shipbell.handlers.incident.commands import OPEN_USAGE, Commands, service_problem
from shipbell.handlers.incident.ids import PRIVATE_VALUE, Block, Callback, Field, Task
from slack_bolt.async_app import AsyncApp

TITLE_MISSING = "Give the incident a short title, e.g. “API 500s on checkout”."


def open_modal(core: Core, cmd: SlashCommand) -> None:
    """views.open in a tracked task that starts right after the ack, well inside 3 s (on the
    store's thread: the task is written before it starts)."""
    settings = core.settings.incident
    view = messages.declare_modal(cmd.channel, settings.default_severity, sorted(settings.services))
    core.tasks.submit(Task.MODAL, {"trigger_id": cmd.trigger_id, "view": view,
                                         "response_url": cmd.response_url})


async def show(core: Core, payload: dict[str, Any]) -> None:
    """Open the form; if Slack won't (an expired trigger after a slow start or a rate limit),
    the person is told how to declare with text instead of seeing nothing happen."""
    error = (await gateway.open_view(core, payload["trigger_id"], payload["view"])).failed
    if error:
        await gateway.reply(core, payload.get("response_url"), f"The declare form could not open"
                            f" ({error}); declare with text instead, e.g. {OPEN_USAGE}.")


def _value(values: dict[str, Any], block: str, field: str) -> Any:
    return (values.get(block) or {}).get(field) or {}


def _origin(metadata: object) -> str | None:
    """The channel `/incident` was typed in, as our own views.open stored it: only ever a
    channel id (used for an ephemeral to the reporter), anything else is dropped."""
    try:
        data = json.loads(metadata) if isinstance(metadata, str) and metadata else {}
    except ValueError:
        return None
    channel = data.get("channel") if isinstance(data, dict) else None
    return channel if isinstance(channel, str) and CONVERSATION_ID.fullmatch(channel) else None


def register(app: AsyncApp, core: Core, commands: Commands) -> None:
    async def run_show(payload: dict[str, Any]) -> None:
        await show(core, payload)

    core.tasks.register(Task.MODAL, run_show)

    @app.view(str(Callback.DECLARE))
    async def on_submit(ack: Any, body: dict[str, Any]) -> None:
        view = body["view"]
        values = view.get("state", {}).get("values", {})
        title = (_value(values, Block.TITLE, Field.TITLE).get("value") or "").strip()
        if not title:
            await ack(response_action="errors", errors={str(Block.TITLE): TITLE_MISSING})
            return
        option = _value(values, Block.SEVERITY, Field.SEVERITY).get("selected_option") or {}
        severity = parse_severity(str(option.get("value", ""))) or \
            core.settings.incident.default_severity
        service = (_value(values, Block.SERVICE, Field.SERVICE).get("value") or "").strip()
        problem = service_problem(core, service.lower(), "`api`") if service else None
        if problem:
            await ack(response_action="errors", errors={str(Block.SERVICE): problem})
            return
        description = (_value(values, Block.DESCRIPTION, Field.DESCRIPTION).get("value") or "")
        chosen = _value(values, Block.PRIVATE, Field.PRIVATE).get("selected_options") or []
        private = any(o.get("value") == PRIVATE_VALUE for o in chosen)
        origin = _origin(view.get("private_metadata"))
        await core.store.run(
            commands.declare, None, cut_title(title), severity, service.lower() or None,
            description.strip() or None, private, key=f"view:{view['id']}", response_url=None,
            user=body["user"]["id"], channel=origin or "")
        await ack()
