"""The deploy state machine: states, the transitions allowed between them, and the row type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shipbell.bot.clock import from_db, to_db


class Task(StrEnum):
    """Task-runner kinds of deploys (stored in ``tasks.kind``); handlers register them."""

    RUN = "deploy.run"
    NOTIFY = "deploy.notify"
    PROVIDER_CANCEL = "deploy.provider_cancel"


class Event(StrEnum):
    """What the deploy domain records (``bot/events.py``), in the transaction of the change.

    Data holds ids and values, never chat markup: people are ids, times as stored. An event
    about one deploy (``DEPLOY_EVENTS``) carries ``id``, ``actor`` (a person; ``ci:<provider>``
    for a CI's callback; None when Shipbell or a polled provider moved it), ``service``,
    ``env``, ``ref``, ``requester``, ``rollback`` (bool), ``incident`` (id or None), and what
    its line names. A lock event carries ``service``, ``env``, ``actor``, ``holder`` (whose
    lock it is or was) and ``reason``.
    """

    # state: awaiting_approval or queued (STARTED follows in the same transaction when it
    # starts at once); channel; break_glass: its reason when gates were skipped; skipped
    REQUESTED = "deploy.requested"
    APPROVED = "deploy.approved"  # approvals: so far; needed
    REJECTED = "deploy.rejected"  # reason; actor None: the gates refused it at approval time
    QUEUED = "deploy.queued"  # approved in full, it waits for its slot
    STARTED = "deploy.started"  # provider: its job is sent next
    RUNNING = "deploy.running"  # the provider says the job runs
    PROGRESSED = "deploy.progressed"  # note (a remark for its thread) or log_url (found late)
    # The ends (``ENDED``): version, sha, error, started_at, finished_at, corrected (it was
    # recorded cancelled or timed out, but its job had ended on its own first)
    SUCCEEDED = "deploy.succeeded"
    FAILED = "deploy.failed"
    TIMED_OUT = "deploy.timed_out"
    CANCELLED = "deploy.cancelled"  # by a person (actor), or by the provider
    EXPIRED = "deploy.expired"  # not approved or started in time, so cancelled; error
    LOCK_TAKEN_OVER = "deploy.lock_taken_over"  # actor now holds what was holder's
    LOCK_RELEASED = "deploy.lock_released"  # by actor, the holder or someone else; kind
    LOCK_EXPIRED = "deploy.lock_expired"  # its time ran out
    LOCK_REMINDER_DUE = "deploy.lock_reminder_due"  # held since locked_at, as of at


class ReportState(StrEnum):
    """What a provider (or a CI calling back) says a job is doing: ``Report.state``."""

    WAITING = "waiting"  # sent, not started: queued, or held for an approval
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


class State(StrEnum):
    REQUESTED = "requested"
    AWAITING_APPROVAL = "awaiting_approval"
    QUEUED = "queued"
    TRIGGERED = "triggered"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TIMED_OUT = "timed_out"
    REJECTED = "rejected"

    @property
    def final(self) -> bool:
        return self in FINAL

    @property
    def label(self) -> str:
        return LABELS[self]


FINAL = frozenset(
    {State.SUCCEEDED, State.FAILED, State.CANCELLED, State.TIMED_OUT, State.REJECTED}
)
ACTIVE = (State.TRIGGERED, State.RUNNING)  # holds the service+env slot
ENDED = {  # the event a deploy's end by its job (or the deadline) records, by end state
    State.SUCCEEDED: Event.SUCCEEDED, State.FAILED: Event.FAILED,
    State.TIMED_OUT: Event.TIMED_OUT, State.CANCELLED: Event.CANCELLED,
}
LOCK_EVENTS = (Event.LOCK_TAKEN_OVER, Event.LOCK_RELEASED, Event.LOCK_EXPIRED,
               Event.LOCK_REMINDER_DUE)
DEPLOY_EVENTS = tuple(e for e in Event if e not in LOCK_EVENTS)  # each about one deploy: id
WAITING = (State.REQUESTED, State.AWAITING_APPROVAL, State.QUEUED)
LABELS = {
    State.REQUESTED: "requested",
    State.AWAITING_APPROVAL: "awaiting approval",
    State.QUEUED: "queued",
    State.TRIGGERED: "triggered",
    State.RUNNING: "running",
    State.SUCCEEDED: "succeeded",
    State.FAILED: "failed",
    State.CANCELLED: "cancelled",
    State.TIMED_OUT: "timed out",
    State.REJECTED: "rejected",
}
EMOJI = {
    State.REQUESTED: ":hourglass_flowing_sand:",
    State.AWAITING_APPROVAL: ":raised_hand:",
    State.QUEUED: ":hourglass_flowing_sand:",
    State.TRIGGERED: ":rocket:",
    State.RUNNING: ":rocket:",
    State.SUCCEEDED: ":white_check_mark:",
    State.FAILED: ":x:",
    State.CANCELLED: ":no_entry_sign:",
    State.TIMED_OUT: ":alarm_clock:",
    State.REJECTED: ":no_entry:",
}

# Every allowed move; anything else is refused by the compare-and-set in the repository.
TRANSITIONS: dict[State, frozenset[State]] = {
    State.REQUESTED: frozenset({State.AWAITING_APPROVAL, State.QUEUED, State.CANCELLED,
                                State.REJECTED}),
    State.AWAITING_APPROVAL: frozenset({State.QUEUED, State.REJECTED, State.CANCELLED}),
    State.QUEUED: frozenset({State.TRIGGERED, State.CANCELLED, State.REJECTED}),
    State.TRIGGERED: frozenset({State.RUNNING, State.SUCCEEDED, State.FAILED, State.CANCELLED,
                                State.TIMED_OUT}),
    State.RUNNING: frozenset({State.SUCCEEDED, State.FAILED, State.CANCELLED, State.TIMED_OUT}),
}


def stamp(row: dict[str, Any], column: str) -> datetime:
    """A NOT NULL time column, parsed (the schema guarantees it is there)."""
    when = from_db(row[column])
    assert when is not None, column
    return when


def sources_for(target: State) -> list[State]:
    """The states a deploy may move to ``target`` from."""
    return [src for src, targets in TRANSITIONS.items() if target in targets]


@dataclass(frozen=True)
class Deploy:
    id: int
    service: str
    env: str
    ref: str
    version: str | None
    state: State
    requester: str
    channel: str | None
    reason: str | None
    provider: str | None
    provider_ref: str | None
    log_url: str | None
    error: str | None
    is_rollback: bool
    is_hotfix: bool
    rollback_of: int | None
    break_glass: str | None
    incident_id: int | None
    message_channel: str | None
    message_ts: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    approvals_needed: int
    expires_at: datetime | None
    deadline_at: datetime | None
    sha: str | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Deploy:
        return cls(
            id=row["id"], service=row["service"], env=row["env"], ref=row["ref"],
            version=row["version"], state=State(row["state"]), requester=row["requester"],
            channel=row["channel"], reason=row["reason"], provider=row["provider"],
            provider_ref=row["provider_ref"], log_url=row["log_url"], error=row["error"],
            is_rollback=bool(row["is_rollback"]), is_hotfix=bool(row["is_hotfix"]),
            rollback_of=row["rollback_of"], break_glass=row["break_glass"],
            incident_id=row["incident_id"], message_channel=row["message_channel"],
            message_ts=row["message_ts"], requested_at=stamp(row, "requested_at"),
            started_at=from_db(row["started_at"]), finished_at=from_db(row["finished_at"]),
            approvals_needed=row["approvals_needed"], expires_at=from_db(row["expires_at"]),
            deadline_at=from_db(row["deadline_at"]), sha=row["sha"],
        )

    @property
    def target(self) -> str:
        return f"{self.service}/{self.env}"

    def event_data(self, actor: str | None, **more: Any) -> dict[str, Any]:
        """The data of an ``Event`` about this deploy: what every one carries, and ``more``."""
        return event_data(self.id, actor, self.service, self.env, self.ref, self.requester,
                          self.is_rollback, self.incident_id, **more)

    def end_data(self, actor: str | None, finished_at: datetime, error: str | None, *,
                 corrected: bool = False) -> dict[str, Any]:
        """The data of the event a deploy's end records (``ENDED``, ``Event.CANCELLED``)."""
        started = to_db(self.started_at) if self.started_at else None
        return self.event_data(actor, version=self.version, sha=self.sha, error=error,
                               started_at=started, finished_at=to_db(finished_at),
                               corrected=corrected)


def event_data(deploy_id: int, actor: str | None, service: str, env: str, ref: str,
               requester: str, rollback: bool, incident: int | None,
               **more: Any) -> dict[str, Any]:
    """What every ``Event`` about one deploy carries (``Deploy.event_data`` for a loaded one)."""
    return {"id": deploy_id, "actor": actor, "service": service, "env": env, "ref": ref,
            "requester": requester, "rollback": rollback, "incident": incident, **more}
