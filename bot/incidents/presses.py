"""What an incident button may act on, and who may press it, read from stored state.

A button's value only points (an incident id, a deploy id, a follow-up id, a reminder slot);
everything it acts on is read back here, and the presser is checked against the incident:

* Its roles (reporter, commander, comms) may always press; so may a follow-up's owner on
  that follow-up's [Mark done].
* Anyone else must be a member of the incident's channel *now* (the handler asks Slack);
  for a private incident that is the only way in, so outsiders can't link deploys, close
  follow-ups or snooze reminders. An incident without a channel has only its roles.
* [Roll back] also needs the deploy permission for the service and environment (checked by
  the deploy feature) before anything is recorded.
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.incidents.models import Incident
from shipbell.bot.inputs import parse_count
from shipbell.bot.storage import Store


def role_holders(inc: Incident) -> set[str]:
    return {u for u in (inc.reporter, inc.commander, inc.comms) if u}


def suspect(store: Store, inc: Incident, deploy_id: int) -> dict[str, Any] | None:
    """The stored deploy if it can be one of this incident's suspects (same service,
    succeeded), else None: service and environment are never taken from the button."""
    if not inc.service:
        return None
    return store.one(
        "SELECT id, service, env, ref, version FROM deploys"
        " WHERE id = ? AND service = ? AND state = 'succeeded'",
        (deploy_id, inc.service),
    )


def followup(store: Store, followup_id: int) -> dict[str, Any] | None:
    return store.one("SELECT id, incident_id, owner, done_at FROM followups WHERE id = ?",
                     (followup_id,))


def snooze_minutes(options: list[int], index: str) -> int | None:
    """The configured snooze at ``index`` (the button's action_id suffix), else None."""
    n = parse_count(index, 0, len(options) - 1)
    return None if n is None else options[n]
