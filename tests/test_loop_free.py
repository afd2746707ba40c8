"""The event loop never waits on the database: while one request's write waits for the
database (another process holds the write lock), the same replica's loop still serves.

The lock is held by a plain connection outside Shipbell (a replica mid-transaction, or an
operator's session), on both backends.  A timer lets go of it after a few seconds in any case,
so a Shipbell whose loop did block shows up as a failed assertion, not a hung test.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import aiohttp
import pytest
from conftest import MakeBell
from fakes.configs import SECRET, SECRET_ENV, deploy_config
from fakes.waiting import until
from shipbell.bot.local import LocalShipbell
from shipbell.bot.storage import LoopBlocked, Store, allow_loop
from shipbell.bot.storage.worker import GUARD_ENV, not_on_loop

SAFETY = 4.0  # seconds after which the outside lock is let go of, whatever happens


class OutsideLock:
    """The store's write lock, held by a connection of its own until ``release``."""

    def __init__(self, store: Store) -> None:
        self.released_at: float | None = None
        self._lock = threading.Lock()
        if store.url.backend == "postgresql":
            import psycopg
            from shipbell.bot.storage.postgres import WRITE_LOCK

            pg = psycopg.connect(store.path, autocommit=True)
            pg.execute("SELECT pg_advisory_lock(%s)", (WRITE_LOCK,))
            self._let_go = lambda: (pg.execute("SELECT pg_advisory_unlock(%s)", (WRITE_LOCK,)),
                                    pg.close())
        else:
            lite = sqlite3.connect(store.path, isolation_level=None, check_same_thread=False)
            lite.execute("BEGIN IMMEDIATE")
            self._let_go = lambda: (lite.execute("ROLLBACK"), lite.close())

    def release(self) -> None:
        with self._lock:
            if self.released_at is None:
                self._let_go()
                self.released_at = time.monotonic()


@contextmanager
def held(store: Store) -> Iterator[OutsideLock]:
    lock = OutsideLock(store)
    timer = threading.Timer(SAFETY, lock.release)
    timer.start()
    try:
        yield lock
    finally:
        timer.cancel()
        lock.release()


@pytest.fixture
async def bell(make_bell: MakeBell, monkeypatch: pytest.MonkeyPatch) -> LocalShipbell:
    monkeypatch.setenv(SECRET_ENV, SECRET)
    return await make_bell(deploy_config())


async def test_the_loop_serves_while_a_request_waits_for_the_write_lock(
    bell: LocalShipbell,
) -> None:
    """The deploy's transaction waits on the store's thread (which runs this replica's
    database work one call at a time); the loop meanwhile serves what needs no database:
    /metrics answers, and shows the call waiting; `/deploy help` is answered."""
    with held(bell.core.store) as lock:
        waiting = asyncio.ensure_future(bell.command("/deploy", "worker to staging"))
        await until(lambda: bell.core.store.worker.in_flight > 0)
        async with aiohttp.ClientSession() as http, \
                http.get(bell.runtime.url + "/metrics") as resp:
            status, text = resp.status, await resp.text()
        helped = await bell.command("/deploy", "help")  # needs no database: answered now
        answered_at = time.monotonic()
        assert lock.released_at is None  # answered while the database still held the deploy
        assert helped.text.startswith("*`/deploy`*")
        assert status == 200
        found = re.search(r"^shipbell_store_calls_in_flight (\S+)$", text, re.MULTILINE)
        assert found is not None and float(found.group(1)) >= 1
        assert not waiting.done()
        lock.release()
        ack = await waiting
    assert lock.released_at is not None and answered_at < lock.released_at
    assert ack.text.startswith("Deploying"), ack.text


async def test_a_statement_on_the_loop_is_refused_under_the_guard(
    bell: LocalShipbell, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The guard names Shipbell's coroutine that ran a statement on the loop (this file's
    own coroutines may read the store: tests do, on purpose)."""
    monkeypatch.setenv(GUARD_ENV, "raise")
    store = bell.core.store
    store.one("SELECT 1 AS x")  # a test's coroutine: allowed
    # A coroutine whose code is filed under Shipbell's source tree, as a handler's would be.
    namespace: dict[str, object] = {}
    code = compile("async def sneaky(store):\n    return store.one('SELECT 1 AS x')\n",
                   not_on_loop.__code__.co_filename, "exec")
    exec(code, namespace)
    with pytest.raises(LoopBlocked, match="sneaky"):
        await namespace["sneaky"](store)  # type: ignore[operator]
    with allow_loop("start-up"):
        assert await namespace["sneaky"](store) == {"x": 1}  # type: ignore[operator]
    assert await store.run(store.one, "SELECT 1 AS x") == {"x": 1}
