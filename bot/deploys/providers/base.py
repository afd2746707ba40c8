"""The provider plug-in interface: what every provider does, and what some can also do.

Providers translate a deploy into a job somewhere else (a CI webhook, GitHub Actions, a
local command) and report back in one shape, so the state machine never knows which.
Every provider triggers (`Provider`); the rest are optional capabilities, each a small
runtime-checkable Protocol the runner and the callback endpoint test with ``isinstance``:
`Polls` (the runner asks for status; otherwise the CI calls back), `Cancels`,
`ListsChanges` (commits shipped, for lead time), `VerifiesCallbacks` (signed callbacks on
`POST /hooks/deploy`). Nothing outside a provider's own file asks which type it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import Field
from shipbell.bot.clock import Clock
from shipbell.bot.deploys.models import Deploy, ReportState
from shipbell.bot.http import Http
from shipbell.bot.sections import Section


class ProviderError(Exception):
    """A trigger/status failure; ``retryable`` says whether trying again is safe."""

    def __init__(self, message: str, *, retryable: bool, wait: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.wait = wait  # set when the provider said how long to back off (rate limits)


class ProviderConfig(Section):
    """One `[deploy.providers.NAME]` table: the keys every type shares. Each provider type
    subclasses it with its own keys (unknown keys are errors, as everywhere in the config);
    `type` picks the subclass through the registry. Secrets are named by environment
    variable, never written here."""

    type: str
    # attempts for a trigger that failed in a way that is safe to repeat
    retries: int = Field(default=3, ge=1, le=10)

    # True for a provider that deploys nothing (the shell keeps it instead of standing in)
    simulated: ClassVar[bool] = False

    def secret_variables(self) -> list[str]:
        """Environment variables this provider reads its secrets from (warned about if unset)."""
        return []

    def where(self) -> str:
        """Where its jobs go, for the shell's banner ("" when nothing short says it)."""
        return ""

    def require(self, *names: str) -> None:
        """Refuse the table when keys this type needs are empty, naming them."""
        missing = [name for name in names if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.type} provider needs {' and '.join(missing)}")


class ServiceInfo(Protocol):
    """What a provider may read of a `[deploy.services.NAME]` table."""

    @property
    def repository(self) -> str: ...

    @property
    def default_ref(self) -> str: ...


@dataclass(frozen=True)
class ProviderContext:
    """What the registry hands every provider it builds."""

    clock: Clock
    http: Http  # the process's one client session (bot.http); use it via providers.http.call
    services: Mapping[str, ServiceInfo]


@dataclass(frozen=True)
class Job:
    deploy_id: int
    service: str
    env: str
    ref: str
    requester: str
    repository: str
    callback_url: str
    is_rollback: bool
    reason: str | None
    # What the environment ran before (the last successful deploy): a CI needs it to list
    # the commits this deploy ships (`git log previous_sha..HEAD`) with their times.
    previous_sha: str | None = None
    previous_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "deploy_id": self.deploy_id, "service": self.service, "environment": self.env,
            "ref": self.ref, "requester": self.requester, "repository": self.repository,
            "callback_url": self.callback_url, "is_rollback": self.is_rollback,
            "reason": self.reason, "previous_sha": self.previous_sha,
            "previous_version": self.previous_version,
        }


@dataclass(frozen=True)
class Triggered:
    provider_ref: str
    log_url: str | None = None


@dataclass
class Report:
    """What a provider says about a deploy: ``state`` is running/succeeded/failed/cancelled,
    or waiting (sent, not started: queued, or held for an approval; ``note`` says which)."""

    state: ReportState
    log_url: str | None = None
    version: str | None = None
    sha: str | None = None
    error: str | None = None
    output: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    provider_ref: str | None = None  # set when the provider only now learned its job's id


@runtime_checkable
class Provider(Protocol):
    """Every provider. The class also names its config model (``Config``); the registry
    builds it as ``cls(name, config, context)``."""

    name: str
    retries: int  # attempts for a trigger that failed retryably

    async def trigger(self, job: Job) -> Triggered: ...


@runtime_checkable
class Polls(Protocol):
    """The runner asks for status every ``poll_seconds`` (without it: the CI calls back)."""

    poll_seconds: float

    async def status(self, deploy: Deploy) -> Report: ...


@runtime_checkable
class Cancels(Protocol):
    async def cancel(self, deploy: Deploy) -> Report | None:
        """None once asked; a final Report when the job had already ended on its own."""
        ...


@runtime_checkable
class ListsChanges(Protocol):
    async def changes(self, deploy: Deploy, since_sha: str, sha: str) -> list[dict[str, Any]]:
        """The commits between two deploys, with when each landed (for lead time)."""
        ...


@runtime_checkable
class VerifiesCallbacks(Protocol):
    def verifies(self, stamp: str, raw: bytes, signature: str, now: float) -> bool:
        """True when this provider signed the callback body ``raw`` (checked on the bytes)."""
        ...
