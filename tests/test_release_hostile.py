"""`/release` at the edges: texts near the 4,000-character limit, many trains in one answer,
user groups as managers, and Slack refusing or rate-limiting posts.  The Slack double fails
the test on any Block Kit violation it sees."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import MakeBell
from shipbell.bot.local import LocalShipbell
from shipbell.bot.releases.freeze import active_freeze
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, EVE, LEADS, RELEASES
from shipbell.handlers.release.book import releases_of
from shipbell.handlers.release.groups import refresh_groups

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web", "api"], "timezone": "Europe/Paris",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA, BOB],
}
LONG = f"🚂 “quoted” <#C0OTHER01> <@{EVE}|eve> " + "x" * 3_900


def config(**release: Any) -> dict[str, Any]:
    return {"release": {"trains": {"web": TRAIN}, **release}}


def said(ack: Any) -> str:
    data = ack.json or {}
    return data.get("text", "") + " " + " ".join(
        b["text"]["text"] for b in data.get("blocks", []) if b.get("type") == "section")


async def announced(bell: LocalShipbell) -> list[dict[str, Any]]:
    await bell.idle()
    return bell.double.messages(RELEASES)


async def test_reasons_near_the_4000_limit_stay_within_block_limits(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    assert "Skipped" in said(await bell.command("/release", f"skip web 2026-11-03 {LONG}"))
    assert "Froze" in said(await bell.command("/release", f"freeze web 2h {LONG}"))
    for text in ("next", "calendar web 20"):
        ack = await bell.command("/release", text)
        assert all(len(b["text"]["text"]) <= 3000 for b in (ack.json or {})["blocks"])
    skip, frozen = await announced(bell)
    assert "Next release: <!date^" in skip["blocks"][0]["text"]["text"]  # not cut off
    assert "break-glass" in frozen["blocks"][0]["text"]["text"]
    cut = f"<@{ANA}> " * 70  # a reason cut at 500 characters never halves a mention
    await bell.command("/release", f"skip web 2026-11-10 {cut}")
    shown = (await announced(bell))[-1]["blocks"][0]["text"]["text"]
    assert shown.count("<") == shown.count(">") and "…" in shown
    assert bell.double.problems == []


async def test_a_user_group_can_manage_the_calendar(make_bell: MakeBell) -> None:
    bell = await make_bell(config(managers=[LEADS]))
    bell.double.add_usergroup(LEADS, "leads", [CARL])
    early = said(await bell.command("/release", "freeze web 1h x", user=CARL))
    assert f"Only <!subteam^{LEADS}> may change" in early and "try again in a few" in early
    await refresh_groups(bell.core)
    assert "Froze" in said(await bell.command("/release", "freeze web 1h x", user=CARL))
    refused = said(await bell.command("/release", "unfreeze web", user=EVE))
    assert refused.strip() == (f"Only <!subteam^{LEADS}> may change the `web` calendar;"
                               " ask one of them.")
    assert active_freeze(releases_of(bell.core), "web", "production",
                         bell.core.clock.now()) is not None


async def test_group_members_are_refreshed_off_the_ack_path(make_bell: MakeBell,
                                                           clock: Any) -> None:
    bell = await make_bell(config(managers=[ANA, LEADS]))
    bell.double.add_usergroup(LEADS, "leads", [CARL])
    await bell.core.scheduler.run_due()
    assert "Froze" in said(await bell.command("/release", "freeze web 1h x", user=CARL))
    await bell.command("/release", "unfreeze web", user=CARL)
    bell.double.add_usergroup(LEADS, "leads", [BOB])  # carl leaves, bob joins
    clock.advance(minutes=11)
    await bell.core.scheduler.run_due()
    assert f"Only <@{ANA}>, <!subteam^{LEADS}>" in said(
        await bell.command("/release", "freeze web 1h x", user=CARL))
    assert "Froze" in said(await bell.command("/release", "freeze web 1h x", user=BOB))
    bell.double.rate_limit_next("usergroups.users.list", retry_after=0)
    clock.advance(minutes=11)
    await bell.core.scheduler.run_due()  # Slack refuses once: the last members stand
    assert "isn't frozen" not in said(await bell.command("/release", "unfreeze web",
                                                         user=BOB))


@pytest.mark.parametrize("error", ["is_archived", "channel_not_found", "not_in_channel"])
async def test_a_change_slack_cannot_announce_is_kept_and_the_user_told(
    make_bell: MakeBell, error: str
) -> None:
    bell = await make_bell(config())
    bell.double.fail_next("chat.postMessage", error)
    assert "Skipped" in said(await bell.command("/release", "skip web 2026-11-03 audit"))
    await bell.idle()
    told = [c.args.get("text", "") for c in bell.double.calls_to("response_url")]
    assert told == [f"The change is saved, but I couldn't announce it in <#{RELEASES}>: invite me"
                    " there (`/invite @Shipbell`) or, if the channel is archived, point the train"
                    " at another channel in the config."]
    assert f"*skipped* by <@{ANA}>: audit" in said(await bell.command("/release", "calendar"))
    assert len(bell.double.calls_to("chat.postMessage")) == 1  # not retried


async def test_a_rate_limited_announcement_lands_once(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    bell.double.rate_limit_next("chat.postMessage", retry_after=0)
    await bell.command("/release", "freeze web 1h migration")
    assert len(await announced(bell)) == 1
    assert bell.double.calls_to("response_url") == []


async def test_prefixes_counts_and_holiday_dates_are_read_the_way_people_mean_them(
    make_bell: MakeBell, clock: Any
) -> None:
    from datetime import UTC, datetime

    trains = {"web": {**TRAIN, "weekday": "fri", "time": "10:00", "holidays": "FR"},
              "worker": TRAIN}
    bell = await make_bell({"release": {"trains": trains}})
    clock.set(datetime(2026, 12, 20, tzinfo=UTC))
    for text in ("next w", "w"):
        assert "`w` could be `web` or `worker`; name one, e.g. `/release next web`." in said(
            await bell.command("/release", text))
    assert "takes a train and how many dates (up to 20), e.g. `/release calendar web 5`" in said(
        await bell.command("/release", "calendar web soon 3"))
    assert "takes a train" in said(await bell.command("/release", "calendar web ²"))
    # Christmas Day is named; the release it moved to (Monday 28th) is the one skipped
    ack = said(await bell.command("/release", "skip web 2026-12-25 holidays"))
    assert "Skipped the `web` release of 2026-12-28" in ack
    calendar = said(await bell.command("/release", "calendar web"))
    assert f"*skipped* by <@{ANA}>: holidays" in calendar
    assert "is back on" in said(await bell.command("/release", "unskip web 2026-12-28"))


async def test_every_process_on_one_database_knows_the_group(make_bell: MakeBell,
                                                            clock: Any) -> None:
    cfg = config(managers=[LEADS])
    first = await make_bell(cfg)
    first.double.add_usergroup(LEADS, "leads", [CARL])
    second = LocalShipbell(first.db_path, config=cfg, clock=clock)
    await second.start()
    try:
        second.double.add_usergroup(LEADS, "leads", [CARL])
        await first.core.scheduler.run_due()
        await second.core.scheduler.run_due()  # not "already claimed" by the first process
        assert "Froze" in said(await second.command("/release", "freeze web 1h x",
                                                    user=CARL))
    finally:
        await second.stop()


async def test_answers_about_many_trains_are_messages_slack_accepts(make_bell: MakeBell) -> None:
    from shipbell.bot.slackdouble.blockkit import validate_blocks

    names = [f"train-{n}" for n in range(12)]
    bell = await make_bell({"release": {"trains": {name: TRAIN for name in names}}})
    for name in names:
        await bell.command("/release", f"skip {name} 2026-11-03 {'why ' * 900}")
    for text in ("next", "calendar 20"):
        blocks = ((await bell.command("/release", text)).json or {})["blocks"]
        assert validate_blocks(blocks) == [], text
    blocks = ((await bell.command("/release", "calendar 20")).json or {})["blocks"]
    assert "ask for one train: `/release calendar train-0 20`" in blocks[-1]["elements"][0]["text"]
    alone = ((await bell.command("/release", "calendar train-3 20")).json or {})["blocks"]
    assert f"*skipped* by <@{ANA}>" in alone[0]["text"]["text"] and len(alone) == 1


async def test_long_versions_on_the_train_keep_every_line_whole(make_bell: MakeBell,
                                                                clock: Any) -> None:
    from datetime import UTC, datetime

    bell = await make_bell(config())
    for n in range(15):
        bell.core.store.execute(
            "INSERT INTO deploys (service, env, ref, version, state, requester, requested_at,"
            f" finished_at) VALUES ('web', 'production', 'main', ?, 'succeeded', '{EVE}', ?, ?)",
            (f"v{n}-" + "9" * 3000, f"2026-10-30T10:{n:02d}:00.000000+00:00",
             f"2026-10-30T10:{n:02d}:00.000000+00:00"))
    clock.set(datetime(2026, 11, 2, 13, tzinfo=UTC))  # the freeze announcement
    await bell.core.scheduler.run_due()
    [post] = await announced(bell)
    train = post["blocks"][1]["text"]["text"]
    assert train.count("• `web` v") == 15 and train.count("<!date^") == 16  # and "since"
    assert bell.double.problems == []


async def test_a_deactivated_captain_is_flagged_until_someone_swaps_in(
    make_bell: MakeBell, clock: Any
) -> None:
    from datetime import UTC, datetime

    bell = await make_bell(config())
    bell.double.add_user(BOB, "bob", deleted=True)  # Tuesday's captain has left
    bell.double.add_user(ANA, "ana")
    clock.set(datetime(2026, 11, 2, 13, tzinfo=UTC))  # the freeze; people are read first
    await bell.core.scheduler.run_due()
    [freeze] = await announced(bell)
    assert (f"Captain: <@{BOB}> (deactivated in Slack: swap in someone with"
            " `/release captain web @user`)") in freeze["blocks"][0]["text"]["text"]
    assert said(await bell.command("/release", "calendar web 2")).endswith(f"captain <@{ANA}>")
    await bell.command("/release", f"captain web <@{ANA}>")
    assert "deactivated" not in said(await bell.command("/release", "next web"))
