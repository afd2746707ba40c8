"""Slack failing under a deploy: the deploy and its record carry on, and someone is told.

A channel archived mid-deploy, a private channel Shipbell isn't in, a deleted message, a rate
limit: the state in SQLite is never lost, and the message finds a home where it can be read.
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS

pytest_plugins = ("fakes.fixtures",)

REHOMED = "I can't post in <#{}> (archived, or I'm not a member there)"


@pytest.fixture
async def bell(make_bell: MakeBell, ci: FakeCI) -> LocalShipbell:
    return await make_bell(deploy_config(ci.url))


def tops(bell: LocalShipbell, channel: str) -> list[dict[str, Any]]:
    return [m for m in bell.double.messages(channel) if m.get("blocks")]


def thread_text(bell: LocalShipbell, channel: str, ts: str) -> str:
    return "\n".join(m["text"] for m in bell.double.messages(channel)
                     if m.get("thread_ts") == ts and m["ts"] != ts)


def dm(bell: LocalShipbell, user: str) -> str:
    return bell.double.state.dm_with(user).id


async def test_private_channel_without_the_bot_sends_the_message_to_the_requester(
        bell: LocalShipbell, ci: FakeCI, caplog: pytest.LogCaptureFixture) -> None:
    secret = bell.double.add_channel("war-room", is_private=True, members=[ANA])
    ack = await bell.command("/deploy", "api to production", channel=secret)
    assert ack.text == "Deploying api@main to production (#1); follow it in the channel."
    await ci.wait_jobs(1)
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v1")
    await bell.idle()
    home = dm(bell, ANA)
    [top] = tops(bell, home)
    assert "succeeded" in top["text"]
    assert REHOMED.format(secret) in thread_text(bell, home, top["ts"])
    row = bell.core.store.one("SELECT state, message_channel FROM deploys WHERE id = 1")
    assert row == {"state": "succeeded", "message_channel": home}
    assert f"Deploy #1: can't post in {secret}" in caplog.text


async def test_channel_archived_mid_deploy_moves_the_message_to_the_requester(
        bell: LocalShipbell, ci: FakeCI) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    await bell.idle()
    assert len(tops(bell, DEPLOYS)) == 1
    bell.double.state.channels[DEPLOYS].is_archived = True
    status, _ = await ci.callback(bell.runtime.url, 1, "failed", error="migrations failed")
    assert status == 200
    await bell.idle()
    home = dm(bell, ANA)
    [top] = tops(bell, home)
    assert "failed" in top["text"] and "migrations failed" in str(top["blocks"])
    thread = thread_text(bell, home, top["ts"])
    assert REHOMED.format(DEPLOYS) in thread and "migrations failed" in thread
    assert bell.core.store.one("SELECT state FROM deploys") == {"state": "failed"}


async def test_deleted_deploy_message_is_posted_again_in_its_channel(
        bell: LocalShipbell, ci: FakeCI) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    await bell.idle()
    [first] = tops(bell, DEPLOYS)
    bell.double.state.messages[DEPLOYS].remove(
        next(m for m in bell.double.state.messages[DEPLOYS] if m["ts"] == first["ts"]))
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v1")
    await bell.idle()
    [again] = tops(bell, DEPLOYS)
    assert again["ts"] != first["ts"] and "succeeded" in again["text"]
    assert not bell.double.messages(dm(bell, ANA))


async def test_rate_limited_update_is_retried_and_nothing_is_lost(
        bell: LocalShipbell, ci: FakeCI) -> None:
    await bell.command("/deploy", "api to production")
    await ci.wait_jobs(1)
    await bell.idle()
    bell.double.rate_limit_next("chat.update", retry_after=0)
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v1")
    await bell.idle()  # the SDK waits out Retry-After itself (≤ 1 s of jitter)
    assert len([c for c in bell.double.calls_to("chat.update")
                if c.response.get("error") == "ratelimited"]) == 1
    [top] = tops(bell, DEPLOYS)
    assert "succeeded" in top["text"]
    assert not bell.double.messages(dm(bell, ANA))  # a rate limit is no reason to move


async def test_takeover_stands_when_the_holder_cannot_be_told(bell: LocalShipbell) -> None:
    """A deactivated holder (account_inactive) can't get the DM; the takeover still holds."""
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    offer = await bell.command("/deploy", "lock api production hotfix")
    bell.double.fail_next("chat.postMessage", "account_inactive")
    await bell.driver.press({"blocks": (offer.json or {})["blocks"], "ts": "1.0"},
                            "deploy.lock_take_over")
    [reply] = await bell.double.wait_for_count("response_url", 1)
    assert reply.args["text"].startswith("You now hold the lock on api production")
    await bell.idle()
    told = bell.double.calls_to("chat.postMessage")
    assert [c.response.get("error") for c in told] == ["account_inactive"]  # not retried
    assert bell.core.store.one("SELECT holder, reason FROM locks") == {
        "holder": ANA, "reason": "hotfix"}
    audit = bell.core.store.one("SELECT actor FROM audit_log WHERE action = 'lock.takeover'")
    assert audit == {"actor": ANA}
