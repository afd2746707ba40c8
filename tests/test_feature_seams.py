"""How one feature reaches another: a small Protocol owned by the consumer, a plain stand-in here.

Fast and without an app: the incident feature's [Roll back] rule against a stand-in for deploys,
the deploy service's gates against stand-ins for the incidents and the release calendar, the
no-op a consumer gets when the other feature is absent, and the registry that wires them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import pytest
from shipbell.bot.clock import FakeClock
from shipbell.bot.core import Registry, build_core
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.deploys.gates import Ask
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.releases.service import ReleaseBook
from shipbell.bot.settings import Secrets, Settings
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS
from shipbell.bot.storage import Store
from shipbell.handlers.deploy import calendar_freeze, open_incidents
from shipbell.handlers.incident.rollbacks import Answer, roll_back_suspect

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)


# -- incidents ask deploys: Rollbacks --------------------------------------------------------
class Requested:
    def __init__(self, ok: bool, text: str, deploy_id: int | None) -> None:
        self.ok, self.text, self.deploy_id = ok, text, deploy_id


class StandInDeploys:
    """Deploys as the incident feature sees them: who may deploy, keys seen, rollbacks asked."""

    def __init__(self, refuse: str | None = None, ok: bool = True) -> None:
        self.refuse, self.ok = refuse, ok
        self.keys: set[str] = set()
        self.asked: list[tuple[str, str, str, int]] = []

    def refusal(self, service: str, env: str, user: str, channel: str) -> str | None:
        return self.refuse

    def requested(self, key: str) -> bool:
        return key in self.keys

    def rollback(self, service: str, env: str, user: str, channel: str, *, key: str,
                 incident: int) -> Requested:
        self.keys.add(key)
        self.asked.append((service, env, user, incident))
        if not self.ok:
            return Requested(False, "api has nothing older to roll back to.", None)
        return Requested(True, f"Rollback #{40 + len(self.asked)} requested.", 40 + len(self.asked))

    async def request_rollback(self, service: str, env: str, *, user: str, channel: str,
                               incident_id: int | None = None) -> str:
        return "unused here"


def press(deploys: StandInDeploys, suspect: int = 12) -> Answer:
    return roll_back_suspect(deploys, suspect, "api", "production", user=BOB,
                             channel="C0INC0001", incident=3)


def test_a_rollback_is_asked_once_per_suspect_and_incident() -> None:
    deploys = StandInDeploys()
    assert press(deploys) == Answer("Rollback #41 requested.", 41)
    again = press(deploys)
    assert again.rollback_id is None and "already requested" in again.text
    assert press(deploys, suspect=13).rollback_id == 42  # another suspect is another rollback
    assert deploys.asked == [("api", "production", BOB, 3)] * 2


def test_a_refused_press_asks_for_nothing() -> None:
    deploys = StandInDeploys(refuse=f"Only <person:{ANA}> may deploy api production.")
    assert press(deploys) == Answer(f"Only <person:{ANA}> may deploy api production.")
    assert deploys.asked == [] and deploys.keys == set()


def test_a_rollback_deploys_could_not_request_is_not_recorded() -> None:
    answer = press(StandInDeploys(ok=False))
    assert answer == Answer("api has nothing older to roll back to.", None)


# -- deploy gates ask incidents and releases: OpenIncidents, Freeze --------------------------
class StandInIncidents:
    def __init__(self, *open_ones: dict[str, object]) -> None:
        self.open_ones = list(open_ones)
        self.asked: list[str] = []

    def __call__(self, service: str, /) -> list[dict[str, object]]:
        self.asked.append(service)
        return self.open_ones


class StandInCalendar:
    def __init__(self, frozen: tuple[str, str] | None = None) -> None:
        self.frozen = frozen

    def __call__(self, service: str, env: str, at: datetime, /) -> tuple[str, str] | None:
        return self.frozen


def no_events(event: StrEnum, data: dict[str, Any]) -> None:
    raise AssertionError(f"a refused request records no event ({event})")


def deploys(tmp: Path, incidents: StandInIncidents, calendar: StandInCalendar) -> DeployService:
    config = DeploySettings.model_validate({
        "providers": {"sim": {"type": "dry-run"}},
        "services": {"api": {"provider": "sim", "environments": {"production": {}}}},
    })
    core = build_core(Settings(), Secrets(), clock=FakeClock(NOW), store=Store(tmp / "d.db"))
    return DeployService(core, config, no_events, freeze=calendar, incidents=incidents)


def test_the_deploy_service_asks_the_incidents_it_was_given(tmp_path: Path) -> None:
    incidents = StandInIncidents({"id": 7, "severity": 1, "title": "Checkout down",
                                  "private": 0})
    svc = deploys(tmp_path, incidents, StandInCalendar())
    outcome = svc.request(Ask("api", "production", ANA, DEPLOYS), "main")
    assert not outcome.ok and "open incident INC-7 (SEV1, Checkout down)" in outcome.text
    assert incidents.asked == ["api"]  # the incidents table is empty: only the stand-in knew


def test_the_deploy_service_asks_the_calendar_it_was_given(tmp_path: Path) -> None:
    svc = deploys(tmp_path, StandInIncidents(), StandInCalendar(("release train web", "v42")))
    outcome = svc.request(Ask("api", "production", ANA, DEPLOYS), "main")
    assert not outcome.ok and "production is frozen (release train web: v42)" in outcome.text


def test_without_the_other_feature_a_gate_finds_nothing() -> None:
    registry = Registry()  # a Shipbell with neither incidents nor releases
    assert open_incidents(registry.lazy(IncidentService))("api") == []
    assert calendar_freeze(registry.lazy(ReleaseBook))("api", "production", NOW) is None


# -- the registry ----------------------------------------------------------------------------
def test_the_registry_holds_one_service_per_class_and_finds_it_later() -> None:
    registry = Registry()
    later = registry.lazy(StandInCalendar)
    assert later() is None and registry.get(StandInCalendar) is None
    calendar = registry.add(StandInCalendar())
    assert later() is calendar and registry.need(StandInCalendar) is calendar
    assert registry.ensure(StandInCalendar, StandInCalendar) is calendar
    with pytest.raises(ValueError, match="has a StandInCalendar already"):
        registry.add(StandInCalendar())
    registry.remove(StandInCalendar)
    with pytest.raises(LookupError, match="no StandInCalendar"):
        registry.need(StandInCalendar)
