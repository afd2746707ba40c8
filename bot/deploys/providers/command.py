"""`command`: run a configured local program with service, env and ref as separate arguments.

Never through a shell, so a ref like `main;rm -rf /` is just a ref that fails validation
(and would be one harmless argument anyway). The exit code is the result; the tail of the
output is kept for the deploy message.
"""

from __future__ import annotations

import asyncio
import contextlib

from bot.deploys.config import ProviderConfig
from bot.deploys.models import Deploy
from bot.deploys.providers.base import Job, ProviderError, Report, Triggered

TAIL_CHARS = 1500


def tail(output: bytes) -> str:
    text = output.decode(errors="replace").strip()
    return text[-TAIL_CHARS:]


class CommandProvider:
    polls = True

    def __init__(self, name: str, config: ProviderConfig) -> None:
        self.name = name
        self.config = config
        self.poll_seconds = 0.0
        self.retries = 1  # running a deploy command twice is never assumed safe
        self.running: dict[int, asyncio.subprocess.Process] = {}

    async def trigger(self, job: Job) -> Triggered:
        argv = [*self.config.command, job.service, job.env, job.ref]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL,
            )
        except OSError as exc:
            raise ProviderError(f"couldn't start {argv[0]}: {exc.strerror}",
                                retryable=False) from None
        self.running[job.deploy_id] = proc
        return Triggered(f"pid:{proc.pid}")

    async def status(self, deploy: Deploy) -> Report:
        proc = self.running.get(deploy.id)
        if proc is None:
            return Report("failed", error="Shipbell restarted while the command ran; "
                          "check the target before deploying again")
        try:
            output, _ = await asyncio.wait_for(proc.communicate(),
                                               timeout=self.config.timeout_seconds)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            output = b""
            with contextlib.suppress(Exception):
                output, _ = await proc.communicate()
            self.running.pop(deploy.id, None)
            return Report("failed", output=tail(output),
                          error=f"the command ran over {self.config.timeout_seconds:g} s")
        self.running.pop(deploy.id, None)
        if proc.returncode == 0:
            return Report("succeeded", output=tail(output), version=deploy.ref)
        return Report("failed", output=tail(output),
                      error=f"the command exited with {proc.returncode}")

    async def cancel(self, deploy: Deploy) -> None:
        proc = self.running.get(deploy.id)
        if proc is not None and proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.terminate()
