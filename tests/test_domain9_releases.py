"""Release trains, tried as a new user would: freezes say when they end, a train without a
freeze never says one is over, and every calendar change is audited with its channel.

The clock starts Monday 2026-11-02 09:00 UTC; the train leaves Tuesdays 14:00 Paris
(13:00 UTC, CET), so its 24 h code freeze starts Monday 13:00 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from conftest import MakeBell
from shipbell.bot.clock import FakeClock
from shipbell.bot.deploys.demo import DEMO_CONFIG as DEPLOYS
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, GENERAL, RELEASES

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web", "api"], "timezone": "Europe/Paris",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "reminders": ["0"],
    "captains": [ANA, BOB],
}
FREEZE = datetime(2026, 11, 2, 13, tzinfo=UTC)
RELEASE = datetime(2026, 11, 3, 13, tzinfo=UTC)


def config(**overrides: Any) -> dict[str, Any]:
    return {"release": {"trains": {"web": {**TRAIN, **overrides}}}, "deploy": DEPLOYS}


async def test_an_adhoc_freeze_refusal_says_when_it_ends(make_bell: MakeBell,
                                                         clock: FakeClock) -> None:
    bell = await make_bell(config(freeze="0"))
    await bell.command("/release", "freeze web 2h database migration", channel=RELEASES)
    refused = await bell.command("/deploy", "api@v3 to production")
    # 09:00 UTC + 2 h = 12:00 Paris time, said with the zone's name
    assert "database migration, until Mon 2 Nov 12:00 CET" in refused.text, refused.text
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM deploys") == {"n": 0}


async def test_a_scheduled_freeze_refusal_gives_the_end_time_not_only_the_date(
    make_bell: MakeBell, clock: FakeClock
) -> None:
    bell = await make_bell(config())
    clock.set(FREEZE.replace(minute=5))
    refused = await bell.command("/deploy", "web@v2 to production")
    assert "code freeze before the 2026-11-03 release, until Tue 3 Nov 14:00 CET" \
        in refused.text, refused.text


async def test_a_summer_freeze_names_summer_time(make_bell: MakeBell, clock: FakeClock) -> None:
    clock.set(datetime(2026, 6, 29, 14, tzinfo=UTC))  # Monday; the freeze began at 12:00 UTC
    bell = await make_bell(config())
    refused = await bell.command("/deploy", "web@v2 to production")
    assert "until Tue 30 Jun 14:00 CEST" in refused.text, refused.text


def release_day_post(bell: Any) -> str:
    [post] = [m for m in bell.double.messages(RELEASES) if m["text"].endswith("release day")]
    return " ".join(b["text"]["text"] for b in post["blocks"] if b.get("type") == "section")


async def test_a_train_without_a_freeze_does_not_announce_its_end(make_bell: MakeBell,
                                                                  clock: FakeClock) -> None:
    bell = await make_bell(config(freeze="0"))
    clock.set(RELEASE)
    await bell.core.scheduler.run_due()
    await bell.idle()
    post = release_day_post(bell)
    assert "release is go" in post and "freeze" not in post.lower()


async def test_a_train_with_a_freeze_still_says_it_is_over(make_bell: MakeBell,
                                                           clock: FakeClock) -> None:
    bell = await make_bell(config())
    clock.set(RELEASE)
    await bell.core.scheduler.run_due()
    await bell.idle()
    assert "The freeze is over." in release_day_post(bell)


async def test_every_release_change_is_audited_with_its_channel(make_bell: MakeBell,
                                                                clock: FakeClock) -> None:
    bell = await make_bell(config())
    for text in ("skip web 2026-11-03 audit week", "unskip web 2026-11-03",
                 "freeze web 1h migration", "unfreeze web", f"captain web <@{CARL}>"):
        ack = await bell.command("/release", text, channel=GENERAL)
        assert ack.status == 200
    rows = bell.core.store.all("SELECT action, channel FROM audit_log"
                               " WHERE action LIKE 'release.%' ORDER BY id")
    assert [r["action"] for r in rows] == ["release.skip", "release.unskip", "release.freeze",
                                           "release.unfreeze", "release.captain"]
    assert {r["channel"] for r in rows} == {GENERAL}
