"""The event loop never waits on the database: every round trip runs on the store's thread.

``Store.run(fn, *args)`` runs ``fn`` (synchronous domain code: a transaction, a few queries)
on the store's own worker thread and awaits its result, so the loop keeps acking requests
and talking to Slack while PostgreSQL answers (or a replica holds the write lock).  One
thread per store runs one ``fn`` at a time, so a ``fn`` is as atomic against the rest of
this process as synchronous code on the loop used to be: a segment that must not interleave
(read, decide, write) goes into one ``fn``, never two.

What a ``fn`` starts after its commit (``Store.after_commit``: a submitted task begins)
belongs to the loop: the worker collects those hooks and the loop runs them once ``fn``
returns, even if the coroutine that awaited it was cancelled meanwhile (the task was stored;
it must start).

The guard: a statement run on a thread that runs an event loop is a mistake (it stalls
every request of this replica for a round trip).  ``SHIPBELL_LOOP_GUARD=raise`` (the test
suite sets it) raises ``LoopBlocked`` naming the coroutine; otherwise each such place is
logged once.  Start-up, before anything is served, may use the loop (``allow_loop``);
code whose coroutine lives outside Shipbell's own package (a test reading what was stored)
is left alone.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import inspect
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import ParamSpec, TypeVar

T = TypeVar("T")
P = ParamSpec("P")
log = logging.getLogger("shipbell.storage")

GUARD_ENV = "SHIPBELL_LOOP_GUARD"
SWITCH_INTERVAL = 0.0005  # seconds: see Worker._executor
_allowed: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "shipbell_loop_allowed", default=None)
# Shipbell's own source folders (bot/, handlers/, scheduled/): a coroutine defined there that
# runs a statement on the loop is a bug; one defined elsewhere (a test) reads on purpose.
_OWN = tuple(str(Path(__file__).resolve().parents[2] / folder) + os.sep
             for folder in ("bot", "handlers", "scheduled"))
_COROUTINE = inspect.CO_COROUTINE | inspect.CO_ASYNC_GENERATOR
_told: set[str] = set()


class LoopBlocked(RuntimeError):
    """A database round trip was about to run on the event loop's thread."""


@contextmanager
def allow_loop(why: str) -> Iterator[None]:
    """Statements inside may run on the loop: start-up, before the server serves anyone."""
    token = _allowed.set(why)
    try:
        yield
    finally:
        _allowed.reset(token)


@functools.lru_cache(maxsize=4096)
def _own(filename: str) -> str | None:
    """The resolved name of a source file of Shipbell's own, else None."""
    name = str(Path(filename).resolve())
    return name if name.startswith(_OWN) else None


def _culprit() -> str | None:
    """The innermost coroutine on the stack, as ``file:line function``, if it is Shipbell's
    own (None for a test's coroutine, or none at all)."""
    frame = sys._getframe(2)
    while frame is not None:
        code = frame.f_code
        if code.co_flags & _COROUTINE:
            name = _own(code.co_filename)
            return None if name is None else f"{name}:{frame.f_lineno} {code.co_qualname}"
        frame = frame.f_back  # type: ignore[assignment]
    return None


def not_on_loop() -> None:
    """Called before every statement: refuse (or report) one on the event loop's thread."""
    if asyncio._get_running_loop() is None or _allowed.get() is not None:
        return
    where = _culprit()
    if where is None:
        return
    if os.environ.get(GUARD_ENV) == "raise":
        raise LoopBlocked(f"database call on the event loop in {where}; await store.run(…)")
    if where not in _told:
        _told.add(where)
        log.warning("Database call on the event loop in %s (it stalls this replica)", where)


class Worker:
    """One thread that runs a store's synchronous work, one call at a time."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        self._local = threading.local()
        self._lock = threading.Lock()
        self.in_flight = 0  # calls handed to the thread and not yet delivered (/metrics)

    def defer(self, hook: Callable[[], None]) -> bool:
        """On the worker: keep ``hook`` for the loop (True); elsewhere False (run it now)."""
        hooks: list[Callable[[], None]] | None = getattr(self._local, "hooks", None)
        if hooks is None:
            return False
        hooks.append(hook)
        return True

    def _executor(self) -> concurrent.futures.ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # A thread back from the database waits for the interpreter until the loop's
                # thread lets go of it: at most the switch interval, 5 ms by default, which
                # a busy loop makes the price of every statement.  0.5 ms keeps the hand-over
                # short (bench/replicas.py: SQLite deploys 235 -> 323 req/s).
                if sys.getswitchinterval() > SWITCH_INTERVAL:
                    sys.setswitchinterval(SWITCH_INTERVAL)
                self._pool = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix=self.name)
            return self._pool

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        loop = asyncio.get_running_loop()
        context = contextvars.copy_context()
        hooks: list[Callable[[], None]] = []

        def call() -> T:
            self._local.hooks = hooks
            try:
                return context.run(fn, *args, **kwargs)
            finally:
                self._local.hooks = None

        done: asyncio.Future[T] = loop.create_future()

        def deliver(future: concurrent.futures.Future[T]) -> None:
            # On the loop: what committed starts now, whether or not anyone still waits.
            self.in_flight -= 1
            for hook in hooks:
                try:
                    context.run(hook)
                except Exception:
                    log.exception("A hook after a commit failed")
            if done.cancelled():
                return
            exc = future.exception()
            if exc is not None:
                done.set_exception(exc)
            else:
                done.set_result(future.result())

        def back(future: concurrent.futures.Future[T]) -> None:
            with contextlib.suppress(RuntimeError):  # a closed loop: nobody left to tell
                loop.call_soon_threadsafe(deliver, future)

        self.in_flight += 1
        self._executor().submit(call).add_done_callback(back)
        return await done

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)
