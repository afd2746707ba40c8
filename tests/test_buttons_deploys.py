"""Deploy and lock buttons are pointers: the value is an id, what the press does and who may
press are read from the store and the config, and a forged or odd value changes nothing."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.waiting import deploy_reaches
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DEPLOYS, GENERAL
from shipbell.handlers.deploy.ids import Action

pytest_plugins = ("fakes.fixtures",)


@pytest.fixture
async def bell(make_bell: MakeBell, monkeypatch: pytest.MonkeyPatch) -> LocalShipbell:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return await make_bell(deploy_config())


def said(bell: LocalShipbell) -> list[str]:
    return [c.args.get("text", "") for c in bell.double.calls_to("response_url")]


def lock_row(bell: LocalShipbell) -> dict[str, Any] | None:
    return bell.core.store.one("SELECT holder, reason, expires_at, channel FROM locks")


def offer_button(ack: Any) -> dict[str, Any]:
    [block] = (ack.json or {})["blocks"]
    return block["accessory"]


async def test_forged_takeover_value_takes_nothing(bell: LocalShipbell) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    held = lock_row(bell)
    forged = json.dumps({"s": "api", "e": "production", "r": "<!channel> " + "x" * 900,
                         "h": BOB, "m": 10**9, "c": GENERAL})
    ack = await bell.driver.action(Action.TAKE_OVER, forged, user=ANA, channel=GENERAL)
    assert ack.status == 200
    [reply] = await bell.double.wait_for_count("response_url", 1)
    assert reply.args["text"] == "That button is out of date; run `/deploy lock` again."
    await bell.idle()
    assert lock_row(bell) == held
    assert "<!channel>" not in str([c.args for c in bell.double.calls])
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM audit_log"
                               " WHERE action = 'lock.takeover'") == {"n": 0}


async def test_takeover_press_does_what_was_stored_for_whoever_asked(
        bell: LocalShipbell, clock: FakeClock) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    offer = await bell.command("/deploy", "lock api production hotfix --for 30m")
    button = offer_button(offer)
    assert button["value"].isdigit(), "the value is only a pointer"
    request = bell.core.store.one("SELECT * FROM lock_requests")
    assert request["requester"] == ANA and request["reason"] == "hotfix"

    await bell.driver.action(Action.TAKE_OVER, button["value"], user=CARL)  # not the asker
    await bell.double.wait_for_count("response_url", 1)
    assert lock_row(bell)["holder"] == BOB

    await bell.driver.action(Action.TAKE_OVER, button["value"], user=ANA)
    await bell.driver.action(Action.TAKE_OVER, button["value"], user=ANA)  # double click
    replies = [c.args["text"] for c in await bell.double.wait_for_count("response_url", 3)]
    assert replies == [
        "That button isn't yours to press; run `/deploy lock` again if you need to.",
        f"You now hold the lock on api production (was <@{BOB}>'s); they've been told.",
        "That button was already used; look with `/deploy locks`.",
    ]
    assert lock_row(bell) == {"holder": ANA, "reason": "hotfix", "channel": DEPLOYS,
                              "expires_at": to_db(clock.now() + timedelta(minutes=30))}
    await bell.idle()


async def test_stale_takeover_offer_is_refused(bell: LocalShipbell, clock: FakeClock) -> None:
    await bell.command("/deploy", "lock api production db migration --for 4h", user=BOB)
    offer = await bell.command("/deploy", "lock api production hotfix")
    clock.advance(minutes=16)
    await bell.driver.action(Action.TAKE_OVER, offer_button(offer)["value"])
    [reply] = await bell.double.wait_for_count("response_url", 1)
    assert reply.args["text"] == "That offer is more than 15 min old; run `/deploy lock` again."
    assert lock_row(bell)["holder"] == BOB


async def test_unlocking_someone_elses_lock_needs_confirmation(bell: LocalShipbell) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    offer = await bell.command("/deploy", "unlock api production")
    assert offer.text == (f"api production is locked by <@{BOB}> 0 s ago: db migration. "
                          "Unlock it anyway? They'll be told.")
    button = offer_button(offer)
    assert button["action_id"] == Action.UNLOCK and button["confirm"]
    await bell.idle()
    assert lock_row(bell)["holder"] == BOB
    assert not [c for c in bell.double.calls_to("chat.postMessage")
                if c.args["channel"] == BOB]

    await bell.driver.action(Action.UNLOCK, button["value"], user=CARL)
    await bell.double.wait_for_count("response_url", 1)
    assert lock_row(bell)["holder"] == BOB
    await bell.driver.action(Action.UNLOCK, button["value"])
    await bell.driver.action(Action.UNLOCK, button["value"])
    replies = [c.args["text"] for c in await bell.double.wait_for_count("response_url", 3)]
    assert replies == [
        "That button isn't yours to press; run `/deploy unlock` again if you need to.",
        "Unlocked api production.",
        "That button was already used; look with `/deploy locks`.",
    ]
    assert lock_row(bell) is None
    dm = await bell.double.wait_for("chat.postMessage", lambda c: c.args["channel"] == BOB)
    assert dm.args["text"] == f"<@{ANA}> unlocked api production (your lock: db migration)."


async def test_unlock_confirmation_is_for_that_lock_only(bell: LocalShipbell,
                                                        clock: FakeClock) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    offer = await bell.command("/deploy", "unlock api production")
    await bell.command("/deploy", "unlock api production", user=BOB)
    clock.advance(minutes=1)
    await bell.command("/deploy", "lock api production second migration", user=BOB)
    await bell.driver.action(Action.UNLOCK, offer_button(offer)["value"])
    [reply] = await bell.double.wait_for_count("response_url", 1)
    assert reply.args["text"] == ("The lock on api production changed hands meanwhile; "
                                  "look again with `/deploy locks`.")
    assert lock_row(bell)["reason"] == "second migration"


async def test_own_lock_unlocks_at_once(bell: LocalShipbell) -> None:
    await bell.command("/deploy", "lock api production db migration")
    ack = await bell.command("/deploy", "unlock api production")
    assert ack.text == "Unlocked api production." and not (ack.json or {}).get("blocks")


@pytest.mark.parametrize("value", ["99999999999999999999999", "²", "", "-1", "1.0", "0",
                                   "#²", " 1e3", "true"])
async def test_odd_button_values_get_one_sentence(bell: LocalShipbell, value: str) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    await bell.command("/deploy", "worker to staging")
    await deploy_reaches(bell, 1, "running")  # as far as it goes on its own
    before = bell.core.store.all("SELECT id, state FROM deploys")
    for action in (Action.APPROVE, Action.REJECT, Action.CANCEL, Action.TAKE_OVER,
                   Action.UNLOCK):
        ack = await bell.driver.action(action, value)
        assert ack.status == 200
    replies = [c.args["text"] for c in await bell.double.wait_for_count("response_url", 5)]
    for text in replies:
        assert "Something went wrong" not in text
        assert text.endswith(".") and text.count(". ") + text.count("; ") <= 1, text
    assert bell.core.store.all("SELECT id, state FROM deploys") == before
    assert lock_row(bell)["holder"] == BOB


async def succeed(bell: LocalShipbell, ci: FakeCI, text: str, n: int, version: str,
                  sha: str) -> None:
    await bell.command("/deploy", text)
    await ci.wait_jobs(n)
    await ci.callback(bell.runtime.url, n, "succeeded", version=version, sha=sha)
    await bell.idle()


async def test_second_rollback_goes_further_back(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    await succeed(bell, ci, "api@v1 to production", 1, "v1", "aaa111")
    await succeed(bell, ci, "api@v2 to production", 2, "v2", "bbb222")
    await succeed(bell, ci, "api@v3 to production", 3, "v3", "ccc333")
    first = await bell.command("/deploy", "rollback api in production")
    assert "Deploying api@bbb222 to production (#4)" in first.text
    await ci.wait_jobs(4)
    await ci.callback(bell.runtime.url, 4, "succeeded", version="v2", sha="bbb222")
    await bell.idle()
    second = await bell.command("/deploy", "rollback api in production")
    assert "Deploying api@aaa111 to production (#5)" in second.text, second.text
    jobs = await ci.wait_jobs(5)
    assert jobs[4]["ref"] == "aaa111", "v3 was just rolled back away from: never re-shipped"
    await ci.callback(bell.runtime.url, 5, "succeeded", version="v1", sha="aaa111")
    await bell.idle()
    # shipping v3 again by hand makes it a rollback target again
    await succeed(bell, ci, "api@v3 to production", 6, "v3", "ccc333")
    await succeed(bell, ci, "api@v4 to production", 7, "v4", "ddd444")
    third = await bell.command("/deploy", "rollback api in production")
    assert "Deploying api@ccc333 to production (#8)" in third.text, third.text
    await ci.wait_jobs(8)
    await bell.idle()
