"""Approvals: distinct approvers, never the requester, expiring, gates checked again.

Each decision is a row keyed (deploy, approver), so a double click records nothing new;
the move to `queued` is a compare-and-set, so two approvers clicking together start the
deploy once.
"""

from __future__ import annotations

from shipbell.bot.deploys.gates import Ask
from shipbell.bot.deploys.models import Deploy, Event, State
from shipbell.bot.deploys.service import DeployService, Outcome
from shipbell.bot.people import people, person


def _may_decide(svc: DeployService, d: Deploy, user: str) -> str | None:
    if d.state != State.AWAITING_APPROVAL:
        return f"Deploy #{d.id} is {d.state.label}; there is nothing to decide."
    if not svc.configured(d):
        return f"{d.service} {d.env} isn't configured any more; cancel #{d.id}."
    env = svc.env_config(d)
    if user == d.requester:
        return "You can't approve or reject your own deploy; ask another approver."
    allowed = env.approvers or env.deployers
    if allowed and not svc.is_member(user, allowed):
        who = people(allowed)
        return f"Only {who} can approve deploys to {d.env}."
    if d.expires_at is not None and d.expires_at <= svc.core.clock.now():
        svc.expire(d)
        return f"The approval request for #{d.id} expired; ask for a new deploy."
    return None


def _decidable(svc: DeployService, deploy_id: int, user: str) -> Deploy | Outcome:
    """The deploy ``user`` may decide on now, or an Outcome saying why not."""
    d = svc.repo.get(deploy_id)
    if d is None:
        return Outcome(False, f"No deploy #{deploy_id}.")
    if refusal := _may_decide(svc, d, user):
        return Outcome(False, refusal)
    return d


def _record(svc: DeployService, d: Deploy, user: str, channel: str | None,
            decision: str) -> bool:
    """Store one person's decision once (and audit it), in the open transaction."""
    if not svc.repo.record_decision(d.id, user, decision, svc.core.clock.now(), channel):
        return False
    verb = "approve" if decision == "approved" else "reject"
    svc.core.audit(user, f"deploy.{verb}", f"deploy #{d.id}", channel=channel)
    return True


def approve(svc: DeployService, deploy_id: int, user: str, channel: str | None) -> Outcome:
    d = _decidable(svc, deploy_id, user)
    if isinstance(d, Outcome):
        return d
    now = svc.core.clock.now()
    with svc.core.store.transaction():
        if not _record(svc, d, user, channel, "approved"):
            return Outcome(False, f"You already decided on #{d.id}.")
        count = sum(1 for a in svc.repo.approvals(d.id) if a["decision"] == "approved")
        svc.repo.event(d.id, "approved", user, now,
                       f"approved by {person(user)} ({count}/{d.approvals_needed})")
        svc.publish(Event.APPROVED, d.event_data(user, approvals=count,
                                                 needed=d.approvals_needed))
        if count < d.approvals_needed:
            return Outcome(True, f"Approved #{d.id} ({count} of {d.approvals_needed}).")
        ask = Ask(d.service, d.env, d.requester, d.channel or "", d.incident_id, d.break_glass)
        failed = next((r for r in svc.gates.check(ask, now, skip_concurrency=True)
                       if r.blocks), None)
        if failed is not None:
            if svc.repo.transition(d.id, State.REJECTED, None, now, failed.detail,
                                   error=f"no longer allowed at approval time: {failed.detail}"):
                svc.publish(Event.REJECTED, d.event_data(None, reason=failed.detail))
            return Outcome(False, f"Approved, but #{d.id} can't go: {failed.detail}")
        if svc.queue(d.id, user, now):
            svc.publish(Event.QUEUED, d.event_data(user))
        svc.promote_in_transaction(d.service, d.env)
    return Outcome(True, f"Approved #{d.id}; it's on its way.")


def reject(svc: DeployService, deploy_id: int, user: str, channel: str | None) -> Outcome:
    d = _decidable(svc, deploy_id, user)
    if isinstance(d, Outcome):
        return d
    now = svc.core.clock.now()
    with svc.core.store.transaction():
        if not _record(svc, d, user, channel, "rejected"):
            return Outcome(False, f"You already decided on #{d.id}.")
        if svc.repo.transition(d.id, State.REJECTED, user, now, f"rejected by {person(user)}",
                               error=f"rejected by {person(user)}"):
            svc.publish(Event.REJECTED, d.event_data(user, reason=None))
    return Outcome(True, f"Rejected #{d.id}.")
