"""`shipbell check`: a readable summary, warnings for what would bite later, names beside ids,
and one line saying what to do when Slack refuses the token or can't be reached."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest
from fakes.cli import shipbell
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import (
    BOB,
    DEPLOYS,
    GENERAL,
    INCIDENTS,
    ONCALL,
    RELEASES,
    SHIPBELL,
    TEAM,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "config.example.toml"


def seeded(double: SlackDouble) -> SlackDouble:
    """The workspace the shell simulates, which the example config's names refer to."""
    return double.add_cast(channel_members=[double.bot_user_id])


async def check(tmp_path: Path, *args: str, env: dict[str, str] | None = None
                ) -> tuple[int, str, str]:
    """`shipbell check ARGS` in a subprocess that doesn't block the double's event loop."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shipbell.bot.cli", "check", *args, cwd=tmp_path,
        env={**clean, **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, out.decode(), err.decode()


def test_offline_check_of_the_example_is_a_short_summary_with_warnings(tmp_path: Path) -> None:
    result = shipbell("check", "--offline", "-c", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"Config: {EXAMPLE} is valid.\n")
    assert len(out.splitlines()) < 30 and "{" not in out
    assert "Deploy    web via ci (staging, production); api via actions (production)" in out
    assert ("Warning: Deploy provider ci: environment variable SHIPBELL_CI_SECRET is not set;"
            " its deploys fail until it is") in out
    assert "SHIPBELL_GITHUB_TOKEN is not set" in out
    assert "Slack: not checked (--offline)" in out
    assert result.stderr == ""


def test_a_set_provider_secret_is_not_warned_about(tmp_path: Path) -> None:
    result = shipbell("check", "--offline", "-c", str(EXAMPLE), cwd=tmp_path,
                      env={"SHIPBELL_CI_SECRET": "x", "SHIPBELL_GITHUB_TOKEN": "y"})
    assert result.returncode == 0 and "Warning" not in result.stdout


def test_unknown_train_services_and_a_long_app_name_are_warned_about(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[slack]\napp_name = "Shipbell Deploys Incidents And Releases"\n'
        '[deploy.providers.sim]\ntype = "dry-run"\n'
        '[deploy.services.web]\nprovider = "sim"\n[deploy.services.web.environments.production]\n'
        f'[release.trains.web]\nchannel = "{RELEASES}"\nservices = ["web", "wbe"]\n'
        'weekday = "tue"\ntime = "14:00"\n')
    result = shipbell("check", "--offline", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ("Warning: Release train web: service 'wbe' is not in [deploy.services] (known: web)"
            in result.stdout)
    assert ("Warning: slack.app_name is 39 characters; Slack allows at most 35 and refuses the"
            " manifest: shorten it" in result.stdout)


def test_json_is_behind_a_flag(tmp_path: Path) -> None:
    result = shipbell("check", "--offline", "--json", "-c", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"]["server"]["port"] == 3000
    assert data["config"]["deploy"]["services"]["web"]["environments"]["production"][
        "freezes"][0]["from"] == "16:00:00"
    assert any("SHIPBELL_CI_SECRET" in w for w in data["warnings"])
    assert data["slack"]["checked"] is False


async def test_names_are_printed_beside_ids(tmp_path: Path) -> None:
    async with SlackDouble() as double:
        seeded(double)
        code, out, err = await check(
            tmp_path, "-c", str(EXAMPLE),
            env={"SHIPBELL_SLACK__API_URL": double.api_url, "SLACK_BOT_TOKEN": double.token,
                 "SHIPBELL_DIGEST__CHANNEL": GENERAL})
    assert code == 0, out + err
    assert f"Slack: authenticated as {SHIPBELL} in {TEAM}" in out
    rows = {line.split()[0]: line.split()[1:] for line in
            out.split("Names and ids:\n", 1)[1].splitlines()}
    assert rows["deploy.services.web.environments.production.channels.0"] == [
        "#deploys", "=", DEPLOYS]
    assert rows["deploy.services.web.environments.production.deployers.0"] == [
        "@oncall", "=", ONCALL]
    assert rows["digest.channel"] == [GENERAL, "=", "#general"]
    assert f"Incident  announced in #incidents ({INCIDENTS}); responders @oncall ({ONCALL})" in out
    assert f"CET  captain @bob ({BOB})" in out


async def test_an_unknown_name_is_an_error_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    async with SlackDouble() as double:
        path.write_text(f'[slack]\napi_url = "{double.api_url}"\n'
                        '[digest]\nchannel = "#metrcs"\n')
        code, out, _ = await check(tmp_path, "-c", str(path),
                                   env={"SLACK_BOT_TOKEN": double.token})
    assert code == 2
    assert (f"Error: {path}: `digest.channel`: no channel #metrcs the bot can see" in out)
    assert "digest.channel  #metrcs  not found" in out


async def test_a_refused_token_says_where_to_find_the_right_one(tmp_path: Path) -> None:
    async with SlackDouble() as double:
        code, out, err = await check(
            tmp_path, env={"SHIPBELL_SLACK__API_URL": double.api_url,
                           "SLACK_BOT_TOKEN": "xoxb-revoked"})
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("Slack:")]
    assert lines == ["Slack: auth.test failed: invalid_auth; copy the Bot User OAuth Token "
                     "(xoxb-…) from your app's OAuth & Permissions page into SLACK_BOT_TOKEN, "
                     "and reinstall the app if it was revoked"]
    assert "Traceback" not in err


async def test_no_network_is_one_line_saying_what_to_check(tmp_path: Path) -> None:
    code, out, err = await check(
        tmp_path, env={"SHIPBELL_SLACK__API_URL": "http://127.0.0.1:9/api/",
                       "SLACK_BOT_TOKEN": "xoxb-anything"})
    assert code == 1
    lines = [line for line in out.splitlines() if line.startswith("Slack:")]
    assert len(lines) == 1
    assert lines[0].startswith("Slack: can't reach Slack at http://127.0.0.1:9/api/ (")
    assert lines[0].endswith("); check the network or proxy (HTTPS_PROXY), or [slack] api_url")
    assert err == ""


@pytest.mark.parametrize("verb", ["manifest", "check --offline"])
def test_no_verb_needs_a_token_it_does_not_use(tmp_path: Path, verb: str) -> None:
    result = shipbell(*verb.split(), "-c", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr


def test_the_manifest_requests_no_scope_nothing_uses(tmp_path: Path) -> None:
    result = shipbell("manifest", cwd=tmp_path)
    scopes = result.stdout.split("bot:\n", 1)[1]
    assert "channels:join" not in scopes  # nothing calls conversations.join
    assert "channels:read" in scopes and "usergroups:read" in scopes and "users:read" in scopes
