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
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from enum import StrEnum
from typing import Any

from shipbell.bot import logs
from shipbell.bot.clock import Clock, to_db
from shipbell.bot.observability import Metrics
from shipbell.bot.storage import Store

Handler = Callable[[dict[str, Any]], Awaitable[None]]
MAX_ATTEMPTS = 3
REQUEST, BACKLOG = "request", "backlog"
_lane: ContextVar[str] = ContextVar("shipbell_task_lane", default=REQUEST)


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


class TaskRunner:
    def __init__(self, store: Store, clock: Clock, metrics: Metrics, *,
                 backlog_slots: int = 8) -> None:
        self.store = store
        self.clock = clock
        self.metrics = metrics
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
        starts after its commit; a rollback leaves neither row nor run."""
        if kind not in self.handlers:
            raise KeyError(f"no handler for task kind {kind!r}")
        now = to_db(self.clock.now())
        cursor = self.store.execute(
            "INSERT INTO tasks (kind, payload, key, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            (str(kind), json.dumps(payload), key, now, now),
        )
        row = cursor.fetchone()
        if row is None:
            return None
        task_id, lane = int(row[0]), _lane.get()
        # Inside a transaction the row exists only once it commits: start it then (a
        # rollback removes the row and drops the start), never before.
        self.store.after_commit(lambda: self._start(task_id, kind, payload, attempts=0, lane=lane))
        return task_id

    def resume(self) -> int:
        """Restart every task a previous process left unfinished."""
        rows = [
            row
            for row in self.store.all(
                "SELECT id, kind, payload, attempts FROM tasks WHERE status IN (?, ?) ORDER BY id",
                UNFINISHED,
            )
            if row["id"] not in self.running  # submitted by this process: already running
        ]
        if rows:
            logs.logger.info(logs.TASK_RESUMED, len(rows))
        for row in rows:
            if row["kind"] not in self.handlers:
                logs.logger.error(logs.TASK_UNKNOWN_KIND, row["id"], row["kind"])
                self._finish(row["id"], TaskStatus.FAILED, f"unknown kind {row['kind']}")
                continue
            self._start(row["id"], row["kind"], json.loads(row["payload"]), row["attempts"],
                        lane=BACKLOG)
        return len(rows)

    def _start(self, task_id: int, kind: str, payload: dict[str, Any], attempts: int,
               lane: str) -> None:
        if not self.accepting:
            return  # stays pending in SQLite; resumed at the next start
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
                    await self._slots.acquire()  # cancelled here: still pending in SQLite
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
        """Attempts with back-off; ``_in_lane`` keeps the in-flight bookkeeping."""
        while True:
            attempts += 1
            self.store.execute(
                "UPDATE tasks SET status = ?, attempts = ?, updated_at = ? WHERE id = ?",
                (TaskStatus.RUNNING, attempts, to_db(self.clock.now()), task_id),
            )
            try:
                await self.handlers[kind](payload)
            except asyncio.CancelledError:
                self._finish(task_id, TaskStatus.PENDING, "interrupted by shutdown")
                raise
            except Exception as exc:
                self.metrics.task_failures.labels(kind).inc()
                logs.logger.exception(logs.TASK_FAILED, kind, task_id, attempts)
                if attempts >= MAX_ATTEMPTS:
                    self._finish(task_id, TaskStatus.FAILED, f"{type(exc).__name__}: {exc}")
                    return
                await self.clock.sleep(min(2**attempts, 30))
                continue
            self._finish(task_id, TaskStatus.DONE, None)
            return

    def _finish(self, task_id: int, status: TaskStatus, error: str | None) -> None:
        self.store.execute(
            "UPDATE tasks SET status = ?, last_error = ?, updated_at = ? WHERE id = ?",
            (status, error, to_db(self.clock.now()), task_id),
        )

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until no task is in flight (tests and the shell use this, never sleeps)."""
        async with asyncio.timeout(timeout):
            while self.running:
                await self._idle.wait()
                await asyncio.sleep(0)

    async def shutdown(self, grace: float) -> int:
        """Stop accepting, give running tasks ``grace`` seconds, then cancel (they stay pending)."""
        self.accepting = False
        self.stopping.set()
        pending = list(self.running.values())
        if not pending:
            return 0
        logs.logger.info(logs.SHUTTING_DOWN, len(pending), grace)
        _, still = await asyncio.wait(pending, timeout=grace)
        for task in still:
            task.cancel()
        if still:
            await asyncio.gather(*still, return_exceptions=True)
            logs.logger.info(logs.SHUTDOWN_LEFT, len(still))
        return len(still)
