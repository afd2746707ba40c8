"""The incident as the domain sees it, and the vocabulary commands are checked against."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from shipbell.bot.clock import from_db
from shipbell.bot.inputs import parse_id


class Status(StrEnum):
    """An incident's status; the values are what the database stores."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    CLOSED = "closed"


class Event(StrEnum):
    """What the incident service records (``bot.events``); data: ``id``, ``actor`` and below."""

    DECLARED = "incident.declared"  # severity, title, service, private, test
    SEVERITY_CHANGED = "incident.severity_changed"  # before, after
    STATUS_CHANGED = "incident.status_changed"  # before, after, message, reopened
    RESOLVED = "incident.resolved"  # before, summary, declared_at, mitigated_at, resolved_at
    ROLE_ASSIGNED = "incident.role_assigned"  # role, user, before


OPEN_STATUSES = (Status.INVESTIGATING, Status.IDENTIFIED, Status.MONITORING)
SETTABLE_STATUSES = (*OPEN_STATUSES, Status.RESOLVED)
MITIGATED = (Status.MONITORING, Status.RESOLVED)

# Every allowed move; anything else is refused by the compare-and-set in the service. Open
# statuses move freely among themselves and to resolved; resolved reopens or closes; closed is
# final (its channel is archived).
TRANSITIONS: dict[Status, frozenset[Status]] = {
    **{s: frozenset(SETTABLE_STATUSES) - {s} for s in OPEN_STATUSES},
    Status.RESOLVED: frozenset({*OPEN_STATUSES, Status.CLOSED}),
    Status.CLOSED: frozenset(),
}


def sources_for(target: Status) -> tuple[Status, ...]:
    """The statuses from which ``target`` may be reached (for a compare-and-set)."""
    return tuple(s for s in Status if target in TRANSITIONS[s])


ROLES = ("commander", "comms")
RELATIONS = ("caused", "fixed")
SEV_WORD = re.compile(r"^(?:sev)?([1-4])$", re.IGNORECASE)
REF_WORD = re.compile(r"^INC-?([0-9]+)$", re.IGNORECASE)


def parse_severity(word: str) -> int | None:
    """`sev2`, `SEV2` or `2` → 2; anything else None."""
    match = SEV_WORD.match(word.strip())
    return int(match.group(1)) if match else None


def parse_ref(word: str) -> int | None:
    """`INC-12` or `inc12` → 12 (not `#12`: that is how deploys are named)."""
    match = REF_WORD.match(word.strip())
    return parse_id(match.group(1)) if match else None


def cut_title(text: str, limit: int = 150) -> str:
    """A title that fits a Slack header: cut at a word, marked with an ellipsis."""
    if len(text) <= limit:
        return text
    head = text[: limit - 2]
    if " " in head:
        head = head[: head.rindex(" ")]
    return head.rstrip() + " …"


@dataclass
class Incident:
    id: int
    title: str
    severity: int
    status: Status
    service: str | None
    description: str | None
    private: bool
    test: bool
    reporter: str
    commander: str | None
    comms: str | None
    channel_id: str | None
    channel_name: str | None
    status_message_ts: str | None
    announcement_channel: str | None
    announcement_ts: str | None
    summary: str | None
    declared_at: datetime
    mitigated_at: datetime | None
    resolved_at: datetime | None
    closed_at: datetime | None
    last_update_at: datetime | None
    next_reminder_at: datetime | None
    missed_updates: int
    origin_channel: str | None
    postmortem: str | None
    topic: str | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Incident:
        names = {f.name for f in fields(cls)}
        data = {k: v for k, v in row.items() if k in names}
        for key in ("declared_at", "mitigated_at", "resolved_at", "closed_at",
                    "last_update_at", "next_reminder_at"):
            data[key] = from_db(data.get(key))
        data["status"] = Status(data["status"])
        data["private"] = bool(data.get("private"))
        data["test"] = bool(data.get("test"))
        return cls(**data)

    @property
    def ref(self) -> str:
        return f"INC-{self.id}"

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def lead(self) -> str | None:
        """Who reminders go to: comms if named, else the commander."""
        return self.comms or self.commander
