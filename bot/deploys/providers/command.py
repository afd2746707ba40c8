"""`command`: run a configured local program with service, env and ref as separate arguments.

Never through a shell, so a ref like `main;rm -rf /` is just a ref that fails validation
(and would be one harmless argument anyway). The exit code is the result; the tail of the
output is kept for the deploy message.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal

from pydantic import Field, model_validator
from shipbell.bot.deploys.models import Deploy, ReportState
from shipbell.bot.deploys.providers.base import (
    Job,
    ProviderConfig,
    ProviderContext,
    ProviderError,
    Report,
    Triggered,
)

TAIL_CHARS = 1500


def tail(output: bytes) -> str:
    text = output.decode(errors="replace").strip()
    return text[-TAIL_CHARS:]


class CommandConfig(ProviderConfig):
    command: list[str] = Field(default_factory=list)
    timeout_seconds: float = Field(default=600.0, gt=0)

    @model_validator(mode="after")
    def _needs(self) -> CommandConfig:
        self.require("command")
        return self

    def where(self) -> str:
        return " ".join(self.command)


class CommandProvider:
    """Polls (waits for the exit code) and cancels (kills the process group)."""

    Config = CommandConfig

    def __init__(self, name: str, config: CommandConfig, context: ProviderContext) -> None:
        self.name = name
        self.config = config
        self.poll_seconds = 0.0
        self.retries = 1  # running a deploy command twice is never assumed safe
        self.running: dict[int, tuple[asyncio.subprocess.Process, bytearray]] = {}

    async def trigger(self, job: Job) -> Triggered:
        argv = [*self.config.command, job.service, job.env, job.ref]
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                stdin=asyncio.subprocess.DEVNULL, start_new_session=True,
            )
        except OSError as exc:
            raise ProviderError(f"couldn't start {argv[0]}: {exc.strerror}",
                                retryable=False) from None
        self.running[job.deploy_id] = (proc, bytearray())
        return Triggered(f"pid:{proc.pid}")

    async def _collect(self, proc: asyncio.subprocess.Process, buffer: bytearray) -> None:
        assert proc.stdout is not None
        while chunk := await proc.stdout.read(4096):
            buffer.extend(chunk)
            del buffer[: max(0, len(buffer) - TAIL_CHARS * 4)]

    async def status(self, deploy: Deploy) -> Report:
        entry = self.running.get(deploy.id)
        if entry is None:
            return Report(ReportState.FAILED, error="Shipbell restarted while the command ran; "
                          "check the target before deploying again")
        proc, buffer = entry
        reader = asyncio.get_running_loop().create_task(self._collect(proc, buffer))
        try:
            await asyncio.wait_for(proc.wait(), timeout=self.config.timeout_seconds)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(reader, timeout=1.0)
        except TimeoutError:
            self._kill(proc)
            await proc.wait()
            return Report(ReportState.FAILED, output=tail(bytes(buffer)),
                          error=f"the command ran over {self.config.timeout_seconds:g} s")
        finally:
            reader.cancel()
            self.running.pop(deploy.id, None)
        if proc.returncode == 0:
            return Report(ReportState.SUCCEEDED, output=tail(bytes(buffer)), version=deploy.ref)
        return Report(ReportState.FAILED, output=tail(bytes(buffer)),
                      error=f"the command exited with {proc.returncode}")

    @staticmethod
    def _kill(proc: asyncio.subprocess.Process) -> None:
        """Kill the whole process group: a shell's children must not outlive it."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)

    async def cancel(self, deploy: Deploy) -> None:
        entry = self.running.get(deploy.id)
        if entry is not None and entry[0].returncode is None:
            self._kill(entry[0])
