"""DeployService: requests, approvals, cancels and the queue, on top of the stored state machine.

Every method stores its change (and the audit entry) and records what happened as an
``Event`` (``publish``) in the same transaction; whoever subscribed (the deploy's Slack
message, direct messages, a change log) reacts after the commit, from tasks written in it.
Called from Slack listeners, on the store's thread (``store.run``), so nothing here awaits:
provider work happens in the `deploy.run` task (see runner.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shipbell.bot import logs
from shipbell.bot.clock import humanize, to_db
from shipbell.bot.deploys import grammar
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.deploys.gates import (
    OVERRIDE,
    PASS,
    WAIT,
    Ask,
    Freeze,
    Gates,
    OpenIncidents,
    approvers_text,
)
from shipbell.bot.deploys.locks import ROLLBACK_REASON, Locks
from shipbell.bot.deploys.models import ACTIVE, Deploy, Event, State, Task, event_data
from shipbell.bot.deploys.providers import build
from shipbell.bot.deploys.repo import DeployRepo, Slot
from shipbell.bot.events import Publish
from shipbell.bot.infra import Infra
from shipbell.bot.inputs import is_group
from shipbell.bot.people import person
from shipbell.bot.storage import IntegrityError


@dataclass(frozen=True)
class Outcome:
    ok: bool
    text: str
    deploy_id: int | None = None
    holder: str | None = None  # set when a lock is held by someone else (takeover offer)
    request_id: int | None = None  # the stored confirmation a button may point at


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class DeployService:
    def __init__(self, core: Infra, config: DeploySettings, publish: Publish, *,
                 freeze: Freeze, incidents: OpenIncidents, public_url: str = "") -> None:
        self.core = core
        self.public_url = public_url  # [slack] public_url: CI callbacks' default base
        self.config = config
        self.publish = publish  # records an Event in the open transaction (bot/events.py)
        self.repo = DeployRepo(core.store)
        self.locks = Locks(core.store)
        self.providers = build(self.config, core.clock, core.http)
        self.group_members: dict[str, set[str]] = {}  # the shared group directory, by reference
        self.gates = Gates(self.config, self.repo, self.locks, self.is_member,
                           freeze, incidents)

    # -- collaborators -------------------------------------------------------------------
    def is_member(self, user: str, principals: list[str]) -> bool:
        return user in principals or any(
            user in self.group_members.get(p, set()) for p in principals if is_group(p)
        )

    def env_config(self, d: Deploy | Ask) -> Any:
        return self.config.services[d.service].environments[d.env]

    # -- requesting ----------------------------------------------------------------------
    def request(self, ask: Ask, ref: str, *, key: str | None = None, reason: str | None = None,
                hotfix: bool = False, is_rollback: bool = False,
                rollback_of: int | None = None) -> Outcome:
        now = self.core.clock.now()
        if key and (existing := self.repo.by_key(key)):
            return Outcome(True, f"Already on it: deploy #{existing.id}.", existing.id)
        if ask.incident is not None and not self.core.store.one(
            "SELECT id FROM incidents WHERE id = ?", (ask.incident,)
        ):
            return Outcome(False, f"INC-{ask.incident}? No such incident; "
                                  "`/incident status` lists the open ones.")
        try:
            with self.core.store.transaction():
                results = self.gates.check(ask, now)
                failed = next((r for r in results if r.blocks), None)
                subject = f"{ask.service}/{ask.env}"
                if failed is not None:
                    self.core.audit(ask.user, "deploy.denied", subject, channel=ask.channel,
                                    gate=failed.name, ref=ref, detail=failed.detail)
                    return Outcome(False, failed.detail)
                overrides = [r for r in results if r.outcome == OVERRIDE]
                needs_approval = results[-1].outcome == WAIT
                # Nothing active or queued, and no one else's lock: it starts now.  The gates
                # read inside the same write transaction that inserts (the write lock is taken
                # first), so what they read still holds when it commits, in every replica.
                free = not needs_approval and all(r.outcome == PASS for r in results
                                                  if r.name in ("lock", "concurrency"))
                env = self.env_config(ask)
                provider = self.config.services[ask.service].provider
                fields = {
                    "service": ask.service, "env": ask.env, "ref": ref, "requester": ask.user,
                    "channel": ask.channel, "reason": reason, "provider": provider,
                    "is_rollback": int(is_rollback),
                    "is_hotfix": int(hotfix or ask.incident is not None),
                    "rollback_of": rollback_of,
                    "break_glass": ask.break_glass if overrides else None,
                    "incident_id": ask.incident, "idempotency_key": key,
                    "approvals_needed": env.approvals if needs_approval else 0,
                }
                kind = "rollback" if is_rollback else "deploy"
                if needs_approval:
                    expires = to_db(now + timedelta(minutes=self.config.approval_ttl_minutes))
                    steps: tuple[tuple[State, str, dict[str, str]], ...] = (
                        (State.AWAITING_APPROVAL, results[-1].detail, {"expires_at": expires}),)
                else:
                    expires = to_db(now + timedelta(minutes=self.config.queue_ttl_minutes))
                    steps = ((State.QUEUED, "queued", {"expires_at": expires}),)
                    if free:
                        steps += ((State.TRIGGERED, f"started with {provider}",
                                   {"started_at": to_db(now), "deadline_at": to_db(
                                       now + timedelta(minutes=env.timeout_minutes))}),)
                deploy_id = self.repo.insert(fields, ask.user, now,
                                             f"{kind} of `{ref}` requested by {person(ask.user)}"
                                             + (f": {reason}" if reason else ""), steps)
                if ask.incident is not None:
                    self.repo.note_on_incident(
                        ask.incident, deploy_id, now, ask.user,
                        f"{kind.capitalize()} #{deploy_id} of {ask.service}@{ref} to {ask.env}"
                        f" requested by {person(ask.user)} to fix this")
                self.core.audit(ask.user, "deploy.request", f"deploy #{deploy_id}",
                                channel=ask.channel, service=ask.service, env=ask.env, ref=ref,
                                reason=reason, incident_id=ask.incident, rollback=is_rollback)
                if overrides:
                    self.core.audit(ask.user, "deploy.break_glass", f"deploy #{deploy_id}",
                                    channel=ask.channel, reason=ask.break_glass,
                                    gates=[r.name for r in overrides])
                # A start's own work first: the job's task starts before any reaction's.
                start = self._started(deploy_id, ask.service, ask.env, ref, ask.user,
                                      ask.channel, is_rollback, ask.incident,
                                      provider) if free else None
                self.publish(Event.REQUESTED, event_data(
                    deploy_id, ask.user, ask.service, ask.env, ref, ask.user, is_rollback,
                    ask.incident, state=str(steps[0][0]), channel=ask.channel,
                    break_glass=fields["break_glass"], skipped=[r.name for r in overrides]))
                if start is not None:
                    self.publish(Event.STARTED, start)
                # Queued: the oldest runnable deploy starts if the slot is free (a lock's
                # holder goes ahead of others' deploys), in this same write transaction
                # (one more would cost a replica two round trips and a wait for the lock).
                # The slot read here (this deploy's place in line) also answers the request.
                slot = (self.repo.slot(ask.service, ask.env, upto=deploy_id)
                        if not free and not needs_approval else None)
                started = (self.promote_in_transaction(ask.service, ask.env)
                           if slot is not None and slot.active_id is None else None)
        except IntegrityError:
            existing = self.repo.by_key(key or "")
            return Outcome(True, f"Already on it: deploy #{existing.id if existing else '?'}.")
        if free:
            state = State.TRIGGERED
        elif needs_approval:
            state = State.AWAITING_APPROVAL
        else:
            state = State.TRIGGERED if started == deploy_id else State.QUEUED
        what = f"{ask.service}@{ref} to {ask.env}"
        if started is not None:
            slot = None  # another deploy started: read the line again
        return Outcome(True, self._request_reply(deploy_id, ask, what, state, slot), deploy_id)

    def _request_reply(self, deploy_id: int, ask: Ask, what: str, state: State,
                       slot: Slot | None = None) -> str:
        """The ack's text, from what the request just stored (no re-read of the deploy)."""
        if state == State.AWAITING_APPROVAL:
            env = self.env_config(ask)
            who = approvers_text(env, ask.user)
            n = env.approvals
            return (f"Deploy #{deploy_id} of {what} needs {n} approval{'s' if n > 1 else ''} "
                    f"from {who}; the request expires in {self.config.approval_ttl_minutes} "
                    "min.")
        if state == State.QUEUED:
            if slot is None:
                slot = self.repo.slot(ask.service, ask.env, upto=deploy_id)  # place by COUNT
            place = ordinal(slot.queued) if slot.queued else "next"
            behind = f" behind #{slot.active_id}" if slot.active_id else ""
            ttl = humanize(timedelta(minutes=self.config.queue_ttl_minutes))
            return (f"Deploy #{deploy_id} of {what} is queued, {place} in line{behind}; it "
                    f"starts by itself, or drops out if it hasn't started within {ttl} "
                    f"(`/deploy cancel {deploy_id}` to drop it now).")
        return f"Deploying {what} (#{deploy_id}); follow it in the channel."

    def queue(self, deploy_id: int, actor: str | None, now: datetime) -> bool:
        """Queue a deploy; it leaves the queue by itself if it hasn't started in time."""
        expires = now + timedelta(minutes=self.config.queue_ttl_minutes)
        return self.repo.transition(deploy_id, State.QUEUED, actor, now, "queued",
                                    expires_at=to_db(expires))

    def promote_in_transaction(self, service: str, env: str) -> int | None:
        """Start the oldest queued deploy if the slot is free and no one else holds the lock,
        inside the caller's open transaction: the change that freed the slot (a deploy
        ended, a lock went, a request queued) and the next start are stored together."""
        now = self.core.clock.now()
        if self.repo.active(service, env) is not None:
            return None
        queue = self.repo.queue(service, env)
        if not queue:
            return None
        lock = self.locks.get(service, env, now)
        # Under a lock only the holder's deploys may start (ahead of older ones that
        # queued before the lock was taken); otherwise first come, first served.
        runnable = [q for q in queue if lock is None or q.requester == lock.holder]
        if not runnable:
            return None
        first = runnable[0]
        env_config = self.config.services.get(service)
        if env_config is None or env not in env_config.environments:
            return None  # removed from config: it waits until cancelled
        timeout = env_config.environments[env].timeout_minutes
        if not self.repo.transition(
            first.id, State.TRIGGERED, None, now, f"started with {first.provider}",
            deadline_at=to_db(now + timedelta(minutes=timeout)),
        ):
            return None
        self.publish(Event.STARTED, self._started(
            first.id, service, env, first.ref, first.requester, first.channel,
            first.is_rollback, first.incident_id, first.provider))
        return first.id

    def _started(self, deploy_id: int, service: str, env: str, ref: str, requester: str,
                 channel: str | None, is_rollback: bool, incident: int | None,
                 provider: str | None) -> dict[str, Any]:
        """What follows a deploy's start, in its transaction: a rollback locks the env; the
        job is sent by a task. Returns the data of the STARTED event, for the caller to
        publish."""
        if is_rollback:
            now = self.core.clock.now()
            self.locks.take_in_transaction(service, env, requester, ROLLBACK_REASON, now, None,
                                           kind="rollback", channel=channel)
            self.core.audit(requester, "lock.rollback", f"{service}/{env}",
                            channel=channel, deploy_id=deploy_id)
        self.core.tasks.submit(Task.RUN, {"deploy_id": deploy_id}, key=f"{Task.RUN}:{deploy_id}")
        return event_data(deploy_id, None, service, env, ref, requester, is_rollback, incident,
                          provider=provider)

    def rollback(self, service: str, env: str, user: str, channel: str, *,
                 key: str | None = None, incident: int | None = None,
                 break_glass: str | None = None, reason: str | None = None) -> Outcome:
        recent = self.repo.succeeded(service, env, limit=50)
        if not recent:
            return Outcome(False, f"{service} has no successful deploy to {env} yet, "
                                  "so there is nothing to roll back.")
        current = recent[0]
        shipped = current.sha or current.version or current.ref
        target = self._rollback_target(recent)
        if target is None:
            return Outcome(False, f"{service} has nothing older than `{shipped}` in {env} "
                                  "to roll back to.")
        ref = next((r for r in (target.sha, target.version, target.ref)
                    if r and grammar.REF.match(r)), target.ref)
        ask = Ask(service, env, user, channel, incident, break_glass)
        return self.request(ask, ref, key=key, is_rollback=True, rollback_of=current.id,
                            reason=reason or f"roll back to #{target.id} (`{ref}`)")

    def _rollback_target(self, recent: list[Deploy]) -> Deploy | None:
        """The newest succeeded deploy older than the current one that ships something else
        and was not rolled back away from since: a second rollback goes further back instead
        of re-shipping what the first one removed. (Deploying a version again by hand, after
        the rollback, makes it a candidate again.)"""
        def shipped(d: Deploy) -> str:
            return d.sha or d.version or d.ref

        removed: set[str] = set()
        for n, d in enumerate(recent):
            if n and shipped(d) != shipped(recent[0]) and shipped(d) not in removed:
                return d
            if d.is_rollback and d.rollback_of is not None:
                away = self.repo.get(d.rollback_of)
                if away is not None:
                    removed.add(shipped(away))
        return None

    async def request_rollback(self, service: str, env: str, *, user: str, channel: str,
                               incident_id: int | None = None) -> str:
        """The incident feature's [roll back] button: same gates as `/deploy rollback`, run
        on the store's thread."""
        return await self.core.store.run(self._rollback_named, service, env, user, channel,
                                         incident_id)

    def _rollback_named(self, service: str, env: str, user: str, channel: str,
                        incident_id: int | None) -> str:
        """``request_rollback``'s work: names typed by a person checked, then the rollback
        requested; the reply says what happened or what would work."""
        try:
            grammar.service_name(self.config, service)
            grammar.env_name(self.config, service, env)
        except grammar.GrammarError as exc:
            return str(exc)
        return self.rollback(service, env, user, channel, incident=incident_id).text

    def refusal(self, service: str, env: str, user: str, channel: str) -> str | None:
        """Why ``user`` may not deploy ``service`` to ``env`` from ``channel`` (the permission
        gate), or None: the incident feature asks before its [Roll back] button acts."""
        result = self.gates.permission(Ask(service, env, user, channel), self.core.clock.now())
        return result.detail if result.blocks else None

    def requested(self, key: str) -> bool:
        """Whether a deploy was already requested under the idempotency ``key``."""
        return self.repo.by_key(key) is not None

    # -- ending early (approve/reject live in approvals.py) ----------------------------
    def configured(self, d: Deploy) -> bool:
        service = self.config.services.get(d.service)
        return service is not None and d.env in service.environments

    def expire(self, d: Deploy) -> bool:
        """Drop a request nobody acted on in time, telling its requester in the thread."""
        now = self.core.clock.now()
        if d.state == State.QUEUED:
            waited = humanize(timedelta(minutes=self.config.queue_ttl_minutes))
            active = self.repo.active(d.service, d.env)
            lock = self.locks.get(d.service, d.env, now)
            why = (f" behind #{active.id}" if active else
                   f" ({d.env} is locked by {person(lock.holder)})" if lock else "")
            error = f"expired after {waited} in the queue{why}"
        else:
            error = f"approval request expired after {self.config.approval_ttl_minutes} min"
        note = (f"{person(d.requester)}: {error}; `/deploy {d.service}@{d.ref} to {d.env}` "
                "again if it's still wanted.")
        with self.core.store.transaction():
            if not self.repo.transition(d.id, State.CANCELLED, None, now, note, error=error):
                return False
            self.publish(Event.EXPIRED, d.event_data(None, error=error))
        logs.logger.info(logs.DEPLOY_EXPIRED, d.id, d.service, d.env, error)
        return True

    def cancel(self, deploy_id: int, user: str, channel: str) -> Outcome:
        d = self.repo.get(deploy_id)
        if d is None:
            return Outcome(False, f"No deploy #{deploy_id}; `/deploy status` lists what's in "
                                  "flight.")
        if d.state.final:
            return Outcome(False, f"Deploy #{d.id} already {d.state.label}.")
        if user != d.requester and self.configured(d):
            allowed = self.gates.permission(Ask(d.service, d.env, user, channel),
                                            self.core.clock.now())
            if allowed.blocks:
                return Outcome(False, f"Only {person(d.requester)} or someone who may deploy "
                                      f"{d.service} {d.env} can cancel #{d.id}.")
        now = self.core.clock.now()
        was_active = d.state in ACTIVE
        with self.core.store.transaction():
            if not self.repo.transition(d.id, State.CANCELLED, user, now,
                                        f"cancelled by {person(user)}",
                                        error=f"cancelled by {person(user)}"):
                return Outcome(False, f"Deploy #{d.id} just moved on; look again with "
                                      f"`/deploy status {d.service}`.")
            self.core.audit(user, "deploy.cancel", f"deploy #{d.id}", channel=channel,
                            state=str(d.state))
            self.publish(Event.CANCELLED, d.end_data(user, now, None))
            if was_active:
                self.core.tasks.submit(Task.PROVIDER_CANCEL, {"deploy_id": d.id},
                                       key=f"deploy.provider_cancel:{d.id}")
                self.promote_in_transaction(d.service, d.env)
        return Outcome(True, f"Cancelled deploy #{d.id}.")
