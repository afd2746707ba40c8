"""Follow-ups: tracked with owner and due date; overdue ones are reminded once a day."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shipbell.bot.clock import to_db
from shipbell.bot.incidents import timeline
from shipbell.bot.incidents.models import Incident
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.incidents.timeline import Entry
from shipbell.bot.people import person


def add(
    svc: IncidentService, inc: Incident, text: str, owner: str | None, due: str | None, actor: str
) -> int:
    """Recorded and put on the timeline with its owner and due date."""
    now = svc.clock.now()
    cursor = svc.store.execute(
        "INSERT INTO followups (incident_id, text, owner, due_date, created_at)"
        " VALUES (?, ?, ?, ?, ?) RETURNING id",
        (inc.id, text, owner, due, to_db(now)),
    )
    fid = int(cursor.fetchone()[0])
    owner_text = f" (owner {person(owner)}" + (f", due {due})" if due else ")") if owner else ""
    timeline.add(svc.store, inc.id, now, Entry.FOLLOWUP, actor, f"Follow-up #{fid}: {text}"
                 + owner_text)
    svc.audit(actor, "incident.followup", inc.ref, followup=fid, owner=owner, due=due)
    return fid


def done(svc: IncidentService, inc: Incident, followup_id: int, actor: str) -> bool:
    cursor = svc.store.execute(
        "UPDATE followups SET done_at = ? WHERE id = ? AND incident_id = ? AND done_at IS NULL",
        (to_db(svc.clock.now()), followup_id, inc.id),
    )
    if cursor.rowcount == 1:
        timeline.add(svc.store, inc.id, svc.clock.now(), Entry.FOLLOWUP, actor,
                     f"Follow-up #{followup_id} done")
        svc.audit(actor, "incident.followup.done", inc.ref, followup=followup_id)
    return cursor.rowcount == 1


def of(svc: IncidentService, incident_id: int) -> list[dict[str, Any]]:
    return svc.store.all(
        "SELECT id, text, owner, due_date, done_at FROM followups WHERE incident_id = ?"
        " ORDER BY id",
        (incident_id,),
    )


def overdue(svc: IncidentService, now: datetime) -> list[dict[str, Any]]:
    """Open follow-ups past their due date not yet reminded today; claimed as they are returned."""
    today = now.date().isoformat()
    day_start = to_db(datetime.combine(now.date(), datetime.min.time(), tzinfo=now.tzinfo))
    rows = svc.store.all(
        "SELECT f.id, f.incident_id, f.text, f.owner, f.due_date, f.reminded_at, i.private"
        " FROM followups f JOIN incidents i ON i.id = f.incident_id"
        " WHERE f.done_at IS NULL AND f.due_date < ? AND f.owner IS NOT NULL"
        " AND (f.reminded_at IS NULL OR f.reminded_at < ?) ORDER BY f.id",
        (today, day_start),
    )
    claimed = []
    for row in rows:
        cursor = svc.store.execute(
            "UPDATE followups SET reminded_at = ? WHERE id = ? AND reminded_at IS ?",
            (to_db(now), row["id"], row["reminded_at"]),
        )
        if cursor.rowcount == 1:
            claimed.append(row)
    return claimed
