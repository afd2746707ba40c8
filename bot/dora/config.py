"""The `[digest]` config section: where, when and over what span the DORA digest is posted."""

from __future__ import annotations

import datetime as dt
import re
from typing import Literal
from zoneinfo import ZoneInfo

from pydantic import Field, field_validator
from shipbell.bot.sections import ChannelRef, Section, TimeZoneName

HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


class DigestSettings(Section):
    """No channel means no scheduled post; `/deploy stats` and `shipbell digest` still work."""

    channel: ChannelRef | None = None
    time: str = "09:00"
    timezone: TimeZoneName | None = None  # None: the top-level `timezone`
    period_days: Literal[1, 7, 28] = 7
    # None: every environment [deploy] marks production (filled in by the root settings).
    environments: list[str] | None = None
    quiet: bool = False
    min_samples: int = Field(default=3, ge=1, le=100)
    chart_weeks: int = Field(default=8, ge=2, le=26)
    max_services: int = Field(default=15, ge=1, le=40)
    catch_up_hours: float = Field(default=6.0, ge=0, le=23)

    @field_validator("time")
    @classmethod
    def _time(cls, value: str) -> str:
        if not HH_MM.match(value):
            raise ValueError("use 24-hour HH:MM, e.g. 09:00")
        return value

    @field_validator("environments")
    @classmethod
    def _envs(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and (not value or any(not e.strip() for e in value)):
            raise ValueError('name at least one environment, e.g. ["production"]')
        return value

    @property
    def post_time(self) -> dt.time:  # `time` is a field of this model, so the module's name
        hour, minute = self.time.split(":")
        return dt.time(int(hour), int(minute))

    def zone(self, default: str) -> ZoneInfo:
        """The digest's own zone, else the bot-wide one."""
        return ZoneInfo(self.timezone or default)
