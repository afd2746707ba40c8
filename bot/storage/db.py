"""The store: one connection on the store's own thread, fresh connections for slow reads.

The event loop never runs a statement: coroutines hand synchronous domain work to the
store's thread with ``await store.run(fn, …)`` (``bot.storage.worker``), one call at a time.
Anything that can take long (the digest) goes through ``Store.read``, which runs in another
worker thread on its own connection.

``Store`` is SQLite (the default, one file); ``open_store`` picks PostgreSQL
(``bot.storage.postgres``) for a ``postgresql://`` url, behind the same API.  Every write
transaction is serialised (SQLite's BEGIN IMMEDIATE; PostgreSQL's advisory lock), so a
compare-and-set or check-then-insert inside ``transaction()`` holds across processes.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec, Protocol, TypeVar

from shipbell.bot.sections import ConfigError
from shipbell.bot.storage.dialect import is_write
from shipbell.bot.storage.lite import sqlite_utils
from shipbell.bot.storage.migrations import Migration
from shipbell.bot.storage.url import Backend, StorageUrl
from shipbell.bot.storage.worker import Worker, not_on_loop

T = TypeVar("T")
P = ParamSpec("P")

# A unique or foreign-key conflict, on either backend (PostgreSQL's are raised as a subclass).
IntegrityError = sqlite3.IntegrityError


class Cursor(Protocol):
    """What a statement returns, on either backend: rows as tuples that also index by name."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def fetchmany(self, size: int = ..., /) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Connection(Protocol):
    """A connection as queries see it: ``execute`` with ``?`` placeholders.  A worker
    thread's own writes (``read``) open theirs with ``BEGIN IMMEDIATE``, on either backend."""

    @property
    def in_transaction(self) -> bool: ...
    def execute(self, sql: str, parameters: Any = ..., /) -> Cursor: ...
    def executemany(self, sql: str, parameters: Any, /) -> Any: ...
    def commit(self) -> None: ...
    def rollback(self) -> None: ...


def utc_stamp() -> str:
    """When a migration was applied (wall-clock time, not the app's clock)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " id TEXT PRIMARY KEY, version INTEGER NOT NULL, applied_at TEXT NOT NULL)"
)
RECORD_MIGRATION = (
    "INSERT INTO schema_migrations (id, version, applied_at)"
    " VALUES (?, (SELECT COUNT(*) + 1 FROM schema_migrations), ?)"
)


def connect(path: str) -> sqlite3.Connection:
    """Open a connection with the pragmas every connection needs."""
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    conn.execute("PRAGMA synchronous = NORMAL")
    if path != ":memory:":
        conn.execute("PRAGMA journal_mode = WAL")
    return conn


def only_reads(queries: tuple[tuple[str, Any], ...]) -> None:
    if any(is_write(sql) for sql, _ in queries):
        raise ValueError("all_of is for reads; write with execute or in a transaction")


class StorageError(ConfigError):
    """The configured database can't be used: a config problem, reported in one line."""


class StoreUnavailable(ConnectionError):
    """The database can't be reached right now (PostgreSQL down, the connection lost): an
    outage of the outside world, not a bug.  Whatever raised it was not stored; a request
    gets a one-sentence answer and the log one line (a ConnectionError is an expected error).
    """


def explain(path: str, exc: sqlite3.Error) -> StorageError:
    """One sentence naming the file, the key, what is wrong and what would work."""
    file, parent = Path(path), Path(path).parent
    if file.is_dir():
        why = "is a directory, not a database file"
    elif not parent.is_dir():
        why = f"its directory {parent} does not exist"
    elif "not a database" in str(exc):
        why = "is not an SQLite database (another file with that name?)"
    elif ("readonly" in str(exc) or not os.access(parent, os.W_OK)
          or os.statvfs(parent).f_flag & os.ST_RDONLY
          or (file.exists() and not os.access(file, os.W_OK))):
        why = "is read-only here (Shipbell writes the file and its -wal/-shm next to it)"
    else:
        why = f"can't be opened ({exc})"
    return StorageError(f"[storage] path {path}: {why}; point [storage] path (or "
                        "SHIPBELL_STORAGE__PATH) at a writable SQLite file")


class PerThread(threading.local):
    """What each thread has of a store: its connection and its open transaction's hooks."""

    def __init__(self) -> None:
        self.conn: Any = None
        self.next_attempt = 0.0  # monotonic: when a lost connection may be reopened
        self.down: str | None = None  # why the last reopen failed
        self.after_commit: list[Callable[[], None]] = []
        self.after_rollback: list[Callable[[], None]] = []


class Store:
    """Owns the database file and the schema; domain modules run their queries through it.

    Each thread uses its own connection (the store's worker thread, start-up's thread, a
    test reading what was stored), so one thread's transaction never sees another's
    statements; an in-memory database has one connection only, shared."""

    backend = Backend.SQLITE

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self.url = StorageUrl(Backend.SQLITE, self.path)
        self._threads()
        try:
            self.conn  # noqa: B018 - opens this thread's connection: a bad path fails here
        except sqlite3.Error as exc:
            raise explain(self.path, exc) from None

    def _threads(self) -> None:
        """What the store keeps per thread, and the thread its work runs on."""
        self._here = PerThread()
        self._connections: list[Any] = []  # every thread's, closed with the store
        self._opening = threading.Lock()
        self._record: Callable[[str], None] | None = None  # ``trace``
        self.worker = Worker("shipbell-db")

    @property
    def conn(self) -> sqlite3.Connection:
        """This thread's connection, opened on first use."""
        conn = self._here.conn
        if conn is None:
            with self._opening:
                if self.path == ":memory:" and self._connections:
                    conn = self._connections[0]
                else:
                    conn = connect(self.path)
                    self._trace_on(conn, self._record)
                    self._connections.append(conn)
            self._here.conn = conn
        return conn

    @property
    def db(self) -> sqlite_utils.Database:
        return sqlite_utils.Database(self.conn)

    def close(self) -> None:
        self.worker.close()
        with self._opening:
            connections, self._connections = self._connections, []
        for conn in connections:
            conn.close()

    async def run(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> T:
        """Run ``fn(*args, **kwargs)``, synchronous code that uses the store, on the store's
        thread and await its result: the event loop never waits on a round trip.  One call at
        a time, so code that must not interleave with other work (read, decide, write) goes
        in one ``fn``.  What commits inside starts on the loop once ``fn`` returns."""
        return await self.worker.run(fn, *args, **kwargs)

    # -- schema -----------------------------------------------------------------------------
    def migrate(self, migrations: list[Migration]) -> list[str]:
        """Apply, in order, every migration not applied yet; return their ids.

        A file that can't be written (or isn't a database) is a StorageError (a config error).
        """
        try:
            return self._migrate(migrations)
        except sqlite3.OperationalError as exc:
            if "readonly" in str(exc) or "unable to open" in str(exc):
                raise explain(self.path, exc) from None
            raise
        except sqlite3.DatabaseError as exc:
            if "not a database" in str(exc):
                raise explain(self.path, exc) from None
            raise

    def _migrate(self, migrations: list[Migration]) -> list[str]:
        """Each migration in its own BEGIN IMMEDIATE, re-checked once the write lock is held:
        of processes starting together, the first applies it, the others then skip it."""
        self.conn.execute(MIGRATIONS_TABLE)
        applied = []
        for migration in migrations:
            if self._applied(migration.id):
                continue
            with self.transaction():
                if self._applied(migration.id):
                    continue
                migration.apply(self.db)
                self.conn.execute(RECORD_MIGRATION, (migration.id, utc_stamp()))
            applied.append(migration.id)
        return applied

    def _applied(self, migration_id: str) -> bool:
        return self.one("SELECT 1 AS x FROM schema_migrations WHERE id = ?",
                        (migration_id,)) is not None

    @property
    def schema_version(self) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0]

    # -- queries ----------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """BEGIN IMMEDIATE … COMMIT: takes the write lock up front, so CAS updates are safe."""
        not_on_loop()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def _in_transaction(self) -> bool:
        return self.conn.in_transaction

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One write transaction (the backend's ``_write``), then its hooks: after a commit
        the ``after_commit`` ones run, after a rollback the ``after_rollback`` ones."""
        try:
            with self._write() as conn:
                yield conn
        except BaseException:
            here = self._here
            here.after_commit.clear()  # what the transaction would have started never starts
            undo, here.after_rollback = here.after_rollback, []
            for hook in undo:
                hook()
            raise
        here = self._here
        here.after_rollback.clear()
        hooks, here.after_commit = here.after_commit, []
        for hook in hooks:
            self._committed(hook)

    def _committed(self, hook: Callable[[], None]) -> None:
        """A hook whose transaction committed: on the store's thread it waits for the loop
        (``Store.run`` runs it there once its ``fn`` returns); elsewhere it runs now."""
        if not self.worker.defer(hook):
            hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the open transaction commits (at once if none is open), on the
        event loop; a rollback drops it.  The task runner starts tasks submitted in a
        transaction this way."""
        if self._in_transaction():
            self._here.after_commit.append(hook)
        else:
            self._committed(hook)

    def after_rollback(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` if the open transaction rolls back (never if none is open): memory
        that claimed something for the transaction (a pending refresh) lets go of it."""
        if self._in_transaction():
            self._here.after_rollback.append(hook)

    def execute(self, sql: str, params: Any = (), *, flush: bool = True) -> Cursor:
        """Run one statement.  ``flush=False`` marks a lone write whose loss in a database
        crash is the same as this process stopping just before it (a lease handed back, a
        task's outcome recorded: the lease runs out, the task runs again, as after a crash):
        PostgreSQL then commits it without waiting for its WAL flush (a later write's flush
        takes it along).  Inside a transaction, and on SQLite (its WAL commits don't wait
        for the disk), it changes nothing."""
        not_on_loop()
        return self.conn.execute(sql, params)

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        row = self.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.execute(sql, params)]

    def all_of(self, *queries: tuple[str, Any]) -> list[list[dict[str, Any]]]:
        """Several reads, each ``(sql, params)``, and their rows in order: on PostgreSQL sent
        together, one round trip for all (SQLite runs them one after the other)."""
        only_reads(queries)
        return [self.all(sql, params) for sql, params in queries]

    @contextmanager
    def trace(self, record: Callable[[str], None]) -> Iterator[None]:
        """Hand ``record`` each statement the store runs meanwhile, on any thread's
        connection, with its values written in (what a query-count or query-plan check reads)."""
        self.set_trace(record)
        try:
            yield
        finally:
            self.set_trace(None)

    def set_trace(self, record: Callable[[str], None] | None) -> None:
        """Every thread's connection (and any opened meanwhile) hands statements to ``record``."""
        with self._opening:
            self._record = record
            for conn in self._connections:
                self._trace_on(conn, record)

    @staticmethod
    def _trace_on(conn: Any, record: Callable[[str], None] | None) -> None:
        """Point one connection's statement trace at ``record`` (None: off)."""
        conn.set_trace_callback(record)

    def ping(self) -> bool:
        return self.reachable() is None

    def reachable(self) -> str | None:
        """None when a round trip to the database works; else, in one line, why not."""
        try:
            self.conn.execute("SELECT 1").fetchone()
        except sqlite3.Error as exc:
            return f"{type(exc).__name__}: {exc}"
        return None

    def pool_use(self) -> tuple[int, int] | None:
        """Connections (in use, size) of the read pool; None on SQLite (no pool)."""
        return None

    # -- copying a whole store (bot.storage.copy) --------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """One consistent view of every table for the reads inside (BEGIN … ROLLBACK)."""
        self.conn.execute("BEGIN")
        try:
            yield
        finally:
            self.conn.execute("ROLLBACK")

    def batches(self, sql: str, size: int) -> Iterator[list[Any]]:
        """A query's rows, ``size`` at a time, never all of them in memory at once."""
        cursor = self.conn.execute(sql)
        while rows := cursor.fetchmany(size):
            yield rows

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a slow read in a worker thread on its own connection, off the event loop."""

        def run() -> T:
            conn = connect(self.path)
            try:
                return fn(conn)
            finally:
                conn.close()

        return await asyncio.to_thread(run)
