"""The command line: manifest, check, --version and the shell (in-process and piped)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from shipbell.bot import __version__
from shipbell.bot.checks import run_check
from shipbell.bot.cli import main
from shipbell.bot.local import LocalShipbell, MakeBell
from shipbell.bot.settings import load_config
from shipbell.bot.shell.repl import Shell, demo_config
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS, EVE, SHIPBELL


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_manifest_http_and_socket(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["manifest"]) == 0
    http = yaml.safe_load(capsys.readouterr().out)
    commands = {c["command"]: c for c in http["features"]["slash_commands"]}
    assert set(commands) == {"/deploy", "/incident", "/release"}
    assert commands["/deploy"]["url"].endswith("/slack/events")
    assert http["settings"]["event_subscriptions"]["bot_events"] == ["pin_added", "reaction_added"]
    assert "commands" in http["oauth_config"]["scopes"]["bot"]
    assert http["settings"]["socket_mode_enabled"] is False
    assert main(["manifest", "--socket"]) == 0
    socket = yaml.safe_load(capsys.readouterr().out)
    assert socket["settings"]["socket_mode_enabled"] is True
    assert "request_url" not in socket["settings"]["event_subscriptions"]
    assert all("url" not in c for c in socket["features"]["slash_commands"])


@pytest.fixture
async def double() -> SlackDouble:
    async with SlackDouble() as d:
        yield d


def configure(tmp_path: Path, double: SlackDouble, monkeypatch: pytest.MonkeyPatch,
              token: str) -> str:
    path = tmp_path / "shipbell.toml"
    path.write_text(f'[slack]\napi_url = "{double.api_url}"\n')
    monkeypatch.setenv("SLACK_BOT_TOKEN", token)
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s3cr3t-signing-value")
    return str(path)


async def test_check_reports_identity_and_masks_secrets(
    tmp_path: Path, double: SlackDouble, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = configure(tmp_path, double, monkeypatch, double.token)
    assert await run_check(load_config(path)) == 0
    out = capsys.readouterr().out
    assert f"authenticated as {SHIPBELL}" in out and "all needed scopes granted" in out
    assert double.token not in out and "s3cr3t-signing-value" not in out


async def test_check_names_missing_scopes(
    tmp_path: Path, double: SlackDouble, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    double.scopes.remove("pins:write")
    path = configure(tmp_path, double, monkeypatch, double.token)
    assert await run_check(load_config(path)) == 1
    assert "missing scopes: pins:write" in capsys.readouterr().out


async def test_check_reports_a_bad_token(
    tmp_path: Path, double: SlackDouble, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path = configure(tmp_path, double, monkeypatch, "xoxb-wrong")
    assert await run_check(load_config(path)) == 1
    assert "auth.test failed: invalid_auth" in capsys.readouterr().out


async def test_shell_conversation(bell: LocalShipbell) -> None:
    out = io.StringIO()
    shell = Shell(bell, ANA, DEPLOYS, out=out)
    assert await shell.handle("/deploy nonsense")
    assert await shell.handle("as bob")
    assert await shell.handle("in nowhere")
    assert await shell.handle("press 9")
    assert not await shell.handle("quit")
    text = out.getvalue()
    assert "(only you)" in text and "`/deploy nonsense`?" in text
    assert "you are @bob in #deploys" in text
    assert "`nowhere`? Try one of:" in text
    assert "press takes a button number" in text


async def test_shell_fills_a_modal_and_presses_a_button(make_bell: MakeBell) -> None:
    bell = await make_bell(demo_config())
    out = io.StringIO()
    shell = Shell(bell, ANA, DEPLOYS, out=out)
    await shell.handle("/incident")
    assert "┌ modal: " in out.getvalue()
    await shell.handle("submit severity=sev2")  # no title: the modal shows a field error
    assert shell.screen.modal is not None
    await shell.handle('submit title="Checkout is slow" severity=sev2')
    await bell.double.wait_for("conversations.create")
    await bell.idle()
    assert shell.screen.modal is None
    join = next(i for i, p in enumerate(shell.screen.pressables, 1) if p.label == "Join")
    await shell.handle("as eve")
    await shell.handle(f"press {join}")
    invite = await bell.double.wait_for(
        "conversations.invite", lambda c: EVE in str(c.args.get("users")))
    assert invite.response["ok"]
    assert "#inc-1-checkout-is-slow" in out.getvalue()


def test_shell_reads_a_pipe(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
    result = subprocess.run(
        [sys.executable, "-m", "shipbell.bot.cli", "shell", "--db", str(tmp_path / "shell.db")],
        input="/deploy help\n/incident help\nquit\n", capture_output=True, text=True,
        timeout=60, env=env, cwd=tmp_path, check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "> /deploy help" in result.stdout and "/deploy" in result.stdout
    assert "Traceback" not in result.stderr
