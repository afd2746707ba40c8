"""The `[deploy]` config section: services, their environments, providers and gates.

Validated at start-up (and by `shipbell check`) so a typo in an approver id or a freeze
window's time zone fails loudly before anyone tries to ship.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import Field, SerializeAsAny, WrapValidator, field_validator, model_validator
from shipbell.bot.deploys.providers import REGISTRY, ProviderConfig
from shipbell.bot.sections import ChannelRef, PrincipalRef, Section, TimeZoneName

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class FreezeWindow(Section):
    """Either a one-off window (start/end) or a weekly one (days + from/to), in `timezone`."""

    name: str
    timezone: TimeZoneName
    start: datetime | None = None
    end: datetime | None = None
    days: list[str] = Field(default_factory=list)
    from_time: time | None = Field(default=None, alias="from")
    to_time: time | None = Field(default=None, alias="to")

    @field_validator("days")
    @classmethod
    def _days(cls, value: list[str]) -> list[str]:
        bad = [d for d in value if d.lower()[:3] not in DAYS]
        if bad:
            raise ValueError(f"unknown day {bad[0]!r}; use mon, tue, wed, thu, fri, sat, sun")
        return [d.lower()[:3] for d in value]

    @model_validator(mode="after")
    def _shape(self) -> FreezeWindow:
        one_off = self.start is not None or self.end is not None
        weekly = bool(self.days) or self.from_time is not None or self.to_time is not None
        if one_off == weekly:
            raise ValueError(
                f"freeze {self.name!r}: give either start and end (one-off) "
                "or days, from and to (weekly)"
            )
        if one_off and (self.start is None or self.end is None or self.end <= self.start):
            raise ValueError(f"freeze {self.name!r}: needs start < end, e.g. 2026-12-24T00:00")
        if weekly and (not self.days or self.from_time is None or self.to_time is None):
            raise ValueError(f"freeze {self.name!r}: weekly windows need days, from and to")
        return self

    def covers(self, at: datetime) -> bool:
        local = at.astimezone(ZoneInfo(self.timezone))
        if self.start is not None and self.end is not None:
            zone = ZoneInfo(self.timezone)
            start = self.start if self.start.tzinfo else self.start.replace(tzinfo=zone)
            end = self.end if self.end.tzinfo else self.end.replace(tzinfo=zone)
            return start <= at < end
        assert self.from_time is not None and self.to_time is not None
        if DAYS[local.weekday()] not in self.days:
            return False
        clock = local.time().replace(tzinfo=None)
        if self.from_time <= self.to_time:
            return self.from_time <= clock < self.to_time
        return clock >= self.from_time or clock < self.to_time  # spans midnight

    def ends_after(self, at: datetime) -> datetime:
        """When the window that covers ``at`` closes (a weekly one: that day's `to`)."""
        zone = ZoneInfo(self.timezone)
        if self.end is not None:
            return self.end if self.end.tzinfo else self.end.replace(tzinfo=zone)
        assert self.from_time is not None and self.to_time is not None
        local = at.astimezone(zone)
        day = local.date()
        if self.from_time > self.to_time and local.time() >= self.from_time:
            day += timedelta(days=1)  # spans midnight: it closes tomorrow morning
        return datetime.combine(day, self.to_time, tzinfo=zone)


class EnvironmentConfig(Section):
    """Who may deploy where, and what it takes."""

    production: bool | None = None  # default: true for an environment named `production`
    deployers: list[PrincipalRef] = Field(default_factory=list)  # users/groups; empty = anyone
    channels: list[ChannelRef] = Field(default_factory=list)  # empty = any channel
    approvals: int = Field(default=0, ge=0, le=5)
    approvers: list[PrincipalRef] = Field(default_factory=list)  # empty = any allowed deployer
    break_glass: list[PrincipalRef] = Field(default_factory=list)  # may skip approvals
    lock_ttl_minutes: int = Field(default=240, ge=1, le=60 * 24 * 14)
    timeout_minutes: int = Field(default=30, ge=1, le=60 * 24)
    freezes: list[FreezeWindow] = Field(default_factory=list)


class ServiceConfig(Section):
    repository: str = ""  # owner/name, shown in messages and sent to providers
    default_ref: str = "main"
    default_env: str | None = None
    provider: str
    environments: dict[str, EnvironmentConfig]

    @model_validator(mode="after")
    def _default_env(self) -> ServiceConfig:
        if not self.environments:
            raise ValueError("a service needs at least one environment")
        for env in self.environments:
            if not NAME.match(env):
                raise ValueError(f"environment name {env!r}: use lowercase letters, digits, -")
        if self.default_env is not None and self.default_env not in self.environments:
            known = ", ".join(self.environments)
            raise ValueError(f"default_env {self.default_env!r} is not one of: {known}")
        return self


# One `[deploy.providers.NAME]` table, validated by the config model its `type` picks in the
# provider registry (WebhookConfig, GithubConfig, CommandConfig, DryRunConfig, or one added
# there); dumped as that model, so a settings dump reloads with every key.
ProviderSetting = Annotated[SerializeAsAny[ProviderConfig], WrapValidator(REGISTRY.validate)]


class DeploySettings(Section):
    """`[deploy]`: services, providers and the defaults every environment shares."""

    services: dict[str, ServiceConfig] = Field(default_factory=dict)
    providers: dict[str, ProviderSetting] = Field(default_factory=dict)
    # Base URL the CI calls back on (…/hooks/deploy); default: [slack] public_url.
    callback_url: str | None = None
    approval_ttl_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # A deploy still queued after this long is stale (its ref has likely moved on): it is
    # dropped and its requester told, rather than shipping hours later when nobody watches.
    queue_ttl_minutes: int = Field(default=120, ge=1, le=7 * 24 * 60)
    lock_remind_hours: float = Field(default=3.0, gt=0)
    sweep_seconds: int = Field(default=30, ge=1, le=3600)
    history_limit: int = Field(default=10, ge=1, le=50)

    @model_validator(mode="after")
    def _references(self) -> DeploySettings:
        for name, service in self.services.items():
            if not NAME.match(name):
                raise ValueError(f"service name {name!r}: use lowercase letters, digits, -")
            if service.provider not in self.providers:
                known = ", ".join(self.providers) or "none configured"
                raise ValueError(
                    f"service {name!r} uses provider {service.provider!r}; known: {known}"
                )
        return self

    def missing_secrets(self, environ: Mapping[str, str]) -> list[tuple[str, str]]:
        """(provider, variable) for each provider whose secret variable ``environ`` lacks."""
        missing = []
        for name, pc in self.providers.items():
            missing += [(name, variable) for variable in pc.secret_variables()
                        if not environ.get(variable)]
        return missing

    def is_production(self, service: str, env: str) -> bool:
        flag = self.services[service].environments[env].production
        return env == "production" if flag is None else flag

    def production_environments(self) -> list[str]:
        """Every environment name some service marks production; ["production"] if none."""
        names = {env for name, service in self.services.items()
                 for env in service.environments if self.is_production(name, env)}
        return sorted(names) or ["production"]
