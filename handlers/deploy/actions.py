"""Button clicks on deploy messages: approve, reject, cancel, take over or unlock a lock.

Each click acks at once; the decision is a compare-and-set in SQLite, so a double click
or two approvers clicking together never act twice. The clicker hears back privately.
A button's value is only a pointer (a deploy id, a stored lock request id): what the press
does and whether the presser may do it are read from the store and the config.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.deploys import approvals, lockops
from shipbell.bot.deploys.service import DeployService, Outcome
from shipbell.bot.inputs import parse_id
from shipbell.bot.slack import gateway
from shipbell.handlers.deploy import messages
from shipbell.handlers.deploy.ids import Action
from slack_bolt.async_app import AsyncApp


async def _reply(core: Core, body: dict[str, Any], text: str, *, replace: bool = False
                 ) -> None:
    await gateway.reply(core, body.get("response_url"), messages.mentions(text),
                        replace=replace)


# What a button decides, ``(svc, id it points at, who pressed, where)``: synchronous domain
# code, run on the store's thread as one turn (its compare-and-set and what that starts
# stay together).
Decision = Callable[[DeployService, int, str, str], Outcome]


def _cancel(svc: DeployService, deploy_id: int, user: str, channel: str) -> Outcome:
    return svc.cancel(deploy_id, user, channel)


def _context(body: dict[str, Any]) -> tuple[int | None, str, str]:
    """(the id the button points at, or None; who pressed; where) from Slack's own fields."""
    actions = body.get("actions")
    action = actions[0] if isinstance(actions, list) and actions else {}
    user = (body.get("user") or {}).get("id", "")
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id", "")
    value = action.get("value") if isinstance(action, dict) else None
    return parse_id(value), str(user), str(channel)


def register(app: AsyncApp, core: Core, svc: DeployService) -> None:
    async def decide(ack: Any, body: dict[str, Any], act: Decision) -> None:
        await ack()
        deploy_id, user, channel = _context(body)
        if deploy_id is None:
            await _reply(core, body, "That button has no deploy attached; use `/deploy status`.")
            return
        outcome = await core.store.run(act, svc, deploy_id, user, channel)
        await _reply(core, body, outcome.text)

    @app.action(Action.APPROVE)
    async def on_approve(ack: Any, body: dict[str, Any]) -> None:
        await decide(ack, body, approvals.approve)

    @app.action(Action.REJECT)
    async def on_reject(ack: Any, body: dict[str, Any]) -> None:
        await decide(ack, body, approvals.reject)

    @app.action(Action.CANCEL)
    async def on_cancel(ack: Any, body: dict[str, Any]) -> None:
        await decide(ack, body, _cancel)

    async def confirm(body: dict[str, Any], again: str, act: Decision) -> None:
        """A lock request's confirmation: the button names the stored request, nothing else."""
        request_id, user, channel = _context(body)
        if request_id is None:
            await _reply(core, body, f"That button is out of date; run `{again}` again.")
            return
        outcome = await core.store.run(act, svc, request_id, user, channel)
        await _reply(core, body, outcome.text, replace=outcome.ok)

    @app.action(Action.TAKE_OVER)
    async def on_take_over(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await confirm(body, "/deploy lock", lockops.take_over)

    @app.action(Action.UNLOCK)
    async def on_unlock(ack: Any, body: dict[str, Any]) -> None:
        await ack()
        await confirm(body, "/deploy unlock", lockops.confirm_unlock)
