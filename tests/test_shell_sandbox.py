"""`shipbell --config x.toml shell` is a sandbox: stand-in providers, a scratch database.

Driven as a person would: the real `shipbell` command in a subprocess, fed through a pipe,
with a config whose webhook provider points at a local fake CI and whose [storage] path
is a file the shell must never create.
"""

from __future__ import annotations

import asyncio
import io
import itertools
import json
import os
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV
from shipbell.bot.settings import load_config
from shipbell.bot.shell.repl import run_shell
from shipbell.bot.slackdouble import driver as slackdouble_driver
from shipbell.bot.slackdouble.cast import ANA, DEPLOYS

CONFIG = """
[storage]
path = "{real_db}"

[deploy.providers.ci]
type = "webhook"
url = "{ci_url}"
secret_env = "{secret_env}"

[deploy.services.web]
repository = "acme/web"
provider = "ci"
environments.staging = {staging}
"""


@pytest.fixture
async def real_ci() -> AsyncIterator[FakeCI]:
    """A fake CI checking signatures against the wall clock (the shell runs on it)."""
    fake = await FakeCI(SECRET, lambda: datetime.now(UTC)).start()
    yield fake
    await fake.stop()


def write_config(tmp_path: Path, ci: FakeCI, staging: str = "{}") -> Path:
    path = tmp_path / "shipbell.toml"
    path.write_text(CONFIG.format(real_db=tmp_path / "real.db", ci_url=ci.url,
                                  secret_env=SECRET_ENV, staging=staging), "utf-8")
    return path


async def shell(tmp_path: Path, *args: str, script: str) -> tuple[int, str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "SHIPBELL_"))}
    env[SECRET_ENV] = SECRET
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "shipbell.bot.cli", *args, stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path, env=env)
    async with asyncio.timeout(60):
        out, err = await proc.communicate(script.encode())
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_a_real_config_deploys_nothing_and_leaves_the_database_alone(
    tmp_path: Path, real_ci: FakeCI,
) -> None:
    config = write_config(tmp_path, real_ci)
    code, out, err = await shell(tmp_path, "--config", str(config), "shell",
                                 script="/deploy web to staging\nquit\n")
    assert code == 0, err
    assert "Deploy #1: *web* `main` to *staging* — succeeded" in out  # the stand-in ran it
    assert real_ci.jobs == [] and real_ci.rejected == []  # nothing reached the CI
    assert not (tmp_path / "real.db").exists()  # the [storage] path was never opened
    assert (tmp_path / "shipbell.shell.db").is_file()
    assert "sandbox" in out and "ci (webhook) → dry-run stand-ins" in out
    assert f"[storage] path {tmp_path / 'real.db'} is not touched" in out


async def test_the_real_database_is_refused_as_a_scratch_database(
    tmp_path: Path, real_ci: FakeCI, capsys: pytest.CaptureFixture[str],
) -> None:
    config = load_config(str(write_config(tmp_path, real_ci)))
    code = await run_shell(config, user=ANA, channel=DEPLOYS,
                           db=str(tmp_path / "real.db"), stdin=io.StringIO("quit\n"),
                           out=io.StringIO())
    err = capsys.readouterr().err
    assert code == 2
    assert "is the [storage] path" in err and "--live" in err
    assert not (tmp_path / "real.db").exists()


async def test_live_uses_the_real_provider_and_database_and_says_so(
    tmp_path: Path, real_ci: FakeCI,
) -> None:
    config = write_config(tmp_path, real_ci)
    code, out, err = await shell(tmp_path, "--config", str(config), "shell", "--live",
                                 script="/deploy web to staging\nquit\n")
    assert code == 0, err
    assert "LIVE shell" in out and f"database  {tmp_path / 'real.db'}" in out
    assert len(real_ci.jobs) == 1 and real_ci.jobs[0]["service"] == "web"
    assert (tmp_path / "real.db").is_file()


async def test_fresh_never_goes_with_live(
    tmp_path: Path, real_ci: FakeCI, capsys: pytest.CaptureFixture[str],
) -> None:
    config = load_config(str(write_config(tmp_path, real_ci)))
    code = await run_shell(config, user=ANA, channel=DEPLOYS, db=None, live=True,
                           fresh=True, stdin=io.StringIO("quit\n"), out=io.StringIO())
    assert code == 2 and "never goes with --live" in capsys.readouterr().err
    assert not (tmp_path / "real.db").exists()


async def shell_in_process(db: str, script: str, *, fresh: bool = False) -> str:
    out = io.StringIO()
    code = await run_shell(load_config(None), user=ANA, channel=DEPLOYS, db=db,
                           fresh=fresh, stdin=io.StringIO(script), out=out)
    assert code == 0
    return out.getvalue()


async def test_a_restart_keeps_incidents_and_their_channels_together(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHIPBELL_CONFIG", raising=False)
    db = str(tmp_path / "try.db")
    await shell_in_process(db, "/incident open Checkout latency sev2 --service api\npin m1\n")
    # a new `shipbell shell` process: the driver's own event counter starts again at 1
    monkeypatch.setattr(slackdouble_driver, "_event_ids", itertools.count(1))
    out = await shell_in_process(db, (
        "in #inc-1-checkout-latency\n/incident update cache flushed\npin m1\n"
        "/incident resolve restarted the pods\nfile 1\n"))
    assert "you are @ana in #inc-1-checkout-latency" in out
    assert "channel_not_found" not in out
    assert "· @ana pinned m1 in #inc-1-checkout-latency" in out
    draft = out.split("> file 1")[1]
    # the pin after the restart reached the timeline (its event id is new, not a "retry")
    assert "Pinned · @shipbell: INC-1 update: cache flushed" in draft
    assert "restarted the pods" in draft

    out = await shell_in_process(db, "/incident list\nin #inc-1-checkout-latency\n",
                                 fresh=True)
    assert f"--fresh: removed {db}" in out
    assert "No open incidents" in out and "`#inc-1-checkout-latency`? Try one of" in out


async def test_a_database_without_its_slack_state_is_pointed_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("SHIPBELL_CONFIG", raising=False)
    db = str(tmp_path / "old.db")
    demo = load_config(None)
    assert await run_shell(demo, user=ANA, channel=DEPLOYS, db=db,
                           stdin=io.StringIO("/incident help\n"), out=io.StringIO()) == 0
    forget_slack_state(db)  # as the shell before this one left its databases
    out = io.StringIO()
    assert await run_shell(demo, user=ANA, channel=DEPLOYS, db=db,
                           stdin=io.StringIO("quit\n"), out=out) == 0
    assert "has no saved Slack state" in out.getvalue() and "--fresh" in out.getvalue()


async def test_slack_state_saved_with_made_up_ids_is_left_unread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Shells before this one saved their stand-in Slack with ids like `U_ANA`, which Slack
    never issues: such a workspace is not restored (ana would be there twice) but pointed out."""
    monkeypatch.delenv("SHIPBELL_CONFIG", raising=False)
    db = str(tmp_path / "old.db")
    demo = load_config(None)
    assert await run_shell(demo, user=ANA, channel=DEPLOYS, db=db,
                           stdin=io.StringIO("/incident help\n"), out=io.StringIO()) == 0
    saved = saved_slack_state(db)
    saved["users"]["U_ANA"] = {**saved["users"][ANA], "id": "U_ANA"}  # as older shells did
    save_slack_state(db, saved)
    out = io.StringIO()
    assert await run_shell(demo, user=ANA, channel=DEPLOYS, db=db,
                           stdin=io.StringIO("who\n"), out=out) == 0
    text = out.getvalue()
    assert "has no saved Slack state" in text and "--fresh" in text
    assert "people: @ana, @bob, @carl, @dana, @eve" in text
    assert "U_ANA" not in saved_slack_state(db)["users"]


def saved_slack_state(db: str) -> dict[str, Any]:
    return dict(json.loads(Path(f"{db}.slack.json").read_text("utf-8")))


def save_slack_state(db: str, state: dict[str, Any]) -> None:
    Path(f"{db}.slack.json").write_text(json.dumps(state), "utf-8")


def forget_slack_state(db: str) -> None:
    Path(f"{db}.slack.json").unlink()


def copy_example(tmp_path: Path) -> Path:
    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = tmp_path / "shipbell.toml"
    config.write_text(example.read_text("utf-8"), "utf-8")
    return config


async def test_the_example_config_runs_in_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`cp config.example.toml shipbell.toml` then `shell`: it starts, on a scratch database,
    and its webhook provider is stood in for."""
    monkeypatch.chdir(tmp_path)
    config = copy_example(tmp_path)
    out = io.StringIO()
    code = await run_shell(load_config(str(config)), user=ANA, channel=DEPLOYS,
                           db=None, stdin=io.StringIO("/deploy web to staging\nwho\n"), out=out)
    text = out.getvalue()
    assert code == 0
    assert "channel_not_found" not in text
    assert "Deploy #1: *web* `main` to *staging* — succeeded" in text
    assert not (tmp_path / "shipbell.db").exists()  # its [storage] path
    assert (tmp_path / "shipbell.shell.db").is_file()


async def test_channels_a_config_names_by_id_exist_in_the_stand_in_slack(
    tmp_path: Path, real_ci: FakeCI,
) -> None:
    config = write_config(tmp_path, real_ci, staging='{ channels = ["C0SHIPPING"] }')
    out = io.StringIO()
    code = await run_shell(load_config(str(config)), user=ANA, channel=DEPLOYS,
                           db=str(tmp_path / "s.db"),
                           stdin=io.StringIO("in #c0shipping\n/deploy web to staging\n"), out=out)
    text = out.getvalue()
    assert code == 0
    assert "stand-in Slack also has what your config names: #c0shipping" in text
    assert "you are @ana in #c0shipping" in text
    assert "Deploy #1: *web* `main` to *staging* — succeeded" in text
    assert real_ci.jobs == []
