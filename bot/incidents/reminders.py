"""Update reminders, snoozes and auto-archive: what the sweep decides.

Each reminder slot (incident, due time) is claimed in ``incident_reminders`` before anything
is posted, so a restart, a second process or a duplicate sweep never nudges twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from shipbell.bot.clock import to_db
from shipbell.bot.incidents.models import OPEN_STATUSES, Incident, Status
from shipbell.bot.incidents.service import IncidentService


@dataclass
class Reminder:
    incident: Incident
    slot: str
    missed: int
    escalate: bool


def due(svc: IncidentService, now: datetime) -> list[Incident]:
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    rows = svc.store.all(
        f"SELECT * FROM incidents WHERE next_reminder_at <= ? AND status IN ({marks})"
        " ORDER BY next_reminder_at",
        (to_db(now), *OPEN_STATUSES),
    )
    return [Incident.from_row(r) for r in rows]


def claim(svc: IncidentService, inc: Incident, now: datetime) -> Reminder | None:
    """Claim this incident's current slot; the next nudge is one cadence after this one."""
    if inc.next_reminder_at is None:
        return None
    slot = to_db(inc.next_reminder_at)
    cadence = svc.cadence(inc.severity) or timedelta(minutes=30)
    escalate = inc.missed_updates + 1 >= 2 and bool(svc.settings.escalation_group)
    with svc.store.transaction() as conn:
        cursor = conn.execute(
            "INSERT INTO incident_reminders (incident_id, slot, sent_at, escalated)"
            " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (inc.id, slot, to_db(now), int(escalate)),
        )
        if cursor.rowcount != 1:
            return None
        conn.execute(
            "UPDATE incidents SET missed_updates = missed_updates + 1, next_reminder_at = ?"
            " WHERE id = ? AND next_reminder_at = ?",
            (to_db(now + cadence), inc.id, slot),
        )
    return Reminder(inc, slot, inc.missed_updates + 1, escalate)


def stop(svc: IncidentService, incident_id: int) -> None:
    """No more nudges (the channel is gone); the incident itself stays as it is."""
    svc.store.execute("UPDATE incidents SET next_reminder_at = NULL WHERE id = ?", (incident_id,))


def snooze(
    svc: IncidentService, incident_id: int, slot: str, minutes: int, user: str
) -> datetime | None:
    """Push the next nudge out; one snooze per reminder, so a double click counts once."""
    now = svc.clock.now()
    until = now + timedelta(minutes=minutes)
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    with svc.store.transaction() as conn:
        cursor = conn.execute(
            "UPDATE incident_reminders SET snoozed_by = ? WHERE incident_id = ? AND slot = ?"
            " AND snoozed_by IS NULL",
            (user, incident_id, slot),
        )
        if cursor.rowcount != 1:
            return None
        conn.execute(
            f"UPDATE incidents SET next_reminder_at = ? WHERE id = ? AND status IN ({marks})",
            (to_db(until), incident_id, *OPEN_STATUSES),
        )
    svc.audit(user, "incident.snooze", f"INC-{incident_id}", minutes=minutes, slot=slot)
    return until


def to_archive(svc: IncidentService, now: datetime) -> list[Incident]:
    """Resolved incidents whose quiet period is over (never when archive_after_days is 0)."""
    days = svc.settings.archive_after_days
    if not days:
        return []
    cutoff = to_db(now - timedelta(days=days))
    rows = svc.store.all(
        "SELECT * FROM incidents WHERE status = ? AND resolved_at <= ? ORDER BY id",
        (Status.RESOLVED, cutoff),
    )
    return [Incident.from_row(r) for r in rows]


def without_channel(svc: IncidentService, now: datetime) -> list[Incident]:
    """Open incidents still lacking a channel two minutes after declaration (setup failed)."""
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    rows = svc.store.all(
        f"SELECT * FROM incidents WHERE channel_id IS NULL AND status IN ({marks})"
        " AND declared_at <= ? ORDER BY id",
        (*OPEN_STATUSES, to_db(now - timedelta(minutes=2))),
    )
    return [Incident.from_row(r) for r in rows]

