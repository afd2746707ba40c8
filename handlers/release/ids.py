"""Identifiers for `/release`: the command, its subcommands and message block ids."""

from __future__ import annotations

from enum import StrEnum

COMMAND = "/release"
GROUPS_JOB = "release-groups"  # refreshes manager user groups; not a "release:" train job


class Sub(StrEnum):
    NEXT = "next"
    CALENDAR = "calendar"
    SKIP = "skip"
    UNSKIP = "unskip"
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"
    CAPTAIN = "captain"
    HELP = "help"


class Task(StrEnum):
    """Task-runner kinds this feature registers."""

    ANNOUNCE = "release.announce"


class Block(StrEnum):
    """block_id values, so tests and later updates can find parts of a message."""

    SUMMARY = "release_summary"
    TRAIN = "release_train"
    NEXT = "release_next"
    CALENDAR = "release_calendar"
    CONTEXT = "release_context"


class Kind(StrEnum):
    """Scheduled job kinds (the `job` label of shipbell_scheduled_runs)."""

    REMINDER = "release.reminder"
    FREEZE = "release.freeze"
    DAY = "release.day"
