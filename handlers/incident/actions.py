"""Buttons: Join, Caused this, Roll back, Snooze. Each acks at once; clicks are idempotent."""

from __future__ import annotations

import json
import re
from typing import Any

from slack_bolt.async_app import AsyncApp

from bot.clock import slack_date
from bot.core import Core
from bot.incidents import followups, reminders, timeline
from bot.incidents.service import IncidentService
from handlers.incident.ids import Action
from handlers.incident.slackio import replace, respond


def _suffixed(action: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(action)}\.\d+$")


def register(app: AsyncApp, core: Core, svc: IncidentService) -> None:
    @app.action(str(Action.JOIN))
    async def on_join(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        inc = svc.get(int(action.get("value") or 0))
        url = body.get("response_url")
        if inc is None or inc.private:
            respond(core, url, "That incident isn't open to join from here.")
            return
        core.audit(body["user"]["id"], "incident.join", inc.ref, channel=inc.channel_id)
        core.tasks.submit("incident.invite", {"id": inc.id, "users": [body["user"]["id"]],
                          "response_url": url, "confirm": True})

    @app.action(_suffixed(Action.CAUSED))
    async def on_caused(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        data = json.loads(action.get("value") or "{}")
        user, url = body["user"]["id"], body.get("response_url")
        inc = svc.get(int(data.get("i", 0)))
        if inc is None:
            return
        outcome = svc.link_deploy(inc, int(data["d"]), "caused", user)
        if outcome == "linked":
            core.tasks.submit("incident.broadcast", {
                "id": inc.id, "actor": user, "kind": "Cause",
                "text": f"Deploy #{data['d']} ({data['s']} to {data['e']}) marked as the cause."})
        respond(core, url, {
            "linked": f"Linked: deploy #{data['d']} caused {inc.ref}.",
            "duplicate": f"Deploy #{data['d']} is already linked as the cause of {inc.ref}.",
            "missing": f"Deploy #{data['d']} no longer exists.",
        }[outcome])

    @app.action(_suffixed(Action.ROLLBACK))
    async def on_rollback(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        data = json.loads(action.get("value") or "{}")
        user, url = body["user"]["id"], body.get("response_url")
        if not core.claim_key(f"incident.rollback:{data.get('i')}:{data.get('d')}"):
            respond(core, url, f"A rollback from deploy #{data.get('d')} was already requested"
                    " for this incident; `/deploy status` shows its progress.")
            return
        timeline.add(core.store, int(data["i"]), core.clock.now(), "note", user,
                     f"Rollback of {data['s']} in {data['e']} requested (suspect deploy"
                     f" #{data['d']})")
        core.audit(user, "incident.rollback", f"INC-{data['i']}", deploy_id=data["d"])
        core.tasks.submit("incident.rollback", {
            "id": data["i"], "service": data["s"], "env": data["e"], "user": user,
            "channel": (body.get("channel") or {}).get("id", ""),
            "response_url": url})

    @app.action(str(Action.FOLLOWUP_DONE))
    async def on_followup_done(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident_id, followup_id = str(action.get("value") or "0|0").split("|")
        user, url = body["user"]["id"], body.get("response_url")
        inc = svc.get(int(incident_id))
        if inc is None or not followups.done(svc, inc, int(followup_id), user):
            respond(core, url, f"Follow-up #{followup_id} is already done.")
            return
        replace(core, url, f":white_check_mark: Follow-up #{followup_id} of {inc.ref}"
                f" marked done by <@{user}>.")

    @app.action(_suffixed(Action.SNOOZE))
    async def on_snooze(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        incident_id, slot, minutes = str(action.get("value") or "||").split("|")
        user, url = body["user"]["id"], body.get("response_url")
        until = reminders.snooze(svc, int(incident_id), slot, int(minutes), user)
        if until is None:
            respond(core, url, "This reminder was already snoozed, or the incident has ended.")
            return
        replace(core, url, f":zzz: <@{user}> snoozed update reminders for INC-{incident_id}"
                f" until {slack_date(until, '{time}')}.")
