"""Buttons: Join, Caused this, Roll back, Snooze, Mark done. Each acks at once; clicks are
idempotent, and each press re-reads what it acts on by id and checks the presser first
(bot/incidents/presses.py says who may press what). A refused press changes nothing.

What a press reads and writes runs on the store's thread (``store.run``): the lookup before
the presser is checked (which asks Slack) in one run, what the press then does in another.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shipbell.bot.clock import slack_date
from shipbell.bot.core import Core
from shipbell.bot.incidents import followups, presses, reminders, timeline
from shipbell.bot.incidents.models import Incident
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.incidents.timeline import Entry
from shipbell.bot.inputs import parse_id, strict_int
from shipbell.bot.slack import gateway
from shipbell.handlers.common import mentions
from shipbell.handlers.incident.ids import Action, Task
from shipbell.handlers.incident.rollbacks import (
    NO_DEPLOYS,
    Answer,
    Deploys,
    Rollbacks,
    roll_back_suspect,
)
from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

STALE = "That button doesn't point at anything I know any more; `/incident list` shows what's open."
NOT_YOURS = ("Only {ref}'s commander, comms, reporter or people in its channel can use these"
             " buttons.")


def _suffixed(action: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(action)}\.\d+$")


def _suffix(action: dict[str, Any]) -> str:
    return str(action.get("action_id") or "").rpartition(".")[2]


def _value(action: dict[str, Any]) -> str:
    value = action.get("value")
    return value if isinstance(value, str) else ""


def _incident_and_deploy(value: str) -> tuple[int | None, int | None]:
    """``"<incident>|<deploy>"``; messages posted before this format carry JSON, of which
    only the two ids are read (never its service or environment)."""
    if value.startswith("{"):
        try:
            data = json.loads(value)
        except ValueError:
            return None, None
        if not isinstance(data, dict):
            return None, None
        return strict_int(data.get("i"), lo=1), strict_int(data.get("d"), lo=1)
    first, _, second = value.partition("|")
    return parse_id(first), parse_id(second)


async def _in_channel(core: Core, channel: str, user: str) -> bool | None:
    """Whether ``user`` is in ``channel`` now, per Slack; None if Slack couldn't say."""
    cursor = ""
    for _ in range(100):  # 100 pages of 1,000 members: any real channel
        try:
            page = await gateway.call(core, "conversations.members",
                                      {"channel": channel, "limit": 1000, "cursor": cursor})
        except SlackApiError:
            return None
        data = page.data
        if page.failed:
            return False if page.failed in ("channel_not_found", "is_archived") else None
        if user in (data.get("members") or []):
            return True
        cursor = str((data.get("response_metadata") or {}).get("next_cursor") or "")
        if not cursor:
            return False
    return None


def _incident(svc: IncidentService, incident_id: int | None) -> Incident | None:
    """(On the store's thread.)  The incident a button names, if it still exists."""
    return svc.get(incident_id) if incident_id is not None else None


def register(app: AsyncApp, core: Core, svc: IncidentService, deploys: Deploys) -> None:
    async def allowed(inc: Incident, user: str, url: str | None, *also: str | None) -> bool:
        """Roles (and ``also``) may press; anyone else must be in the incident's channel.
        A refusal is told to the presser here."""
        if user in presses.role_holders(inc) or (user and user in also):
            return True
        member = await _in_channel(core, inc.channel_id, user) if inc.channel_id else False
        if member is None:
            await gateway.reply(core, url,
                                f"I couldn't check who is in {inc.ref}'s channel just now;"
                                " press again in a minute.")
            return False
        if not member:
            await gateway.reply(core, url, NOT_YOURS.format(ref=inc.ref))
        return member

    def join(incident_id: int | None, user: str, url: str | None) -> bool:
        """(On the store's thread.)  Record the join and submit its invite; False when the
        incident isn't one to join from a button."""
        inc = _incident(svc, incident_id)
        if inc is None or inc.private or not inc.is_open:
            return False
        core.audit(user, "incident.join", inc.ref, channel=inc.channel_id)
        core.tasks.submit(Task.INVITE, {"id": inc.id, "users": [user],
                          "response_url": url, "confirm": True})
        return True

    @app.action(str(Action.JOIN))
    async def on_join(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        url = body.get("response_url")
        if not await core.store.run(join, parse_id(_value(action)), body["user"]["id"], url):
            await gateway.reply(core, url, "That incident isn't open to join from here.")

    def link_cause(inc: Incident, deploy_id: int,
                   user: str) -> tuple[dict[str, Any], str] | None:
        """(On the store's thread.)  Link the suspect as the cause and broadcast it: the
        stored deploy and the link's outcome; None when it isn't one of the suspects."""
        deploy = presses.suspect(svc.store, inc, deploy_id)
        if deploy is None:
            return None
        outcome = svc.link_deploy(inc, deploy["id"], "caused", user)
        if outcome == "linked":
            core.tasks.submit(Task.BROADCAST, {
                "id": inc.id, "actor": user, "kind": "Cause",
                "text": f"Deploy #{deploy['id']} ({deploy['service']} to {deploy['env']})"
                        " marked as the cause."})
        return deploy, outcome

    @app.action(_suffixed(Action.CAUSED))
    async def on_caused(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, url = body["user"]["id"], body.get("response_url")
        incident_id, deploy_id = _incident_and_deploy(_value(action))
        inc = await core.store.run(_incident, svc, incident_id)
        if inc is None or deploy_id is None:
            await gateway.reply(core, url, STALE)
            return
        if not await allowed(inc, user, url):
            return
        linked = await core.store.run(link_cause, inc, deploy_id, user)
        if linked is None:
            await gateway.reply(core, url,
                                f"Deploy #{deploy_id} isn't a deploy of {inc.ref}'s service;"
                                f" link others with `/incident link <deploy-id> caused`.")
            return
        deploy, outcome = linked
        await gateway.reply(core, url, {
            "linked": f"Linked: deploy #{deploy['id']} caused {inc.ref}.",
            "duplicate": f"Deploy #{deploy['id']} is already linked as the cause of {inc.ref}.",
            "missing": f"Deploy #{deploy['id']} no longer exists.",
        }[outcome])

    def roll_back(rollbacks: Rollbacks, inc: Incident, deploy_id: int, user: str,
                  channel: str) -> Answer | None:
        """(On the store's thread.)  Request the suspect's rollback and note it in the
        timeline: the answer for the presser; None when it isn't one of the suspects."""
        deploy = presses.suspect(svc.store, inc, deploy_id)
        if deploy is None:
            return None
        service, env = deploy["service"], deploy["env"]
        answer = roll_back_suspect(rollbacks, deploy["id"], service, env, user=user,
                                   channel=channel, incident=inc.id)
        if answer.rollback_id is not None:  # only a rollback this press requested is noted
            timeline.add(core.store, inc.id, core.clock.now(), Entry.NOTE, user,
                         f"Rollback of {service} in {env} requested (suspect deploy"
                         f" #{deploy['id']}, rollback #{answer.rollback_id})")
            core.audit(user, "incident.rollback", inc.ref, deploy_id=deploy["id"],
                       rollback_id=answer.rollback_id)
        return answer

    @app.action(_suffixed(Action.ROLLBACK))
    async def on_rollback(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, url = body["user"]["id"], body.get("response_url")
        channel = str((body.get("channel") or {}).get("id") or "")
        incident_id, deploy_id = _incident_and_deploy(_value(action))
        inc = await core.store.run(_incident, svc, incident_id)
        if inc is None or deploy_id is None:
            await gateway.reply(core, url, STALE)
            return
        rollbacks = deploys()
        if rollbacks is None:
            await gateway.reply(core, url, NO_DEPLOYS)
            return
        if not await allowed(inc, user, url):
            return
        answer = await core.store.run(roll_back, rollbacks, inc, deploy_id, user, channel)
        if answer is None:
            await gateway.reply(core, url,
                                f"Deploy #{deploy_id} isn't a deploy of {inc.ref}'s service;"
                                " roll back with `/deploy rollback <service> <env>`.")
            return
        await gateway.reply(core, url, mentions(answer.text))

    def followup_of(followup_id: int | None) -> tuple[dict[str, Any], Incident] | None:
        """(On the store's thread.)  The follow-up a button names and its incident."""
        row = presses.followup(svc.store, followup_id) if followup_id is not None else None
        inc = svc.get(row["incident_id"]) if row else None
        return None if row is None or inc is None else (row, inc)

    @app.action(str(Action.FOLLOWUP_DONE))
    async def on_followup_done(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, url = body["user"]["id"], body.get("response_url")
        # "<followup>" (older messages: "<incident>|<followup>"); the incident is read back.
        followup_id = parse_id(_value(action).rpartition("|")[2])
        found = await core.store.run(followup_of, followup_id)
        if found is None:
            await gateway.reply(core, url, STALE)
            return
        row, inc = found
        if not await allowed(inc, user, url, row["owner"]):
            return
        if not await core.store.run(followups.done, svc, inc, row["id"], user):
            await gateway.reply(core, url, f"Follow-up #{row['id']} is already done.")
            return
        await gateway.reply(core, url, f":white_check_mark: Follow-up #{row['id']} of {inc.ref}"
                            f" marked done by <@{user}>.", replace=True)

    @app.action(_suffixed(Action.SNOOZE))
    async def on_snooze(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        await ack()
        user, url = body["user"]["id"], body.get("response_url")
        # "<incident>|<slot>" (older messages add "|<minutes>", which is ignored): the
        # minutes are the configured option the action_id's suffix names.
        first, _, rest = _value(action).partition("|")
        slot = rest.partition("|")[0]
        inc = await core.store.run(_incident, svc, parse_id(first))
        minutes = presses.snooze_minutes(svc.settings.snooze_minutes, _suffix(action))
        if inc is None or not slot or minutes is None:
            await gateway.reply(core, url, STALE)
            return
        if not inc.is_open:
            await gateway.reply(core, url, f"{inc.ref} has ended; there is nothing to snooze.")
            return
        if not await allowed(inc, user, url):
            return
        until = await core.store.run(reminders.snooze, svc, inc.id, slot, minutes, user)
        if until is None:
            await gateway.reply(core, url,
                                "This reminder was already snoozed, or the incident has ended.")
            return
        await gateway.reply(core, url, f":zzz: <@{user}> snoozed update reminders for {inc.ref}"
                            f" until {slack_date(until, '{time}')}.", replace=True)
