"""The provider plug-in interface: trigger, status, cancel.

Providers translate a deploy into a job somewhere else (a CI webhook, GitHub Actions, a
local command) and report back in one shape, so the state machine never knows which.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.deploys.models import Deploy


class ProviderError(Exception):
    """A trigger/status failure; ``retryable`` says whether trying again is safe."""

    def __init__(self, message: str, *, retryable: bool, wait: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.wait = wait  # set when the provider said how long to back off (rate limits)


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

    state: str
    log_url: str | None = None
    version: str | None = None
    sha: str | None = None
    error: str | None = None
    output: str | None = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    note: str | None = None
    provider_ref: str | None = None  # set when the provider only now learned its job's id


class Provider(Protocol):
    name: str
    polls: bool  # True: the runner polls status(); False: the CI calls back
    poll_seconds: float
    retries: int

    async def trigger(self, job: Job) -> Triggered: ...

    async def status(self, deploy: Deploy) -> Report: ...

    async def cancel(self, deploy: Deploy) -> Report | None:
        """None once asked; a final Report when the job had already ended on its own."""
        ...
