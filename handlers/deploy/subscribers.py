"""The deploy feature's reactions to deploy events: the subscriber table.

Each line maps an event the deploy domain records (``bot.deploys.models.Event``) to one
persisted task, written in the transaction of the change and started after its commit
(``bot/events.py``): the refresh of the deploy's one message (coalesced by ``claim``),
direct messages to the people a change concerns, the break-glass announcement. A new
reaction (a change log, a tracker comment) is one more ``bus.subscribe`` line, here or in
its own feature's ``register``.
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.clock import from_db, humanize
from shipbell.bot.deploys.models import DEPLOY_EVENTS, Event
from shipbell.bot.events import Bus, Data
from shipbell.bot.slack import gateway
from shipbell.bot.slack.kinds import SlackTask
from shipbell.handlers.common import mention
from shipbell.handlers.deploy.ids import Task
from shipbell.handlers.deploy.notifier import SlackNotifier


def refresh(data: Data) -> dict[str, Any]:
    return {"deploy_id": data["id"]}


def _post(channel: str, text: str) -> dict[str, Any]:
    return gateway.call_payload("chat.postMessage", {"channel": channel, "text": text})


def break_glass(data: Data) -> dict[str, Any]:
    return _post(data["channel"], (
        f":rotating_light: *Break-glass* by {mention(data['actor'])}: deploy #{data['id']} of "
        f"{data['service']}@{data['ref']} to {data['env']} skips {', '.join(data['skipped'])}."
        f" Reason: {data['break_glass']}"))


def rejected(data: Data) -> dict[str, Any]:
    return _post(data["requester"], (
        f"{mention(data['actor'])} rejected deploy #{data['id']} of "
        f"{data['service']}@{data['ref']} to {data['env']}."))


def taken_over(data: Data) -> dict[str, Any]:
    return _post(data["holder"], (
        f"{mention(data['actor'])} took over your lock on {data['service']} {data['env']}: "
        f"{data['reason']}."))


def released(data: Data) -> dict[str, Any]:
    return _post(data["holder"], (
        f"{mention(data['actor'])} unlocked {data['service']} {data['env']} "
        f"(your lock: {data['reason']})."))


def lock_expired(data: Data) -> dict[str, Any]:
    return _post(data["holder"], (
        f"Your lock on {data['service']} {data['env']} expired: {data['reason']}."))


def lock_reminder(data: Data) -> dict[str, Any]:
    at, locked_at = from_db(data["at"]), from_db(data["locked_at"])
    assert at is not None and locked_at is not None
    return _post(data["holder"], (
        f"You've held the lock on {data['service']} {data['env']} for "
        f"{humanize(at - locked_at)}: {data['reason']}. "
        f"`/deploy unlock {data['service']} {data['env']}` when you're done."))


def subscribe(bus: Bus, notifier: SlackNotifier) -> None:
    bus.subscribe(Event.REQUESTED, SlackTask.CALL, payload=break_glass,
                  key=lambda d: f"{Event.REQUESTED}:break_glass:{d['id']}",
                  when=lambda d: d["break_glass"] is not None)
    for event in DEPLOY_EVENTS:
        bus.subscribe(event, Task.NOTIFY, payload=refresh, when=notifier.claim)
    bus.subscribe(Event.REJECTED, SlackTask.CALL, payload=rejected,
                  key=lambda d: f"{Event.REJECTED}:tell:{d['id']}",
                  when=lambda d: d["actor"] is not None)  # None: the gates refused it
    bus.subscribe(Event.LOCK_TAKEN_OVER, SlackTask.CALL, payload=taken_over)
    bus.subscribe(Event.LOCK_RELEASED, SlackTask.CALL, payload=released,
                  when=lambda d: d["holder"] != d["actor"])  # someone else unlocked it
    bus.subscribe(Event.LOCK_EXPIRED, SlackTask.CALL, payload=lock_expired)
    bus.subscribe(Event.LOCK_REMINDER_DUE, SlackTask.CALL, payload=lock_reminder)
