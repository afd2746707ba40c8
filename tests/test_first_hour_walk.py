"""The README's first hour, walked as a newcomer would, on the example config as shipped.

Quickstart (the shell), then "Connect a workspace": `cp config.example.toml shipbell.toml`,
`manifest`, `check`, `serve`, `socket`, each as a real `shipbell` process with its tokens in
the environment, against the Slack double (Web API over HTTP, Socket Mode over a real
WebSocket). The config file is never edited: what differs (Slack's URL, a free port) comes
from `SHIPBELL_*` variables, as the README says any key can. `socket` is stopped with SIGTERM
in each state it can be in: connecting to a Slack that never answers, retrying one that
refuses connections, refused for a wrong token, connected, and shutting down.
"""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from fakes.process import Running, SilentServer, clean_env, closed_port, run, within
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS, PEOPLE

EXAMPLE = Path(__file__).resolve().parent.parent / "config.example.toml"
TRACEBACK = "Traceback (most recent call last)"
WRONG_APP_TOKEN = "xapp-1-revoked-or-mistyped"


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A fresh directory holding `shipbell.toml`, copied from the example as the README says."""
    shutil.copy(EXAMPLE, tmp_path / "shipbell.toml")
    return tmp_path


@pytest.fixture
async def slack() -> AsyncIterator[SlackDouble]:
    """A workspace with the channels, people and groups the example config names."""
    double = SlackDouble()
    await double.start()
    double.add_cast(channel_members=[*PEOPLE, double.bot_user_id])
    yield double
    await double.stop()


def slack_env(double: SlackDouble, **extra: str) -> dict[str, str]:
    """Tokens in the environment; Slack's URL and a free port as documented overrides."""
    return clean_env(**{"SHIPBELL_SLACK__API_URL": double.api_url, "SHIPBELL_SERVER__PORT": "0",
                        "SLACK_BOT_TOKEN": double.token, **extra})


def socket_env(double: SlackDouble, **extra: str) -> dict[str, str]:
    return slack_env(double, **{"SLACK_APP_TOKEN": double.app_token, **extra})


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


def assert_quiet(output: str, *secrets: str) -> None:
    """What every start must not print: tracebacks, library chatter, secrets."""
    assert TRACEBACK not in output, output
    assert "apscheduler" not in output and "`token` will be" not in output, output
    for secret in secrets:
        assert secret not in output


# ---- Quickstart ---------------------------------------------------------------------------


async def test_quickstart_shell_answers_a_piped_command(tmp_path: Path) -> None:
    code, out, err = await run("shell", cwd=tmp_path, env=clean_env(), stdin="/deploy help\n")
    assert code == 0, err
    assert "/deploy rollback" in out and TRACEBACK not in err


async def test_shell_runs_on_the_example_config(workdir: Path) -> None:
    code, out, err = await run("--config", "shipbell.toml", "shell", cwd=workdir,
                               env=clean_env(), stdin="/deploy help\n")
    assert code == 0, err
    assert "/deploy rollback" in out and TRACEBACK not in err


# ---- Connect a workspace ------------------------------------------------------------------


async def test_manifest_for_http_and_for_socket_mode(workdir: Path) -> None:
    code, http, err = await run("--config", "shipbell.toml", "manifest", cwd=workdir,
                                env=clean_env())
    assert code == 0, err
    assert "https://shipbell.example.com/slack/events" in http
    code, socket_mode, err = await run("--config", "shipbell.toml", "manifest", "--socket",
                                       cwd=workdir, env=clean_env())
    assert code == 0, err
    assert "socket_mode_enabled: true" in socket_mode and "/slack/events" not in socket_mode


async def test_check_authenticates_against_the_workspace(
    workdir: Path, slack: SlackDouble
) -> None:
    code, out, err = await run("--config", "shipbell.toml", "check", cwd=workdir,
                               env=slack_env(slack, SLACK_SIGNING_SECRET="s" * 32))
    assert code == 0, out + err
    assert slack.calls_to("auth.test") and TRACEBACK not in err
    assert slack.token not in out + err


async def test_serve_is_healthy_and_stops_on_sigterm(workdir: Path, slack: SlackDouble) -> None:
    secret = "walk-signing-secret-0123456789"
    bell = await Running.start("--config", "shipbell.toml", "serve", cwd=workdir,
                               env=slack_env(slack, SLACK_SIGNING_SECRET=secret))
    try:
        url = (await bell.line(r"listening on (http://[^/\s]+)")).group(1)
        status, body = await get(url + "/healthz")
        assert status == 200 and json.loads(body)["store"] is True
        bell.signal(signal.SIGTERM)
        assert await bell.exit_code() == 0, bell.output
    finally:
        await bell.kill()
    assert_quiet(bell.output, slack.token, secret)


async def test_socket_serves_http_without_slack_events_and_stops_on_sigterm(
    workdir: Path, slack: SlackDouble
) -> None:
    slack.fail_next("apps.connections.open", "internal_error")  # a blip: retried, then in
    bell = await Running.start("--config", "shipbell.toml", "socket", cwd=workdir,
                               env=socket_env(slack))
    try:
        url = (await bell.line(r"serving /healthz.* on (http://\S+)")).group(1)
        await bell.line(r"can't connect \(Slack answered internal_error\); retrying in 1 s")
        await bell.line(r"connected in Socket Mode")
        ack = await slack.socket.send("slash_commands", command(slack, "not-a-subcommand"))
        assert "not-a-subcommand" in ack["text"]
        assert (await get(url + "/healthz"))[0] == 200
        status, metrics = await get(url + "/metrics")
        assert status == 200 and "shipbell_" in metrics
        async with aiohttp.ClientSession() as session, \
                session.post(url + "/slack/events", data=b"{}") as response:
            assert response.status == 404  # Slack never posts here in Socket Mode
        bell.signal(signal.SIGTERM)
        assert await bell.exit_code() == 0, bell.output
    finally:
        await bell.kill()
    assert_quiet(bell.output, slack.token, slack.app_token)


async def test_socket_stops_on_sigterm_while_slack_never_answers(workdir: Path) -> None:
    """Slack down the worst way (it accepts and never answers): the start hangs on the first
    call (looking up the config's #names), and SIGTERM still ends it at once, cleanly."""
    hang = await SilentServer().start()
    env = clean_env(SHIPBELL_SLACK__API_URL=hang.url, SHIPBELL_SERVER__PORT="0",
                    SLACK_BOT_TOKEN="xoxb-walk", SLACK_APP_TOKEN="xapp-walk")
    bell = await Running.start("--config", "shipbell.toml", "socket", cwd=workdir, env=env)
    try:
        await within(hang.connected, timeout=30)  # a request is hanging right now
        bell.signal(signal.SIGTERM)
        assert await bell.exit_code() == 0, bell.output
    finally:
        await bell.kill()
        await hang.stop()
    assert "Stopping (SIGTERM)" in bell.output
    assert_quiet(bell.output, "xoxb-walk", "xapp-walk")


async def test_socket_without_network_says_so_in_one_line(workdir: Path) -> None:
    down = f"http://127.0.0.1:{closed_port()}/api/"
    code, _, err = await run("--config", "shipbell.toml", "socket", cwd=workdir, env=clean_env(
        SHIPBELL_SLACK__API_URL=down, SLACK_BOT_TOKEN="xoxb-walk", SLACK_APP_TOKEN="xapp-walk"))
    assert code == 2, err
    assert TRACEBACK not in err and len(err.strip().splitlines()) <= 2, err


async def test_socket_retries_with_backoff_one_line_each_and_stops_on_ctrl_c(
    workdir: Path, slack: SlackDouble
) -> None:
    slack.fail_next("apps.connections.open", "internal_error", times=50)  # Slack having trouble
    bell = await Running.start("--config", "shipbell.toml", "socket", cwd=workdir,
                               env=socket_env(slack))
    try:
        await bell.line(r"can't connect \(Slack answered internal_error\); retrying in 1 s")
        await bell.line(r"can't connect \(Slack answered internal_error\); retrying in 2 s")
        bell.signal(signal.SIGINT)  # Ctrl-C, while waiting to retry
        assert await bell.exit_code() == 0, bell.output
    finally:
        await bell.kill()
    retries = [line for line in bell.lines if "retrying in" in line]
    assert len(retries) >= 2 and "connected in Socket Mode" not in bell.output
    assert_quiet(bell.output, slack.token, slack.app_token)


async def test_socket_with_a_refused_app_token_exits_with_one_clear_line(
    workdir: Path, slack: SlackDouble
) -> None:
    bell = await Running.start("--config", "shipbell.toml", "socket", cwd=workdir,
                               env=socket_env(slack, SLACK_APP_TOKEN=WRONG_APP_TOKEN))
    try:
        code = await bell.exit_code()
    finally:
        await bell.kill()
    assert code == 3, bell.output
    errors = [line for line in bell.lines if " ERROR " in line]
    assert len(errors) == 1 and "refused SLACK_APP_TOKEN (invalid_auth)" in errors[0], errors
    assert len(slack.calls_to("apps.connections.open")) == 1  # no retry loop
    assert_quiet(bell.output, slack.token, WRONG_APP_TOKEN)


async def test_second_sigterm_cuts_a_stuck_shutdown_short(
    workdir: Path, slack: SlackDouble
) -> None:
    ci = await SilentServer().start()  # the CI accepts the job and never answers
    env = socket_env(slack, SHIPBELL_DEPLOY__PROVIDERS__CI__URL=ci.url + "jobs",
                     SHIPBELL_CI_SECRET="walk-ci-secret")
    bell = await Running.start("--config", "shipbell.toml", "socket", cwd=workdir, env=env)
    try:
        await bell.line(r"connected in Socket Mode")
        await slack.socket.send("slash_commands", command(slack, "web to staging"))
        await within(ci.connected)
        bell.signal(signal.SIGTERM)
        await bell.line(r"Shutting down: \d+ background task")  # waits up to 20 s grace
        bell.signal(signal.SIGTERM)
        assert await bell.exit_code() == 0, bell.output
    finally:
        await bell.kill()
        await ci.stop()
    assert "Second SIGTERM" in bell.output
    assert_quiet(bell.output, slack.token, slack.app_token)


# ---- helpers ------------------------------------------------------------------------------


def command(double: SlackDouble, text: str) -> dict[str, Any]:
    return {"command": "/deploy", "text": text, "user_id": ANA, "user_name": "ana",
            "channel_id": DEPLOYS, "team_id": double.team_id,
            "response_url": double.new_response_url(DEPLOYS, ANA),
            "trigger_id": double.new_trigger_id()}
