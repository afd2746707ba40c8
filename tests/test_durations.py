"""One duration grammar (bot.durations) for `/deploy lock --for` and `/release freeze`: both
commands accept the same forms, store the same length, and refuse the same non-durations."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from conftest import MakeBell
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.durations import DurationError, parse_duration
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, RELEASES

FORMS = {
    "45m": timedelta(minutes=45),
    "2h": timedelta(hours=2),
    "1h30m": timedelta(hours=1, minutes=30),
    "1h30min": timedelta(hours=1, minutes=30),
    "90MIN": timedelta(minutes=90),
    "1h 30m": timedelta(hours=1, minutes=30),
    "12h1d": timedelta(days=1, hours=12),
    "1w": timedelta(weeks=1),
}
NOT_DURATIONS = ["3y", "h", "1.5h", "-1h", "1h30", "١٢h", "soon"]
TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web"], "timezone": "UTC", "weekday": "tue",
    "time": "14:00", "freeze": "24h", "captains": [ANA],
}


def said(ack: Any) -> str:
    return str(ack.text or "")


@pytest.mark.parametrize(("text", "expected"), [*FORMS.items(), ("0", timedelta(0))])
def test_the_grammar_reads_every_documented_form(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", [*NOT_DURATIONS, "", "9" * 40 + "d"])
def test_the_grammar_refuses_what_is_not_a_duration(text: str) -> None:
    with pytest.raises(DurationError):
        parse_duration(text)


@pytest.fixture
async def bell(make_bell: MakeBell, monkeypatch: pytest.MonkeyPatch) -> LocalShipbell:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return await make_bell({**deploy_config(), "release": {"trains": {"web": TRAIN}}})


async def test_lock_and_freeze_accept_the_same_forms(bell: LocalShipbell,
                                                     clock: FakeClock) -> None:
    for text, length in FORMS.items():
        until = to_db(clock.now() + length)
        locked = said(await bell.command("/deploy", f'lock web staging why --for "{text}"'))
        assert locked.startswith("Locked web staging"), (text, locked)
        lock = bell.core.store.one("SELECT expires_at FROM locks")
        assert lock == {"expires_at": until}, text
        froze = said(await bell.command("/release", f'freeze web "{text}" why'))
        assert "Froze" in froze, (text, froze)
        freeze = bell.core.store.one(
            "SELECT ends_at FROM release_freezes WHERE lifted_at IS NULL")
        assert freeze == {"ends_at": until}, text
        await bell.command("/deploy", "unlock web staging")
        await bell.command("/release", "unfreeze web")


async def test_lock_and_freeze_refuse_the_same_non_durations(bell: LocalShipbell) -> None:
    for text in NOT_DURATIONS:
        lock = said(await bell.command("/deploy", f"lock web staging why --for {text}"))
        assert "isn't a duration" in lock, (text, lock)
        freeze = said(await bell.command("/release", f"freeze web {text} why"))
        assert "How long? Give a duration" in freeze, (text, freeze)
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM locks") == {"n": 0}
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM release_freezes") == {"n": 0}
