"""The incident timeline: every change, once, with who and when (``source_key`` dedupes)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from shipbell.bot.clock import from_db, to_db
from shipbell.bot.storage import Store


class Entry(StrEnum):
    """The kind of a timeline entry (stored as its value)."""

    DECLARED = "declared"
    SEVERITY = "severity"
    STATUS = "status"
    ROLE = "role"
    UPDATE = "update"
    NOTE = "note"
    LINK = "link"
    FOLLOWUP = "followup"
    PIN = "pin"
    REACTION = "reaction"
    RESOLVED = "resolved"
    CLOSED = "closed"


def add(
    store: Store,
    incident_id: int,
    at: datetime,
    kind: str,
    actor: str | None,
    text: str | None,
    *,
    permalink: str | None = None,
    source_key: str | None = None,
) -> bool:
    """Insert an entry; False when ``source_key`` was already captured (a retry, a re-pin)."""
    cursor = store.execute(
        "INSERT INTO incident_timeline"
        " (incident_id, at, kind, actor, text, permalink, source_key)"
        " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (incident_id, to_db(at), kind, actor, text, permalink, source_key),
    )
    return cursor.rowcount == 1


def entries(store: Store, incident_id: int) -> list[dict[str, Any]]:
    """In time order; pinned messages sit at their original time, not when they were pinned."""
    rows = store.all(
        "SELECT at, kind, actor, text, permalink FROM incident_timeline"
        " WHERE incident_id = ? ORDER BY at, id",
        (incident_id,),
    )
    for row in rows:
        row["at"] = from_db(row["at"])
    return rows
