"""Cadence arithmetic and config validation for release trains (no Slack involved)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from shipbell.bot.cli import EXIT_CONFIG, main
from shipbell.bot.durations import format_duration, parse_duration
from shipbell.bot.releases.calendar import TrainCalendar
from shipbell.bot.releases.config import TrainSettings
from shipbell.bot.settings import ConfigError, load_config
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, LEADS, RELEASES

PARIS = ZoneInfo("Europe/Paris")


def train(**fields: Any) -> TrainCalendar:
    base: dict[str, Any] = {"channel": RELEASES, "services": ["web"],
                            "weekday": "tue", "time": "14:00", "timezone": "Europe/Paris"}
    base.update(fields)
    if "cron" in fields:
        base.pop("weekday"), base.pop("time")
    return TrainCalendar("web", TrainSettings(**base))


def local(cal: TrainCalendar, since: datetime, n: int) -> list[str]:
    return [f"{o.at:%Y-%m-%d %H:%M}" if o.at else f"skip {o.nominal:%Y-%m-%d}"
            for o in cal.upcoming(since, n)]


def test_every_two_weeks_from_a_start_date() -> None:
    cal = train(every_weeks=2, start_date="2026-10-20", time="10:30")
    assert local(cal, datetime(2026, 11, 4, tzinfo=UTC), 3) == [
        "2026-11-17 10:30", "2026-12-01 10:30", "2026-12-15 10:30"]


def test_start_date_off_weekday_snaps_to_the_weekday() -> None:
    cal = train(every_weeks=3, start_date="2026-11-01", weekday="thu")  # a Sunday
    assert local(cal, datetime(2026, 11, 1, tzinfo=UTC), 2) == [
        "2026-11-05 14:00", "2026-11-26 14:00"]


def test_wall_clock_release_time_across_daylight_saving() -> None:
    cal = train(weekday="fri", time="09:00")
    utc_hours = [o.at.astimezone(UTC).hour for o in cal.upcoming(
        datetime(2026, 10, 20, tzinfo=UTC), 2) if o.at]
    assert utc_hours == [7, 8]  # 09:00 CEST, then 09:00 CET (Oct 25 change)
    spring = train(cron="0 9 * * mon", timezone="America/New_York")
    hours = [o.at.astimezone(UTC).hour for o in spring.upcoming(
        datetime(2026, 3, 1, tzinfo=UTC), 2) if o.at]
    assert hours == [14, 13]  # EST then EDT (Mar 8)


def test_christmas_moves_to_the_next_working_day() -> None:
    cal = train(weekday="fri", time="10:00", holidays="FR")
    [occ] = cal.upcoming(datetime(2026, 12, 24, tzinfo=UTC), 1)
    assert occ.nominal.date() == date(2026, 12, 25)
    assert occ.at == datetime(2026, 12, 28, 10, 0, tzinfo=PARIS)  # Sat/Sun skipped too
    assert "Christmas" in occ.note and occ.note.startswith("moved from Fri 25 Dec")


def test_holiday_moves_to_the_previous_working_day_or_is_skipped() -> None:
    back = train(weekday="fri", time="10:00", holidays="FR", on_holiday="previous")
    [occ] = back.upcoming(datetime(2026, 12, 24, tzinfo=UTC), 1)
    assert occ.at == datetime(2026, 12, 24, 10, 0, tzinfo=PARIS)
    skip = train(weekday="fri", time="10:00", holidays="FR", on_holiday="skip")
    assert local(skip, datetime(2026, 12, 20, tzinfo=UTC), 2) == [
        "skip 2026-12-25", "skip 2027-01-01"]


def test_weekend_cron_release_moves_to_monday() -> None:
    cal = train(cron="0 18 * * sat")
    [occ] = cal.upcoming(datetime(2026, 11, 1, tzinfo=UTC), 1)
    assert occ.at is not None and occ.at.date() == date(2026, 11, 2)
    assert "Saturday" in occ.note


def test_previous_move_onto_an_existing_release_is_merged_not_doubled() -> None:
    cal = train(cron="0 10 * * *", on_holiday="previous")  # daily, weekend -> Friday
    days = local(cal, datetime(2026, 11, 6, tzinfo=UTC), 4)
    assert days[0] == "2026-11-06 10:00"
    assert days[1:3] == ["skip 2026-11-07", "skip 2026-11-08"]


def test_captains_rotate_per_release() -> None:
    cal = train(captains=[ANA, BOB, CARL])
    occs = cal.upcoming(datetime(2026, 11, 1, tzinfo=UTC), 4)
    captains = [cal.rotation_captain(o) for o in occs]
    assert captains[:3] == sorted(set(captains[:3]), key=captains.index)
    assert len(set(captains[:3])) == 3 and captains[3] == captains[0]
    later = cal.upcoming(occs[1].at + timedelta(minutes=1), 1)  # type: ignore[operator]
    assert cal.rotation_captain(later[0]) == captains[2]  # stable whatever "now" is
    cron = train(cron="0 14 * * tue", captains=[ANA, BOB])
    turns = [cron.rotation_captain(o) for o in cron.upcoming(datetime(2026, 11, 1,
                                                                       tzinfo=UTC), 3)]
    assert turns[0] != turns[1] and turns[0] == turns[2]


def test_durations() -> None:
    assert parse_duration("1h30m") == timedelta(minutes=90)
    assert parse_duration("3d") == timedelta(days=3)
    assert parse_duration("0") == timedelta(0)
    assert format_duration(timedelta(hours=26)) == "1d2h"
    with pytest.raises(ValueError, match="such as 30m"):
        parse_duration("soon")


BAD = f"""
[release.trains.web]
channel = "{RELEASES}"
services = ["web"]
timezone = "Europe/Pariss"
weekday = "tue"
time = "14:00"
holidays = "XX"

[release.trains.api]
channel = "{RELEASES}"
services = ["api"]
cron = "0 14 * * 2"
freeze = "a while"
"""


def test_invalid_trains_are_reported_naming_train_and_field(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(BAD)
    with pytest.raises(ConfigError) as err:
        load_config(str(path))
    message = str(err.value)
    for key in ("release.trains.web.timezone", "release.trains.web.holidays",
                "release.trains.api.cron", "release.trains.api.freeze"):
        assert f"`{key}`" in message
    assert "Europe/Paris" in message and "0 14 * * tue" in message


def test_shipbell_check_exits_2_on_a_bad_cadence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(f'[release.trains.web]\nchannel = "{RELEASES}"\nservices = ["web"]\n'
                    'weekday = "someday"\ntime = "25:00"\n')
    assert main(["--config", str(path), "check"]) == EXIT_CONFIG
    err = capsys.readouterr().err
    assert "release.trains.web.weekday" in err and "release.trains.web.time" in err


@pytest.mark.parametrize("fields, fragment", [
    ({"cron": "0 14 * * tue", "weekday": "tue"}, "not both"),
    ({"weekday": None}, "needs a cadence"),
    ({"every_weeks": 2}, "start_date"),
    ({"captains": ["ana"]}, "Slack user id"),
    ({"captains": [LEADS]}, "Slack user id"),  # a rotation is people, not a group
    ({"managers": ["leads"]}, "nor a user group id; use ids such as U0123ABCD or S0123ABCD"),
    ({"freeze": "9999999999d"}, "far too long"),
    ({"channel": "releases"}, "channel id"),
    ({"freeze": "7d"}, "never opens"),
    ({"weekday": None, "time": None, "cron": "0 0 31 feb *"}, "never fires"),
    ({"weekday": None, "time": None, "cron": "0 25 * * mon"}, "not a valid cron"),
    ({"holidays": "FR", "holiday_subdivision": "ZZ"}, "not known for FR"),
    ({"reminders": ["2h", "tomorrow"]}, "not a duration"),
])
def test_more_invalid_train_fields(fields: dict[str, Any], fragment: str) -> None:
    base: dict[str, Any] = {"channel": RELEASES, "services": ["web"],
                            "weekday": "tue", "time": "14:00"}
    base.update(fields)
    with pytest.raises(ValueError, match=fragment):
        TrainSettings(**base)


@pytest.mark.parametrize("cadence", [{"weekday": "sun", "time": "02:30"},
                                     {"cron": "30 2 * * sun"}])
def test_times_in_the_dst_gap_and_overlap_fire_once(cadence: dict[str, str]) -> None:
    cal = train(on_holiday="skip", **cadence)  # Sundays: weekend rule would skip; use nominal
    spring = cal.upcoming(datetime(2026, 3, 28, tzinfo=UTC), 1)[0].nominal
    autumn = cal.upcoming(datetime(2026, 10, 24, tzinfo=UTC), 2)
    assert spring.astimezone(UTC) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 CEST
    assert autumn[0].nominal.astimezone(UTC) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert autumn[1].nominal.date() == date(2026, 11, 1)  # 02:30 happens twice: fired once


def test_cron_dates_are_the_same_whatever_order_they_are_asked_in() -> None:
    cal = train(cron="0 10 * * mon-fri", holidays="US", captains=[ANA, BOB])
    fresh = train(cron="0 10 * * mon-fri", holidays="US", captains=[ANA, BOB])
    late = datetime(2026, 12, 20, tzinfo=UTC)
    early = datetime(2026, 11, 20, tzinfo=UTC)
    walking = cal.occurrences(late)
    first = next(walking)
    assert cal.upcoming(early, 3) == fresh.upcoming(early, 3)  # rebuilds the cache mid-walk
    rest = [next(walking) for _ in range(3)]
    assert [first, *rest] == fresh.upcoming(late, 4)
    assert cal.upcoming(late, 30) == fresh.upcoming(late, 30)


def test_cron_cache_answers_far_ahead_and_back_like_a_fresh_calendar() -> None:
    cal = train(cron="0 10 * * mon-fri", captains=[ANA, BOB])
    for day in (20, 1, 90, 5, 200, 3):
        since = datetime(2026, 11, 1, tzinfo=UTC) + timedelta(days=day)
        fresh = train(cron="0 10 * * mon-fri", captains=[ANA, BOB])
        assert cal.upcoming(since, 4) == fresh.upcoming(since, 4), day


async def test_shipbell_check_prints_each_trains_next_dates(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from shipbell.bot.checks import run_check

    path = tmp_path / "trains.toml"
    path.write_text(f'[release.trains.web]\nchannel = "{RELEASES}"\nservices = ["web"]\n'
                    'timezone = "Europe/Paris"\nweekday = "fri"\ntime = "10:00"\n'
                    f'holidays = "FR"\ncaptains = ["{ANA}", "{BOB}"]\n'
                    f'[release.trains.api]\nchannel = "{RELEASES}"\nservices = ["api"]\n'
                    'cron = "0 9 * * fri"\nholidays = "FR"\non_holiday = "skip"\n')
    await run_check(load_config(str(path)), now=datetime(2026, 12, 20, tzinfo=UTC))
    out = capsys.readouterr().out
    assert "Release train web (Europe/Paris): next 4 dates" in out
    assert "  Mon 2026-12-28 10:00 CET  captain U0" in out
    assert "(moved from Fri 25 Dec (Christmas Day))" in out
    assert "Release train api (UTC)" in out
    assert "  Fri 2026-12-25 09:00 UTC  skipped: Christmas Day" in out
    assert "  Fri 2027-01-08 09:00 UTC" in out


@pytest.mark.parametrize("cadence", [{"weekday": "tue", "time": "14:00"},
                                     {"cron": "0 14 * * tue"}])
def test_weekly_and_cron_keep_local_time_when_clocks_go_forward_and_back(
    cadence: dict[str, str]
) -> None:
    cal = train(**cadence)
    spring = [o.at for o in cal.upcoming(datetime(2026, 3, 20, tzinfo=UTC), 2)]
    autumn = [o.at for o in cal.upcoming(datetime(2026, 10, 20, tzinfo=UTC), 2)]
    assert [a.astimezone(UTC) for a in spring if a] == [
        datetime(2026, 3, 24, 13, tzinfo=UTC), datetime(2026, 3, 31, 12, tzinfo=UTC)]
    assert [a.astimezone(UTC) for a in autumn if a] == [
        datetime(2026, 10, 20, 12, tzinfo=UTC), datetime(2026, 10, 27, 13, tzinfo=UTC)]
    assert {f"{a:%H:%M}" for a in spring + autumn if a} == {"14:00"}
