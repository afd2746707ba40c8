"""The `[incident]` config section: channels, people to pull in, cadences and housekeeping."""

from __future__ import annotations

from pydantic import Field, field_validator
from shipbell.bot.sections import ChannelRef, PrincipalRef, Section

TEMPLATE_FIELDS = {"id": 42, "slug": "db-latency", "sev": 2, "service": "api", "date": "20261102"}


class ServiceLinks(Section):
    """What responders open first for a service: bookmarked in the incident channel."""

    runbook: str | None = None
    dashboard: str | None = None


class Cadence(Section):
    """Minutes without a status update before Shipbell nudges, per severity (0 = never)."""

    sev1: int = Field(default=30, ge=0)
    sev2: int = Field(default=60, ge=0)
    sev3: int = Field(default=240, ge=0)
    sev4: int = Field(default=0, ge=0)

    def minutes(self, severity: int) -> int:
        return int(getattr(self, f"sev{severity}", 0))


class IncidentSettings(Section):
    announcements_channel: ChannelRef | None = None
    channel_template: str = "inc-{id}-{slug}"
    responders: list[PrincipalRef] = Field(default_factory=list)
    escalation_group: PrincipalRef | None = None
    update_minutes: Cadence = Cadence()
    snooze_minutes: list[int] = Field(default_factory=lambda: [30, 60, 120])
    services: dict[str, ServiceLinks] = Field(default_factory=dict)
    # None: what [deploy] marks production (filled in by the root settings).
    production_environments: list[str] | None = None
    suspect_deploy_hours: int = Field(default=24, ge=1)
    suspect_deploy_limit: int = Field(default=3, ge=1, le=5)
    default_severity: int = Field(default=3, ge=1, le=4)
    postmortem_dir: str | None = None
    postmortem_template: str | None = None
    archive_after_days: int = Field(default=7, ge=0)
    sweep_minutes: int = Field(default=1, ge=1, le=60)

    @field_validator("channel_template")
    @classmethod
    def _template(cls, value: str) -> str:
        try:
            value.format(**TEMPLATE_FIELDS)
        except (KeyError, IndexError, ValueError):
            raise ValueError(
                "use only the fields {id}, {slug}, {sev}, {service}, {date},"
                " e.g. inc-{id}-{slug}"
            ) from None
        if "{id}" not in value:
            raise ValueError("must contain {id} so every incident gets its own channel")
        if len(value.format(**{**TEMPLATE_FIELDS, "id": 99999, "slug": ""})) > 60:
            raise ValueError("keep it under 60 characters without the title, so {id} and some"
                             " of the title fit Slack's 80, e.g. inc-{id}-{slug}")
        return value

    @field_validator("snooze_minutes")
    @classmethod
    def _snoozes(cls, value: list[int]) -> list[int]:
        if not 1 <= len(value) <= 5 or any(m <= 0 for m in value):
            raise ValueError("give one to five positive minute counts, e.g. [30, 60, 120]")
        return value
