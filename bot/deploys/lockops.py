"""Taking, taking over and releasing locks, with the audit trail and the holder told."""

from __future__ import annotations

from datetime import timedelta

from bot.clock import humanize
from bot.deploys.gates import Ask
from bot.deploys.service import DeployService, Outcome


def _denied(svc: DeployService, service: str, env: str, user: str, channel: str) -> str | None:
    result = svc.gates.permission(Ask(service, env, user, channel), svc.core.clock.now())
    return result.detail if result.blocks else None


def lock(svc: DeployService, service: str, env: str, user: str, reason: str,
         duration: timedelta | None, channel: str) -> Outcome:
    if denied := _denied(svc, service, env, user, channel):
        return Outcome(False, denied)
    now = svc.core.clock.now()
    ttl = duration or timedelta(
        minutes=svc.config.services[service].environments[env].lock_ttl_minutes)
    current = svc.locks.get(service, env, now)
    if current is not None and current.holder != user:
        age = humanize(now - current.created_at)
        return Outcome(False, f"{env} is locked by <@{current.holder}> {age} ago: "
                              f"{current.reason}.", holder=current.holder)
    if not svc.locks.take(service, env, user, reason, now, ttl, channel=channel):
        return Outcome(False, f"Someone locked {service} {env} a moment ago; look with "
                              "`/deploy locks`.")
    svc.core.audit(user, "lock.take", f"{service}/{env}", channel=channel, reason=reason,
                   ttl_minutes=int(ttl.total_seconds() // 60))
    return Outcome(True, f"Locked {service} {env} for {humanize(ttl)}: {reason}. "
                         f"`/deploy unlock {service} {env}` when you're done.")


def take_over(svc: DeployService, service: str, env: str, user: str, reason: str,
              duration: timedelta | None, channel: str, expected_holder: str) -> Outcome:
    if denied := _denied(svc, service, env, user, channel):
        return Outcome(False, denied)
    now = svc.core.clock.now()
    current = svc.locks.get(service, env, now)
    if current is not None and current.holder == user:
        return Outcome(False, f"You already hold the lock on {service} {env}.")
    if current is not None and current.holder != expected_holder:
        return Outcome(False, f"The lock on {service} {env} changed hands meanwhile; "
                              "look again with `/deploy locks`.")
    ttl = duration or timedelta(
        minutes=svc.config.services[service].environments[env].lock_ttl_minutes)
    if not svc.locks.take(service, env, user, reason, now, ttl, channel=channel,
                          expected_holder=expected_holder):
        return Outcome(False, f"The lock on {service} {env} changed hands meanwhile.")
    svc.core.audit(user, "lock.takeover", f"{service}/{env}", channel=channel, reason=reason,
                   previous_holder=expected_holder)
    svc.notifier.tell(expected_holder, f"<@{user}> took over your lock on {service} {env}: "
                                       f"{reason}.")
    return Outcome(True, f"You now hold the lock on {service} {env} (was <@{expected_holder}>'s); "
                         "they've been told.")


def unlock(svc: DeployService, service: str, env: str, user: str, channel: str) -> Outcome:
    now = svc.core.clock.now()
    current = svc.locks.get(service, env, now)
    if current is None:
        return Outcome(False, f"{service} {env} isn't locked; `/deploy locks` lists what is.")
    if current.holder != user and (denied := _denied(svc, service, env, user, channel)):
        return Outcome(False, denied)
    released = svc.locks.release(service, env)
    if released is None:
        return Outcome(False, f"{service} {env} was unlocked a moment ago.")
    svc.core.audit(user, "lock.release", f"{service}/{env}", channel=channel,
                   holder=released.holder, kind=released.kind)
    if released.holder != user:
        svc.notifier.tell(released.holder, f"<@{user}> unlocked {service} {env} "
                                           f"(your lock: {released.reason}).")
    svc.promote(service, env)
    return Outcome(True, f"Unlocked {service} {env}.")
