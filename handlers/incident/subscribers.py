"""The incident feature's reactions to incident events: the subscriber table.

Each line maps an event the incident service records (``bot.incidents.models.Event``) to one
persisted task of this feature, written in the transaction of the change and started after
its commit (``bot/events.py``).  A new reaction (paging on-call, a tracker issue) is one more
``bus.subscribe`` line, here or in its own feature's ``register``.
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.clock import from_db, humanize
from shipbell.bot.events import Bus, Data
from shipbell.bot.incidents.models import Event
from shipbell.bot.inputs import user_text
from shipbell.handlers.incident.ids import Task


def _url(data: Data) -> Any:
    return data["origin"].get("response_url")


def setup(data: Data) -> dict[str, Any]:
    return {"id": data["id"], "response_url": _url(data)}


def severity_broadcast(data: Data) -> dict[str, Any]:
    return {"id": data["id"], "text": f"Severity changed SEV{data['before']} →"
            f" *SEV{data['after']}*.", "kind": "Severity", "actor": data["actor"],
            "response_url": _url(data)}


def status_broadcast(data: Data) -> dict[str, Any]:
    status, message = data["after"], data["message"] or ""
    if data["reopened"]:
        text, kind = f"Reopened: status is *{status}*." + (
            f"\n{user_text(message)}" if message else ""), "Reopened"
    else:
        text, kind = user_text(message) or f"Status is now *{status}*.", f"Status: {status}"
    return {"id": data["id"], "text": text, "kind": kind, "actor": data["actor"],
            "response_url": _url(data)}


def invite(data: Data) -> dict[str, Any]:
    return {"id": data["id"], "users": [data["user"]], "role": data["role"],
            "response_url": _url(data)}


def role_broadcast(data: Data) -> dict[str, Any]:
    return {"id": data["id"], "text": f"<@{data['user']}> is now {data['role']}.",
            "kind": "Role", "actor": data["actor"], "response_url": _url(data)}


def took(data: Data) -> str:
    """"Mitigated after …, resolved after …." from a resolved event ('' without both)."""
    declared, mitigated = from_db(data["declared_at"]), from_db(data["mitigated_at"])
    resolved = from_db(data["resolved_at"])
    if not (declared and mitigated and resolved):
        return ""
    return (f"Mitigated after {humanize(mitigated - declared)},"
            f" resolved after {humanize(resolved - declared)}.")


def resolved_broadcast(data: Data) -> dict[str, Any]:
    summary, how_long = user_text(data["summary"]), took(data)
    return {"id": data["id"], "text": f"{summary}\n_{how_long}_" if how_long else summary,
            "kind": "Resolved", "actor": data["actor"], "response_url": _url(data)}


def postmortem(data: Data) -> dict[str, Any]:
    return {"id": data["id"], "response_url": _url(data)}


def subscribe(bus: Bus) -> None:
    bus.subscribe(Event.DECLARED, Task.SETUP, payload=setup,
                  key=lambda d: f"{Task.SETUP}:{d['id']}")
    bus.subscribe(Event.SEVERITY_CHANGED, Task.BROADCAST, payload=severity_broadcast)
    bus.subscribe(Event.STATUS_CHANGED, Task.BROADCAST, payload=status_broadcast)
    bus.subscribe(Event.ROLE_ASSIGNED, Task.INVITE, payload=invite)
    bus.subscribe(Event.ROLE_ASSIGNED, Task.BROADCAST, payload=role_broadcast)
    bus.subscribe(Event.RESOLVED, Task.BROADCAST, payload=resolved_broadcast)
    bus.subscribe(Event.RESOLVED, Task.POSTMORTEM, payload=postmortem,
                  key=lambda d: f"{Task.POSTMORTEM}:{d['id']}:resolve:{d['resolved_at']}")
