"""After a downtime: what was missed beyond the grace window is said once, per train."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from conftest import MakeBell
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, RELEASES

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web"], "timezone": "Europe/Paris",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "reminders": ["2h"],
    "captains": [ANA, BOB],
}
CONFIG = {"release": {"trains": {"web": TRAIN}}}
RELEASE = datetime(2026, 11, 3, 13, tzinfo=UTC)


def texts(bell: LocalShipbell) -> list[str]:
    return [m["text"] for m in bell.double.messages(RELEASES)]


async def test_two_processes_tell_the_channel_once(make_bell: MakeBell,
                                                   clock: FakeClock) -> None:
    first = await make_bell(CONFIG)
    second = LocalShipbell(first.db_path, config=CONFIG, clock=clock)
    await second.start()
    try:
        clock.set(RELEASE.replace(hour=16))  # freeze, 2 h reminder and release all missed
        await asyncio.gather(first.core.scheduler.run_due(), second.core.scheduler.run_due())
        await first.idle()
        await second.idle()
        told = texts(first) + texts(second)
        assert told == ["web: 3 scheduled posts missed while Shipbell was down"]
    finally:
        await second.stop()


async def test_a_release_skipped_by_hand_is_not_reported_missing(make_bell: MakeBell,
                                                                 clock: FakeClock) -> None:
    bell = await make_bell(CONFIG)
    await bell.command("/release", "skip web 2026-11-03 audit")
    clock.set(RELEASE.replace(hour=16))
    outcomes = await bell.core.scheduler.run_due()
    await bell.idle()
    assert sum(o.outcome == "missed" for o in outcomes) == 3
    assert len(texts(bell)) == 1 and "skipped the *web* release" in texts(bell)[0]


async def test_the_notice_lists_what_was_missed_in_time_order(make_bell: MakeBell,
                                                              clock: FakeClock) -> None:
    clock.set(datetime(2026, 10, 29, tzinfo=UTC))
    bell = await make_bell({"release": {"trains": {"web": {**TRAIN, "reminders": ["3d"]}}}})
    clock.set(RELEASE.replace(hour=16))
    await bell.core.scheduler.run_due()
    await bell.idle()
    [notice] = bell.double.messages(RELEASES)
    text = notice["blocks"][0]["text"]["text"]
    order = [text.index(label) for label in
             ("3d reminder", "code freeze announcement", "release announcement")]
    assert order == sorted(order) and "missed 3 scheduled posts" in text
