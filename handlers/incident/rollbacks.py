"""What the incident feature asks of deploys: roll a suspect deploy back.

The Protocol is the incident feature's own; the deploy feature's ``DeployService`` satisfies it,
and ``register`` wires it (looked up when a button is pressed, so a Shipbell without deploys
gets None and says so). Nothing here imports the deploy package.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from shipbell.handlers.incident.ids import Task

NO_DEPLOYS = ("Deploys aren't configured in this Shipbell, so I can't roll back; roll back by"
              " hand and link it with `/incident link <deploy-id> fixed`.")


class Requested(Protocol):
    """The deploy feature's answer to a rollback request."""

    @property
    def ok(self) -> bool: ...

    @property
    def text(self) -> str: ...

    @property
    def deploy_id(self) -> int | None: ...


class Rollbacks(Protocol):
    """Deploys, as the incident feature asks them."""

    def refusal(self, service: str, env: str, user: str, channel: str) -> str | None:
        """Why ``user`` may not deploy ``service`` to ``env`` from ``channel``, or None."""
        ...

    def requested(self, key: str) -> bool:
        """Whether a rollback was already requested under ``key``."""
        ...

    def rollback(self, service: str, env: str, user: str, channel: str, *, key: str,
                 incident: int) -> Requested:
        """Request a rollback of ``service`` in ``env`` to its last good version, through
        the same gates as `/deploy rollback`."""
        ...

    async def request_rollback(self, service: str, env: str, *, user: str, channel: str,
                               incident_id: int | None = None) -> str:
        """The same, for names typed by a person: the reply says what happened or what would
        work."""
        ...


Deploys = Callable[[], Rollbacks | None]  # the provider, or None in a Shipbell without deploys


@dataclass(frozen=True)
class Answer:
    text: str  # the reply to the person who pressed
    rollback_id: int | None = None  # the rollback requested by this press, if one was


def roll_back_suspect(deploys: Rollbacks, suspect: int, service: str, env: str, *, user: str,
                      channel: str, incident: int) -> Answer:
    """[Roll back] on a suspect deploy, once the press is allowed: deploy permission first (a
    refusal leaves no key and no deploy), then at most one rollback per suspect and incident."""
    refusal = deploys.refusal(service, env, user, channel)
    if refusal is not None:
        return Answer(refusal)
    key = f"{Task.ROLLBACK}:{incident}:{suspect}"
    if deploys.requested(key):
        return Answer(f"A rollback from deploy #{suspect} was already requested for this"
                      " incident; `/deploy status` shows its progress.")
    outcome = deploys.rollback(service, env, user, channel, key=key, incident=incident)
    return Answer(outcome.text, outcome.deploy_id if outcome.ok else None)
