"""Approvals: buttons on the deploy message, distinct approvers, never yourself, expiry."""

from __future__ import annotations

from typing import Any

from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, DEPLOYS, EVE
from shipbell.handlers.deploy.ids import Action

pytest_plugins = ("fakes.fixtures",)


def state(bell: LocalShipbell, deploy_id: int = 1) -> str:
    return str(bell.core.store.one("SELECT state FROM deploys WHERE id = ?",
                                   (deploy_id,))["state"])  # type: ignore[index]


async def deploy_message(bell: LocalShipbell) -> dict[str, Any]:
    await bell.idle()
    return next(m for m in bell.double.messages(DEPLOYS) if m.get("blocks"))


async def replies(bell: LocalShipbell, n: int) -> list[str]:
    calls = await bell.double.wait_for_count("response_url", n)
    return [c.args["text"] for c in calls]


async def test_two_distinct_approvers_then_it_runs(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=2,
                                         approvers=[BOB, CARL, DANA]))
    ack = await bell.command("/deploy", "api@v2 to production")
    assert ack.text == (f"Deploy #1 of api@v2 to production needs 2 approvals from <@{BOB}>, "
                        f"<@{CARL}>, <@{DANA}>; the request expires in 30 min.")
    message = await deploy_message(bell)
    assert state(bell) == "awaiting_approval"
    await bell.driver.press(message, Action.APPROVE, user=ANA)  # own deploy
    await bell.driver.press(message, Action.APPROVE, user=EVE)  # not an approver
    await bell.driver.press(message, Action.APPROVE, user=BOB)
    await bell.driver.press(message, Action.APPROVE, user=BOB)  # double click
    texts = await replies(bell, 4)
    assert texts[0] == "You can't approve or reject your own deploy; ask another approver."
    assert texts[1] == f"Only <@{BOB}>, <@{CARL}>, <@{DANA}> can approve deploys to production."
    assert texts[2] == "Approved #1 (1 of 2)."
    assert texts[3] == "You already decided on #1."
    assert state(bell) == "awaiting_approval" and not ci.jobs
    thread = [m["text"] for m in bell.double.messages(DEPLOYS)
              if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]]
    assert any(f"needs 2 approvals from <@{BOB}>, <@{CARL}>, <@{DANA}>" in t for t in thread)
    await bell.driver.press(message, Action.APPROVE, user=CARL)
    assert (await replies(bell, 5))[4] == "Approved #1; it's on its way."
    await ci.wait_jobs(1)
    await bell.driver.press(message, Action.APPROVE, user=DANA)
    assert (await replies(bell, 6))[5] == "Deploy #1 is triggered; there is nothing to decide."
    rows = bell.core.store.all("SELECT approver FROM deploy_approvals ORDER BY approver")
    assert [r["approver"] for r in rows] == [BOB, CARL]
    await bell.idle()
    shown = str((await deploy_message(bell))["blocks"])
    assert f"<@{BOB}>, <@{CARL}> (2/2)" in shown and Action.APPROVE not in shown
    audit = bell.core.store.all("SELECT actor FROM audit_log WHERE action = 'deploy.approve'")
    assert [a["actor"] for a in audit] == [BOB, CARL]


async def test_reject_ends_it_and_tells_requester(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1))
    await bell.command("/deploy", "api to production")
    message = await deploy_message(bell)
    await bell.driver.press(message, Action.REJECT, user=BOB)
    assert (await replies(bell, 1)) == ["Rejected #1."]
    assert state(bell) == "rejected"
    await bell.idle()
    dm = await bell.double.wait_for("chat.postMessage", lambda c: c.args["channel"] == ANA)
    assert "rejected deploy #1" in dm.args["text"]
    assert not ci.jobs


async def test_approval_expires(make_bell: MakeBell, ci: FakeCI, clock: FakeClock) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1))
    await bell.command("/deploy", "api to production")
    message = await deploy_message(bell)
    clock.advance(minutes=29)
    await bell.core.scheduler.run_due()
    assert state(bell) == "awaiting_approval"
    clock.advance(minutes=2)
    await bell.core.scheduler.run_due()
    assert state(bell) == "cancelled"
    await bell.driver.press(message, Action.APPROVE, user=BOB)
    assert (await replies(bell, 1)) == ["Deploy #1 is cancelled; there is nothing to decide."]
    await bell.idle()
    assert "approval request expired" in str((await deploy_message(bell))["blocks"])


async def test_click_after_expiry_before_sweep(make_bell: MakeBell, ci: FakeCI,
                                               clock: FakeClock) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1))
    await bell.command("/deploy", "api to production")
    message = await deploy_message(bell)
    clock.advance(minutes=31)
    await bell.driver.press(message, Action.APPROVE, user=BOB)
    assert (await replies(bell, 1)) == ["The approval request for #1 expired; ask for a new "
                                        "deploy."]
    assert state(bell) == "cancelled" and not ci.jobs


async def test_gates_checked_again_at_approval(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1))
    await bell.command("/deploy", "api to production")
    message = await deploy_message(bell)
    await bell.command("/deploy", "lock api production hold on", user=DANA)
    await bell.driver.press(message, Action.APPROVE, user=BOB)
    text = (await replies(bell, 1))[0]
    assert text.startswith(f"Approved, but #1 can't go: production is locked by <@{DANA}>")
    assert state(bell) == "rejected" and not ci.jobs


async def test_break_glass_group_skips_approval_loudly(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1, break_glass=[EVE]))
    normal = await bell.command("/deploy", 'api to production --break-glass "x"')
    assert "needs 1 approval from" in normal.text  # only the break-glass group may skip
    forced = await bell.command("/deploy", 'api@hotfix to production --break-glass "site down"',
                                user=EVE)
    assert "queued" in forced.text or "Deploying" in forced.text
    await bell.idle()
    loud = await bell.double.wait_for("chat.postMessage", lambda c: "Break-glass" in
                                      c.args.get("text", ""))
    assert "skips approvals" in loud.args["text"] and "site down" in loud.args["text"]
    row = bell.core.store.one("SELECT break_glass, approvals_needed FROM deploys WHERE id = 2")
    assert row == {"break_glass": "site down", "approvals_needed": 0}


async def test_approval_survives_restart(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1))
    await bell.command("/deploy", "api@v7 to production")
    message = await deploy_message(bell)
    await bell.restart()
    await bell.driver.press(message, Action.APPROVE, user=DANA)
    assert (await replies(bell, 1)) == ["Approved #1; it's on its way."]
    jobs = await ci.wait_jobs(1)
    assert jobs[0]["ref"] == "v7"
    await bell.idle()


async def test_without_approvers_the_other_deployers_are_asked(make_bell: MakeBell,
                                                               ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1, deployers=[ANA, BOB]))
    ack = await bell.command("/deploy", "api to production")
    assert ack.text.startswith("Deploy #1 of api@main to production needs 1 approval from "
                               f"<@{BOB}>; the request")
    message = await deploy_message(bell)
    thread = [m["text"] for m in bell.double.messages(DEPLOYS)
              if m.get("thread_ts") == message["ts"] and m["ts"] != message["ts"]]
    assert any(f"needs 1 approval from <@{BOB}>, never the requester" in t for t in thread)
