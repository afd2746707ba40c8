"""Building blocks for config sections, shared by every feature's settings model.

Validated types live here once, so a time zone or a channel id is checked, and its error
phrased, the same way in every section.
"""

from __future__ import annotations

import re
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict

CHANNEL_ID = re.compile(r"^[CG][A-Z0-9_]+$")


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


def check_channel_id(value: str) -> str:
    if not CHANNEL_ID.match(value):
        raise ValueError("not a channel id; use an id such as C0123ABCD (names change, ids don't)")
    return value


TimeZoneName = Annotated[str, AfterValidator(check_timezone)]
ChannelId = Annotated[str, AfterValidator(check_channel_id)]
