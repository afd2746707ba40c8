"""`#channel`, `@person` and `@group` in the config: resolved once at start-up from Slack's
lists (paged), unknown ones stop start-up with one line naming the file and key."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from shipbell.bot.local import LocalShipbell, MakeBell
from shipbell.bot.settings import ConfigError
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import (
    ANA,
    BOB,
    CARL,
    DEPLOYS,
    EVE,
    GENERAL,
    INCIDENTS,
    LEADS,
    METRICS,
    ONCALL,
    RELEASES,
)
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

DEPLOY = {"providers": {"sim": {"type": "dry-run", "seconds": 0}},
          "services": {"api": {"provider": "sim", "environments": {"production": {}}}}}


def gated(**env: Any) -> dict[str, Any]:
    return {"deploy": {**DEPLOY, "services": {"api": {
        "provider": "sim", "environments": {"production": env}}}}}


def listed(bell: LocalShipbell) -> list[str]:
    return [c.method for c in bell.double.calls if c.method.endswith(".list")
            and not c.method.startswith("usergroups.users")]


# ---- the double answers the list methods as Slack documents them --------------------------
async def test_users_list_pages_with_an_opaque_cursor() -> None:
    async with SlackDouble() as double:
        for n in range(5):
            double.add_user(f"U0PERSON{n:02d}", f"person{n}")
        client = AsyncWebClient(token=double.token, base_url=double.api_url)
        first = await client.users_list(limit=2)
        cursor = first["response_metadata"]["next_cursor"]
        assert len(first["members"]) == 2 and cursor and not cursor.isdigit()
        seen = [m["id"] for m in first["members"]]
        while cursor:
            page = await client.users_list(limit=2, cursor=cursor)
            seen += [m["id"] for m in page["members"]]
            cursor = page["response_metadata"]["next_cursor"]
        assert sorted(seen) == sorted(double.state.users)  # every member once, bot included
        everyone = await client.users_list()  # no limit: Slack tries to send them all
        assert len(everyone["members"]) == 6 and not everyone["response_metadata"]["next_cursor"]
        with pytest.raises(SlackApiError, match="invalid_cursor"):
            await client.users_list(limit=2, cursor="2")
        await client.session.close() if client.session else None


async def test_usergroups_list_includes_users_only_when_asked() -> None:
    async with SlackDouble() as double:
        double.add_usergroup("S0ON00001", "oncall", ["U0A000001"])
        double.add_usergroup("S0OLD0001", "retired", ["U0B000001"], disabled=True)
        client = AsyncWebClient(token=double.token, base_url=double.api_url)
        plain = (await client.usergroups_list())["usergroups"]
        assert [g["handle"] for g in plain] == ["oncall"] and "users" not in plain[0]
        full = (await client.usergroups_list(include_users=True, include_disabled=True,
                                             include_count=True))["usergroups"]
        assert {g["handle"]: g["users"] for g in full} == {"oncall": ["U0A000001"],
                                                          "retired": ["U0B000001"]}
        assert full[0]["user_count"] == 1


# ---- start-up resolution ------------------------------------------------------------------
async def test_names_become_ids_at_start_up(make_bell: MakeBell) -> None:
    bell = await make_bell({
        **gated(channels=["#general"], deployers=["@oncall", "@ana"], approvers=[BOB]),
        "incident": {"announcements_channel": "#incidents", "responders": ["@oncall"],
                     "escalation_group": "@leads"},
        "release": {"managers": ["@eve"], "trains": {"web": {
            "channel": "#releases", "services": ["api"], "weekday": "tue", "time": "14:00",
            "captains": ["@bob", CARL]}}},
        "digest": {"channel": "#metrics"},
    })
    settings = bell.core.settings
    env = settings.deploy.services["api"].environments["production"]
    assert env.channels == [GENERAL] and env.deployers == [ONCALL, ANA]
    assert env.approvers == [BOB]  # ids stay as they are
    assert settings.incident.announcements_channel == INCIDENTS
    assert settings.incident.responders == [ONCALL]
    assert settings.incident.escalation_group == LEADS
    train = settings.release.trains["web"]
    assert (train.channel, train.captains) == (RELEASES, [BOB, CARL])
    assert settings.release.managers == [EVE] and settings.digest.channel == METRICS
    assert sorted(listed(bell)) == ["conversations.list", "usergroups.list", "users.list"]
    # and the gate compares ids: a deploy from #deploys is sent to #general
    ack = await bell.command("/deploy", "api to production", user=ANA, channel=DEPLOYS)
    assert f"<#{GENERAL}>" in ack.body


async def test_a_config_of_ids_asks_slack_for_no_lists(make_bell: MakeBell) -> None:
    bell = await make_bell(gated(channels=[DEPLOYS], deployers=[ANA]))
    assert listed(bell) == []


async def test_every_page_is_read_once(tmp_path: Path) -> None:
    bell = LocalShipbell(tmp_path / "x.db", config=gated(deployers=["@zed"]))
    for n in range(450):
        bell.double.add_user(f"U0EXTRA{n:03d}", f"extra{n}")
    bell.double.add_user("U0ZED0001", "zed")
    try:
        await bell.start()
        assert bell.core.settings.deploy.services["api"].environments[
            "production"].deployers == ["U0ZED0001"]
        pages = bell.double.calls_to("users.list")
        assert len(pages) == 3 and len({c.args.get("cursor") for c in pages}) == 3
        assert listed(bell) == ["users.list"] * 3 + ["usergroups.list"]
    finally:
        await bell.stop()


@pytest.mark.parametrize(("config", "key", "why"), [
    (gated(channels=["#nope"]), "deploy.services.api.environments.production.channels.0",
     "no channel #nope the bot can see (a private channel needs the bot invited first:"
     " /invite @<bot> in it)"),
    ({"incident": {"responders": ["@nobody"]}}, "incident.responders.0",
     "no person or user group @nobody in the workspace"),
    ({"release": {"trains": {"web": {"channel": "#releases", "services": ["api"],
                                     "weekday": "tue", "time": "14:00",
                                     "captains": ["@oncall"]}}}},
     "release.trains.web.captains.0", "no person @oncall in the workspace"),
])
async def test_an_unknown_name_stops_start_up_naming_the_key(
    tmp_path: Path, config: dict[str, Any], key: str, why: str
) -> None:
    bell = LocalShipbell(tmp_path / "x.db", config=config)
    try:
        with pytest.raises(ConfigError) as info:
            await bell.start()
    finally:
        await bell.double.stop()
    assert str(info.value) == f"config: `{key}`: {why}"


async def test_two_people_with_one_name_are_not_guessed(tmp_path: Path) -> None:
    bell = LocalShipbell(tmp_path / "x.db", config=gated(deployers=["@sam"]))
    bell.double.add_user("U0SAM1001", "sam")
    bell.double.add_user("U0SAM2001", "sam")
    try:
        with pytest.raises(ConfigError, match="@sam matches U0SAM1001, U0SAM2001; use the one id"):
            await bell.start()
    finally:
        await bell.double.stop()


# ---- `shipbell serve`: one line per unknown name, file and key, exit 2 ---------------------
async def serve(tmp_path: Path, double: SlackDouble, toml: str,
                env: dict[str, str] | None = None) -> tuple[int, str]:
    path = tmp_path / "shipbell.toml"
    path.write_text(f'[slack]\napi_url = "{double.api_url}"\n[server]\nport = 0\n' + toml)
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shipbell.bot.cli", "serve", "-c", str(path), cwd=tmp_path,
        env={**clean, "SLACK_BOT_TOKEN": double.token, "SLACK_SIGNING_SECRET": "x" * 32,
             **(env or {})},
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode or 0, err.decode()


async def test_serve_stops_on_unknown_names_with_one_line_each(tmp_path: Path) -> None:
    async with SlackDouble() as double:
        double.add_channel("deploys", channel_id=DEPLOYS)
        code, err = await serve(tmp_path, double, '[digest]\nchannel = "#metrics"\n'
                                '[incident]\nannouncements_channel = "#deploys"\n'
                                'responders = ["@ghost"]\n')
    path = tmp_path / "shipbell.toml"
    assert code == 2
    assert err.strip().splitlines() == [
        f"shipbell: {path}: `incident.responders.0`: no person or user group @ghost"
        " in the workspace",
        f"shipbell: {path}: `digest.channel`: no channel #metrics the bot can see"
        " (a private channel needs the bot invited first: /invite @<bot> in it)",
    ]
    assert "Traceback" not in err


async def test_a_name_from_the_environment_is_blamed_on_its_variable(tmp_path: Path) -> None:
    async with SlackDouble() as double:
        code, err = await serve(tmp_path, double, "",
                                env={"SHIPBELL_DIGEST__CHANNEL": "#nowhere"})
    assert code == 2
    assert err.strip() == ("shipbell: environment variable SHIPBELL_DIGEST__CHANNEL: "
                           "`digest.channel`: no channel #nowhere the bot can see (a private"
                           " channel needs the bot invited first: /invite @<bot> in it)")


# ---- the shell: a real config's names are simulated, not refused --------------------------
async def test_the_shell_simulates_names_its_workspace_lacks(tmp_path: Path) -> None:
    config = {**gated(channels=["#prod-deploys"], deployers=["@alice", "@oncall"]),
              "digest": {"channel": "#deploys"}}
    async with LocalShipbell(tmp_path / "x.db", config=config, simulate_names=True) as bell:
        env = bell.core.settings.deploy.services["api"].environments["production"]
        prod = next(c.id for c in bell.double.state.channels.values()
                    if c.name == "prod-deploys")
        alice = next(u["id"] for u in bell.double.state.users.values() if u["name"] == "alice")
        assert env.channels == [prod] and env.deployers == [alice, ONCALL]
        assert bell.core.settings.digest.channel == DEPLOYS  # existing ones are reused
        assert bell.simulated == ["@alice", "#prod-deploys"]
        ack = await bell.command("/deploy", "api to production", user=alice, channel=prod)
        assert ack.status == 200 and "Only" not in ack.body and "from <#" not in ack.body


def test_the_shell_starts_on_a_config_naming_channels_it_has_never_seen(tmp_path: Path) -> None:
    from fakes.cli import shipbell

    path = tmp_path / "shipbell.toml"
    path.write_text('[deploy.providers.sim]\ntype = "dry-run"\n[deploy.services.api]\n'
                    'provider = "sim"\n[deploy.services.api.environments.production]\n'
                    'channels = ["#prod-deploys"]\ndeployers = ["@alice"]\n')
    result = shipbell("shell", "-c", str(path), "--db", str(tmp_path / "s.db"), cwd=tmp_path,
                      stdin="/deploy help\nquit\n")
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr and "> /deploy help" in result.stdout
