"""The documented config works in every verb: file → settings → every path that reads them."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from pathlib import Path

import aiohttp
import yaml
from fakes.cli import shipbell
from shipbell.bot.local import LocalShipbell
from shipbell.bot.settings import Settings, load_config
from shipbell.bot.slackdouble import SlackDouble

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


def test_example_settings_survive_the_reload_the_shell_does() -> None:
    settings = load_config(str(EXAMPLE)).settings
    again = Settings(**settings.model_dump())
    assert again.model_dump() == settings.model_dump()
    freezes = again.deploy.services["web"].environments["production"].freezes
    assert freezes[0].from_time is not None and freezes[0].to_time is not None


async def test_example_config_boots_the_local_shipbell(tmp_path: Path) -> None:
    settings = load_config(str(EXAMPLE)).settings
    async with LocalShipbell(tmp_path / "shell.db", base=settings) as bell:
        ack = await bell.command("/deploy", "help")
        assert ack.status == 200


def test_manifest_and_digest_run_on_the_example(tmp_path: Path) -> None:
    manifest = shipbell("manifest", "--config", str(EXAMPLE), cwd=tmp_path)
    assert manifest.returncode == 0, manifest.stderr
    assert yaml.safe_load(manifest.stdout)["display_information"]["name"] == "Shipbell"
    digest = shipbell("digest", "-c", str(EXAMPLE), "--as-of", "2026-11-25", cwd=tmp_path)
    assert digest.returncode == 0, digest.stderr
    assert "Traceback" not in digest.stderr


def test_check_offline_runs_on_the_example(tmp_path: Path) -> None:
    result = shipbell("check", "--offline", "--config", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"Config: {EXAMPLE} is valid.")


def test_the_shell_starts_on_a_copy_of_the_example(tmp_path: Path) -> None:
    config = tmp_path / "shipbell.toml"
    config.write_text(EXAMPLE.read_text())
    result = shipbell("shell", "-c", str(config), "--db", str(tmp_path / "scratch.db"),
                      cwd=tmp_path, stdin="/deploy help\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "> /deploy help" in result.stdout


async def test_serve_starts_on_the_example_and_stops_on_sigterm(tmp_path: Path) -> None:
    """The example's names resolve against a workspace that has them, and serve comes up."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with SlackDouble() as double, aiohttp.ClientSession() as http:
        double.add_cast(channel_members=[])
        clean = {k: v for k, v in os.environ.items()
                 if not k.startswith(("SLACK_", "SHIPBELL_"))}
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "shipbell.bot.cli", "serve", "-c", str(EXAMPLE), cwd=tmp_path,
            env={**clean, "SLACK_BOT_TOKEN": double.token, "SLACK_SIGNING_SECRET": "s" * 32,
                 "SHIPBELL_SLACK__API_URL": double.api_url, "SHIPBELL_SERVER__PORT": str(port),
                 "SHIPBELL_STORAGE__PATH": str(tmp_path / "serve.db")},
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        try:
            await double.wait_for("auth.test", timeout=60)  # sent once the server is bound
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                status = response.status
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            _, err = await asyncio.wait_for(proc.communicate(), 60)
        lists = sorted({c.method for c in double.calls if c.method in (
            "conversations.list", "users.list", "usergroups.list")})
    assert status == 200 and proc.returncode == 0, err.decode()
    assert lists == ["conversations.list", "usergroups.list", "users.list"]
    assert "Traceback" not in err.decode()
