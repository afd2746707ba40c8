"""The six deploy gates as a domain rule, without Slack or an app: fast, and readable alone.

The end-to-end tests (test_deploy_gates.py) show the same rules through signed requests; these
pin the rules themselves on a real store, so a change to a gate fails here first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes.stores import OpenStore
from shipbell.bot.clock import to_db
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.deploys.gates import FAIL, OVERRIDE, PASS, WAIT, Ask, Gates
from shipbell.bot.deploys.locks import Locks
from shipbell.bot.deploys.repo import DeployRepo
from shipbell.bot.people import person
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DEPLOYS, EVE, ONCALL

NOW = datetime(2026, 11, 2, 9, tzinfo=UTC)
GROUPS = {ONCALL: {CARL}}


def settings(**production: Any) -> DeploySettings:
    return DeploySettings.model_validate({
        "providers": {"sim": {"type": "dry-run"}},
        "services": {"api": {"provider": "sim", "environments": {
            "staging": {}, "production": production}}},
    })


class World:
    """A store, the gates over it, and the answers of the other features the gates ask."""

    def __init__(self, new_store: OpenStore, **production: Any) -> None:
        self.store = new_store("gates.db")
        self.repo, self.locks = DeployRepo(self.store), Locks(self.store)
        self.frozen: tuple[str, str] | None = None
        self.incidents: list[dict[str, object]] = []
        self.gates = Gates(settings(**production), self.repo, self.locks, self.member,
                           lambda service, env, at: self.frozen,
                           lambda service: self.incidents)

    @staticmethod
    def member(user: str, principals: list[str]) -> bool:
        return user in principals or any(user in GROUPS.get(p, set()) for p in principals)

    def outcomes(self, ask: Ask, **kw: Any) -> list[tuple[str, str]]:
        return [(r.name, r.outcome) for r in self.gates.check(ask, NOW, **kw)]


@pytest.fixture
def world(new_store: OpenStore) -> World:
    return World(new_store)


def ask(env: str = "production", user: str = ANA, **kw: Any) -> Ask:
    return Ask("api", env, user, DEPLOYS, **kw)


def test_all_six_pass_in_order_on_a_quiet_day(world: World) -> None:
    assert world.outcomes(ask()) == [("permission", PASS), ("lock", PASS),
                                     ("concurrency", PASS), ("freeze", PASS),
                                     ("incidents", PASS), ("approvals", PASS)]


def test_a_group_member_may_deploy_and_an_outsider_stops_at_the_first_gate(
        new_store: OpenStore) -> None:
    world = World(new_store, deployers=[ONCALL])
    assert world.outcomes(ask(user=CARL))[0] == ("permission", PASS)
    assert world.outcomes(ask(user=EVE)) == [("permission", FAIL)]
    explained = world.outcomes(ask(user=EVE), stop_at_failure=False)
    assert len(explained) == 6, "explain lists every gate even past a failure"


def test_the_lock_holder_passes_everyone_else_is_stopped(world: World) -> None:
    assert world.locks.take("api", "production", BOB, "db migration", NOW, None)
    assert ("lock", PASS) in world.outcomes(ask(user=BOB))
    assert world.outcomes(ask(user=ANA))[-1] == ("lock", FAIL)


def test_an_active_deploy_makes_the_next_wait_with_its_place(world: World) -> None:
    world.store.execute(
        "INSERT INTO deploys (service, env, ref, state, requester, requested_at)"
        f" VALUES ('api', 'production', 'main', 'running', '{BOB}', ?)", (to_db(NOW),))
    result = world.gates.concurrency(ask(), NOW)
    assert result.outcome == WAIT and result.detail.endswith("you would be #1 in the queue")


def test_freeze_and_incidents_yield_only_to_break_glass(world: World) -> None:
    world.frozen = ("release train web", "code freeze")
    world.incidents = [{"id": 7, "severity": 1, "title": "Checkout down", "private": 0}]
    assert world.outcomes(ask())[-1] == ("freeze", FAIL)
    glass = ask(break_glass="payments down")
    assert world.outcomes(glass)[3:5] == [("freeze", OVERRIDE), ("incidents", OVERRIDE)]


def test_approvals_wait_and_never_come_from_the_requester(new_store: OpenStore) -> None:
    world = World(new_store, approvals=1, approvers=[ANA, BOB])
    result = world.gates.approvals(ask(user=ANA), NOW)
    assert result.outcome == WAIT
    # the domain names people by id; the handlers render the mentions
    assert person(BOB) in result.detail and person(ANA) not in result.detail


def test_an_expired_lock_no_longer_stops_anyone(world: World) -> None:
    earlier = NOW - timedelta(hours=2)
    assert world.locks.take("api", "production", BOB, "short", earlier, timedelta(hours=1))
    assert world.gates.lock(ask(), NOW).outcome == PASS
