"""Taking, taking over and releasing locks: audited, each change recorded as an event.

Acting on someone else's lock (taking it over, unlocking it) takes two steps: the command
stores a confirmation (``Locks.ask``) and offers a button that points at it by id; the
press re-reads the request, the lock and the config, checks the presser again, and only
then acts. Nothing the button carries is trusted beyond the id.
"""

from __future__ import annotations

from datetime import timedelta

from shipbell.bot.clock import humanize
from shipbell.bot.deploys.gates import Ask
from shipbell.bot.deploys.locks import REQUEST_TTL, Lock, LockRequest, RequestKind
from shipbell.bot.deploys.models import Event
from shipbell.bot.deploys.service import DeployService, Outcome
from shipbell.bot.people import person


def _denied(svc: DeployService, service: str, env: str, user: str, channel: str) -> str | None:
    result = svc.gates.permission(Ask(service, env, user, channel), svc.core.clock.now())
    return result.detail if result.blocks else None


def _ttl(svc: DeployService, service: str, env: str, duration: timedelta | None) -> timedelta:
    return duration or timedelta(
        minutes=svc.config.services[service].environments[env].lock_ttl_minutes)


def _configured(svc: DeployService, service: str, env: str) -> bool:
    found = svc.config.services.get(service)
    return found is not None and env in found.environments


def lock(svc: DeployService, service: str, env: str, user: str, reason: str,
         duration: timedelta | None, channel: str) -> Outcome:
    if denied := _denied(svc, service, env, user, channel):
        return Outcome(False, denied)
    now = svc.core.clock.now()
    ttl = _ttl(svc, service, env, duration)
    current = svc.locks.get(service, env, now)
    if current is not None and current.holder != user:
        age = humanize(now - current.created_at)
        request = svc.locks.ask(RequestKind.TAKEOVER, current, user, now, reason=reason,
                                ttl=duration, channel=channel)
        return Outcome(False, f"{env} is locked by {person(current.holder)} {age} ago: "
                              f"{current.reason}.", holder=current.holder, request_id=request)
    if not svc.locks.take(service, env, user, reason, now, ttl, channel=channel):
        return Outcome(False, f"Someone locked {service} {env} a moment ago; look with "
                              "`/deploy locks`.")
    svc.core.audit(user, "lock.take", f"{service}/{env}", channel=channel, reason=reason,
                   ttl_minutes=int(ttl.total_seconds() // 60))
    return Outcome(True, f"Locked {service} {env} for {humanize(ttl)}: {reason}. "
                         f"`/deploy unlock {service} {env}` when you're done.")


def _pending(svc: DeployService, request_id: int, kind: RequestKind,
             user: str) -> LockRequest | str:
    """The stored request this press may confirm, or why not (nothing changed)."""
    again = "`/deploy lock` again" if kind == RequestKind.TAKEOVER else "`/deploy unlock` again"
    request = svc.locks.request(request_id)
    if request is None or request.kind != kind or request.requester != user:
        return f"That button isn't yours to press; run {again} if you need to."
    if request.used_at is not None:
        return "That button was already used; look with `/deploy locks`."
    if svc.core.clock.now() - request.created_at > REQUEST_TTL:
        return f"That offer is more than {humanize(REQUEST_TTL)} old; run {again}."
    if not _configured(svc, request.service, request.env):
        return f"{request.service} {request.env} isn't configured any more."
    return request


def take_over(svc: DeployService, request_id: int, user: str, channel: str) -> Outcome:
    """Confirm a stored take-over: reason, duration and holder come from the request."""
    request = _pending(svc, request_id, RequestKind.TAKEOVER, user)
    if isinstance(request, str):
        return Outcome(False, request)
    service, env, holder = request.service, request.env, request.holder
    if denied := _denied(svc, service, env, user, channel):
        return Outcome(False, denied)
    now = svc.core.clock.now()
    current = svc.locks.get(service, env, now)
    if current is not None and current.holder == user:
        return Outcome(False, f"You already hold the lock on {service} {env}.")
    if current is not None and current.holder != holder:
        return Outcome(False, f"The lock on {service} {env} changed hands meanwhile; "
                              "look again with `/deploy locks`.")
    reason = request.reason or ""
    ttl = _ttl(svc, service, env, request.ttl)
    with svc.core.store.transaction():
        if not svc.locks.take_in_transaction(service, env, user, reason, now, ttl,
                                             channel=request.channel, expected_holder=holder):
            return Outcome(False, f"The lock on {service} {env} changed hands meanwhile.")
        svc.locks.use(request, now)
        svc.core.audit(user, "lock.takeover", f"{service}/{env}", channel=channel,
                       reason=reason, previous_holder=holder)
        svc.publish(Event.LOCK_TAKEN_OVER, {"service": service, "env": env, "actor": user,
                                            "holder": holder, "reason": reason})
    return Outcome(True, f"You now hold the lock on {service} {env} (was {person(holder)}'s); "
                         "they've been told.")


def unlock(svc: DeployService, service: str, env: str, user: str, channel: str) -> Outcome:
    """Your own lock goes at once; someone else's needs a confirmation (``request_id``)."""
    now = svc.core.clock.now()
    current = svc.locks.get(service, env, now)
    if current is None:
        return Outcome(False, f"{service} {env} isn't locked; `/deploy locks` lists what is.")
    if current.holder == user:
        return _release(svc, current, user, channel)
    if denied := _denied(svc, service, env, user, channel):
        return Outcome(False, denied)
    request = svc.locks.ask(RequestKind.UNLOCK, current, user, now, channel=channel)
    age = humanize(now - current.created_at)
    return Outcome(False, f"{service} {env} is locked by {person(current.holder)} {age} ago: "
                          f"{current.reason}. Unlock it anyway? They'll be told.",
                   holder=current.holder, request_id=request)


def confirm_unlock(svc: DeployService, request_id: int, user: str, channel: str) -> Outcome:
    """Release exactly the lock the confirmation was offered for, and tell its holder."""
    request = _pending(svc, request_id, RequestKind.UNLOCK, user)
    if isinstance(request, str):
        return Outcome(False, request)
    service, env = request.service, request.env
    if denied := _denied(svc, service, env, user, channel):
        return Outcome(False, denied)
    current = svc.locks.get(service, env, svc.core.clock.now())
    if current is None:
        return Outcome(False, f"{service} {env} was unlocked meanwhile.")
    if (current.holder, current.created_at) != (request.holder, request.lock_created_at):
        return Outcome(False, f"The lock on {service} {env} changed hands meanwhile; "
                              "look again with `/deploy locks`.")
    outcome = _release(svc, current, user, channel)
    if outcome.ok:
        svc.locks.use(request, svc.core.clock.now())
    return outcome


def _release(svc: DeployService, current: Lock, user: str, channel: str) -> Outcome:
    service, env = current.service, current.env
    with svc.core.store.transaction():
        released = svc.locks.release(service, env, lock=current)
        if released is None:
            return Outcome(False, f"{service} {env} was unlocked a moment ago.")
        svc.core.audit(user, "lock.release", f"{service}/{env}", channel=channel,
                       holder=released.holder, kind=released.kind)
        svc.publish(Event.LOCK_RELEASED, {"service": service, "env": env, "actor": user,
                                          "holder": released.holder, "reason": released.reason,
                                          "kind": released.kind})
        svc.promote_in_transaction(service, env)
    return Outcome(True, f"Unlocked {service} {env}.")
