"""Every `/deploy` subcommand and every mistake's one-sentence answer, through the app."""

from __future__ import annotations

import pytest
from conftest import MakeBell
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.slow import ack_asking_slack_nothing
from fakes.waiting import deploy_reaches, tick, until
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DEPLOYS, ONCALL
from shipbell.handlers.deploy.commands import Subcommands
from shipbell.handlers.deploy.ids import Action


@pytest.fixture
async def bell(make_bell: MakeBell, monkeypatch: pytest.MonkeyPatch) -> LocalShipbell:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return await make_bell(deploy_config())


@pytest.mark.parametrize(("text", "expected"), [
    ("apii to production", "`apii`? Never heard of it. Known services: web, api, worker."),
    ("api to prod", "api has no `prod` environment (staging, production)."),
    ("web", "Where to? web has staging, production: e.g. `/deploy web to staging`."),
    ("api@main;rm to production", "`main;rm` isn't a valid git ref"),
    ("api@-x to production", "`-x` isn't a valid git ref"),
    ("api to production --reason", "`--reason` needs a value"),
    ("api to production --for 2h", "`--for` doesn't apply here"),
    ("api to production --incident banana", "`banana` isn't an incident"),
    ("api to production --incident INC-77", "INC-77? No such incident"),
    ("api to production now please", "I read `production now please` as more than one"),
    ("rollback", "Roll back what?"),
    ("rollback api@v1 production", "Leave out `@v1` here"),
    ("rollback api in production", "api has no successful deploy to production yet"),
    ("history", "History of what?"),
    ("history api production --limit 99", "`--limit 99`: give a number from 1 to 50"),
    ("history api", "No deploys of api yet."),
    ("lock api", "Lock what?"),
    ("lock api production", "A lock needs a reason"),
    ("lock api production migration --for 3y", "`3y` isn't a duration"),
    ("lock api production migration --for 20d", "`20d` is out of range"),
    ("unlock api production", "api production isn't locked; `/deploy locks` lists what is."),
    ("unlock api", "Unlock what?"),
    ("cancel", "Cancel which deploy?"),
    ("cancel abc", "Cancel which deploy?"),
    ("cancel 99", "No deploy #99"),
    ("status nope", "`nope`? Never heard of it."),
    ("locks", "Nothing is locked."),
    ("explain nope to production", "`nope`? Never heard of it."),
    ("explain", "Explain what? e.g. `/deploy explain api to production`."),
    ("explain --hotfix", "Explain what? e.g. `/deploy explain api to production`."),
])
async def test_mistakes_get_one_sentence(bell: LocalShipbell, text: str, expected: str) -> None:
    ack = await ack_asking_slack_nothing(bell, bell.command("/deploy", text))
    assert ack.status == 200
    assert expected in ack.text, ack.text
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM deploys")["n"] == 0  # type: ignore[index]


async def test_help_lists_every_subcommand_and_extra_words(bell: LocalShipbell) -> None:
    async def stats(ack: object, cmd: object) -> None:
        await ack(text="stats from the digest")  # type: ignore[operator]

    bell.core.registry.need(Subcommands)["stats"] = stats
    ack = await bell.command("/deploy", "help")
    for word in ("rollback", "status", "history", "lock", "unlock", "locks", "cancel",
                 "explain", "`/deploy stats`"):
        assert word in ack.text
    assert (await bell.command("/deploy", "stats")).text == "stats from the digest"
    assert (await bell.command("/deploy")).text.startswith("*`/deploy`*")


async def test_default_env_and_ref(bell: LocalShipbell, clock: FakeClock) -> None:
    ack = await bell.command("/deploy", "API")
    assert "api@main to staging" in ack.text
    row = bell.core.store.one("SELECT service, env, ref FROM deploys")
    assert row == {"service": "api", "env": "staging", "ref": "main"}
    await stop_watching(bell, clock)  # no CI listens here: it is backing off


async def test_status_history_locks_and_explain(bell: LocalShipbell, clock: FakeClock) -> None:
    await bell.command("/deploy", 'lock web production "db migration" --for 2h')
    ack = await bell.command("/deploy", "locks")
    assert f"web production: <@{ANA}>" in ack.text and "db migration" in ack.text
    assert "expires in 2 h" in ack.text
    await bell.command("/deploy", "worker@v3 to staging")
    await deploy_reaches(bell, 1, "running")
    status = await bell.command("/deploy", "status")
    assert "*worker*" in status.text and "#1 `v3` running" in status.text
    assert f":lock: <@{ANA}>: db migration" in status.text
    one = await bell.command("/deploy", "status worker")
    assert "*web*" not in one.text
    history = await bell.command("/deploy", "history worker staging --limit 5")
    assert f"#1 staging `v3` running by <@{ANA}>" in history.text
    explain = await bell.command("/deploy", "explain web to production", user=BOB)
    assert explain.text.startswith("Dry run of web@main to production: would be refused.")
    for gate in ("permission", "lock", "concurrency", "freeze", "incidents", "approvals"):
        assert f"*{gate}*" in explain.text
    assert f"locked by <@{ANA}>" in explain.text
    assert explain.text.endswith("It would run with `ci` (webhook); nothing was deployed.")
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM deploys")["n"] == 1  # type: ignore[index]
    await stop_watching(bell, clock)


async def test_reasons_never_ping_the_channel(bell: LocalShipbell, clock: FakeClock) -> None:
    reason = f"<!channel> look <!subteam^{ONCALL}|@sre>"
    await bell.command("/deploy", f'worker to staging --reason "{reason}"')
    await bell.command("/deploy", "lock web production <!here> migration")
    await bell.double.wait_for("chat.postMessage", lambda c: "look" in c.args.get("text", ""))
    posted = str([c.args for c in bell.double.calls_to("chat.postMessage")])
    assert "<!channel" not in posted and "<!subteam" not in posted
    assert "@channel look @sre" in posted
    lock = bell.core.store.one("SELECT reason FROM locks")
    assert lock == {"reason": "@here migration"}
    await stop_watching(bell, clock)


async def stop_watching(bell: LocalShipbell, clock: FakeClock) -> None:
    """Cancel the dry-run deploy #1 and let its poller notice, so shutdown is instant."""
    assert (await bell.command("/deploy", "cancel 1")).text == "Cancelled deploy #1."
    # Its poller notices at its next poll: at once if it was polling, else once woken.
    await until(lambda: not bell.core.tasks.running or clock.sleepers > 0)
    if bell.core.tasks.running:
        clock.advance(seconds=5)
    await bell.idle()


async def test_nothing_older_to_roll_back_to(bell: LocalShipbell, clock: FakeClock) -> None:
    for n in (1, 2):  # the same ref twice: the dry run ships the same sha
        await bell.command("/deploy", "worker to staging")
        await tick(clock, 31)
        await until(lambda n=n: bell.core.store.one(  # type: ignore[misc]
            "SELECT state FROM deploys WHERE id = ?", (n,)) == {"state": "succeeded"})
    ack = await bell.command("/deploy", "rollback worker in staging")
    assert ack.text.startswith("worker has nothing older than `")
    assert ack.text.endswith("` in staging to roll back to.")
    await bell.idle()


async def test_takeover_button_answers(bell: LocalShipbell) -> None:
    await bell.command("/deploy", "lock api production db migration", user=BOB)
    offer = await bell.command("/deploy", "lock api production hotfix")
    message = {"blocks": (offer.json or {})["blocks"], "ts": "1.0"}
    await bell.driver.press(message, Action.TAKE_OVER, user=BOB)  # not the asker
    await bell.driver.press(message, Action.TAKE_OVER, value="{oops")  # tampered
    await bell.command("/deploy", "unlock api production", user=BOB)
    await bell.command("/deploy", "lock api production cache flush", user=CARL)
    await bell.driver.press(message, Action.TAKE_OVER)  # carl holds it now, not bob
    calls = await bell.double.wait_for_count("response_url", 3)
    assert [c.args["text"] for c in calls] == [
        "That button isn't yours to press; run `/deploy lock` again if you need to.",
        "That button is out of date; run `/deploy lock` again.",
        "The lock on api production changed hands meanwhile; look again with `/deploy locks`.",
    ]
    assert bell.core.store.one("SELECT holder FROM locks") == {"holder": CARL}


async def test_button_without_a_deploy(bell: LocalShipbell, clock: FakeClock) -> None:
    await bell.command("/deploy", "worker to staging")
    await bell.double.wait_for("chat.postMessage", lambda c: bool(c.args.get("blocks")))
    message = next(m for m in bell.double.messages(DEPLOYS) if m.get("blocks"))
    await bell.driver.press(message, Action.CANCEL, value="../1")
    [call] = await bell.double.wait_for_count("response_url", 1)
    assert call.args["text"] == "That button has no deploy attached; use `/deploy status`."
    await stop_watching(bell, clock)


async def test_no_services_configured(make_bell: MakeBell) -> None:
    bell = await make_bell({"deploy": {}})
    ack = await bell.command("/deploy", "api to production")
    assert ack.text.startswith("`/deploy api`? I don't know that one.")
    assert ack.text.endswith("No services are configured yet (`[deploy.services]`).")
    status = await bell.command("/deploy", "status")
    assert status.text == "No services configured yet; add them under `[deploy.services]`."
