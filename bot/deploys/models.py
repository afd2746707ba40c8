"""The deploy state machine: states, the transitions allowed between them, and the row type."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from shipbell.bot.clock import from_db


class Task(StrEnum):
    """Task-runner kinds of deploys (stored in ``tasks.kind``); handlers register them."""

    RUN = "deploy.run"
    NOTIFY = "deploy.notify"
    PROVIDER_CANCEL = "deploy.provider_cancel"


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
