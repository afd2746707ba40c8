"""The shell in a terminal (a pseudo-terminal here): line editing, history kept beside the
scratch database, and `--live` asking before it touches anything real."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

UP = b"\x1b[A"


class Terminal:
    """`shipbell …` on a pty; `expect` polls the output (with a deadline) for a marker."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", *args], stdin=slave, stdout=slave,
            stderr=slave, cwd=cwd, env=env, close_fds=True)
        os.close(slave)
        self.out = b""

    def _read(self) -> None:
        ready, _, _ = select.select([self.master], [], [], 0.1)
        if ready:
            with contextlib.suppress(OSError):  # the other end closed
                self.out += os.read(self.master, 65536)

    def expect(self, marker: bytes, count: int = 1, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while self.out.count(marker) < count:
            assert time.monotonic() < deadline, f"{marker!r} never came: {self.out[-500:]!r}"
            self._read()

    def type(self, keys: bytes) -> None:
        os.write(self.master, keys)

    def close(self) -> int:
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # the test failed half-way; don't leave the shell behind
            return self.proc.wait()
        finally:
            os.close(self.master)


def test_history_and_line_editing(tmp_path: Path) -> None:
    term = Terminal(tmp_path, "shell", "--db", "try.db")
    try:
        term.expect(b"> ")
        term.type(b"/incident help\r")
        term.expect(b"Anywhere: `/incident list`")
        term.type(UP + b"\r")  # the previous line, recalled and run again
        term.expect(b"Anywhere: `/incident list`", count=2)
        term.type(b"/deploy helq\x7fp\r")  # backspace edits the line before it is sent
        term.expect(b"ship from Slack")
        term.type(b"quit\r")
    finally:
        code = term.close()
    assert code == 0
    history = (tmp_path / "try.db.history").read_text("utf-8").splitlines()
    # readline keeps one copy of a repeated line
    assert history == ["/incident help", "/deploy help", "quit"]


def test_live_asks_first_and_stops_without_a_yes(tmp_path: Path) -> None:
    config = tmp_path / "shipbell.toml"
    config.write_text(f'[storage]\npath = "{tmp_path / "real.db"}"\n', "utf-8")
    term = Terminal(tmp_path, "--config", str(config), "shell", "--live")
    try:
        term.expect(b"Type `live` to go on")
        term.type(b"no\r")
        term.expect(b"Not started")
    finally:
        code = term.close()
    assert code == 1
    assert b"LIVE shell" in term.out
    assert not (tmp_path / "real.db").exists()
