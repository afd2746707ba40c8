"""Each provider against something real: a fake CI, a real script (github: test_github_provider)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.waiting import tick, until
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.slackdouble.cast import DEPLOYS

pytest_plugins = ("fakes.fixtures",)

SCRIPT = str(Path(__file__).parent / "fakes" / "scripts" / "deploy.sh")


def row(bell: LocalShipbell, deploy_id: int = 1) -> dict[str, Any]:
    return bell.core.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,)) or {}


def with_provider(provider: dict[str, Any], ci_url: str = "http://127.0.0.1:9/jobs"
                  ) -> dict[str, Any]:
    config = deploy_config(ci_url)
    config["deploy"]["providers"]["p"] = provider
    config["deploy"]["services"]["api"]["provider"] = "p"
    return config


async def ended(bell: LocalShipbell, deploy_id: int = 1) -> dict[str, Any]:
    final = ("succeeded", "failed", "cancelled", "timed_out", "rejected")
    await until(lambda: row(bell, deploy_id).get("state") in final)
    await bell.idle()
    top = [m for m in bell.double.messages(DEPLOYS) if f"Deploy #{deploy_id}:" in m["text"]]
    assert top and row(bell, deploy_id)["state"].replace("_", " ") in top[0]["text"]
    return row(bell, deploy_id)


def thread_text(bell: LocalShipbell) -> str:
    return "\n".join(m["text"] for m in bell.double.messages(DEPLOYS) if m.get("thread_ts"))


# -- command -----------------------------------------------------------------------------
def cmd_config(timeout: float = 10.0) -> dict[str, Any]:
    return with_provider({"type": "command", "command": [SCRIPT], "timeout_seconds": timeout})


async def test_command_passes_separate_arguments(make_bell: MakeBell) -> None:
    bell = await make_bell(cmd_config())
    await bell.command("/deploy", "api@v1.0 to production")
    deploy = await ended(bell)
    assert deploy["state"] == "succeeded" and deploy["version"] == "v1.0"
    await bell.idle()
    text = thread_text(bell)
    assert "service=api" in text and "env=production" in text and "ref=v1.0" in text
    assert "argc=3" in text and "deployed" in text


async def test_command_exit_code_and_tail(make_bell: MakeBell) -> None:
    bell = await make_bell(cmd_config())
    await bell.command("/deploy", "api@fail-7 to production")
    deploy = await ended(bell)
    assert deploy["state"] == "failed" and deploy["error"] == "the command exited with 3"
    await bell.idle()
    assert "boom: migrations failed" in thread_text(bell)


async def test_command_timeout_kills_it(make_bell: MakeBell) -> None:
    bell = await make_bell(cmd_config(timeout=0.3))
    await bell.command("/deploy", "api@slow-1 to production")
    deploy = await ended(bell)
    assert deploy["state"] == "failed" and deploy["error"] == "the command ran over 0.3 s"


async def test_command_never_sees_shell_syntax(make_bell: MakeBell, tmp_path: Path) -> None:
    bell = await make_bell(cmd_config())
    marker = tmp_path / "pwned"
    for text in (f"api@main;touch${{IFS}}{marker} to production",
                 f"api@$(touch${{IFS}}{marker}) to production"):
        ack = await bell.command("/deploy", text)
        assert "isn't a valid git ref" in ack.text
    assert not marker.exists() and row(bell) == {}


async def test_command_missing_program(make_bell: MakeBell, tmp_path: Path) -> None:
    bell = await make_bell(with_provider({"type": "command",
                                          "command": [str(tmp_path / "nope.sh")]}))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["state"] == "failed" and deploy["error"].startswith("couldn't start")


# -- webhook -----------------------------------------------------------------------------
async def test_webhook_retries_5xx_and_gives_up_on_4xx(make_bell: MakeBell, ci: FakeCI,
                                                       clock: FakeClock) -> None:
    bell = await make_bell(deploy_config(ci.url))
    ci.fail_next = [502, 503]
    await bell.command("/deploy", "api to production")
    await tick(clock, 1)
    await tick(clock, 2)
    jobs = await ci.wait_jobs(1)
    assert jobs[0]["deploy_id"] == 1 and not ci.rejected
    ci.fail_next = [400]
    await bell.command("/deploy", "web to production")
    deploy = await ended(bell, 2)
    assert deploy["error"] == "the CI refused the job (HTTP 400)"


async def test_webhook_unreachable_fails_with_reason(make_bell: MakeBell, clock: FakeClock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    bell = await make_bell(deploy_config("http://127.0.0.1:9/jobs"))
    await bell.command("/deploy", "api to production")
    await tick(clock, 1)
    await tick(clock, 2)
    deploy = await ended(bell)
    assert deploy["state"] == "failed"
    assert deploy["error"] == "couldn't reach the CI (ClientConnectorError)"


async def test_webhook_secret_missing_never_leaks(make_bell: MakeBell, ci: FakeCI,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(SECRET_ENV)
    bell = await make_bell(deploy_config(ci.url))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["error"] == f"the webhook secret variable {SECRET_ENV} is not set"


# -- dry-run -----------------------------------------------------------------------------
async def test_dry_run_takes_its_time_then_succeeds(make_bell: MakeBell, clock: FakeClock,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    bell = await make_bell(deploy_config())
    await bell.command("/deploy", "worker@v2 to staging")
    await until(lambda: row(bell)["state"] == "running")
    for _ in range(3):
        await tick(clock, 10)
    deploy = await ended(bell)
    assert deploy["state"] == "succeeded" and deploy["version"] == "v2"


def test_merge_is_used() -> None:
    assert merge({"a": {"b": 1}}, {"a": {"c": 2}}) == {"a": {"b": 1, "c": 2}}
