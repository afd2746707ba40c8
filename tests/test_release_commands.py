"""`/release` through signed slash commands: answers, calendar changes, audit, announcements."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import MakeBell
from fakes.slow import ack_asking_slack_nothing
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.releases.freeze import active_freeze
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, EVE, RELEASES
from shipbell.handlers.release.book import releases_of

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web", "api"], "timezone": "Europe/Paris",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA, BOB],
}


def config(**overrides: Any) -> dict[str, Any]:
    return {"release": {"trains": {"web": {**TRAIN, **overrides}}}}


def said(ack: Any) -> str:
    data = ack.json or {}
    return data.get("text", "") + " " + " ".join(
        b["text"]["text"] for b in data.get("blocks", []) if b.get("type") == "section")


async def announced(bell: LocalShipbell) -> list[str]:
    await bell.idle()
    return [m["text"] for m in bell.double.messages(RELEASES)]


def audit(bell: LocalShipbell) -> list[tuple[str, str, dict[str, Any]]]:
    rows = bell.core.store.all("SELECT actor, action, detail FROM audit_log"
                               " WHERE action LIKE 'release.%' ORDER BY id")
    return [(r["actor"], r["action"], json.loads(r["detail"])) for r in rows]


async def test_next_shows_release_freeze_captain_state_and_train(
    make_bell: MakeBell, clock: FakeClock
) -> None:
    bell = await make_bell(config())
    ack = await ack_asking_slack_nothing(bell, bell.command("/release"))
    text = said(ack)
    assert ack.status == 200 and ack.json and ack.json["response_type"] == "ephemeral"
    release = int(datetime(2026, 11, 3, 13, tzinfo=UTC).timestamp())
    assert f"next release <!date^{release}^" in text and f"Captain: <@{BOB}>" in text
    assert "State: *open*" in text and "Nothing has changed" in text
    clock.set(datetime(2026, 11, 2, 14, tzinfo=UTC))
    frozen = said(await bell.command("/release", "next web"))
    assert "State: *frozen*" in frozen and "code freeze before the 2026-11-03" in frozen
    assert said(await bell.command("/release", "web")) == frozen  # bare train name


async def test_calendar_marks_holiday_moves_and_skips(make_bell: MakeBell,
                                                      clock: FakeClock) -> None:
    bell = await make_bell(config(weekday="fri", time="10:00", holidays="FR"))
    clock.set(datetime(2026, 12, 10, tzinfo=UTC))
    text = said(await bell.command("/release", "calendar web 3"))
    assert text.count("•") == 3
    assert "moved from Fri 25 Dec (Christmas Day)" in text
    assert "2026-12-28 09:00 UTC" in text  # Monday after Christmas, 10:00 Paris
    skip = await bell.command("/release", "skip web 2026-12-11 team offsite", user=CARL)
    assert "Skipped" in said(skip)
    text = said(await bell.command("/release", "calendar"))
    assert f"*skipped* by <@{CARL}>: team offsite" in text


async def test_skip_and_unskip_are_stored_audited_announced_once(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    ack = await bell.command("/release", 'skip web 2026-11-03 "waiting for the audit"')
    assert "Skipped the `web` release of 2026-11-03" in said(ack)
    again = await bell.command("/release", "skip web 2026-11-03 waiting for the audit")
    assert "already skipped" in said(again)
    texts = await announced(bell)
    assert len(texts) == 1 and f"<@{ANA}> skipped the *web* release" in texts[0]
    assert "waiting for the audit" in texts[0] and "Next release: <!date^" in texts[0]
    assert audit(bell) == [(ANA, "release.skip",
                            {"day": "2026-11-03", "reason": "waiting for the audit"})]
    nxt = said(await bell.command("/release", "next"))
    assert str(int(datetime(2026, 11, 10, 13, tzinfo=UTC).timestamp())) in nxt
    assert active_freeze(releases_of(bell.core), "web", "production",
                         datetime(2026, 11, 2, 14, tzinfo=UTC)) is None  # nothing to freeze for
    assert "back on" in said(await bell.command("/release", "unskip web 2026-11-03"))
    assert "isn't skipped" in said(await bell.command("/release", "unskip web 2026-11-03"))
    assert len(await announced(bell)) == 2


async def test_skipped_release_posts_nothing_at_its_time(make_bell: MakeBell,
                                                        clock: FakeClock) -> None:
    bell = await make_bell(config())
    await bell.command("/release", "skip web 2026-11-03 audit")
    for when in (datetime(2026, 11, 2, 13, tzinfo=UTC), datetime(2026, 11, 3, 11, tzinfo=UTC),
                 datetime(2026, 11, 3, 13, tzinfo=UTC)):
        clock.set(when)
        outcomes = await bell.core.scheduler.run_due()
        assert [o.outcome for o in outcomes if o.job_id.startswith("release:")] == ["skipped"]
    assert len(await announced(bell)) == 1  # only the skip announcement


async def test_adhoc_freeze_reaches_the_gate_and_unfreeze_lifts_it(
    make_bell: MakeBell, clock: FakeClock
) -> None:
    bell = await make_bell(config())
    now = clock.now()
    ack = await bell.command("/release", "freeze web 2h database migration")
    assert "Froze `web`" in said(ack)
    window = active_freeze(releases_of(bell.core), "api", "production", now)
    assert window is not None and window.reason.startswith("database migration, until")
    assert window.ends_at == now.replace(hour=11)
    second = said(await bell.command("/release", "freeze web 1h again", user=BOB))
    assert "already frozen" in second and f"<@{ANA}>" in second
    assert "Unfroze" in said(await bell.command("/release", "unfreeze web", user=BOB))
    assert active_freeze(releases_of(bell.core), "api", "production", now) is None
    assert "isn't frozen" in said(await bell.command("/release", "unfreeze web"))
    texts = await announced(bell)
    assert len(texts) == 2 and "froze *web*" in texts[0] and "lifted the freeze" in texts[1]
    assert [a[1] for a in audit(bell)] == ["release.freeze", "release.unfreeze"]
    clock.set(now.replace(hour=10))
    await bell.command("/release", "freeze web 30m short one")
    clock.set(now.replace(hour=11))  # expired: a new freeze is allowed
    assert "Froze" in said(await bell.command("/release", "freeze web 1h another"))


async def test_captain_swap_for_the_next_release(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    ack = await bell.command("/release", f"captain web <@{DANA}|dana>")
    assert f"<@{DANA}> is captain of the `web` release of 2026-11-03" in said(ack)
    assert f"Captain: <@{DANA}>" in said(await bell.command("/release"))
    texts = await announced(bell)
    assert f"made <@{DANA}> captain" in texts[0] and f"(was <@{BOB}>)" in texts[0]
    assert "already captain" in said(await bell.command("/release", f"captain web <@{DANA}>"))
    cal = said(await bell.command("/release", "calendar web 2"))
    assert f"<@{DANA}> (swapped)" in cal and f"captain <@{ANA}>" in cal


async def test_only_managers_change_the_calendar(make_bell: MakeBell) -> None:
    bell = await make_bell({"release": {"managers": [ANA], "trains": {"web": TRAIN}}})
    refused = said(await bell.command("/release", "freeze web 1h nope", user=EVE))
    assert refused.strip() == f"Only <@{ANA}> may change the `web` calendar; ask one of them."
    assert active_freeze(releases_of(bell.core), "web", "production", bell.core.clock.now()) is None
    assert "Froze" in said(await bell.command("/release", "freeze web 1h yes", user=ANA))
    assert "the next 5 dates" in said(await bell.command("/release", "calendar", user=EVE))


async def test_bad_input_gets_one_sentence_with_an_example(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    cases = {
        "skip": "Which train? Try `/release skip web 2026-12-01 waiting for the security",
        "skip mobile 2026-11-03 x": "No train called `mobile`; trains: `web`",
        "skip web tuesday x": "give it as YYYY-MM-DD, e.g. `/release skip web 2026-12-01",
        "skip web 2026-11-04 x": "no release on 2026-11-04; the next ones are 2026-11-03",
        "skip web 2026-11-03": "Say why",
        "freeze web soon x": "such as 30m, 2h",
        "freeze web 2h": "needs a duration and a reason",
        "freeze web 6w long haul": "at most 30d",
        "captain web dana": "Mention the new captain: `/release captain web @dana`",
        "calendar mobile": "No train called `mobile`",
        "frobnicate": "`/release frobnicate`? I don't know that one",
        # wrong order, odd words, hostile text: still one short sentence, never a ping
        "skip 2026-11-03 web audit": "Put the train first: `/release skip web 2026-12-01",
        "freeze 2h web migration": "Put the train first: `/release freeze web 2h",
        f"captain <@{DANA}|dana> web": "Put the train first: `/release captain web @dana`.",
        "unskip 2026-11-03 web": "Put the train first: `/release unskip web 2026-12-01`.",
        "skip `web` 2026-11-03 x": "No train called `'web'`",
        "calendar " + "ü" * 300: "No train called `" + "ü" * 39 + "…`",
        "<!channel>": "`/release &lt;!channel&gt;`?",
        "freeze web 9999999999d x": "How long? Give a duration such as 30m, 2h",
        "freeze web 99999999w x": "How long? Give a duration such as 30m, 2h",
    }
    for text, expected in cases.items():
        answer = said(await bell.command("/release", text))
        assert expected in answer, (text, answer)
        assert len(answer) < 400 and "<!channel>" not in answer
    assert await announced(bell) == []
    assert audit(bell) == []


async def test_without_trains_the_answer_says_how_to_add_one(bell: LocalShipbell) -> None:
    assert "[release.trains.<name>]" in said(await bell.command("/release"))
    assert "/release calendar" in said(await bell.command("/release", "help"))


async def test_reasons_cannot_ping_the_whole_channel(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    await bell.command("/release", "freeze web 1h <!channel> stop everything <!here|here>")
    [text] = await announced(bell)
    assert "<!channel>" not in text and "<!here" not in text and "stop everything" in text


async def test_a_long_train_lists_fifteen_and_counts_the_rest(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    for n in range(20):
        bell.core.store.execute(
            "INSERT INTO deploys (service, env, ref, version, state, requester, requested_at,"
            f" finished_at) VALUES ('web', 'production', 'main', ?, 'succeeded', '{EVE}', ?, ?)",
            (f"v{n}", f"2026-10-30T10:{n:02d}:00.000000+00:00",
             f"2026-10-30T10:{n:02d}:00.000000+00:00"))
    text = said(await bell.command("/release"))
    assert "20 production deploys" in text and "…and 5 more." in text
    assert "v14" in text and "v15" not in text


async def test_twenty_dates_with_long_skip_reasons_stay_within_block_limits(
    make_bell: MakeBell
) -> None:
    bell = await make_bell(config())
    for week in range(8):
        day = datetime(2026, 11, 3, tzinfo=UTC) + timedelta(weeks=week)
        await bell.command("/release", f"skip web {day:%Y-%m-%d} {'very long reason ' * 12}")
    ack = await bell.command("/release", "calendar web 50")
    blocks = (ack.json or {})["blocks"]
    assert len(blocks) >= 2 and all(len(b["text"]["text"]) <= 3000 for b in blocks)
    assert said(ack).count("•") == 20  # N is capped at 20
    assert all(b["text"]["text"].count("<!date^") == b["text"]["text"].count("|") for b in blocks)


async def test_a_train_can_name_its_own_managers(make_bell: MakeBell) -> None:
    trains = {"web": {**TRAIN, "managers": [BOB]}, "api": {**TRAIN, "managers": []}}
    bell = await make_bell({"release": {"managers": [ANA], "trains": trains}})
    assert f"Only <@{BOB}>" in said(await bell.command("/release", "freeze web 1h x"))
    assert "Froze" in said(await bell.command("/release", "freeze web 1h x", user=BOB))
    assert "Froze" in said(await bell.command("/release", "freeze api 1h x", user=EVE))


async def test_skipping_a_release_in_its_freeze_lifts_the_freeze(make_bell: MakeBell,
                                                                clock: FakeClock) -> None:
    bell = await make_bell(config())
    clock.set(datetime(2026, 11, 2, 14, tzinfo=UTC))  # inside the 24 h freeze
    assert active_freeze(releases_of(bell.core), "web", "production", clock.now()) is not None
    await bell.command("/release", "skip web 2026-11-03 nothing worth shipping")
    assert active_freeze(releases_of(bell.core), "web", "production", clock.now()) is None
    await bell.command("/release", "unskip web 2026-11-03")
    assert active_freeze(releases_of(bell.core), "web", "production", clock.now()) is not None
    skipped, back = await announced(bell)
    assert "Its code freeze is lifted." in skipped and "freeze is on again" in back
