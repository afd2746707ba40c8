"""Building blocks for config sections, shared by every feature's settings model.

Validated types live here once, so a time zone or a channel id is checked, and its error
phrased, the same way in every section.

Slack references (`ChannelRef`, `UserRef`, `PrincipalRef`) take an id (`C…`, `U…`, `S…`) or
a name as typed in Slack (`#deploys`, `@ana`, `@oncall` for a user group).  Names are turned
into ids once at start-up (and by `shipbell check`) by `bot.slack.directory`, which finds
these fields through their `SlackRef` marker; everything after start-up only sees ids.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict
from shipbell.bot.inputs import CHANNEL_ID, GROUP_ID, PRINCIPAL_ID, USER_ID

CHANNEL_NAME = re.compile(r"^#[^\s#@<>,]{1,80}$")
HANDLE = re.compile(r"^@[^\s#@<>,]{1,80}$")


class ConfigError(Exception):
    """A configuration problem, already phrased for the person running Shipbell."""


class Section(BaseModel):
    """A config section: unknown keys are errors, so typos never pass silently.

    A field spelled differently in the file (``from`` for ``from_time``) is written back under
    the file's spelling and read under either, so settings survive a dump and reload (the
    shell and tests rebuild settings from a dump).
    """

    model_config = ConfigDict(
        extra="forbid", validate_by_alias=True, validate_by_name=True, serialize_by_alias=True
    )


def check_timezone(value: str) -> str:
    """Validate an IANA zone name, with an example of a valid one in the error."""
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "unknown time zone; use an IANA name such as Europe/Paris or UTC"
        ) from None
    return value


class RefKind(StrEnum):
    CHANNEL = "channel"
    USER = "user"
    PRINCIPAL = "principal"  # a user or a user group


@dataclass(frozen=True)
class SlackRef:
    """Marks a config field that names a Slack channel, user or user group."""

    kind: RefKind


def is_name(value: str) -> bool:
    """True for `#channel` / `@name` (to be resolved), false for an id."""
    return value.startswith(("#", "@"))


def check_channel(value: str) -> str:
    if not (CHANNEL_ID.fullmatch(value) or CHANNEL_NAME.match(value)):
        raise ValueError(f"{value!r} is neither a channel id (C… or G…) nor a #name;"
                         " use an id such as C024BE91L or a name such as #deploys")
    return value


def check_user(value: str) -> str:
    if GROUP_ID.fullmatch(value):
        raise ValueError(f"{value!r} is a user group; this takes people: a Slack user id"
                         " such as U024BE7LH or a name such as @ana")
    if not (USER_ID.fullmatch(value) or HANDLE.match(value)):
        raise ValueError(f"{value!r} is neither a Slack user id nor an @name;"
                         " use an id such as U024BE7LH or a name such as @ana")
    return value


def check_principal(value: str) -> str:
    if not (PRINCIPAL_ID.fullmatch(value) or HANDLE.match(value)):
        raise ValueError(f"{value!r} is neither a Slack user id nor a user group id;"
                         " use ids such as U0123ABCD or S0123ABCD, or names such as @ana"
                         " or @oncall (a user group's handle)")
    return value


TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
ChannelRef = Annotated[str, AfterValidator(check_channel), SlackRef(RefKind.CHANNEL)]
UserRef = Annotated[str, AfterValidator(check_user), SlackRef(RefKind.USER)]
PrincipalRef = Annotated[str, AfterValidator(check_principal), SlackRef(RefKind.PRINCIPAL)]
