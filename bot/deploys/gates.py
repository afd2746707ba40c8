"""The six gates, checked in order; `explain` shows them all, a request stops at the first no.

A gate answers pass, fail, wait (the request goes ahead but waits: queue or approvals) or
override (a break-glass reason let it through, which is announced and audited).

Two gates ask other features; what they ask is a Protocol here (``Freeze``, ``OpenIncidents``),
and the deploy feature's registration wires the release calendar and the incidents to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol
from zoneinfo import ZoneInfo

from shipbell.bot.clock import humanize, named_time
from shipbell.bot.deploys.config import DeploySettings, EnvironmentConfig
from shipbell.bot.deploys.locks import Locks
from shipbell.bot.deploys.repo import DeployRepo
from shipbell.bot.inputs import user_text
from shipbell.bot.people import channel, people, person


class Outcome(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    WAIT = "wait"
    OVERRIDE = "override"


PASS, FAIL, WAIT, OVERRIDE = Outcome.PASS, Outcome.FAIL, Outcome.WAIT, Outcome.OVERRIDE
ECHO_CHARS = 200


@dataclass(frozen=True)
class GateResult:
    name: str
    outcome: Outcome
    detail: str

    @property
    def blocks(self) -> bool:
        return self.outcome == FAIL


@dataclass(frozen=True)
class Ask:
    """Who wants to ship what, from where, with which justifications."""

    service: str
    env: str
    user: str
    channel: str
    incident: int | None = None
    break_glass: str | None = None


class Freeze(Protocol):
    """The release calendar, as the freeze gate asks it: the (source, reason) of a freeze on
    ``service`` in ``env`` at ``at``, or None (also when this Shipbell has no releases)."""

    def __call__(self, service: str, env: str, at: datetime, /) -> tuple[str, str] | None: ...


class OpenIncidents(Protocol):
    """The incidents, as the incidents gate asks it: the open SEV1/SEV2 incidents on
    ``service``, worst first, each with its id, title, severity and private flag (none when
    this Shipbell has no incidents)."""

    def __call__(self, service: str, /) -> list[dict[str, object]]: ...


def echo(reason: str, limit: int = ECHO_CHARS) -> str:
    """A user's reason or title quoted back in a gate's verdict: whole in the record, short
    and inert here (no pings, no disguised links: ``bot.inputs.user_text``)."""
    return user_text(reason if len(reason) <= limit else reason[: limit - 1] + "…")


def _unless_break_glass(ask: Ask, gate: str, situation: str, refusal: str) -> GateResult:
    """A gate a break-glass reason may override (loudly); without one it refuses."""
    if ask.break_glass:
        return GateResult(gate, OVERRIDE, f"{situation}; break-glass: {echo(ask.break_glass)}")
    return GateResult(gate, FAIL, refusal)


def approvers_text(env: EnvironmentConfig, requester: str) -> str:
    """Who may approve, as people: posted in the deploy's thread, this is what pings them."""
    allowed = [p for p in env.approvers or env.deployers if p != requester]
    return people(allowed) or "anyone but the requester"


class Gates:
    def __init__(self, config: DeploySettings, repo: DeployRepo, locks: Locks,
                 members: Callable[[str, list[str]], bool], freeze: Freeze,
                 incidents: OpenIncidents) -> None:
        self.config = config
        self.repo = repo
        self.locks = locks
        self.members = members  # (user, principals) -> True if the user is one of them
        self.freeze = freeze  # release-calendar freeze: (source, reason) or None
        self.incidents = incidents

    def env(self, ask: Ask) -> EnvironmentConfig:
        return self.config.services[ask.service].environments[ask.env]

    def check(self, ask: Ask, now: datetime, *, stop_at_failure: bool = True,
              skip_concurrency: bool = False) -> list[GateResult]:
        results: list[GateResult] = []
        checks = [self.permission, self.lock, self.concurrency, self.freeze_window,
                  self.open_incidents, self.approvals]
        for check in checks:
            if skip_concurrency and check == self.concurrency:
                continue
            result = check(ask, now)
            results.append(result)
            if result.blocks and stop_at_failure:
                break
        return results

    # -- 1 ---------------------------------------------------------------------------------
    def permission(self, ask: Ask, now: datetime) -> GateResult:
        env = self.env(ask)
        where = f"{ask.service} {ask.env}"
        if env.deployers and not self.members(ask.user, env.deployers):
            who = people(env.deployers)
            return GateResult("permission", FAIL,
                              f"Only {who} may deploy {where}; ask one of them.")
        if env.channels and ask.channel not in env.channels:
            chans = ", ".join(channel(c) for c in env.channels)
            return GateResult("permission", FAIL, f"Deploy {where} from {chans}.")
        return GateResult("permission", PASS, "you may deploy here from this channel")

    # -- 2 ---------------------------------------------------------------------------------
    def lock(self, ask: Ask, now: datetime) -> GateResult:
        lock = self.locks.get(ask.service, ask.env, now)
        if lock is None:
            return GateResult("lock", PASS, "not locked")
        if lock.holder == ask.user:
            return GateResult("lock", PASS, f"locked by you: {echo(lock.reason)}")
        age = humanize(now - lock.created_at)
        return GateResult(
            "lock", FAIL,
            f"{ask.env} is locked by {person(lock.holder)} {age} ago: {echo(lock.reason)}.",
        )

    # -- 3 ---------------------------------------------------------------------------------
    def concurrency(self, ask: Ask, now: datetime) -> GateResult:
        slot = self.repo.slot(ask.service, ask.env)
        queued = slot.queued
        if slot.active_id is None and not queued:
            return GateResult("concurrency", PASS, "nothing else is deploying here")
        busy = (f"#{slot.active_id} is {slot.active_state.label}" if slot.active_state
                else "the queue is waiting")
        return GateResult("concurrency", WAIT,
                          f"{busy}; you would be #{queued + 1} in the queue")

    # -- 4 ---------------------------------------------------------------------------------
    def freeze_window(self, ask: Ask, now: datetime) -> GateResult:
        names = [f"{f.name}, until {named_time(f.ends_after(now), ZoneInfo(f.timezone))}"
                 for f in self.env(ask).freezes if f.covers(now)]
        calendar = self.freeze(ask.service, ask.env, now)
        if calendar is not None:
            names.append(f"{calendar[0]}: {user_text(calendar[1])}")  # a person's reason
        if not names:
            return GateResult("freeze", PASS, "no freeze window now")
        return _unless_break_glass(
            ask, "freeze", f"frozen ({'; '.join(names)})",
            f"{ask.env} is frozen ({'; '.join(names)}); deploy anyway with "
            f'`--break-glass "why it can\'t wait"`.',
        )

    # -- 5 ---------------------------------------------------------------------------------
    def open_incidents(self, ask: Ask, now: datetime) -> GateResult:
        found = self.incidents(ask.service)
        if not found:
            return GateResult("incidents", PASS, "no open SEV1/SEV2 on this service")
        ids = [int(str(i["id"])) for i in found]
        if ask.incident in ids:
            return GateResult("incidents", PASS, f"fixes INC-{ask.incident}")
        first = found[0]
        title = "private incident" if first.get("private") else echo(str(first["title"]))
        listed = f"INC-{first['id']} (SEV{first['severity']}, {title})"
        return _unless_break_glass(
            ask, "incidents", f"{listed} is open",
            f"{ask.service} has an open incident {listed}: name it with "
            f'`--incident INC-{first["id"]}` or give `--break-glass "reason"`.',
        )

    # -- 6 ---------------------------------------------------------------------------------
    def approvals(self, ask: Ask, now: datetime) -> GateResult:
        env = self.env(ask)
        if env.approvals == 0:
            return GateResult("approvals", PASS, "no approval needed")
        if ask.break_glass and env.break_glass and self.members(ask.user, env.break_glass):
            return GateResult("approvals", OVERRIDE,
                              f"approval skipped by break-glass: {echo(ask.break_glass)}")
        who = approvers_text(env, ask.user)
        n = env.approvals
        plural = "s" if n > 1 else ""
        return GateResult("approvals", WAIT,
                          f"needs {n} approval{plural} from {who}, never the requester")
