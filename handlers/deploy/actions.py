"""Button clicks on deploy messages: approve, reject, cancel, take over a lock.

Each click acks at once; the decision is a compare-and-set in SQLite, so a double click
or two approvers clicking together never act twice. The clicker hears back privately.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.core import Core
from bot.deploys import approvals, lockops
from bot.deploys.service import DeployService, Outcome
from handlers.deploy.ids import Action


def _reply(core: Core, body: dict[str, Any], text: str, *, replace: bool = False) -> None:
    url = body.get("response_url")
    if not url:
        return
    message: dict[str, Any] = {"response_type": "ephemeral", "text": text,
                               "replace_original": replace}
    core.tasks.submit("slack.respond", {"url": url, "message": message})


def _context(body: dict[str, Any]) -> tuple[str, str, str]:
    action = (body.get("actions") or [{}])[0]
    user = (body.get("user") or {}).get("id", "")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", "")
    return str(action.get("value", "")), user, channel


def register(app: AsyncApp, core: Core, svc: DeployService) -> None:
    async def decide(ack: Any, body: dict[str, Any], verb: str) -> None:
        await ack()
        value, user, channel = _context(body)
        if not value.isdigit():
            _reply(core, body, "That button has no deploy attached; use `/deploy status`.")
            return
        outcome: Outcome
        if verb == "approve":
            outcome = approvals.approve(svc, int(value), user, channel)
        elif verb == "reject":
            outcome = approvals.reject(svc, int(value), user, channel)
        else:
            outcome = svc.cancel(int(value), user, channel)
        _reply(core, body, outcome.text)

    @app.action(Action.APPROVE)
    async def on_approve(ack: Any, body: dict[str, Any]) -> None:
        await decide(ack, body, "approve")

    @app.action(Action.REJECT)
    async def on_reject(ack: Any, body: dict[str, Any]) -> None:
        await decide(ack, body, "reject")

    @app.action(Action.CANCEL)
    async def on_cancel(ack: Any, body: dict[str, Any]) -> None:
        await decide(ack, body, "cancel")

    @app.action(Action.TAKE_OVER)
    async def on_take_over(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        value, user, channel = _context(body)
        try:
            data = json.loads(value)
            service, env, reason, holder = data["s"], data["e"], data["r"], data["h"]
        except (ValueError, KeyError, TypeError):
            _reply(core, body, "That button is out of date; run `/deploy lock` again.")
            return
        if service not in svc.config.services or env not in (
            svc.config.services[service].environments
        ):
            _reply(core, body, f"{service} {env} isn't configured any more.")
            return
        minutes = data.get("m")
        duration = timedelta(minutes=int(minutes)) if minutes else None
        outcome = lockops.take_over(svc, service, env, user, str(reason), duration, channel,
                                    str(holder))
        _reply(core, body, outcome.text, replace=True)
