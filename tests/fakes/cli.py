"""Run the `shipbell` command in a subprocess, as a person would, for exit codes and output."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def shipbell(*args: str, cwd: Path, env: dict[str, str] | None = None, stdin: str = "",
             timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`shipbell ARGS…` without the tester's own Slack or Shipbell variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
    return subprocess.run(
        [sys.executable, "-m", "shipbell.bot.cli", *args], input=stdin, capture_output=True,
        text=True, timeout=timeout, env={**clean, **(env or {})}, cwd=cwd, check=False,
    )
