"""Each provider against something real: a fake CI, a fake GitHub API, a real script."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.github import FakeGitHub
from fakes.waiting import tick, until

from bot.clock import FakeClock
from bot.local import LocalShipbell, merge

pytest_plugins = ("fakes.fixtures",)

SCRIPT = str(Path(__file__).parent / "fakes" / "scripts" / "deploy.sh")
TOKEN_ENV = "SHIPBELL_TEST_GH_TOKEN"


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
    top = [m for m in bell.double.messages("C_DEPLOYS") if f"Deploy #{deploy_id}:" in m["text"]]
    assert top and row(bell, deploy_id)["state"].replace("_", " ") in top[0]["text"]
    return row(bell, deploy_id)


def thread_text(bell: LocalShipbell) -> str:
    return "\n".join(m["text"] for m in bell.double.messages("C_DEPLOYS") if m.get("thread_ts"))


# -- github ------------------------------------------------------------------------------
@pytest.fixture
async def github(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv(TOKEN_ENV, "ghp-test-token")
    fake = await FakeGitHub("ghp-test-token").start()
    yield fake
    await fake.stop()


def gh_config(github: FakeGitHub) -> dict[str, Any]:
    return with_provider({"type": "github", "api_url": github.url, "workflow": "deploy.yml",
                          "token_env": TOKEN_ENV, "poll_seconds": 10})


async def test_github_dispatch_poll_and_finish(make_bell: MakeBell, github: FakeGitHub,
                                               clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api@v5 to production")
    await until(lambda: bool(github.dispatches))
    sent = github.dispatches[0]
    assert sent["path"] == "/api/v3/repos/acme/api/actions/workflows/deploy.yml/dispatches"
    assert sent["ref"] == "v5" and sent["return_run_details"] is True
    assert sent["inputs"] == {"service": "api", "environment": "production", "deploy_id": "1"}
    await until(lambda: row(bell)["state"] == "running")
    assert row(bell)["provider_ref"] == "9000"
    assert row(bell)["log_url"] == "https://github.example/runs/9000"
    github.runs[9000].update(status="in_progress")
    await tick(clock, 10)
    await until(lambda: clock.sleepers > 0)  # polled again, saw it in progress
    github.runs[9000].update(status="completed", conclusion="success")
    await tick(clock, 10)
    deploy = await ended(bell)
    assert deploy["state"] == "succeeded" and deploy["version"] == "f00dfacecafe"
    assert deploy["sha"] == "f00dfacecafe0123456789"


async def test_github_lists_commits_shipped_since_last_deploy(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    for n, sha in ((1, "aaaa1111"), (2, "bbbb2222")):
        await bell.command("/deploy", "api to production")
        await until(lambda n=n: row(bell, n).get("state") == "running")  # type: ignore[misc]
        github.runs[8999 + n].update(status="completed", conclusion="success", head_sha=sha)
        if n == 2:
            github.commits = [
                {"sha": "bbbb2222", "commit": {
                    "message": "Speed up search\n\nDetails",
                    "author": {"name": "Dana", "date": "2026-10-30T08:00:00Z"},
                    "committer": {"name": "GitHub", "date": "2026-11-01T08:00:00Z"}}},
                {"sha": "cccc3333", "commit": {  # no committer: when it was written counts
                    "message": "Tidy", "author": {"name": "Eve", "date": "2026-11-01T09:00:00Z"}}},
            ]
        await tick(clock, 10)
        await ended(bell, n)
    assert github.compared == ["aaaa1111...bbbb2222"]
    changes = bell.core.store.all("SELECT deploy_id, sha, title, author, committed_at"
                                  " FROM deploy_changes")
    assert changes == [
        {"deploy_id": 2, "sha": "bbbb2222", "title": "Speed up search", "author": "Dana",
         "committed_at": "2026-11-01T08:00:00.000000+00:00"},
        {"deploy_id": 2, "sha": "cccc3333", "title": "Tidy", "author": "Eve",
         "committed_at": "2026-11-01T09:00:00.000000+00:00"},
    ]
    top = next(m for m in bell.double.messages("C_DEPLOYS") if m["text"].startswith("Deploy #2"))
    assert "Speed up search (Dana)" in str(top["blocks"])


async def test_github_failure_conclusion_and_cancel(make_bell: MakeBell, github: FakeGitHub,
                                                    clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: row(bell)["state"] == "running")
    github.runs[9000].update(status="completed", conclusion="failure")
    await tick(clock, 10)
    deploy = await ended(bell)
    assert deploy["state"] == "failed" and deploy["error"] == "the workflow run ended: failure"
    await bell.command("/deploy", "api to production")
    await until(lambda: row(bell, 2)["state"] == "running")
    ack = await bell.command("/deploy", "cancel 2", user="U_BOB")
    assert ack.text == "Cancelled deploy #2."
    await until(lambda: github.cancelled == [9001])
    assert row(bell, 2)["state"] == "cancelled"


async def test_github_retries_5xx_then_refuses_bad_token(make_bell: MakeBell, github: FakeGitHub,
                                                         clock: FakeClock,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    bell = await make_bell(gh_config(github))
    github.fail_next = [503]
    await bell.command("/deploy", "api to production")
    await tick(clock, 1)  # backoff before the second attempt
    await until(lambda: bool(github.dispatches))
    assert github.requests >= 2
    monkeypatch.setenv(TOKEN_ENV, "wrong")
    await bell.command("/deploy", "api to staging")
    deploy = await ended(bell, 2)
    assert deploy["state"] == "failed"
    assert deploy["error"] == "GitHub refused (HTTP 401): Bad credentials"
    assert "wrong" not in thread_text(bell)


async def test_github_rate_limit_waits_for_the_reset(make_bell: MakeBell, github: FakeGitHub,
                                                     clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: row(bell)["state"] == "running")
    github.rate_limited_until = clock.now().timestamp() + 600
    github.runs[9000].update(status="completed", conclusion="success")
    await tick(clock, 10)  # the poll hits the rate limit
    await clock.until_sleeping()
    assert row(bell)["state"] == "running", "a rate limit is not a failed deploy"
    await tick(clock, 300)  # waits (capped at 5 min), then polls again
    deploy = await ended(bell)
    assert deploy["state"] == "succeeded"


async def test_github_without_run_details_fails_clearly(make_bell: MakeBell,
                                                         github: FakeGitHub) -> None:
    github.legacy = True
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["error"] == "GitHub didn't return the run id (needs the 2026 dispatch API)"
    assert len(github.dispatches) == 1, "not retried: a run may have started"


async def test_github_missing_token_names_the_variable(make_bell: MakeBell, github: FakeGitHub,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["error"] == f"the GitHub token variable {TOKEN_ENV} is not set"
    assert github.requests == 0


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
