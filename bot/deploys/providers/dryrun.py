"""`dry-run`: a deploy that takes a few seconds and succeeds, for the shell and demos.

Its progress is computed from the clock and the trigger time stored as provider_ref, so
it survives a restart and moves with the FakeClock in tests.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar

from pydantic import Field
from shipbell.bot.clock import from_db, to_db
from shipbell.bot.deploys.models import Deploy, ReportState
from shipbell.bot.deploys.providers.base import (
    Job,
    ProviderConfig,
    ProviderContext,
    Report,
    Triggered,
)


class DryRunConfig(ProviderConfig):
    seconds: float = Field(default=3.0, ge=0)

    simulated: ClassVar[bool] = True


class DryRunProvider:
    """Polls; nothing to cancel or list (it deploys nothing)."""

    Config = DryRunConfig

    def __init__(self, name: str, config: DryRunConfig, context: ProviderContext) -> None:
        self.name = name
        self.config = config
        self.clock = context.clock
        self.poll_seconds = max(min(config.seconds / 3, 1.0), 0.01)
        self.retries = 1

    async def trigger(self, job: Job) -> Triggered:
        return Triggered(to_db(self.clock.now()))

    async def status(self, deploy: Deploy) -> Report:
        started = from_db(deploy.provider_ref)
        assert started is not None
        if (self.clock.now() - started).total_seconds() < self.config.seconds:
            return Report(ReportState.RUNNING)
        sha = hashlib.sha1(f"{deploy.service}{deploy.ref}".encode()).hexdigest()
        return Report(ReportState.SUCCEEDED, version=deploy.ref, sha=sha[:12])
