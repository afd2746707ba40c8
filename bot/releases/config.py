"""The `[release]` config section: the release trains and who may change their calendar.

Everything that could fail at fire time (cadence, time zone, holiday country, durations) is
checked here, so `shipbell check` and start-up report it naming the train and the field.
"""

from __future__ import annotations

import importlib
import re
from datetime import UTC, date, datetime, time, timedelta
from types import ModuleType
from typing import Annotated, Literal

from apscheduler.triggers.cron import CronTrigger
from pydantic import AfterValidator, Field, field_validator, model_validator
from shipbell.bot.durations import parse_duration
from shipbell.bot.sections import ChannelRef, PrincipalRef, Section, TimeZoneName, UserRef


def holiday_calendars() -> ModuleType:
    """python-holidays, loaded by the first train that names a country: its tables are ~5 MB
    that an installation without holiday rules should not hold."""
    return importlib.import_module("holidays")

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
TRAIN_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")


def _duration(value: str) -> str:
    parse_duration(value)
    return value


# Kept as typed text (the config echoes back as written); parsed where used.
DurationText = Annotated[str, AfterValidator(_duration)]


class TrainSettings(Section):
    """One release train: when it leaves, what it carries, who drives it."""

    channel: ChannelRef
    services: list[str] = Field(min_length=1)
    environment: str = "production"
    timezone: TimeZoneName | None = None  # default: the top-level `timezone`
    # Cadence: weekday + time [+ every_weeks + start_date], or a cron expression.
    weekday: str | None = None
    time: str | None = None
    every_weeks: int = Field(default=1, ge=1, le=52)
    start_date: date | None = None
    cron: str | None = None
    freeze: DurationText = "24h"
    reminders: list[DurationText] = Field(default_factory=lambda: ["3d", "24h", "2h", "0"])
    captains: list[UserRef] = Field(default_factory=list)
    holidays: str | None = None
    holiday_subdivision: str | None = None
    on_holiday: Literal["next", "previous", "skip"] = "next"
    skip_when_empty: bool = False
    managers: list[PrincipalRef] | None = None

    @field_validator("weekday")
    @classmethod
    def _weekday(cls, value: str | None) -> str | None:
        if value is None:
            return None
        short = value.strip().lower()[:3]
        if short not in WEEKDAYS:
            raise ValueError("must be a weekday such as tue or thursday")
        return short

    @field_validator("time")
    @classmethod
    def _time(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return time.fromisoformat(value.strip()).strftime("%H:%M")
        except ValueError:
            raise ValueError("must be a 24-hour time such as 14:00") from None

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is None:
            return None
        fields = value.split()
        if len(fields) != 5:
            raise ValueError("must have 5 fields (minute hour day month weekday),"
                             " e.g. 0 14 * * tue")
        if any(ch.isdigit() for ch in fields[4]):
            raise ValueError("name the weekday (mon-sun) in the 5th field, e.g. 0 14 * * tue;"
                             " numbers are ambiguous (APScheduler counts from Monday)")
        try:
            trigger = CronTrigger.from_crontab(value, timezone="UTC")
        except ValueError as exc:
            raise ValueError(f"is not a valid cron expression ({exc}); e.g. 0 14 * * tue") from None
        if trigger.get_next_fire_time(None, datetime.now(UTC)) is None:
            raise ValueError("never fires (a date such as 31 February?); e.g. 0 14 * * tue")
        return value

    @field_validator("holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is None:
            return None
        code = value.strip().upper()
        if code not in holiday_calendars().list_supported_countries():
            raise ValueError("is not a supported country code; use ISO 3166 codes such as FR")
        return code

    @model_validator(mode="after")
    def _cadence(self) -> TrainSettings:
        if self.cron and (self.weekday or self.time or self.start_date):
            raise ValueError("set either `cron` or `weekday` + `time`, not both")
        if not self.cron and not (self.weekday and self.time):
            raise ValueError("needs a cadence: `weekday` and `time` (e.g. tue, 14:00)"
                             " or `cron` (e.g. 0 14 * * tue)")
        if not self.cron and self.freeze_lead >= timedelta(weeks=self.every_weeks):
            raise ValueError(f"`freeze` ({self.freeze}) must be shorter than the"
                             f" {self.every_weeks}-week cadence, or the train never opens")
        if self.every_weeks > 1 and self.start_date is None:
            raise ValueError("`every_weeks` above 1 needs a `start_date` to count weeks from")
        if self.holiday_subdivision and self.holidays:
            try:
                holiday_calendars().country_holidays(self.holidays, subdiv=self.holiday_subdivision)
            except NotImplementedError:
                raise ValueError(f"`holiday_subdivision` {self.holiday_subdivision!r} is not"
                                 f" known for {self.holidays}") from None
        return self

    # -- parsed views ---------------------------------------------------------------------
    @property
    def freeze_lead(self) -> timedelta:
        return parse_duration(self.freeze)

    @property
    def reminder_offsets(self) -> list[timedelta]:
        """Distinct reminder offsets, latest first; the release itself is not among them."""
        offsets = {parse_duration(r) for r in self.reminders}
        return sorted(offsets, reverse=True)


class ReleaseSettings(Section):
    """`[release]`: the trains (`[release.trains.<name>]`) and calendar permissions."""

    # Runs missed while Shipbell was down are posted at start-up if at most this late.
    catch_up_grace: DurationText = "1h"
    # Who may skip, freeze or swap captains (users U…, user groups S…); empty means everyone.
    # A train may override it.
    managers: list[PrincipalRef] = Field(default_factory=list)
    trains: dict[str, TrainSettings] = Field(default_factory=dict)

    @field_validator("trains")
    @classmethod
    def _names(cls, value: dict[str, TrainSettings]) -> dict[str, TrainSettings]:
        for name in value:
            if not TRAIN_NAME.match(name):
                raise ValueError(f"train name {name!r} must be lowercase letters, digits, - or _")
        return value

    @property
    def grace(self) -> timedelta:
        return parse_duration(self.catch_up_grace)
