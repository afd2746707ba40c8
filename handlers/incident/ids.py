"""Action, callback and block ids of the incident feature: defined once, used everywhere."""

from __future__ import annotations

from enum import StrEnum


class Action(StrEnum):
    JOIN = "incident.join"
    CAUSED = "incident.suspect.caused"
    ROLLBACK = "incident.suspect.rollback"
    SNOOZE = "incident.snooze"  # suffixed with the option index: one action_id per button
    FOLLOWUP_DONE = "incident.followup.done"


class Task(StrEnum):
    """Task-runner kinds this feature registers (stored in ``tasks.kind``)."""

    SETUP = "incident.setup"
    REFRESH = "incident.refresh"
    BROADCAST = "incident.broadcast"
    INVITE = "incident.invite"
    POSTMORTEM = "incident.postmortem"
    ARCHIVE = "incident.archive"
    ROLLBACK = "incident.rollback"
    REMIND = "incident.remind"
    FOLLOWUP_REMIND = "incident.followup_remind"
    CAPTURE = "incident.capture"
    MODAL = "incident.modal"


class Callback(StrEnum):
    DECLARE = "incident.declare"


class Block(StrEnum):
    TITLE = "incident_title"
    SEVERITY = "incident_severity"
    SERVICE = "incident_service"
    DESCRIPTION = "incident_description"
    PRIVATE = "incident_private"
    STATUS = "incident_status"
    SUSPECTS = "incident_suspects"
    REMINDER = "incident_reminder"
    ANNOUNCE = "incident_announce"
    FOLLOWUP = "incident_followup"


class Field(StrEnum):
    """action_ids of the modal's inputs (state.values[block][field])."""

    TITLE = "title"
    SEVERITY = "severity"
    SERVICE = "service"
    DESCRIPTION = "description"
    PRIVATE = "private"


PRIVATE_VALUE = "private"


def snooze_action(index: int) -> str:
    return f"{Action.SNOOZE}.{index}"
