"""Tracked, persisted background tasks: the slow half of every request.

A listener acks at once and hands the slow work to ``TaskRunner.submit``: the task is
written to SQLite first, then run as an asyncio task. On shutdown the runner waits a
grace period; whatever did not finish stays ``pending`` and is resumed at the next start.
Task handlers must therefore be idempotent (domain code uses compare-and-set on state).

Two lanes.  Work a request hands over starts at once: someone is waiting for it.  Work from a
scheduled job (a sweep, a catch-up after downtime that may fan out thousands of reminders) and
tasks resumed at start-up form the *backlog*: at most ``backlog_slots`` of them run at a time,
so a long catch-up never crowds out the requests people are making, and ``/metrics`` shows
how many are waiting and running in each lane.

Several processes (replicas) may share one database.  Each task row names the replica that
runs it (``owner``) and until when (``lease_until``, read from the injected clock): a task
is claimed by a compare-and-set on those two columns, so exactly one replica runs it.  The
holder renews its leases every third of the lease (the *beat*); at each beat every replica
also takes over the unfinished tasks nobody holds: released by a replica that stopped, or
held by one whose lease ran out (it died).  Start-up takes only those too, never another
live replica's in-flight task.  A graceful stop releases its leases, so the next start (of
any replica) resumes them at once.  Work that must not run in two replicas at the same
time (one deploy's message, one incident's topic) runs inside ``exclusive(name)``: a named
lease in the ``leases`` table, renewed by the same beat.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from datetime import timedelta
from enum import StrEnum
from typing import Any

from shipbell.bot import logs
from shipbell.bot.clock import Clock, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.storage import Store, StoreUnavailable

Handler = Callable[[dict[str, Any]], Awaitable[None]]
MAX_ATTEMPTS = 3
LEASE_SECONDS = 30.0
POLL_SECONDS = (0.02, 0.5)  # waiting for a named lease another replica holds: first, longest
REQUEST, BACKLOG = "request", "backlog"
_lane: ContextVar[str] = ContextVar("shipbell_task_lane", default=REQUEST)
_attempt: ContextVar[int] = ContextVar("shipbell_task_attempt", default=1)


def repeated() -> bool:
    """Whether the running task was started before (a failed attempt, or a replica that
    stopped or died mid-run): what it did then may have reached the outside world."""
    return _attempt.get() > 1


class TaskStatus(StrEnum):
    """A stored task's status (the ``tasks.status`` column holds the value)."""

    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


UNFINISHED = (TaskStatus.PENDING, TaskStatus.RUNNING)
FINISHED = (TaskStatus.DONE, TaskStatus.FAILED)


@contextmanager
def backlog() -> Iterator[None]:
    """Tasks submitted inside this block (a scheduled job's run) join the bounded backlog."""
    token = _lane.set(BACKLOG)
    try:
        yield
    finally:
        _lane.reset(token)


def replica_id(name: str | None = None) -> str:
    """This process's identity in leases: ``name`` (default the host name), pid and a random
    part, so a restarted process (same pid in a new container) never passes for the old one."""
    return f"{name or socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class TaskRunner:
    def __init__(self, store: Store, clock: Clock, metrics: Metrics, *,
                 backlog_slots: int = 8, replica: str | None = None,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
        self.replica = replica or replica_id()
        self.lease = timedelta(seconds=lease_seconds)
        self._beat: asyncio.Task[None] | None = None
        # In-process turn-taking per name: the lock and how many coroutines use it.
        self._exclusive: dict[str, tuple[asyncio.Lock, int]] = {}
        self.handlers: dict[str, Handler] = {}
        self.running: dict[int, asyncio.Task[None]] = {}
        self._idle = asyncio.Event()
        self._idle.set()
        self.accepting = True
        self.stopping = asyncio.Event()  # set when shutdown begins; long waits park on it
        self._slots = asyncio.Semaphore(backlog_slots)

    def register(self, kind: str, handler: Handler) -> None:
        """``kind`` is a member of the feature's task-kind StrEnum; rows store its value (and
        a row's plain string finds it: a StrEnum member equals and hashes as its value)."""
        if kind in self.handlers:
            raise ValueError(f"task kind {kind!r} registered twice")
        self.handlers[kind] = handler

    def submit(self, kind: str, payload: dict[str, Any], *, key: str | None = None) -> int | None:
        """Persist then start a task; a repeated ``key`` is ignored and returns None.

        Submitted inside ``store.transaction()``, the task is written in that transaction and
        starts after its commit; a rollback leaves neither row nor run.  The row is written
        already held by this replica (no other one can take it before it starts); while
        shutting down it is written unheld, for whichever replica starts next."""
        if kind not in self.handlers:
            raise KeyError(f"no handler for task kind {kind!r}")
        now = self.clock.now()
        owner, until = (self.replica, to_db(now + self.lease)) if self.accepting else (None, None)
        cursor = self.store.execute(
            "INSERT INTO tasks (kind, payload, key, created_at, updated_at, owner, lease_until)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (str(kind), json.dumps(payload), key, to_db(now), to_db(now), owner, until),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        task_id, lane = int(row[0]), _lane.get()
        # Inside a transaction the row exists only once it commits: start it then (a
        # rollback removes the row and drops the start), never before.
        self.store.after_commit(lambda: self._start(task_id, kind, payload, attempts=0, lane=lane))
        return task_id

    # -- leases -------------------------------------------------------------------------------
    async def resume(self) -> int:
        """Start the unfinished tasks nobody holds: left by a stopped replica, or held by one
        whose lease ran out.  At start-up, and at every beat on every replica."""
        if not self.accepting:
            return 0
        claimed = await self.store.run(self._claim_unheld, set(self.running))
        if claimed:
            logs.logger.info(logs.TASK_RESUMED, len(claimed))
        for row in claimed:
            self._start_claimed(row, BACKLOG)
        return len(claimed)

    def _claim_unheld(self, running_here: set[int]) -> list[dict[str, Any]]:
        """(On the store's thread.)  Claim the unfinished tasks nobody holds, except those
        this process runs already; a claimed one of a kind nobody handles is failed here."""
        now = to_db(self.clock.now())
        rows = [
            row
            for row in self.store.all(
                "SELECT id, kind, payload, attempts, owner, lease_until FROM tasks"
                " WHERE status IN (?, ?) AND (owner IS NULL OR lease_until < ?) ORDER BY id",
                (*UNFINISHED, now),
            )
            if row["id"] not in running_here
        ]
        return [row for row in rows if self._claim(row, now) and self._known(row)]

    def _known(self, row: dict[str, Any]) -> bool:
        if row["kind"] in self.handlers:
            return True
        logs.logger.error(logs.TASK_UNKNOWN_KIND, row["id"], row["kind"])
        self._finish(row["id"], TaskStatus.FAILED, f"unknown kind {row['kind']}")
        return False

    async def take(self, kind: str, payload: dict[str, Any], *, key: str) -> int | None:
        """Run the task keyed ``key`` here unless a live replica holds it: written first if
        there is no such row (unheld), taken if nobody holds it (its replica stopped or died).
        Its id while it runs in this process (started now, or already running here); None
        when another replica holds it or it finished."""
        if kind not in self.handlers:
            raise KeyError(f"no handler for task kind {kind!r}")
        row = await self.store.run(self._take, kind, payload, key, set(self.running))
        if row is None:
            return None
        if row["id"] not in self.running:
            self._start_claimed(row, REQUEST)
        return int(row["id"]) if row["id"] in self.running else None

    def _take(self, kind: str, payload: dict[str, Any], key: str,
              running_here: set[int]) -> dict[str, Any] | None:
        """(On the store's thread.)  ``take``'s row once this replica holds it (or runs it
        already); None when another holds it or it finished."""
        stamp = to_db(self.clock.now())
        self.store.execute(
            "INSERT INTO tasks (kind, payload, key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (str(kind), json.dumps(payload), key, stamp, stamp))
        row = self.store.one(
            "SELECT id, kind, payload, attempts, owner, lease_until, status FROM tasks"
            " WHERE key = ?", (key,))
        if row is None or row["status"] not in UNFINISHED:
            return None
        if row["id"] in running_here:
            return row
        if row["owner"] is not None and row["lease_until"] >= stamp:
            return None  # a live replica runs it
        if not self.accepting or not self._claim(row, stamp):
            return None
        return row

    def _start_claimed(self, row: dict[str, Any], lane: str) -> None:
        """Start a task row this replica just claimed (counting a take-over)."""
        if row["owner"] is not None and row["owner"] != self.replica:
            self.metrics.leases_taken_over.labels(row["kind"]).inc()
            logs.logger.warning(logs.TASK_TAKEN_OVER, row["kind"], row["id"], row["owner"],
                                row["lease_until"])
        self._start(row["id"], row["kind"], json.loads(row["payload"]), row["attempts"],
                    lane=lane)

    def _claim(self, row: dict[str, Any], now: str) -> bool:
        """Compare-and-set: the task becomes this replica's unless another holds it now."""
        cursor = self.store.execute(
            "UPDATE tasks SET owner = ?, lease_until = ? WHERE id = ? AND status IN (?, ?)"
            " AND (owner IS NULL OR lease_until < ?)",
            (self.replica, to_db(self.clock.now() + self.lease), row["id"], *UNFINISHED, now),
        )
        if cursor.rowcount == 1:
            return True
        self.metrics.claims_lost.labels(row["kind"]).inc()
        return False

    async def renew(self) -> set[int]:
        """Extend the leases of every unfinished task and named lease this replica holds; a
        task running here whose lease another replica took (this process stalled past its
        lease) is stopped here, as that replica runs it now.  The ids still held."""
        held = await self.store.run(self._extend)
        for task_id, task in list(self.running.items()):
            if task_id not in held and not task.done():
                kind = task.get_name().split("#")[0]
                self.metrics.claims_lost.labels(kind).inc()
                logs.logger.warning(logs.TASK_LEASE_LOST, kind, task_id)
                task.cancel()
        return held

    def _extend(self) -> set[int]:
        until = to_db(self.clock.now() + self.lease)
        self.store.execute("UPDATE leases SET until = ? WHERE owner = ?", (until, self.replica))
        return {int(row["id"]) for row in self.store.all(
            "UPDATE tasks SET lease_until = ? WHERE owner = ? AND status IN (?, ?) RETURNING id",
            (until, self.replica, *UNFINISHED))}

    async def beat(self) -> None:
        """One beat: renew what this replica holds, take over what nobody holds."""
        await self.renew()
        await self.resume()

    def start_beating(self) -> None:
        """Beat every third of the lease until shutdown (the event loop's timer wakes it;
        lease times themselves come from the injected clock)."""
        if self._beat is None:
            self._beat = asyncio.get_running_loop().create_task(self._beating(), name="leases")

    async def _beating(self) -> None:
        interval = self.lease.total_seconds() / 3
        while not self.stopping.is_set():
            try:
                async with asyncio.timeout(interval):
                    await self.stopping.wait()
                return
            except TimeoutError:
                pass
            try:
                await self.beat()
            except Exception:  # a locked or unreachable database: the next beat tries again
                logs.logger.exception(logs.TASK_UPKEEP_FAILED)

    def release(self) -> None:
        """Hand back every unfinished task and named lease this replica holds."""
        self.store.execute(
            "UPDATE tasks SET owner = NULL, lease_until = NULL"
            " WHERE owner = ? AND status IN (?, ?)", (self.replica, *UNFINISHED))
        self.store.execute("DELETE FROM leases WHERE owner = ?", (self.replica,))

    @asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Run the block while holding the named lease ``name``: no other coroutine of this
        process, nor any other replica, is inside an ``exclusive(name)`` block meanwhile.

        Coroutines of this process take turns on a lock; against other replicas the lease is
        a row, waited for by polling; one held by a replica that died is taken once it ran
        out.  The beat renews it while the block runs (a Slack call may take long)."""
        lock, users = self._exclusive.get(name, (asyncio.Lock(), 0))
        self._exclusive[name] = (lock, users + 1)
        try:
            async with lock:
                delay, told = POLL_SECONDS[0], False
                while (holder := await self.store.run(self._hold, name)) is not None:
                    if not told:  # once per wait: contention across replicas is news
                        told = True
                        logs.logger.info(logs.LEASE_WAITING, name, holder)
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, POLL_SECONDS[1])
                try:
                    yield
                finally:
                    await self.store.run(self._let_go, name)
        finally:
            lock, users = self._exclusive[name]
            if users == 1:
                del self._exclusive[name]  # nobody else waits: keep long-running processes small
            else:
                self._exclusive[name] = (lock, users - 1)

    def contended(self, name: str) -> bool:
        """Whether a coroutine of this process is in, or waiting for, ``exclusive(name)``."""
        return name in self._exclusive

    def _hold(self, name: str) -> str | None:
        """(On the store's thread.)  Take the named lease: None once held, else who holds it."""
        now = self.clock.now()
        until = to_db(now + self.lease)
        if self.store.execute(
            "INSERT INTO leases (name, owner, until) VALUES (?, ?, ?)"
            " ON CONFLICT (name) DO NOTHING", (name, self.replica, until)
        ).rowcount == 1:
            return None
        if self.store.execute(
            "UPDATE leases SET owner = ?, until = ? WHERE name = ? AND (owner = ? OR until < ?)",
            (self.replica, until, name, self.replica, to_db(now)),
        ).rowcount == 1:
            return None
        holder = self.store.one("SELECT owner FROM leases WHERE name = ?", (name,))
        return str(holder["owner"]) if holder else "?"

    def _let_go(self, name: str) -> None:
        # Lost in a database crash, the lease just runs out: no flush awaited.
        self.store.execute("DELETE FROM leases WHERE name = ? AND owner = ?",
                           (name, self.replica), flush=False)

    # -- running ------------------------------------------------------------------------------
    def _start(self, task_id: int, kind: str, payload: dict[str, Any], attempts: int,
               lane: str) -> None:
        if not self.accepting:  # stays pending (shutdown's ``release`` hands it back)
            return
        task = asyncio.get_running_loop().create_task(
            self._in_lane(task_id, kind, payload, attempts, lane), name=f"{kind}#{task_id}"
        )
        self.running[task_id] = task
        self._idle.clear()

    async def _in_lane(self, task_id: int, kind: str, payload: dict[str, Any], attempts: int,
                       lane: str) -> None:
        """Run the task, first waiting for a backlog slot if it is backlog work."""
        gauge = self.metrics.background_tasks
        try:
            if lane == BACKLOG:
                gauge.labels(lane, "waiting").inc()
                try:
                    await self._slots.acquire()  # cancelled here: still pending in the store
                finally:
                    gauge.labels(lane, "waiting").dec()
            gauge.labels(lane, "running").inc()
            try:
                await self._run(task_id, kind, payload, attempts)
            finally:
                gauge.labels(lane, "running").dec()
                if lane == BACKLOG:
                    self._slots.release()
        finally:
            self.running.pop(task_id, None)
            if not self.running:
                self._idle.set()

    async def _run(self, task_id: int, kind: str, payload: dict[str, Any], attempts: int) -> None:
        """Attempts with back-off; ``_in_lane`` keeps the in-flight bookkeeping.  Every write
        is conditional on this replica still holding the task."""
        while True:
            attempts += 1
            if not await self.store.run(self._running, task_id, attempts):
                self.metrics.claims_lost.labels(kind).inc()
                logs.logger.warning(logs.TASK_LEASE_LOST, kind, task_id)
                return
            token = _attempt.set(attempts)
            try:
                await self.handlers[kind](payload)
            except asyncio.CancelledError:
                await self.store.run(self._finish, task_id, TaskStatus.PENDING,
                                     "interrupted by shutdown")
                raise
            except Exception as exc:
                self.metrics.task_failures.labels(kind).inc()
                logs.logger.exception(logs.TASK_FAILED, kind, task_id, attempts)
                if attempts >= MAX_ATTEMPTS:
                    await self.store.run(self._finish, task_id, TaskStatus.FAILED,
                                         f"{type(exc).__name__}: {exc}")
                    return
                await self.clock.sleep(min(2**attempts, 30))
                continue
            finally:
                _attempt.reset(token)
            await self.store.run(self._finish, task_id, TaskStatus.DONE, None)
            return

    def _running(self, task_id: int, attempts: int) -> bool:
        """(On the store's thread.)  Mark an attempt started, if this replica still holds
        the task."""
        return self.store.execute(
            "UPDATE tasks SET status = ?, attempts = ?, updated_at = ?"
            " WHERE id = ? AND owner = ?",
            (TaskStatus.RUNNING, attempts, to_db(self.clock.now()), task_id, self.replica),
        ).rowcount == 1

    def _finish(self, task_id: int, status: TaskStatus, error: str | None) -> None:
        """Record the outcome if this replica still holds the task; a task left pending is
        released (any replica may resume it), a finished one keeps who finished it.  Lost in
        a database crash, the outcome is as if this replica had died before writing it (the
        lease runs out, the task runs again, as tasks are written to): no flush awaited."""
        self.store.execute(
            "UPDATE tasks SET status = ?, last_error = ?, updated_at = ?, owner = ?,"
            " lease_until = NULL WHERE id = ? AND owner = ?",
            (status, error, to_db(self.clock.now()),
             None if status == TaskStatus.PENDING else self.replica, task_id, self.replica),
            flush=False,
        )

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no task is in flight (tests and the shell use this, never sleeps)."""
        async with asyncio.timeout(timeout):
            while self.running:
                await self._idle.wait()
                await asyncio.sleep(0)

    async def shutdown(self, grace: float) -> int:
        """Stop accepting, give running tasks ``grace`` seconds, then cancel (they stay pending)
        and release every lease: the next replica to start, or any live one's next beat,
        resumes them at once."""
        self.accepting = False
        self.stopping.set()
        if self._beat is not None:
            await asyncio.gather(self._beat, return_exceptions=True)
            self._beat = None
        pending = list(self.running.values())
        still: set[asyncio.Task[None]] = set()
        if pending:
            logs.logger.info(logs.SHUTTING_DOWN, len(pending), grace)
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.gather(*still, return_exceptions=True)
                logs.logger.info(logs.SHUTDOWN_LEFT, len(still))
        try:
            await self.store.run(self.release)
        except StoreUnavailable as exc:  # the database is away: the leases simply run out
            logs.logger.warning(logs.LEASES_NOT_HANDED_BACK, exc, self.lease.total_seconds())
        return len(still)
