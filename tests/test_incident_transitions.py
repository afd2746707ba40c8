"""The incident state machine on its own: the transition table and the service's
compare-and-set, without a Slack app (a store, a clock and the service)."""

from __future__ import annotations

import pytest
from fakes.stores import OpenStore
from shipbell.bot.clock import FakeClock
from shipbell.bot.incidents.config import IncidentSettings
from shipbell.bot.incidents.models import OPEN_STATUSES, TRANSITIONS, Incident, Status, sources_for
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.slackdouble.cast import ANA, BOB


@pytest.fixture
def svc(new_store: OpenStore, clock: FakeClock) -> IncidentService:
    store = new_store("t.db")
    return IncidentService(store, clock, IncidentSettings(), lambda *a, **k: None)


def declared(svc: IncidentService) -> Incident:
    return svc.declare(title="API down", severity=2, reporter=ANA, key="k").incident


def test_the_table() -> None:
    assert TRANSITIONS[Status.CLOSED] == frozenset()  # final
    assert sources_for(Status.CLOSED) == (Status.RESOLVED,)
    assert set(sources_for(Status.RESOLVED)) == set(OPEN_STATUSES)
    assert all(s not in TRANSITIONS[s] for s in Status)  # no move to where it already is
    assert [str(s) for s in Status] == ["investigating", "identified", "monitoring",
                                        "resolved", "closed"]  # what the database stores


def test_a_stale_status_changes_nothing(svc: IncidentService) -> None:
    inc = declared(svc)
    assert inc.status is Status.INVESTIGATING
    assert svc.change_status(inc, Status.IDENTIFIED, ANA, None)
    # A second click still holding the investigating incident: the compare-and-set refuses.
    assert not svc.change_status(inc, Status.MONITORING, BOB, None)
    now = svc.get(inc.id)
    assert now is not None and now.status is Status.IDENTIFIED


def test_close_only_from_resolved_and_closed_is_final(svc: IncidentService) -> None:
    inc = declared(svc)
    assert not svc.close(inc, ANA)
    assert svc.resolve(inc, "fixed", ANA)
    resolved = svc.get(inc.id)
    assert resolved is not None and resolved.status is Status.RESOLVED
    assert svc.close(resolved, ANA)
    assert not svc.close(resolved, ANA)  # twice: once
    closed = svc.get(inc.id)
    assert closed is not None and closed.status is Status.CLOSED
    assert not svc.change_status(closed, Status.INVESTIGATING, ANA, None)
    assert not svc.resolve(closed, "again", ANA)


def test_resolved_reopens(svc: IncidentService) -> None:
    inc = declared(svc)
    svc.resolve(inc, "fixed", ANA)
    resolved = svc.get(inc.id)
    assert resolved is not None
    assert svc.change_status(resolved, Status.MONITORING, ANA, "back")
    back = svc.get(inc.id)
    assert back is not None and back.status is Status.MONITORING and back.resolved_at is None
