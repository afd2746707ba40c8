"""Exactly-once scheduled posts on top of APScheduler.

APScheduler only *wakes us up*. What runs is decided here, from the trigger's arithmetic
and the ``scheduled_runs`` ledger: every fire time after the job's last ledger entry and
not after now is a candidate; it is claimed with ``INSERT … ON CONFLICT DO NOTHING`` on (job, time)
before anything is posted, so a restart, a duplicate wake-up or a second process sharing
the database can never post it twice. Candidates older than the grace window are recorded
as missed (logged and counted), never posted late and never dropped silently.

The claim and the run are durable together: the transaction that inserts the ledger row
also inserts a persisted task (``scheduled.run``, keyed by job and time) held by this
replica, and the job's body runs as that task.  So the task leases cover it: a replica that
dies mid-run (the digest rendering its chart) stops renewing, and a survivor's beat takes
the run over within the lease time, instead of the run waiting for some replica to restart.
A taken-over run is run again only if its job is ``rerun_claimed`` and it is still within
the grace window; otherwise its ledger row stays ``claimed``, as before.

- When a job was first registered is persisted (``scheduled_jobs``), so a job that has never
  fired still has its downtime misses counted after a restart, and nothing due before that
  first start is ever caught up (a new database owes no runs).
- A job marked ``rerun_claimed`` (its run is idempotent) has runs that a crashed process
  claimed but never finished run again, within the grace window: taken over by a live
  replica's beat, or at start-up.
- Whoever claimed runs as missed hears about them once, after the pass
  (``on_missed``): a feature can tell its channel what was missed while the bot was down.
- Coalesced jobs (periodic sweeps) jump straight to their latest due time.
- Daylight saving: triggers carry the time zone; a cron time in the repeated hour of a
  fall-back night fires once, and every step between fire times is taken in UTC.

Tests do not start APScheduler: they move a FakeClock and call ``run_due``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from shipbell.bot import logs
from shipbell.bot.clock import Clock, from_db, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.scheduling.runs import RunStatus, SchedulerTask
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner, backlog, repeated

MAX_CATCH_UP = 200  # fire times looked at per job per pass; bounds work after long downtime


EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def every(seconds: float) -> IntervalTrigger:
    """A periodic trigger anchored at a fixed epoch: slots don't depend on boot time, so
    every process (and every restart) agrees on which run is due."""
    return IntervalTrigger(seconds=seconds, start_date=EPOCH, timezone=UTC)


@dataclass
class ScheduledJob:
    """A job from configuration. ``run`` receives the scheduled time it stands for."""

    id: str
    trigger: BaseTrigger
    run: Callable[[datetime], Awaitable[str | None]]
    kind: str = "job"
    grace: timedelta | None = None
    coalesce: bool = False  # for periodic checks: only the latest due time matters
    first_seen: datetime | None = field(default=None, repr=False)
    # ``run`` is idempotent (e.g. posts through a keyed task): a run a crashed process
    # claimed but never finished is run again at start-up, if still within the grace window.
    rerun_claimed: bool = False
    # Per-process upkeep (refreshing an in-memory cache): runs in every process sharing the
    # database, so it is not claimed in the shared ledger; its last run is kept in memory.
    local: bool = False


@dataclass
class RunOutcome:
    job_id: str
    scheduled_for: datetime
    outcome: RunStatus
    detail: str | None = None


class Scheduler:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        metrics: Metrics,
        tasks: TaskRunner,
        *,
        grace: timedelta = timedelta(hours=1),
        instance: str | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.tasks = tasks
        self.grace = grace
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}"
        tasks.register(SchedulerTask.RUN, self._run_task)
        # The outcome of each run a coroutine of this process waits for (``_await_run``).
        self._waiting: dict[str, asyncio.Future[RunOutcome]] = {}  # by run_key
        self.jobs: dict[str, ScheduledJob] = {}
        # Told, after each pass, about the runs this process claimed as missed (and only
        # those: a second process sharing the database never hears of them twice).
        self.on_missed: list[Callable[[list[RunOutcome]], Awaitable[None]]] = []
        self._aps: AsyncIOScheduler | None = None
        self._local_last: dict[str, datetime] = {}  # last run of each ``local`` job

    # -- registry -----------------------------------------------------------------------------
    def add(self, job: ScheduledJob) -> None:
        if job.id in self.jobs:
            raise ValueError(f"scheduled job {job.id!r} added twice")
        job.first_seen = self.clock.now() if job.local else self._register(job)
        self.jobs[job.id] = job
        if self._aps is not None:
            self._schedule(job)

    def _register(self, job: ScheduledJob) -> datetime:
        """When this job was first registered by any process: the start of its history.

        Persisted, so a job that has never fired still has its downtime misses counted.
        """
        now = to_db(self.clock.now())
        self.store.execute(
            "INSERT INTO scheduled_jobs (job_id, kind, first_seen, last_seen) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (job_id) DO UPDATE SET last_seen = excluded.last_seen,"
            " kind = excluded.kind",
            (job.id, job.kind, now, now),
        )
        row = self.store.one("SELECT first_seen FROM scheduled_jobs WHERE job_id = ?", (job.id,))
        first = from_db(row["first_seen"]) if row else None
        return first or self.clock.now()

    def remove(self, job_id: str) -> None:
        self.jobs.pop(job_id, None)
        if self._aps is not None and self._aps.get_job(job_id):
            self._aps.remove_job(job_id)

    # -- arithmetic -----------------------------------------------------------------------------
    def due_times(self, job: ScheduledJob, now: datetime) -> list[datetime]:
        """Fire times after the job's last ledger entry (or the grace window) up to now."""
        if job.local:
            last = self._local_last.get(job.id)
        else:
            row = self.store.one(
                "SELECT MAX(scheduled_for) AS last FROM scheduled_runs WHERE job_id = ?",
                (job.id,))
            last = from_db(row["last"]) if row else None
        grace = job.grace if job.grace is not None else self.grace
        if last is not None:
            since = last
        elif job.local:  # per-process upkeep (a cache) runs at every start
            since = now - grace
        else:
            # A job that never ran owes nothing from before it was first registered (stored
            # in ``scheduled_jobs``): the first start on a new database is not a restart.
            since = job.first_seen or now
        times: list[datetime] = []
        previous: datetime | None = last
        cursor = since if last is None else last + timedelta(microseconds=1)
        if job.coalesce and cursor < now - grace:
            # Only the latest due time matters: jump over a long gap instead of walking it
            # MAX_CATCH_UP runs per pass (a 1-minute sweep after a day down never caught up).
            cursor, previous = now - grace, None
        while len(times) < MAX_CATCH_UP:
            nxt = job.trigger.get_next_fire_time(previous, cursor)
            if nxt is None or nxt > now:
                break
            repeat = (isinstance(job.trigger, CronTrigger) and previous is not None
                      and _same_wall_time(nxt, previous))  # 02:30 twice when clocks go back
            if (last is None or nxt > last) and not repeat:
                times.append(nxt)
            # Step in UTC: local-time arithmetic resets fold=1 and would step backwards.
            previous, cursor = nxt, nxt.astimezone(UTC) + timedelta(microseconds=1)
        if job.coalesce and len(times) > 1:
            times = times[-1:]
        return times

    # -- running ------------------------------------------------------------------------------
    async def run_due(self, now: datetime | None = None) -> list[RunOutcome]:
        """Claim and run every due run of every job; what tests call after moving the clock."""
        outcomes = await self._run_jobs(list(self.jobs.values()), now or self.clock.now())
        await self._report_missed(outcomes)
        return outcomes

    async def _report_missed(self, outcomes: list[RunOutcome]) -> None:
        missed = [o for o in outcomes if o.outcome == RunStatus.MISSED]
        for listener in self.on_missed if missed else []:
            try:
                await listener(missed)
            except Exception:  # a failed notice never stops the schedule
                logs.logger.exception(logs.SCHEDULED_NOTICE_FAILED, len(missed))

    async def run_job(self, job: ScheduledJob, now: datetime) -> list[RunOutcome]:
        return await self._run_jobs([job], now)

    async def _run_jobs(self, jobs: list[ScheduledJob], now: datetime) -> list[RunOutcome]:
        outcomes = []
        for job, missed, due in await self.store.run(self._plan, jobs, now):
            for when in missed:
                logs.logger.warning(logs.SCHEDULED_MISSED, job.id, when, now - when)
                self.metrics.scheduled_runs.labels(job.kind, RunStatus.MISSED).inc()
                outcomes.append(RunOutcome(job.id, when, RunStatus.MISSED))
            for when in due:
                if job.local:
                    self._local_last[job.id] = when
                    outcomes.append(await self._execute(job, when))
                    continue
                task_id = await self.store.run(self._claim_run, job, when)
                if task_id is None:
                    self.metrics.scheduled_runs.labels(job.kind, RunStatus.DUPLICATE).inc()
                    outcomes.append(RunOutcome(job.id, when, RunStatus.DUPLICATE))
                    continue
                outcomes.append(await self._await_run(job, when, task_id))
        return outcomes

    def _plan(self, jobs: list[ScheduledJob], now: datetime
              ) -> list[tuple[ScheduledJob, list[datetime], list[datetime]]]:
        """(On the store's thread.)  Each job's (runs it claimed as missed, runs due to run
        now).  The missed runs of the whole pass are claimed in one transaction: of processes
        catching up together, one claims them all and tells the channel once."""
        timed = [(job, self.due_times(job, now)) for job in jobs]
        late = [(job, when) for job, times in timed if not job.local
                for when in times if now - when > self._grace(job)]
        claimed: set[tuple[str, datetime]] = set()
        if late:
            with self.store.transaction():
                claimed = {(job.id, when) for job, when in late
                           if self._claim(job.id, when, RunStatus.MISSED)}
        return [(job, [when for when in times if (job.id, when) in claimed],
                 [when for when in times if job.local or now - when <= self._grace(job)])
                for job, times in timed]

    def _grace(self, job: ScheduledJob) -> timedelta:
        return job.grace if job.grace is not None else self.grace

    async def rerun_interrupted(self, now: datetime | None = None) -> list[RunOutcome]:
        """Runs left 'claimed' (the process died mid-run) of jobs that may safely run twice."""
        now = now or self.clock.now()
        outcomes = []
        for job in list(self.jobs.values()):
            if not job.rerun_claimed:
                continue
            grace = job.grace if job.grace is not None else self.grace
            rows = await self.store.run(
                self.store.all,
                "SELECT scheduled_for FROM scheduled_runs WHERE job_id = ? AND status = ?"
                " AND scheduled_for >= ? ORDER BY scheduled_for",
                (job.id, RunStatus.CLAIMED, to_db(now - grace)),
            )
            for row in rows:
                when = from_db(row["scheduled_for"])
                assert when is not None
                # Only a run no live replica holds (a claim from before runs were tasks has
                # its task written now); one this process took over already is waited for.
                task_id = await self.tasks.take(SchedulerTask.RUN, _payload(job.id, when),
                                          key=run_key(job.id, when))
                if task_id is not None:
                    outcomes.append(await self._await_run(job, when, task_id))
        return outcomes

    def _claim_run(self, job: ScheduledJob, when: datetime) -> int | None:
        """Claim the run and write its task in one transaction; the task's id, or None when
        another replica claimed the run first."""
        with self.store.transaction():
            if not self._claim(job.id, when, RunStatus.CLAIMED):
                return None
            task_id = self.tasks.submit(SchedulerTask.RUN, _payload(job.id, when),
                                        key=run_key(job.id, when))
            if task_id is None:  # a task left from a ledger row purged since: never twice
                raise RuntimeError(f"scheduled run {run_key(job.id, when)} has a task already")
        return task_id

    async def _await_run(self, job: ScheduledJob, when: datetime, task_id: int) -> RunOutcome:
        """Wait for the run's task (started after the claim's commit) and return its outcome;
        a run that was handed back (shutdown) or lost its lease stays ``claimed`` here."""
        task = self.tasks.running.get(task_id)
        if task is None:
            return RunOutcome(job.id, when, RunStatus.CLAIMED, "handed over")
        key = run_key(job.id, when)
        waiting = self._waiting.setdefault(key, asyncio.get_running_loop().create_future())
        try:
            await asyncio.wait([task])
        finally:
            self._waiting.pop(key, None)
        if waiting.done():
            return waiting.result()
        return RunOutcome(job.id, when, RunStatus.CLAIMED, "interrupted")

    async def _run_task(self, payload: dict[str, Any]) -> None:
        """The ``scheduled.run`` task: the claimed run's body, by whichever replica holds it."""
        job = self.jobs.get(payload["job"])
        when = from_db(payload["when"])
        assert when is not None
        if job is None:  # no longer configured: the ledger keeps it claimed
            logs.logger.warning(logs.SCHEDULED_NOT_RERUN, payload["job"], when, "not configured")
            return
        zone = getattr(job.trigger, "timezone", None)  # the job sees its own wall clock
        when = when.astimezone(zone) if zone is not None else when
        grace = job.grace if job.grace is not None else self.grace
        if repeated() and not job.rerun_claimed:
            logs.logger.warning(logs.SCHEDULED_NOT_RERUN, job.id, when,
                                "its job may not run twice")
            return
        if repeated() and self.clock.now() - when > grace:
            logs.logger.warning(logs.SCHEDULED_NOT_RERUN, job.id, when,
                                "beyond the grace window")
            return
        outcome = await self._execute(job, when)
        waiting = self._waiting.get(run_key(job.id, when))
        if waiting is not None and not waiting.done():
            waiting.set_result(outcome)

    def _claim(self, job_id: str, when: datetime, status: RunStatus) -> bool:
        cursor = self.store.execute(
            "INSERT INTO scheduled_runs"
            " (job_id, scheduled_for, claimed_at, claimed_by, status) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT DO NOTHING",
            (job_id, to_db(when), to_db(self.clock.now()), self.instance, status),
        )
        return cursor.rowcount == 1

    async def _execute(self, job: ScheduledJob, when: datetime) -> RunOutcome:
        """Run it and record how it went (a ``local`` job has no ledger row to update)."""
        try:
            with backlog():  # what a job fans out waits its turn behind requests' work
                detail = await job.run(when)
        except Exception as exc:
            logs.logger.exception(logs.SCHEDULED_FAILED, job.id, when)
            self.metrics.scheduled_runs.labels(job.kind, RunStatus.FAILED).inc()
            await self.store.run(self._set_status, job.id, when, RunStatus.FAILED,
                                 f"{type(exc).__name__}: {exc}")
            return RunOutcome(job.id, when, RunStatus.FAILED, str(exc))
        outcome = RunStatus.SKIPPED if detail == RunStatus.SKIPPED else RunStatus.POSTED
        await self.store.run(self._set_status, job.id, when, outcome, detail)
        self.metrics.scheduled_runs.labels(job.kind, outcome).inc()
        # A post is news; a periodic sweep's every run is not (one line per 30 s at INFO).
        periodic = job.coalesce or job.local
        logs.logger.log(logging.DEBUG if periodic or outcome == RunStatus.SKIPPED else logging.INFO,
                        logs.SCHEDULED_RUN, job.id, when, outcome)
        return RunOutcome(job.id, when, outcome, detail)

    def _set_status(
        self, job_id: str, when: datetime, status: RunStatus, detail: str | None
    ) -> None:
        self.store.execute(
            "UPDATE scheduled_runs SET status = ?, detail = ?"
            " WHERE job_id = ? AND scheduled_for = ?",
            (status, detail, job_id, to_db(when)),
        )

    # -- APScheduler --------------------------------------------------------------------------
    def _schedule(self, job: ScheduledJob) -> None:
        assert self._aps is not None
        self._aps.add_job(
            self._wake,
            trigger=job.trigger,
            args=[job.id],
            id=job.id,
            replace_existing=True,
            misfire_grace_time=None,
            coalesce=True,
            max_instances=1,
        )

    async def _wake(self, job_id: str) -> None:
        job = self.jobs.get(job_id)
        if job is not None:
            await self._report_missed(await self.run_job(job, self.clock.now()))

    async def start(self) -> list[RunOutcome]:
        """Finish what a crash interrupted, catch up on what was missed, then let APScheduler
        wake us."""
        self.metrics.catching_up.set(1)
        try:
            caught_up = await self.rerun_interrupted()
            caught_up += await self.run_due()
        finally:
            self.metrics.catching_up.set(0)
        self._aps = AsyncIOScheduler(timezone="UTC")
        for job in self.jobs.values():
            self._schedule(job)
        self._aps.start()
        return caught_up

    async def stop(self) -> None:
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        self._aps = None


def run_key(job_id: str, when: datetime) -> str:
    """The key of a claimed run's task: one per ledger row."""
    return f"{SchedulerTask.RUN}:{job_id}@{to_db(when)}"


def _payload(job_id: str, when: datetime) -> dict[str, Any]:
    return {"job": job_id, "when": to_db(when)}


def _same_wall_time(a: datetime, b: datetime) -> bool:
    """Same local clock reading (fold ignored): cron fires once per wall-clock time."""
    return a.replace(tzinfo=None, fold=0) == b.astimezone(a.tzinfo).replace(tzinfo=None, fold=0)
