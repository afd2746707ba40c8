"""`shipbell` as a real process, and the network it may meet (a server that never answers,
a port nobody listens on). Waits poll the process's output with a deadline; nothing sleeps."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

PROMPTLY = 10.0  # seconds a stop request may take, start to exit, on a loaded test machine


def shipbell_argv() -> list[str]:
    """The command as installed (`.venv/bin/shipbell`), as the README tells people to run it."""
    script = Path(sys.executable).parent / "shipbell"
    return [str(script)] if script.exists() else [sys.executable, "-m", "shipbell.bot.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without any Slack or Shipbell variable, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
    env.update(extra)
    return env


async def run(*args: str, cwd: Path, env: dict[str, str], stdin: str = "",
              timeout: float = 60.0) -> tuple[int, str, str]:
    """Run a verb to completion: (exit code, stdout, stderr)."""
    proc = await asyncio.create_subprocess_exec(
        *shipbell_argv(), *args, cwd=cwd, env=env, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(timeout):
        out, err = await proc.communicate(stdin.encode())
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


class Running:
    """A long-running verb (`serve`, `socket`) whose log lines are read as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []
        self._news = asyncio.Event()
        self._reader = asyncio.ensure_future(self._read())

    @classmethod
    async def start(cls, *args: str, cwd: Path, env: dict[str, str]) -> Running:
        proc = await asyncio.create_subprocess_exec(
            *shipbell_argv(), *args, cwd=cwd, env=env, stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
        return cls(proc)

    async def _read(self) -> None:
        assert self.proc.stdout is not None
        while line := await self.proc.stdout.readline():
            self.lines.append(line.decode().rstrip("\n"))
            self._news.set()
        self._news.set()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    async def line(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """The first log line matching ``pattern``, waiting for it to be written."""
        async with asyncio.timeout(timeout):
            while True:
                for text in self.lines:
                    if match := re.search(pattern, text):
                        return match
                if self._reader.done():
                    raise AssertionError(f"exited without logging {pattern!r}:\n{self.output}")
                self._news.clear()
                await self._news.wait()

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        self.proc.send_signal(sig)

    async def exit_code(self, timeout: float = PROMPTLY) -> int:
        """Wait (at most ``timeout``) for the process to end; its exit code."""
        try:
            async with asyncio.timeout(timeout):
                code = await self.proc.wait()
                await self._reader
        except TimeoutError:
            self.proc.kill()
            await self.proc.wait()
            raise AssertionError(f"still running after {timeout} s:\n{self.output}") from None
        return code

    async def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        self._reader.cancel()


class SilentServer:
    """Accepts connections and never answers: Slack unreachable in the worst way (a hang)."""

    def __init__(self) -> None:
        self.connections = 0
        self.connected = asyncio.Event()
        self.url = ""
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def start(self) -> SilentServer:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/"
        return self

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.connected.set()
        self._writers.append(writer)
        while await reader.read(65536):
            pass

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()


def closed_port() -> int:
    """A local port nobody listens on (connections are refused at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def within(event: asyncio.Event, timeout: float = PROMPTLY) -> None:
    async with asyncio.timeout(timeout):
        await event.wait()
