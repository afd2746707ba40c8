"""`dry-run`: a deploy that takes a few seconds and succeeds, for the shell and demos.

Its progress is computed from the clock and the trigger time stored as provider_ref, so
it survives a restart and moves with the FakeClock in tests.
"""

from __future__ import annotations

import hashlib

from bot.clock import Clock, from_db, to_db
from bot.deploys.config import ProviderConfig
from bot.deploys.models import Deploy
from bot.deploys.providers.base import Job, Report, Triggered


class DryRunProvider:
    polls = True

    def __init__(self, name: str, config: ProviderConfig, clock: Clock) -> None:
        self.name = name
        self.config = config
        self.clock = clock
        self.poll_seconds = max(min(config.seconds / 3, 1.0), 0.01)
        self.retries = 1

    async def trigger(self, job: Job) -> Triggered:
        return Triggered(to_db(self.clock.now()))

    async def status(self, deploy: Deploy) -> Report:
        started = from_db(deploy.provider_ref)
        assert started is not None
        if (self.clock.now() - started).total_seconds() < self.config.seconds:
            return Report("running")
        sha = hashlib.sha1(f"{deploy.service}{deploy.ref}".encode()).hexdigest()
        return Report("succeeded", version=deploy.ref, sha=sha[:12])

    async def cancel(self, deploy: Deploy) -> None:
        return None
