"""Incident state changes: each one is stored (with who and when) before anyone announces it.

Every write is a compare-and-set or an insert on a unique key, so a double click, a retried
request or a duplicate submit changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shipbell.bot.clock import Clock, to_db
from shipbell.bot.events import Publish, no_events
from shipbell.bot.incidents import queries, timeline
from shipbell.bot.incidents.config import IncidentSettings
from shipbell.bot.incidents.models import (
    MITIGATED,
    OPEN_STATUSES,
    TRANSITIONS,
    Event,
    Incident,
    Status,
    sources_for,
)
from shipbell.bot.incidents.timeline import Entry
from shipbell.bot.people import person
from shipbell.bot.storage import Store

Audit = Callable[..., None]


@dataclass
class Declared:
    incident: Incident
    created: bool


class IncidentService:
    def __init__(
        self, store: Store, clock: Clock, settings: IncidentSettings, audit: Audit,
        publish: Publish = no_events,
    ) -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.audit = audit
        self.publish = publish  # records an Event in the open transaction (bot/events.py)

    # -- reading ----------------------------------------------------------------------------
    def get(self, incident_id: int) -> Incident | None:
        row = self.store.one("SELECT * FROM incidents WHERE id = ?", (incident_id,))
        return Incident.from_row(row) if row else None

    def by_channel(self, channel_id: str) -> Incident | None:
        row = self.store.one("SELECT * FROM incidents WHERE channel_id = ?", (channel_id,))
        return Incident.from_row(row) if row else None

    def open_incidents(self) -> list[Incident]:
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        rows = self.store.all(
            f"SELECT * FROM incidents WHERE status IN ({marks}) ORDER BY severity, id",
            OPEN_STATUSES,
        )
        return [Incident.from_row(r) for r in rows]

    def open_on_service(self, service: str, *, max_severity: int = 2) -> list[dict[str, Any]]:
        """Open incidents on ``service`` at SEV ``max_severity`` or worse, worst first (what
        the deploy gates ask)."""
        return queries.open_incidents_on_service(self.store, service, max_severity=max_severity)

    def recent_twin(self, reporter: str, title: str, key: str) -> Incident | None:
        """The same person's open incident with the same title from the last two minutes: a
        command sent again because Slack looked slow, not a second incident."""
        since = to_db(self.clock.now() - timedelta(minutes=2))
        marks = ", ".join("?" for _ in OPEN_STATUSES)
        row = self.store.one(
            f"SELECT * FROM incidents WHERE reporter = ? AND lower(title) = lower(?)"
            f" AND declared_at >= ? AND idempotency_key != ? AND status IN ({marks})"
            f" ORDER BY id DESC LIMIT 1",
            (reporter, title, since, key, *OPEN_STATUSES),
        )
        return Incident.from_row(row) if row else None

    def cadence(self, severity: int) -> timedelta | None:
        minutes = self.settings.update_minutes.minutes(severity)
        return timedelta(minutes=minutes) if minutes else None

    # -- declaring --------------------------------------------------------------------------
    def declare(
        self,
        *,
        title: str,
        severity: int,
        reporter: str,
        key: str,
        service: str | None = None,
        description: str | None = None,
        private: bool = False,
        test: bool = False,
        origin_channel: str | None = None,
    ) -> Declared:
        """Record INC-n once per ``key`` (trigger or view id); the reporter leads at first."""
        now = self.clock.now()
        cadence = self.cadence(severity)
        with self.store.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO incidents (title, severity, status, service, description,"
                " private, test, reporter, commander, idempotency_key, declared_at,"
                " last_update_at, next_reminder_at, origin_channel, announcement_channel)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (title, severity, Status.INVESTIGATING, service, description, int(private),
                 int(test), reporter, reporter, key,
                 to_db(now), to_db(now), to_db(now + cadence) if cadence else None,
                 origin_channel,
                 None if private or test else self.settings.announcements_channel),
            )
            created = cursor.rowcount == 1
            row = conn.execute(
                "SELECT id FROM incidents WHERE idempotency_key = ?", (key,)
            ).fetchone()
            incident_id = int(row[0])
            if created:
                timeline.add(self.store, incident_id, now, Entry.DECLARED, reporter,
                             f"Declared SEV{severity}: {title}")
                self.publish(Event.DECLARED, {
                    "id": incident_id, "actor": reporter, "severity": severity, "title": title,
                    "service": service, "private": private, "test": test})
        if created:
            self.audit(reporter, "incident.declare", f"INC-{incident_id}",
                       channel=origin_channel, severity=severity, service=service,
                       private=private, test=test)
        incident = self.get(incident_id)
        assert incident is not None
        return Declared(incident, created)

    def intend_channel(self, incident_id: int, name: str) -> None:
        """The name about to be asked of Slack, kept so a crashed set-up can find its channel."""
        self.store.execute(
            "UPDATE incidents SET channel_name = ? WHERE id = ? AND channel_id IS NULL",
            (name, incident_id),
        )

    def set_channel(self, incident_id: int, channel_id: str, name: str) -> bool:
        cursor = self.store.execute(
            "UPDATE incidents SET channel_id = ?, channel_name = ? WHERE id = ?"
            " AND channel_id IS NULL",
            (channel_id, name, incident_id),
        )
        return cursor.rowcount == 1

    def swap_message(
        self, incident_id: int, column: str, old: str | None, new: str | None
    ) -> bool:
        """Compare-and-set the status message or announcement ts: a retried set-up reuses the
        one posted, and of two callers replacing a deleted one only the first posts."""
        assert column in ("status_message_ts", "announcement_ts")
        cursor = self.store.execute(
            f"UPDATE incidents SET {column} = ? WHERE id = ? AND {column} IS ?",
            (new, incident_id, old),
        )
        return cursor.rowcount == 1

    def set_topic(self, incident_id: int, topic: str, *, replacing: str | None) -> bool:
        """The topic last set, so an update that leaves it unchanged posts no topic notice.

        Compare-and-set over the topic read before setting it: a writer that raced another
        (another process) records nothing over the other's newer topic."""
        cursor = self.store.execute(
            "UPDATE incidents SET topic = ? WHERE id = ? AND topic IS ?",
            (topic, incident_id, replacing),
        )
        return cursor.rowcount == 1

    # -- running ----------------------------------------------------------------------------
    def set_severity(self, inc: Incident, severity: int, actor: str) -> bool:
        now = self.clock.now()
        cadence = self.cadence(severity)
        base = inc.last_update_at or inc.declared_at
        due = to_db(base + cadence) if cadence and inc.is_open else None
        with self.store.transaction():
            cursor = self.store.execute(
                "UPDATE incidents SET severity = ?, next_reminder_at = ? WHERE id = ?"
                " AND severity = ?",
                (severity, due, inc.id, inc.severity),
            )
            if cursor.rowcount != 1:
                return False
            timeline.add(self.store, inc.id, now, Entry.SEVERITY, actor,
                         f"Severity SEV{inc.severity} → SEV{severity}")
            self.publish(Event.SEVERITY_CHANGED, {
                "id": inc.id, "actor": actor, "before": inc.severity, "after": severity})
        self.audit(actor, "incident.severity", inc.ref, before=inc.severity, after=severity)
        return True

    def assign(self, inc: Incident, role: str, user: str, actor: str) -> bool:
        assert role in ("commander", "comms")
        before = getattr(inc, role)
        if before == user:
            return False
        label = "Commander" if role == "commander" else "Comms"
        with self.store.transaction():
            self.store.execute(f"UPDATE incidents SET {role} = ? WHERE id = ?", (user, inc.id))
            was = f" (was {person(before)})" if before else ""
            timeline.add(self.store, inc.id, self.clock.now(), Entry.ROLE, actor,
                         f"{label}: {person(user)}{was}")
            self.publish(Event.ROLE_ASSIGNED, {
                "id": inc.id, "actor": actor, "role": role, "user": user, "before": before})
        self.audit(actor, f"incident.assign.{role}", inc.ref, user=user, before=before)
        return True

    def change_status(
        self, inc: Incident, status: Status, actor: str, message: str | None
    ) -> bool:
        """A status change is also a status update (it resets the reminder clock). From
        resolved it reopens: the resolution (and the mitigation, unless the new status is
        itself mitigated) is undone, so durations end at the real resolution. Closed is final."""
        if status not in TRANSITIONS[inc.status]:
            return False
        now, reopen = self.clock.now(), inc.status == Status.RESOLVED
        if reopen:
            sets = "resolved_at = NULL, summary = NULL, mitigated_at = CASE WHEN ? = 1 THEN" \
                   " mitigated_at END"
            params: tuple[Any, ...] = (status in MITIGATED,)
        else:
            sets = "mitigated_at = CASE WHEN ? = 1 AND mitigated_at IS NULL THEN ? ELSE" \
                   " mitigated_at END"
            params = (status in MITIGATED, to_db(now))
        with self.store.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE incidents SET status = ?, {sets} WHERE id = ? AND status = ?",
                (status, *params, inc.id, inc.status),
            )
            if cursor.rowcount != 1:
                return False
            text = ("Reopened: resolved" if reopen else f"Status {inc.status}") + f" → {status}"
            text += f": {message}" if message else ""
            timeline.add(self.store, inc.id, now, Entry.STATUS, actor, text)
            self._record_update(inc, status, message or text, actor, now)
            self.publish(Event.STATUS_CHANGED, {
                "id": inc.id, "actor": actor, "before": inc.status, "after": status,
                "message": message, "reopened": reopen})
        self.audit(actor, "incident.reopen" if reopen else "incident.status", inc.ref,
                   before=inc.status, after=status)
        return True

    def post_update(self, inc: Incident, text: str, actor: str) -> None:
        now = self.clock.now()
        with self.store.transaction():
            timeline.add(self.store, inc.id, now, Entry.UPDATE, actor, text)
            self._record_update(inc, inc.status, text, actor, now)
        self.audit(actor, "incident.update", inc.ref)

    def _record_update(
        self, inc: Incident, status: Status, text: str, actor: str, now: datetime
    ) -> None:
        """Store whether the update went out on time, then restart the reminder clock."""
        cadence = self.cadence(inc.severity)
        due = (inc.last_update_at or inc.declared_at) + cadence if cadence else None
        on_time = None if due is None else int(now <= due)
        self.store.execute(
            "INSERT INTO incident_updates (incident_id, at, actor, status, text, due_at, on_time)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (inc.id, to_db(now), actor, status, text, to_db(due) if due else None, on_time),
        )
        still_open = status in OPEN_STATUSES
        self.store.execute(
            "UPDATE incidents SET last_update_at = ?, missed_updates = 0, next_reminder_at = ?"
            " WHERE id = ?",
            (to_db(now), to_db(now + cadence) if cadence and still_open else None, inc.id),
        )

    def note(self, inc: Incident, text: str, actor: str) -> None:
        timeline.add(self.store, inc.id, self.clock.now(), Entry.NOTE, actor, text)
        self.audit(actor, "incident.note", inc.ref)

    def link_deploy(self, inc: Incident, deploy_id: int, relation: str, actor: str) -> str:
        """'linked', 'duplicate' or 'missing' (no such deploy)."""
        deploy = self.store.one(
            "SELECT id, service, env, version, ref FROM deploys WHERE id = ?", (deploy_id,)
        )
        if deploy is None:
            return "missing"
        now = self.clock.now()
        cursor = self.store.execute(
            "INSERT INTO incident_deploys (incident_id, deploy_id, relation, actor,"
            " linked_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (inc.id, deploy_id, relation, actor, to_db(now)),
        )
        if cursor.rowcount != 1:
            return "duplicate"
        what = f"deploy #{deploy_id} ({deploy['service']} {deploy['version'] or deploy['ref']}"
        what += f" to {deploy['env']})"
        timeline.add(self.store, inc.id, now, Entry.LINK, actor,
                     f"{'Caused by' if relation == 'caused' else 'Fixed by'} {what}")
        self.audit(actor, f"incident.link.{relation}", inc.ref, deploy_id=deploy_id)
        return "linked"

    # -- ending -----------------------------------------------------------------------------
    def resolve(self, inc: Incident, summary: str, actor: str) -> bool:
        """Record resolution and durations; the reminder clock stops (next_reminder_at NULL)."""
        if Status.RESOLVED not in TRANSITIONS[inc.status]:
            return False
        now = self.clock.now()
        with self.store.transaction():
            cursor = self.store.execute(
                "UPDATE incidents SET status = ?, resolved_at = ?, summary = ?,"
                " mitigated_at = COALESCE(mitigated_at, ?) WHERE id = ? AND status = ?",
                (Status.RESOLVED, to_db(now), summary, to_db(now), inc.id, inc.status),
            )
            if cursor.rowcount != 1:
                return False
            timeline.add(self.store, inc.id, now, Entry.RESOLVED, actor, f"Resolved: {summary}")
            self._record_update(inc, Status.RESOLVED, summary, actor, now)
            done = self.store.one("SELECT mitigated_at FROM incidents WHERE id = ?", (inc.id,))
            self.publish(Event.RESOLVED, {
                "id": inc.id, "actor": actor, "before": inc.status, "summary": summary,
                "declared_at": to_db(inc.declared_at), "resolved_at": to_db(now),
                "mitigated_at": done["mitigated_at"] if done else None})
        self.audit(actor, "incident.resolve", inc.ref)
        return True

    def close(self, inc: Incident, actor: str) -> bool:
        now, sources = self.clock.now(), sources_for(Status.CLOSED)
        cursor = self.store.execute(
            "UPDATE incidents SET status = ?, closed_at = ?, next_reminder_at = NULL"
            f" WHERE id = ? AND status IN ({', '.join('?' for _ in sources)})",
            (Status.CLOSED, to_db(now), inc.id, *sources),
        )
        if cursor.rowcount != 1:
            return False
        timeline.add(self.store, inc.id, now, Entry.CLOSED, actor, "Closed; channel archived")
        self.audit(actor, "incident.close", inc.ref)
        return True

    def save_postmortem(self, incident_id: int, markdown: str) -> None:
        self.store.execute(
            "UPDATE incidents SET postmortem = ? WHERE id = ?", (markdown, incident_id)
        )
