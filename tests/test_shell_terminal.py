"""The shell in a terminal (a pseudo-terminal here): line editing, history kept beside the
scratch database, and `--live` asking before it touches anything real."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
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
        # pty.fork makes the pty the child's controlling terminal, so Ctrl-C is a SIGINT
        self.pid, self.master = pty.fork()
        if self.pid == 0:  # the child: become `shipbell …`
            os.chdir(cwd)
            os.execve(sys.executable, [sys.executable, "-m", "shipbell.bot.cli", *args], env)
        self.out = b""
        self.prompts = 0

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

    def interrupt(self) -> None:
        """Ctrl-C, pressed again if unanswered: CPython's readline notices a SIGINT only when
        its select() is interrupted, so one that lands while it is still drawing the last
        key waits for the next signal or key (a person presses again; so does this)."""
        for _ in range(5):
            self.type(b"\x03")
            with contextlib.suppress(AssertionError):
                self.expect(b"quit or Ctrl-D leaves", timeout=3.0)
                return
        raise AssertionError(f"Ctrl-C was never answered: {self.out[-500:]!r}")

    def prompt(self) -> None:
        """Wait for the next `> ` prompt, so keys reach readline and not the line discipline."""
        self.prompts += 1
        self.expect(b"\n> ", count=self.prompts)  # a prompt starts a line

    def close(self, timeout: float = 30.0) -> int:
        """Wait for the exit code (reading on, so the child never blocks on a full pty)."""
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                pid, status = os.waitpid(self.pid, os.WNOHANG)
                if pid:
                    return os.waitstatus_to_exitcode(status)
                self._read()
            os.kill(self.pid, signal.SIGKILL)  # the test failed half-way: don't leave it behind
            return os.waitstatus_to_exitcode(os.waitpid(self.pid, 0)[1])
        finally:
            os.close(self.master)


def test_history_and_line_editing(tmp_path: Path) -> None:
    term = Terminal(tmp_path, "shell", "--db", "try.db")
    try:
        term.prompt()
        term.type(b"/incident help\r")
        term.prompt()
        term.type(UP + b"\r")  # the previous line, recalled and run again
        term.prompt()
        assert term.out.count(b"Anywhere: `/incident list`") == 2
        term.type(b"/deploy helq\x7fp\r")  # backspace edits the line before it is sent
        term.prompt()
        assert b"ship from Slack" in term.out
        term.type(b"quit\r")
    finally:
        code = term.close()
    assert code == 0
    history = (tmp_path / "try.db.history").read_text("utf-8").splitlines()
    # readline keeps one copy of a repeated line
    assert history == ["/incident help", "/deploy help", "quit"]


def test_ctrl_c_drops_the_line_and_ctrl_d_leaves(tmp_path: Path) -> None:
    term = Terminal(tmp_path, "shell", "--db", "try.db")
    try:
        term.prompt()
        term.type(b"/incident hel")
        term.expect(b"/incident hel")
        term.interrupt()  # Ctrl-C: the line is dropped, the shell stays
        term.prompt()
        term.type(b"who\r")
        term.prompt()
        assert b"people: @ana" in term.out and b"*/incident*" not in term.out
        term.type(b"\x04")  # Ctrl-D on an empty line: leave
    finally:
        code = term.close()
    assert code == 0
    assert b"Traceback" not in term.out


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
