"""The `github` provider, driven through real deploys against a fake of GitHub's REST API.

The fake (tests/fakes/github.py) follows GitHub's documented answers: both dispatch answers,
run statuses, 409 on cancelling a finished run, paged compare, lost replies, rate limits.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MakeBell
from fakes.configs import deploy_config
from fakes.github import FakeGitHub, commit
from fakes.waiting import tick, until
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import BOB, DEPLOYS

TOKEN_ENV = "SHIPBELL_TEST_GH_TOKEN"
TOKEN = "ghp-test-token-0123456789"
RUN_NAME = "Deploy {service} to {environment} (shipbell #{deploy_id})"
OLD = "0123456789abcdef0123456789abcdef01234567"
NEW = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
async def github(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Any:
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    fake = await FakeGitHub(TOKEN, clock.now).start()
    yield fake
    await fake.stop()


def gh_config(github: FakeGitHub, **provider: Any) -> dict[str, Any]:
    config = deploy_config()
    config["deploy"]["providers"]["p"] = {
        "type": "github", "api_url": github.url, "workflow": "deploy.yml",
        "token_env": TOKEN_ENV, "poll_seconds": 10, **provider}
    config["deploy"]["services"]["api"]["provider"] = "p"
    return config


def row(bell: LocalShipbell, deploy_id: int = 1) -> dict[str, Any]:
    return bell.core.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,)) or {}


def top(bell: LocalShipbell, deploy_id: int = 1) -> dict[str, Any]:
    return next(m for m in bell.double.messages(DEPLOYS)
                if m["text"].startswith(f"Deploy #{deploy_id}:"))


def thread_text(bell: LocalShipbell) -> str:
    return "\n".join(m["text"] for m in bell.double.messages(DEPLOYS) if m.get("thread_ts"))


async def ended(bell: LocalShipbell, deploy_id: int = 1) -> dict[str, Any]:
    final = ("succeeded", "failed", "cancelled", "timed_out", "rejected")
    await until(lambda: row(bell, deploy_id).get("state") in final)
    await bell.idle()
    state = row(bell, deploy_id)["state"].replace("_", " ")
    assert state in top(bell, deploy_id)["text"]
    return row(bell, deploy_id)


async def running(bell: LocalShipbell, github: FakeGitHub, clock: FakeClock,
                  deploy_id: int = 1) -> None:
    """Let the run GitHub queued start, and Shipbell see it (then it naps till its next poll)."""
    await until(lambda: (row(bell, deploy_id).get("provider_ref") or "").isdigit())
    await clock.until_sleeping()  # polled: queued
    github.move(int(row(bell, deploy_id)["provider_ref"]), "in_progress")
    await tick(clock, 10)
    await until(lambda: row(bell, deploy_id)["state"] == "running")
    await clock.until_sleeping()


# -- dispatch and the run's statuses ------------------------------------------------------
async def test_dispatch_sends_the_documented_request_and_follows_the_run(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api@v5 to production")
    await until(lambda: bool(github.dispatches))
    sent = github.dispatches[0]
    assert sent["path"] == "/api/v3/repos/acme/api/actions/workflows/deploy.yml/dispatches"
    assert sent["ref"] == "v5" and sent["return_run_details"] is True
    assert sent["inputs"] == {"service": "api", "environment": "production", "deploy_id": "1",
                              "sha": ""}
    assert github.user_agents == {"Shipbell (deploy provider)"}
    await until(lambda: row(bell)["provider_ref"] == "9000")
    await running(bell, github, clock)
    assert row(bell)["log_url"] == "https://github.example/runs/9000"
    github.finish(9000, "success")
    await tick(clock, 10)
    deploy = await ended(bell)
    assert deploy["state"] == "succeeded" and deploy["version"] == "f00dfacecafe"
    assert deploy["sha"] == "f00dfacecafe0123456789abcdef0123456789ab"


@pytest.mark.parametrize("status", ["queued", "waiting", "pending", "requested"])
async def test_a_run_that_has_not_started_is_waiting_not_running(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock, status: str) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: row(bell).get("provider_ref") == "9000")
    await clock.until_sleeping()  # first poll: queued
    if status != "queued":
        github.move(9000, status)
    await tick(clock, 10)
    await clock.until_sleeping()  # polled again
    await until(lambda: f"run 9000 {status}" in thread_text(bell))
    assert row(bell)["state"] == "triggered", f"a {status} run is not running"
    assert "running" not in top(bell)["text"]
    if status == "waiting":
        assert "environment approval" in thread_text(bell)
    notes = [e for e in bell.core.store.all("SELECT note FROM deploy_events WHERE deploy_id = 1")
             if "run 9000" in (e["note"] or "")]
    assert len(notes) == 1 + (status != "queued"), "each reason is said once, not every poll"
    github.move(9000, "in_progress")
    await tick(clock, 10)
    await until(lambda: row(bell)["state"] == "running")


# -- the classic 204 and lost replies: find the run, never dispatch twice ------------------
async def test_classic_204_answer_finds_the_run_it_started(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.legacy = True  # older GitHub Enterprise Server: 204, no run id
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: row(bell).get("provider_ref") == "9000")
    assert row(bell)["state"] == "triggered" and row(bell)["error"] is None
    query = github.listed[0]
    assert query["event"] == "workflow_dispatch" and query["branch"] == "main"
    assert query["actor"] == "shipbell-bot" and query["created"] == ">=2026-11-02T08:58:00Z"
    await running(bell, github, clock)
    github.finish(9000)
    await tick(clock, 10)
    assert (await ended(bell))["state"] == "succeeded"
    assert len(github.dispatches) == 1


async def test_classic_204_whose_run_shows_late_is_followed_once_it_shows(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.legacy = True
    github.run_name = RUN_NAME
    bell = await make_bell(gh_config(github))
    hidden: dict[int, dict[str, Any]] = {}
    github.on_dispatch = lambda run_id: hidden.update({run_id: github.runs.pop(run_id)})
    await bell.command("/deploy", "api to production")
    await until(lambda: (row(bell).get("provider_ref") or "").startswith("pending:"))
    await tick(clock, 10)
    await clock.until_sleeping()
    assert row(bell)["state"] == "triggered"
    github.runs.update(hidden)  # GitHub lists it now
    await tick(clock, 10)
    await until(lambda: row(bell)["provider_ref"] == "9000")
    await running(bell, github, clock)
    assert len(github.dispatches) == 1


async def test_classic_204_whose_run_never_shows_fails_with_what_to_check(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.legacy = True
    github.on_dispatch = github.runs.pop  # accepted, but GitHub never lists a run
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: (row(bell).get("provider_ref") or "").startswith("pending:"))
    for _ in range(62):  # ten minutes of polls
        await until(lambda: clock.sleepers > 0 or row(bell)["state"] == "failed")
        if row(bell)["state"] == "failed":
            break
        await tick(clock, 10)
    deploy = await ended(bell)
    assert deploy["state"] == "failed"
    assert "no run of it appeared within 10 min" in deploy["error"]
    assert "acme/api" in deploy["error"] and len(github.dispatches) == 1


@pytest.mark.parametrize("lose", ["drop", "stall"])
async def test_lost_reply_finds_the_run_instead_of_dispatching_again(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock, lose: str) -> None:
    github.lose_reply = lose  # GitHub starts the run; its answer never arrives
    bell = await make_bell(gh_config(github, request_timeout_seconds=0.2))
    await bell.command("/deploy", "api to production")
    await until(lambda: bool(row(bell).get("provider_ref")))
    assert len(github.dispatches) == 1, "one run, not two"
    assert row(bell)["provider_ref"] == "9000"
    await running(bell, github, clock)
    github.finish(9000)
    await tick(clock, 10)
    assert (await ended(bell))["state"] == "succeeded"


async def test_lost_request_is_dispatched_again_only_after_looking(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.lose_reply = "before"  # the connection drops before GitHub acts on it
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: bool(github.listed))  # looked right away: nothing
    for _ in range(6):  # the runner's back-off, then looking again through the grace period
        if github.dispatches:
            break
        await tick(clock, 5)
    await until(lambda: len(github.dispatches) == 1)
    assert len(github.listed) >= 3, "looked for a run before dispatching again"
    await until(lambda: row(bell).get("provider_ref") == "9000")
    assert len(github.runs) == 1


async def test_run_name_marker_picks_our_run_among_others(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.legacy = True
    github.run_name = RUN_NAME
    bell = await make_bell(gh_config(github))
    github.add_run(display_title="Deploy api to staging (shipbell #77)")  # someone else's
    await bell.command("/deploy", "api to production")
    await until(lambda: bool(row(bell).get("provider_ref")))
    assert row(bell)["provider_ref"] == "9001"


async def test_without_run_names_several_candidates_are_not_guessed(
        make_bell: MakeBell, github: FakeGitHub) -> None:
    github.legacy = True
    bell = await make_bell(gh_config(github))
    github.add_run()  # another dispatch of the same workflow on main, just now
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["state"] == "failed"
    assert "can't tell which one is deploy #1" in deploy["error"]
    assert "run-name" in deploy["error"]
    assert len(github.dispatches) == 1


# -- rollback: a SHA is never a ref --------------------------------------------------------
async def test_rollback_runs_the_branch_with_the_sha_as_input(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    for n, sha in ((1, OLD), (2, NEW)):
        github.heads["main"] = sha
        await bell.command("/deploy", "api to production")
        await running(bell, github, clock, n)
        github.finish(8999 + n)
        await tick(clock, 10)
        await ended(bell, n)
    github.heads["main"] = "feedfeedfeedfeedfeedfeedfeedfeedfeedfeed"  # main moved on since
    await bell.command("/deploy", "rollback api production")
    await until(lambda: len(github.dispatches) == 3)
    sent = github.dispatches[2]
    assert sent["ref"] == "main" and sent["inputs"]["sha"] == OLD
    assert github.refused == []
    await running(bell, github, clock, 3)
    github.finish(9002)
    await tick(clock, 10)
    deploy = await ended(bell, 3)
    assert deploy["state"] == "succeeded" and deploy["is_rollback"] == 1
    assert deploy["sha"] == OLD, "what shipped is the SHA, not the branch's head"


# -- refusals name what to fix ------------------------------------------------------------
async def test_undeclared_input_422_names_provider_repository_workflow_and_inputs(
        make_bell: MakeBell, github: FakeGitHub) -> None:
    github.declared = ("service", "environment", "deploy_id")  # the workflow lacks `sha`
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["state"] == "failed"
    for part in ("HTTP 422", 'Unexpected inputs provided: ["sha"]', "provider p",
                 "acme/api", "deploy.yml", TOKEN_ENV, "service, environment, deploy_id, sha"):
        assert part in deploy["error"], part
    assert len(github.refused) == 1, "a refusal is not retried"


async def test_401_and_404_name_the_token_variable_repository_and_workflow(
        make_bell: MakeBell, github: FakeGitHub, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(TOKEN_ENV, "ghp-wrong-secret-value")
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    for part in ("HTTP 401: Bad credentials", TOKEN_ENV, "acme/api", "deploy.yml", "provider p"):
        assert part in deploy["error"], part
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    github.workflows = {"release.yml"}
    await bell.command("/deploy", "api to staging")
    deploy = await ended(bell, 2)
    for part in ("HTTP 404", TOKEN_ENV, "acme/api", "deploy.yml", "provider p"):
        assert part in deploy["error"], part
    assert "ghp-wrong-secret-value" not in thread_text(bell)
    assert "ghp-wrong-secret-value" not in str(bell.core.store.all("SELECT * FROM deploys"))


# -- cancel -------------------------------------------------------------------------------
async def test_cancel_of_a_running_run(make_bell: MakeBell, github: FakeGitHub,
                                       clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await running(bell, github, clock)
    ack = await bell.command("/deploy", "cancel 1", user=BOB)
    assert ack.text == "Cancelled deploy #1."
    await until(lambda: github.cancelled == [9000])
    assert row(bell)["state"] == "cancelled"
    await tick(clock, 10)  # the poller wakes, sees it ended, stops
    await bell.idle()
    assert row(bell)["state"] == "cancelled"


async def test_cancel_of_a_run_github_already_finished_records_what_it_did(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await running(bell, github, clock)
    github.finish(9000, "success")  # done at GitHub before Shipbell's next poll
    await bell.command("/deploy", "cancel 1", user=BOB)
    await until(lambda: github.cancel_refused == [9000])
    await until(lambda: row(bell)["state"] == "succeeded")
    await tick(clock, 10)  # the poller wakes, sees it ended, stops
    await bell.idle()
    deploy = row(bell)
    assert deploy["error"] is None and deploy["version"] == "f00dfacecafe"
    assert "succeeded" in top(bell)["text"]
    assert "had already finished" in thread_text(bell)
    assert bell.core.store.all("SELECT id FROM deploys WHERE state = 'succeeded'") == [{"id": 1}]


# -- lead time: compare is paged -----------------------------------------------------------
async def test_compare_is_read_page_by_page_past_250_commits(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    github.commits = [commit(f"{n:040x}", f"2026-10-{1 + n // 24:02d}T{n % 24:02d}:00:00Z",
                             f"change {n}") for n in range(260)]
    for n, sha in ((1, OLD), (2, NEW)):
        github.heads["main"] = sha
        await bell.command("/deploy", "api to production")
        await running(bell, github, clock, n)
        github.finish(8999 + n)
        await tick(clock, 10)
        await ended(bell, n)
    assert github.compared == [f"{OLD}...{NEW}"] * 3
    assert [q["page"] for q in github.compare_queries] == ["1", "2", "3"]
    stored = bell.core.store.all("SELECT sha, committed_at FROM deploy_changes"
                                 " WHERE deploy_id = 2 ORDER BY committed_at")
    assert len(stored) == 260
    assert stored[0]["sha"] == f"{0:040x}", "the oldest commit counts for lead time"


# -- rate limits ---------------------------------------------------------------------------
async def test_rate_limited_poll_waits_for_the_reset(make_bell: MakeBell, github: FakeGitHub,
                                                     clock: FakeClock) -> None:
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await running(bell, github, clock)
    github.rate_limited_until = clock.now().timestamp() + 600
    github.finish(9000)
    await tick(clock, 10)  # the poll hits the rate limit
    await clock.until_sleeping()
    assert row(bell)["state"] == "running", "a rate limit is not a failed deploy"
    await tick(clock, 300)  # waits (capped at 5 min), then polls again
    assert (await ended(bell))["state"] == "succeeded"


async def test_secondary_rate_limit_on_dispatch_waits_retry_after(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.secondary_retry_after = 120
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    await until(lambda: github.requests == 1)
    await clock.until_sleeping()
    clock.advance(seconds=30)  # past the usual back-off, not past retry-after
    await until(lambda: clock.sleepers == 1)
    assert github.dispatches == [], "no dispatch before retry-after has passed"
    await tick(clock, 90)
    await until(lambda: row(bell).get("provider_ref") == "9000")
    await until(lambda: "rate limit" in thread_text(bell))  # posted by the notify task


async def test_missing_token_names_the_variable(make_bell: MakeBell, github: FakeGitHub,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    deploy = await ended(bell)
    assert deploy["error"] == f"the GitHub token variable {TOKEN_ENV} is not set"
    assert github.requests == 0


async def test_5xx_on_dispatch_looks_before_trying_again(
        make_bell: MakeBell, github: FakeGitHub, clock: FakeClock) -> None:
    github.fail_next = [502]
    bell = await make_bell(gh_config(github))
    await bell.command("/deploy", "api to production")
    for _ in range(6):
        if github.dispatches:
            break
        await tick(clock, 5)
    await until(lambda: row(bell).get("provider_ref") == "9000")
    assert len(github.dispatches) == 1 and len(github.listed) >= 2
