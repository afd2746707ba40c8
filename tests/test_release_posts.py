"""What the release trains post, through the real app and the Slack double.

Time moves only with the FakeClock; ``run_due`` stands in for APScheduler's wake-ups.
The clock starts Monday 2026-11-02 09:00 UTC; the train leaves Tuesdays 14:00 Paris
(13:00 UTC), so the 24 h freeze starts Monday 13:00 UTC.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
from conftest import MakeBell
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.local import LocalShipbell
from shipbell.bot.releases.freeze import active_freeze
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, RELEASES
from shipbell.handlers.release.book import releases_of

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web", "api"], "timezone": "Europe/Paris",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "reminders": ["3d", "24h", "2h", "0"],
    "captains": [ANA, BOB],
}
FREEZE = datetime(2026, 11, 2, 13, tzinfo=UTC)
RELEASE = datetime(2026, 11, 3, 13, tzinfo=UTC)
NEXT_RELEASE = datetime(2026, 11, 10, 13, tzinfo=UTC)


def config(**overrides: Any) -> dict[str, Any]:
    return {"release": {"trains": {"web": {**TRAIN, **overrides}}}}


def shipped(bell: LocalShipbell, service: str, version: str, finished: datetime,
            env: str = "production", state: str = "succeeded") -> None:
    """A deploy as /deploy records it (the foundation's deploys table)."""
    bell.core.store.execute(
        "INSERT INTO deploys (service, env, ref, version, state, requester, requested_at,"
        f" finished_at) VALUES (?, ?, 'main', ?, ?, '{CARL}', ?, ?)",
        (service, env, version, state, to_db(finished), to_db(finished)),
    )


def posts(bell: LocalShipbell) -> list[str]:
    return [m["text"] + " | " + " ".join(b["text"]["text"] for b in m.get("blocks", [])
                                          if b.get("type") == "section")
            for m in bell.double.messages(RELEASES)]


async def tick(bell: LocalShipbell, clock: FakeClock, when: datetime) -> list[str]:
    clock.set(when)
    outcomes = await bell.core.scheduler.run_due()
    await bell.idle()
    return [f"{o.job_id}:{o.outcome}" for o in outcomes if o.job_id.startswith("release:")]


async def test_freeze_reminder_and_release_day_posts(make_bell: MakeBell,
                                                     clock: FakeClock) -> None:
    bell = await make_bell(config())
    shipped(bell, "web", "v41", datetime(2026, 10, 27, 12, tzinfo=UTC))  # previous train
    shipped(bell, "web", "v42", datetime(2026, 10, 29, 10, tzinfo=UTC))
    shipped(bell, "api", "v7", datetime(2026, 10, 30, 10, tzinfo=UTC))
    shipped(bell, "api", "v8", datetime(2026, 10, 30, 11, tzinfo=UTC), env="staging")
    shipped(bell, "billing", "v1", datetime(2026, 10, 30, 11, tzinfo=UTC))
    shipped(bell, "web", "v43", datetime(2026, 10, 30, 12, tzinfo=UTC), state="failed")

    assert await tick(bell, clock, datetime(2026, 11, 2, 12, 59, tzinfo=UTC)) == []
    assert await tick(bell, clock, FREEZE) == ["release:web:freeze:posted"]
    [freeze] = posts(bell)
    assert "Code freeze for web" in freeze and f"<@{BOB}>" in freeze
    assert f"<!date^{int(RELEASE.timestamp())}^" in freeze  # each reader's own time zone
    assert "2 production deploys" in freeze and "v42" in freeze and "v7" in freeze
    for absent in ("v41", "v8", "billing", "v43"):
        assert absent not in freeze

    assert await tick(bell, clock, datetime(2026, 11, 3, 11, tzinfo=UTC)) == [
        "release:web:t-2h:posted"]
    assert "releases in 2 h" in posts(bell)[-1] and f"<@{BOB}>" in posts(bell)[-1]
    assert "Code freeze started <!date^" in posts(bell)[-1]

    assert await tick(bell, clock, RELEASE) == ["release:web:release:posted"]
    day = posts(bell)[-1]
    assert "release is go" in day and "v42" in day
    assert f"Next release: <!date^{int(NEXT_RELEASE.timestamp())}^" in day
    assert f"captain <@{ANA}>" in day  # the rotation moves on
    assert len(bell.double.messages(RELEASES)) == 3


async def test_freeze_window_is_what_the_deploy_gate_sees(make_bell: MakeBell,
                                                          clock: FakeClock) -> None:
    bell = await make_bell(config())
    core = bell.core
    book = releases_of(core)
    assert active_freeze(book, "web", "production", datetime(2026, 11, 2, 12, tzinfo=UTC)) is None
    window = active_freeze(book, "web", "production", FREEZE)
    assert window is not None and window.ends_at == RELEASE and window.starts_at == FREEZE
    assert window.source == "release train web" and "2026-11-03" in window.reason
    assert active_freeze(book, "api", "production", RELEASE.replace(minute=59, hour=12))
    assert active_freeze(book, "web", "staging", FREEZE) is None
    assert active_freeze(book, "billing", "production", FREEZE) is None
    assert active_freeze(book, "web", "production", RELEASE) is None  # released: open again


async def test_no_duplicates_after_restart(make_bell: MakeBell, clock: FakeClock) -> None:
    bell = await make_bell(config())
    await tick(bell, clock, FREEZE)
    await bell.restart()
    assert await tick(bell, clock, FREEZE.replace(minute=30)) == []
    assert len(bell.double.messages(RELEASES)) == 1


async def test_catch_up_at_start_up_inside_and_beyond_grace(make_bell: MakeBell,
                                                           clock: FakeClock) -> None:
    bell = await make_bell(config(), scheduler=True)
    clock.set(FREEZE.replace(minute=40))  # down over the freeze time, back 40 min later
    await bell.restart()
    await bell.idle()
    assert len(posts(bell)) == 1 and "Code freeze" in posts(bell)[0]
    clock.set(RELEASE.replace(hour=15))  # 2 h reminder and release day missed by > 1 h
    await bell.restart()
    await bell.idle()
    [_, notice] = posts(bell)  # one notice for both, instead of two late posts
    assert "Shipbell was down and missed 2 scheduled posts for *web*" in notice
    assert f"the 2h reminder of <!date^{int(RELEASE.timestamp()) - 7200}^" in notice
    assert f"the release announcement of <!date^{int(RELEASE.timestamp())}^" in notice
    assert f"Next release: <!date^{int(NEXT_RELEASE.timestamp())}^" in notice
    metrics = bell.core.metrics.registry
    assert metrics.get_sample_value("shipbell_scheduled_runs_total",
                                    {"job": "release.day", "outcome": "missed"}) == 1
    assert metrics.get_sample_value("shipbell_scheduled_runs_total",
                                    {"job": "release.reminder", "outcome": "missed"}) == 1
    async with aiohttp.ClientSession() as session, session.get(
        bell.runtime.url + "/metrics"
    ) as resp:
        exposed = await resp.text()
    assert 'shipbell_scheduled_runs_total{job="release.day",outcome="missed"} 1.0' in exposed
    ledger = bell.core.store.all("SELECT job_id, status FROM scheduled_runs"
                                 " WHERE job_id LIKE 'release:%' ORDER BY scheduled_for")
    assert [r["status"] for r in ledger] == ["posted", "missed", "missed"]
    await bell.restart()
    await bell.idle()
    assert len(posts(bell)) == 2  # said once, not at every start-up


async def test_empty_train_says_so_and_skips_when_configured(make_bell: MakeBell,
                                                            clock: FakeClock) -> None:
    bell = await make_bell(config(skip_when_empty=True))
    await tick(bell, clock, FREEZE)
    assert "Nothing has changed" in posts(bell)[-1]
    await tick(bell, clock, datetime(2026, 11, 3, 11, tzinfo=UTC))
    assert "will be skipped" in posts(bell)[-1]
    assert await tick(bell, clock, RELEASE) == ["release:web:release:skipped"]
    assert "is skipped: nothing has changed" in posts(bell)[-1]
    assert f"<!date^{int(NEXT_RELEASE.timestamp())}^" in posts(bell)[-1]


async def test_a_change_makes_the_train_leave(make_bell: MakeBell, clock: FakeClock) -> None:
    bell = await make_bell(config(skip_when_empty=True))
    shipped(bell, "api", "v9", datetime(2026, 11, 2, 10, tzinfo=UTC))
    assert await tick(bell, clock, RELEASE) == ["release:web:freeze:missed",
                                                "release:web:t-2h:missed",
                                                "release:web:release:posted"]
    day, notice = posts(bell)
    assert "release is go" in day and "v9" in day
    assert "missed 2 scheduled posts" in notice


async def test_train_removed_from_config_loses_its_jobs(make_bell: MakeBell,
                                                       clock: FakeClock) -> None:
    two = {"release": {"trains": {"web": TRAIN, "mobile": {**TRAIN, "weekday": "wed"}}}}
    bell = await make_bell(two)
    assert any(j.startswith("release:mobile:") for j in bell.core.scheduler.jobs)
    bell.core.settings.release.trains.pop("mobile")
    await bell.restart()
    assert not any(j.startswith("release:mobile:") for j in bell.core.scheduler.jobs)
    assert "release:web:release" in bell.core.scheduler.jobs


async def test_deploy_gate_refuses_production_during_the_freeze(make_bell: MakeBell,
                                                                clock: FakeClock) -> None:
    from shipbell.bot.deploys.demo import DEMO_CONFIG as DEPLOYS

    bell = await make_bell({**config(), "deploy": DEPLOYS})
    before = await bell.command("/deploy", "explain web@v2 to production")
    assert "frozen" not in before.text
    clock.set(FREEZE.replace(minute=5))
    refused = await bell.command("/deploy", "web@v2 to production")
    assert "production is frozen (release train web: code freeze before the 2026-11-03" \
        in refused.text and "--break-glass" in refused.text
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM deploys") == {"n": 0}
    staging = await bell.command("/deploy", "explain web@v2 to staging")
    assert "frozen" not in staging.text
    clock.set(RELEASE.replace(minute=10))  # released: open again
    assert "frozen" not in (await bell.command("/deploy", "explain api@v3 to production")).text
    await bell.command("/release", "freeze web 1h incident follow-up " + "y" * 3_800,
                       channel=RELEASES)
    adhoc = await bell.command("/deploy", "api@v3 to production")
    assert "release train web: incident follow-up" in adhoc.text
    assert len(adhoc.text) < 600  # a 4,000-character reason is quoted, not pasted whole


async def test_holiday_move_is_said_in_the_posts(make_bell: MakeBell, clock: FakeClock) -> None:
    clock.set(datetime(2026, 12, 24, 12, tzinfo=UTC))
    bell = await make_bell(config(weekday="fri", time="10:00", holidays="FR"))
    moved_to = datetime(2026, 12, 28, 9, tzinfo=UTC)  # Monday 10:00 Paris
    for before, job in ((timedelta(days=3), "t-3d"), (timedelta(hours=24), "freeze"),
                        (timedelta(hours=2), "t-2h"), (timedelta(0), "release")):
        assert await tick(bell, clock, moved_to - before) == [f"release:web:{job}:posted"]
    *_, day = posts(bell)
    for text in posts(bell):
        assert "moved from Fri 25 Dec (Christmas Day)" in text
        assert f"<!date^{int(moved_to.timestamp())}^" in text
    assert "Next release: <!date^" in day and "moved from Fri 01 Jan" in day  # New Year


async def test_train_time_zone_defaults_to_the_top_level_one(make_bell: MakeBell) -> None:
    train = {k: v for k, v in TRAIN.items() if k != "timezone"}
    bell = await make_bell({"timezone": "America/New_York",
                            "release": {"trains": {"web": train}}})
    ack = await bell.command("/release")
    release = datetime(2026, 11, 3, 19, tzinfo=UTC)  # 14:00 EST
    assert f"<!date^{int(release.timestamp())}^" in ack.body


async def test_two_processes_on_one_database_post_once(make_bell: MakeBell,
                                                       clock: FakeClock) -> None:
    first = await make_bell(config())
    second = LocalShipbell(first.db_path, config=config(), clock=clock)
    await second.start()
    try:
        clock.set(FREEZE)
        outcomes = await asyncio.gather(first.core.scheduler.run_due(),
                                        second.core.scheduler.run_due())
        await first.idle()
        await second.idle()
        posted = [o for batch in outcomes for o in batch
                  if o.job_id.startswith("release:") and o.outcome == "posted"]
        assert len(posted) == 1
        total = len(first.double.messages(RELEASES)) + len(
            second.double.messages(RELEASES))
        assert total == 1
    finally:
        await second.stop()


async def test_release_trigger_behaves_like_an_apscheduler_trigger(make_bell: MakeBell) -> None:
    bell = await make_bell(config())
    trigger = bell.core.scheduler.jobs["release:web:release"].trigger
    assert trigger.get_next_fire_time(None, RELEASE) == RELEASE
    assert trigger.get_next_fire_time(RELEASE, RELEASE) == NEXT_RELEASE  # woke exactly on time
    freeze = bell.core.scheduler.jobs["release:web:freeze"].trigger
    assert freeze.get_next_fire_time(None, RELEASE) == NEXT_RELEASE - timedelta(hours=24)
    assert "release train web" in str(freeze)


async def test_post_interrupted_after_its_claim_goes_out_once_after_restart(
    make_bell: MakeBell, clock: FakeClock
) -> None:
    bell = await make_bell(config(), scheduler=True)
    clock.set(FREEZE.replace(minute=1))
    assert bell.core.scheduler._claim("release:web:freeze", FREEZE, "claimed")  # then crash
    await bell.restart()
    await bell.idle()
    assert len(posts(bell)) == 1 and "Code freeze" in posts(bell)[0]
    await bell.restart()
    await bell.idle()
    assert len(posts(bell)) == 1


async def test_offsets_are_real_hours_across_a_dst_change(make_bell: MakeBell,
                                                          clock: FakeClock) -> None:
    clock.set(datetime(2026, 10, 22, 12, tzinfo=UTC))
    bell = await make_bell(config(weekday="mon"))  # Mon 26 Oct 14:00 CET = 13:00 UTC
    release = datetime(2026, 10, 26, 13, tzinfo=UTC)
    assert await tick(bell, clock, release - timedelta(hours=72, minutes=1)) == []
    assert await tick(bell, clock, release - timedelta(hours=72)) == ["release:web:t-3d:posted"]
    book = releases_of(bell.core)
    window = active_freeze(book, "web", "production", release - timedelta(hours=24))
    assert window is not None and window.starts_at == release - timedelta(hours=24)
    assert active_freeze(book, "web", "production",
                         release - timedelta(hours=24, minutes=1)) is None


async def test_archived_train_channel_is_logged_not_retried(make_bell: MakeBell,
                                                            clock: FakeClock) -> None:
    bell = await make_bell(config())
    bell.double.state.channels[RELEASES].is_archived = True
    assert await tick(bell, clock, FREEZE) == ["release:web:freeze:posted"]
    [call] = bell.double.calls_to("chat.postMessage")
    assert call.response.get("error") == "is_archived"
    task = bell.core.store.one("SELECT status, attempts FROM tasks WHERE kind = 'slack.call'")
    assert task is not None and task["status"] == "done"
    assert await tick(bell, clock, FREEZE.replace(minute=30)) == []


async def test_rate_limited_release_post_is_retried_and_lands_once(make_bell: MakeBell,
                                                                  clock: FakeClock) -> None:
    bell = await make_bell(config())
    bell.double.rate_limit_next("chat.postMessage", retry_after=0)
    await tick(bell, clock, FREEZE)
    assert len(bell.double.calls_to("chat.postMessage")) == 2
    assert len(posts(bell)) == 1
