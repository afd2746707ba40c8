"""Driving active deploys: trigger the provider, poll it, apply reports, and the sweep.

`deploy.run` is a persisted task, so after a restart it resumes: a deploy that already has
a provider_ref is never triggered twice, only watched. The sweep (a coalescing scheduled
job) times out deploys past their deadline, expires approval requests and locks, and
reminds forgotten lock holders; all of it moves with the FakeClock in tests.

The coroutines here only await providers and naps: each stretch of store work between two
such awaits is one synchronous method (its docstring says "On the store's thread"), run by
``store.run`` as one turn, so what it reads and what it decides from that stay together.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from prometheus_client import Counter, Histogram
from shipbell.bot import logs
from shipbell.bot.clock import to_db
from shipbell.bot.deploys import grammar
from shipbell.bot.deploys.models import ACTIVE, ENDED, Deploy, Event, ReportState, State, Task
from shipbell.bot.deploys.providers import (
    Cancels,
    Job,
    ListsChanges,
    Polls,
    ProviderError,
    Report,
    Triggered,
)
from shipbell.bot.deploys.reports import REPORT_STATES, normalise_changes, sanitised
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.scheduling.runs import RunStatus

DURATION_BUCKETS = (10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200)
MAX_POLL_ERRORS = 5
MAX_RATE_LIMIT_WAIT = 300.0
BACKOFF = (1.0, 2.0, 4.0, 8.0, 16.0)


@dataclass(frozen=True)
class ListFirst:
    """A success to record once its provider listed the commits shipped from ``since`` to
    ``sha``: a network call, so it happens between two turns on the store's thread."""

    since: str
    sha: str


class Runner:
    def __init__(self, svc: DeployService) -> None:
        self.svc = svc
        self.core = svc.core
        self.repo = svc.repo
        registry = svc.core.metrics.registry
        self.finished = Counter("shipbell_deploys_finished", "Deploys that ended, by outcome.",
                                ["service", "env", "state"], registry=registry)
        self.durations = Histogram("shipbell_deploy_duration_seconds",
                                   "Start to end of deploys that ran, by outcome.", ["state"],
                                   buckets=DURATION_BUCKETS, registry=registry)
        self.callbacks = Counter("shipbell_deploy_callbacks",
                                 "CI callbacks on /hooks/deploy by outcome.", ["outcome"],
                                 registry=registry)

    def callback_url(self) -> str:
        base = self.svc.config.callback_url or self.svc.public_url
        return base.rstrip("/") + "/hooks/deploy"

    async def run(self, payload: dict[str, Any]) -> None:
        """Trigger (once) then watch one deploy until it ends or stops being ours."""
        store = self.core.store
        start = await store.run(self._starting, int(payload["deploy_id"]))
        if start is None:
            return
        d, before = start
        provider = self.svc.providers[d.provider or ""]  # configured: ``_starting`` checked
        if d.provider_ref is None:
            service = self.svc.config.services.get(d.service)
            job = Job(d.id, d.service, d.env, d.ref, d.requester,
                      service.repository if service else "", self.callback_url(),
                      d.is_rollback, d.reason, before.sha if before else None,
                      (before.version or before.ref) if before else None)
            for attempt in range(provider.retries):
                try:
                    sent = await provider.trigger(job)
                    break
                except ProviderError as exc:
                    last = attempt + 1 >= provider.retries or not exc.retryable
                    if last:
                        await store.run(self.finish, d.id,
                                        Report(ReportState.FAILED, error=str(exc)), None)
                        return
                    await store.run(self._note, d, f"{provider.name}: {exc}; retrying")
                    backoff = BACKOFF[min(attempt, len(BACKOFF) - 1)]
                    await self.nap(min(exc.wait, MAX_RATE_LIMIT_WAIT) if exc.wait else backoff)
                    current = await store.run(self.repo.get, d.id)
                    if current is None or current.state not in ACTIVE:
                        return
            current = await store.run(self._sent, d, provider.name, sent)
            if current is not None and current.state in (State.CANCELLED, State.TIMED_OUT):
                await self._cancel_job(current)  # ended while we triggered
                return
        else:
            current = d
        if isinstance(provider, Polls):  # else the CI calls back
            await self.watch(d.id, current)

    def _starting(self, deploy_id: int) -> tuple[Deploy, Deploy | None] | None:
        """(On the store's thread.)  The deploy ``run`` drives, with the last good deploy
        before it when its job is still to be sent (the job names what it replaces); None
        when there is nothing to drive (ended, gone, or its provider no longer configured:
        then it fails here)."""
        d = self.repo.get(deploy_id)
        if d is None or d.state not in ACTIVE or d.provider is None:
            return None
        if d.provider not in self.svc.providers:
            self.finish(d.id, Report(ReportState.FAILED,
                                     error=f"provider {d.provider} is no longer configured"), None)
            return None
        if d.provider_ref is not None:
            return d, None
        return d, next(iter(self.repo.succeeded(d.service, d.env, limit=1)), None)

    def _sent(self, d: Deploy, provider: str, sent: Triggered) -> Deploy | None:
        """(On the store's thread.)  The job is at the provider: say so in the thread, keep
        its reference, and read the deploy as it is now (it may have ended meanwhile)."""
        self._note(d, f"job sent to {provider}", provider_ref=sent.provider_ref,
                   **({"log_url": sent.log_url} if sent.log_url else {}))
        return self.repo.get(d.id)

    async def watch(self, deploy_id: int, first: Deploy | None = None) -> None:
        """Poll the provider until the deploy ends; ``first``: the deploy as just read."""
        store = self.core.store
        errors = 0
        known = first
        while True:
            d = known if known is not None else await store.run(self.repo.get, deploy_id)
            known = None
            if d is None or d.state not in ACTIVE:
                return
            provider = self.svc.providers.get(d.provider or "")
            if not isinstance(provider, Polls):
                return
            try:
                report = await provider.status(d)
                errors = 0
            except ProviderError as exc:
                if exc.wait is not None:  # rate limited: wait as asked; the deadline still holds
                    await self.nap(min(exc.wait, MAX_RATE_LIMIT_WAIT))
                    continue
                errors += 1
                if not exc.retryable or errors >= MAX_POLL_ERRORS:
                    await store.run(self.finish, deploy_id,
                                    Report(ReportState.FAILED, error=str(exc)), None)
                    return
                await self.nap(BACKOFF[min(errors - 1, len(BACKOFF) - 1)])
                continue
            step = await store.run(self._polled, d, report)
            if isinstance(step, ListFirst):
                report.changes, trouble = await self._changes(d, step)
                step = await store.run(self._apply_listed, d, report, trouble)
            if step and report.state not in (ReportState.RUNNING, ReportState.WAITING):
                return
            await self.nap(provider.poll_seconds)

    def _polled(self, d: Deploy, report: Report) -> bool | ListFirst:
        """(On the store's thread.)  A poll's report: the job's reference if the provider
        only now found it, then the report applied (as ``apply``), unless it is a success
        whose commits are to be listed first."""
        if report.provider_ref and report.provider_ref != d.provider_ref:
            self.repo.update(d.id, provider_ref=report.provider_ref)  # found it at last
        listing = self._listing(d, report)
        return listing if listing is not None else self.apply(d.id, report, None)

    def _apply_listed(self, d: Deploy, report: Report, trouble: str | None) -> bool:
        """(On the store's thread.)  A polled success, its commits listed (or why not)."""
        if trouble is not None:
            self._note(d, trouble)
        return self.apply(d.id, report, None)

    def _listing(self, d: Deploy, report: Report) -> ListFirst | None:
        """(On the store's thread.)  What to ask a provider that can list commits, when the
        report is a success that doesn't say what shipped since the last good deploy."""
        lister = self.svc.providers.get(d.provider or "")
        if report.state != ReportState.SUCCEEDED or report.changes:
            return None
        previous = next((p for p in self.repo.succeeded(d.service, d.env, limit=1)), None)
        if (not isinstance(lister, ListsChanges) or previous is None or not previous.sha
                or not report.sha):
            return None
        return ListFirst(previous.sha, report.sha)

    async def _changes(self, d: Deploy, listing: ListFirst
                       ) -> tuple[list[dict[str, Any]], str | None]:
        """The commits that shipped, as the provider lists them, and a note for the thread
        when it couldn't (then none)."""
        lister = self.svc.providers.get(d.provider or "")
        assert isinstance(lister, ListsChanges)  # ``_listing`` checked
        try:
            found = await lister.changes(d, listing.since, listing.sha)
        except ProviderError as exc:
            return [], f"couldn't list the shipped commits: {exc}"
        return normalise_changes(found), None

    async def nap(self, seconds: float) -> None:
        """Sleep on the clock, but park at once when shutdown begins.

        Raising CancelledError makes the task runner keep the task pending, so the poller
        resumes at the next start instead of holding up shutdown for its whole grace period.
        """
        stopping = self.core.tasks.stopping
        sleeper = asyncio.ensure_future(self.core.clock.sleep(seconds))
        stop = asyncio.ensure_future(stopping.wait())
        try:
            await asyncio.wait({sleeper, stop}, return_when=asyncio.FIRST_COMPLETED)
            if not sleeper.done():
                raise asyncio.CancelledError
        finally:
            sleeper.cancel()
            stop.cancel()

    def _note(self, d: Deploy, note: str, **fields: Any) -> None:
        """A remark in the deploy's thread (with ``fields`` stored along), as one change."""
        with self.core.store.transaction():
            if fields:
                self.repo.update(d.id, **fields)
            self.repo.event(d.id, "note", None, self.core.clock.now(), note)
            self.svc.publish(Event.PROGRESSED, d.event_data(None, note=note, log_url=None))

    def _log_url(self, d: Deploy, log_url: str) -> None:
        """The provider's log link, found after the start."""
        with self.core.store.transaction():
            self.repo.update(d.id, log_url=log_url)
            self.svc.publish(Event.PROGRESSED, d.event_data(None, note=None, log_url=log_url))

    def apply(self, deploy_id: int, report: Report, actor: str | None) -> bool:
        """Apply a provider report; False when it is stale (out of order or already final)."""
        if report.state == ReportState.WAITING:
            return self._waiting(deploy_id, sanitised(report))
        target = REPORT_STATES.get(report.state)
        if target is None:
            return False
        report = sanitised(report)
        if target == State.RUNNING:
            d = self.repo.get(deploy_id)
            if d is None or d.state != State.TRIGGERED:
                if d is not None and d.state == State.RUNNING and report.log_url and not d.log_url:
                    self._log_url(d, report.log_url)
                return d is not None and d.state == State.RUNNING
            extra: dict[str, Any] = {"log_url": report.log_url} if report.log_url else {}
            if report.sha:
                extra["sha"] = report.sha
            with self.core.store.transaction():
                moved = self.repo.transition(deploy_id, State.RUNNING, actor,
                                             self.core.clock.now(), "running", **extra)
                if moved and report.changes:  # a CI may list what it ships as it starts
                    self.repo.add_changes(deploy_id, report.changes)
                if moved:
                    self.svc.publish(Event.RUNNING, d.event_data(actor))
            return True
        return self.finish(deploy_id, report, actor)

    def _waiting(self, deploy_id: int, report: Report) -> bool:
        """Sent but not started (queued, held for an approval): stays `triggered` (a running
        deploy stays running), and the thread hears why, once per change of reason."""
        d = self.repo.get(deploy_id)
        if d is None or d.state not in ACTIVE:
            return False
        if report.log_url and not d.log_url:
            self._log_url(d, report.log_url)
        notes = [e["note"] for e in self.repo.events(deploy_id) if e["state"] == "note"]
        note = grammar.quiet(report.note) if report.note else None  # echoed into the channel
        if note and (not notes or notes[-1] != note):
            self._note(d, note)
        return True

    def finish(self, deploy_id: int, report: Report, actor: str | None,
               target: State | None = None, *, correcting: bool = False) -> bool:
        """End a deploy as the report says. ``correcting``: it was recorded cancelled or timed
        out, but the provider shows the job had already ended on its own: record that."""
        target = target or REPORT_STATES[report.state]
        report = sanitised(report)
        fields: dict[str, Any] = {}
        for name in ("version", "sha", "log_url", "error"):
            if getattr(report, name):
                fields[name] = getattr(report, name)
        if correcting:
            fields["error"] = report.error  # no longer "cancelled by …"
        note = report.error or (f"shipped `{report.version}`" if report.version else None)
        if report.output:
            note = f"{note or ''}\n```{report.output[-800:]}```".strip()
        sources = (State.CANCELLED, State.TIMED_OUT) if correcting else None
        with self.core.store.transaction():
            if not self.repo.transition(deploy_id, target, actor, self.core.clock.now(),
                                        note, sources=sources, **fields):
                return False
            if report.changes:
                self.repo.add_changes(deploy_id, report.changes)
            d = self.repo.get(deploy_id)
            assert d is not None
            if d.incident_id is not None and d.state == State.SUCCEEDED:
                self.repo.note_on_incident(
                    d.incident_id, d.id, self.core.clock.now(), d.requester,
                    f"Fixed by deploy #{d.id} ({d.service} {d.version or d.ref} to {d.env})",
                    fixed=True)
            self.svc.publish(ENDED[d.state], d.end_data(
                actor, d.finished_at or self.core.clock.now(), d.error, corrected=correcting))
            self.svc.promote_in_transaction(d.service, d.env)  # the slot is free
        self.finished.labels(d.service, d.env, str(d.state)).inc()
        if d.started_at is not None and d.finished_at is not None:
            self.durations.labels(str(d.state)).observe(
                (d.finished_at - d.started_at).total_seconds())
        logs.logger.info(logs.DEPLOY_ENDED, d.id, d.service, d.env, d.state)
        return True

    async def provider_cancel(self, payload: dict[str, Any]) -> None:
        d = await self.core.store.run(self.repo.get, int(payload["deploy_id"]))
        if d is not None:
            await self._cancel_job(d)

    async def _cancel_job(self, d: Deploy) -> None:
        """Stop ``d``'s job at its provider; a job that had already ended on its own is
        recorded as it ended."""
        if d.provider is None or d.provider_ref is None:
            return
        provider = self.svc.providers.get(d.provider)
        if not isinstance(provider, Cancels):
            return
        store = self.core.store
        try:
            ended = await provider.cancel(d)
        except ProviderError as exc:
            await store.run(self._note, d, f"couldn't cancel at {d.provider}: {exc}")
            return
        if ended is None or REPORT_STATES.get(ended.state) in (None, State.RUNNING,
                                                                State.CANCELLED):
            return
        listing = await store.run(self._ended_anyway, d, ended)
        if listing is not None:
            ended.changes, trouble = await self._changes(d, listing)
            await store.run(self._correct, d, ended, trouble)

    def _ended_anyway(self, d: Deploy, ended: Report) -> ListFirst | None:
        """(On the store's thread.)  The job had already finished on its own: what it did is
        what happened. Recorded at once, unless its commits are to be listed first."""
        self._note(d, f"{d.provider} had already finished the job when the cancel "
                      f"reached it ({ended.state})")
        if ended.provider_ref:
            self.repo.update(d.id, provider_ref=ended.provider_ref)
        listing = self._listing(d, ended)
        if listing is None:
            self.finish(d.id, ended, None, correcting=True)
        return listing

    def _correct(self, d: Deploy, ended: Report, trouble: str | None) -> None:
        """(On the store's thread.)  ``_ended_anyway``'s record, its commits listed (or why
        not)."""
        if trouble is not None:
            self._note(d, trouble)
        self.finish(d.id, ended, None, correcting=True)

    # -- the sweep -------------------------------------------------------------------------
    async def sweep(self, when: datetime) -> str:
        return await self.core.store.run(self._sweep)

    def _sweep(self) -> str:
        """(On the store's thread.)  One pass: expire, time out, unlock, remind."""
        now = self.core.clock.now()
        done: list[str] = []
        for d in self.repo.in_states((State.AWAITING_APPROVAL, State.QUEUED)):
            if d.expires_at is not None and d.expires_at <= now and self.svc.expire(d):
                done.append(f"expired #{d.id}")
        for d in self.repo.in_states(ACTIVE):
            if d.deadline_at is not None and d.deadline_at <= now:
                minutes = int((d.deadline_at - (d.started_at or d.requested_at)).total_seconds()
                              // 60)
                report = Report(ReportState.FAILED, error=f"no result within {minutes} min")
                if self.finish(d.id, report, None, target=State.TIMED_OUT):
                    self.core.tasks.submit(Task.PROVIDER_CANCEL, {"deploy_id": d.id},
                                           key=f"deploy.provider_cancel:{d.id}")
                    done.append(f"timed out #{d.id}")
        for lock in self.svc.locks.expired(now):
            with self.core.store.transaction():
                if not self.svc.locks.release(lock.service, lock.env):
                    continue
                self.core.audit("shipbell", "lock.expire", f"{lock.service}/{lock.env}",
                                holder=lock.holder)
                self.svc.publish(Event.LOCK_EXPIRED, {
                    "service": lock.service, "env": lock.env, "actor": None,
                    "holder": lock.holder, "reason": lock.reason})
                self.svc.promote_in_transaction(lock.service, lock.env)
            done.append(f"unlocked {lock.service}/{lock.env}")
        every = timedelta(hours=self.svc.config.lock_remind_hours)
        for lock in self.svc.locks.due_reminders(now, every):
            with self.core.store.transaction():
                if not self.svc.locks.mark_reminded(lock, now):
                    continue
                self.svc.publish(Event.LOCK_REMINDER_DUE, {
                    "service": lock.service, "env": lock.env, "actor": None,
                    "holder": lock.holder, "reason": lock.reason,
                    "locked_at": to_db(lock.created_at), "at": to_db(now)})
            done.append(f"reminded {lock.holder}")
        return "; ".join(done) or RunStatus.SKIPPED
