"""The store on PostgreSQL (psycopg 3), for several replicas sharing one database.

Same API as the SQLite ``Store``, synchronous: one connection serves the event loop's short
statements, a pool of ``[storage] pool_size`` connections serves ``read()`` in worker threads.

Writes are serialised across every replica exactly as SQLite's BEGIN IMMEDIATE serialises
them: a write transaction first takes a transaction-level advisory lock
(``pg_advisory_xact_lock``), and so does a lone write outside a transaction.  The
compare-and-set and check-then-insert logic written for SQLite (the deploy queue, gap-free
incident numbers) therefore holds across processes, at READ COMMITTED, with no retries.
Migrations run under a session advisory lock: the first replica applies them, the others
wait, then find them applied.

psycopg is imported when a PostgreSQL store is opened, not when Shipbell starts (a tenth of a
second of start-up that an SQLite installation never needs).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any, TypeVar

from shipbell.bot.storage.db import (
    MIGRATIONS_TABLE,
    RECORD_MIGRATION,
    Connection,
    Cursor,
    IntegrityError,
    StorageError,
    Store,
    StoreUnavailable,
    only_reads,
    utc_stamp,
)
from shipbell.bot.storage.dialect import is_write, postgres_ddl, to_postgres
from shipbell.bot.storage.migrations import Migration
from shipbell.bot.storage.url import PASSWORD_ENV, Backend, StorageUrl
from shipbell.bot.storage.worker import not_on_loop

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
log = logging.getLogger(__name__)


def _not_psycopgs_echo(record: logging.LogRecord) -> bool:
    """psycopg logs a warning of its own when a pipeline ends on a connection that broke
    (``error ignored terminating <Pipeline [BAD]>``); the store reports the lost connection
    itself, in one line, so that echo is dropped."""
    return not str(record.msg).startswith("error ignored terminating")


logging.getLogger("psycopg").addFilter(_not_psycopgs_echo)

# Advisory lock keys (any 64-bit numbers, the same in every replica).
WRITE_LOCK = 0x5348_4950_4245_4C01  # "SHIPBEL" 1: every write transaction
MIGRATION_LOCK = 0x5348_4950_4245_4C02  # applying migrations
CONNECT_TIMEOUT = 10
# Once the database is lost: a reconnect blocks the event loop for up to this long, and is
# tried at most once per RECONNECT_EVERY seconds (requests in between are answered at once).
RECONNECT_TIMEOUT = 2
RECONNECT_EVERY = 1.0
POOL_WAIT = 5.0  # seconds a worker thread waits for a pooled connection before giving up
BEGIN_WRITE = "BEGIN IMMEDIATE"  # SQLite's "a write transaction": BEGIN, then the write lock
# Taking the write lock, as literal SQL (the key is a constant): BEGIN and the lock then go
# out as one simple-protocol message, one round trip.
LOCK = f"SELECT pg_advisory_xact_lock({WRITE_LOCK})"
BEGIN_LOCKED = f"BEGIN; {LOCK}"
# This (implicit) transaction's commit only; set_config, as SET LOCAL would warn outside BEGIN.
NO_FLUSH = "SELECT set_config('synchronous_commit', 'off', true)"


class PostgresIntegrityError(IntegrityError):
    """A unique, foreign-key or check violation on PostgreSQL, caught as the store's
    ``IntegrityError`` like SQLite's."""


class Row(tuple[Any, ...]):
    """A result row like ``sqlite3.Row``: a tuple that also indexes by column name."""

    __slots__ = ()
    _names: tuple[str, ...] = ()
    _index: dict[str, int] = {}  # noqa: RUF012  (set per column list by ``_row_class``)

    def keys(self) -> list[str]:
        return list(self._names)

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)


@lru_cache(maxsize=1024)
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index = {name: i for i, name in enumerate(names)}
    return type("Row", (Row,), {"__slots__": (), "_names": names, "_index": index})


def _rows(cursor: Any) -> Callable[[Sequence[Any]], Any]:
    description = cursor.description
    return _row_class(tuple(c.name for c in description)) if description else tuple


@cache
def _number_loader() -> type:
    from psycopg.adapt import Loader

    class NumberLoader(Loader):
        """``numeric`` (what SUM and AVG of integers give) as int or float, like SQLite."""

        def load(self, data: Any) -> int | float:
            text = bytes(data).decode()
            return float(text) if any(c in text for c in ".eEN") else int(text)

    return NumberLoader


def configure(raw: psycopg.Connection[Any]) -> None:
    """Every connection, the event loop's and the pool's: autocommit (like SQLite's
    isolation_level=None), rows by name, numbers as SQLite gives them."""
    raw.autocommit = True
    raw.row_factory = _rows
    raw.adapters.register_loader("numeric", _number_loader())


def _param(value: Any) -> Any:
    if isinstance(value, str):
        # PostgreSQL's text can't hold NUL (SQLite's can): user text that carries one (Slack
        # never sends it, a forged or fuzzed request may) is stored with U+FFFD in its place.
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    return int(value) if isinstance(value, bool) else value  # booleans are stored as 0/1


def first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def lost(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"the database connection was lost ({first_line(exc)})")


class PgConnection:
    """A psycopg connection that speaks the store's SQL: ``?`` placeholders, 0/1 booleans,
    a lone write serialised like one in a transaction."""

    def __init__(self, raw: psycopg.Connection[Any]) -> None:
        import psycopg

        self.raw = raw
        self.idle = psycopg.pq.TransactionStatus.IDLE
        self.conflict = psycopg.errors.IntegrityError
        # ``Store.trace``: each statement, values written in, as SQLite's trace callback
        # gives them; a transaction shows as BEGIN … COMMIT (the write lock is part of BEGIN,
        # as SQLite's BEGIN IMMEDIATE takes its lock), a lone write as the one statement.
        self.record: Callable[[str], None] | None = None
        self.errors = psycopg.Error
        # A write transaction is open but its BEGIN and lock not sent yet: they go out with
        # its first statement, in one round trip (and a transaction with none sends nothing).
        self.pending = False

    @contextmanager
    def guard(self) -> Iterator[None]:
        """psycopg's errors as the store's: a conflict is its IntegrityError, a connection
        that broke (server gone, backend terminated, network down) is StoreUnavailable."""
        try:
            yield
        except self.conflict as exc:
            raise PostgresIntegrityError(str(exc).strip()) from exc
        except self.errors as exc:
            if self.raw.closed or self.raw.broken:
                raise lost(exc) from None
            raise

    @property
    def usable(self) -> bool:
        return not (self.raw.closed or self.raw.broken)

    @property
    def in_transaction(self) -> bool:
        return self.pending or self.raw.info.transaction_status != self.idle

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        if sql == BEGIN_WRITE:  # a worker thread's own write transaction
            self._trace("BEGIN")
            with self.guard():
                return self.raw.execute(BEGIN_LOCKED)
        if self.pending:
            return self.pipelined([(sql, parameters)])[0]
        if not self.in_transaction and is_write(sql):
            return self.lone_write(sql, parameters)
        return self._run(sql, parameters)

    def lone_write(self, sql: str, parameters: Any, *, flush: bool = True) -> Cursor:
        """A write outside a transaction, serialised like one inside: the write lock and the
        statement go out together in one pipeline ending in one Sync, which PostgreSQL runs
        as one implicit transaction (the lock held until its commit, a failure rolling both
        back).  One round trip instead of four (BEGIN, lock, statement, COMMIT).
        ``flush=False``: the commit doesn't wait for the WAL flush (see ``Store.execute``)."""
        query, args = self.query(sql, parameters)
        self._trace(query, args)
        with self.guard():
            with self.raw.pipeline():
                self.raw.execute(LOCK)
                if not flush:
                    self.raw.execute(NO_FLUSH)
                cursor = self.raw.execute(query, args)
            return cursor

    def pipelined(self, queries: Sequence[tuple[str, Any]]) -> list[Any]:
        """Statements sent together, their cursors in order: one round trip.  The pending
        BEGIN and lock of a write transaction go first; outside one, PostgreSQL runs them as
        one implicit transaction (reads only: a write outside a transaction is a lone write)."""
        with self.guard():
            with self.raw.pipeline():
                if self.pending:
                    self.pending = False
                    self.raw.execute("BEGIN")
                    self.raw.execute(LOCK)
                cursors = []
                for sql, params in queries:
                    query, args = self.query(sql, params)
                    self._trace(query, args)
                    cursors.append(self.raw.execute(query, args))
            return cursors

    def executemany(self, sql: str, parameters: Any, /) -> None:
        rows = [[_param(p) for p in row] for row in parameters]
        if not rows:
            return
        if self.pending:
            self.pipelined([])
        with self.guard(), self.raw.cursor() as cursor:
            cursor.executemany(to_postgres(sql, True), rows)

    def commit(self) -> None:
        self._trace("COMMIT")
        with self.guard():
            self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self._trace("ROLLBACK")
        with self.guard():
            self.raw.execute("ROLLBACK")

    @staticmethod
    def query(sql: str, parameters: Any) -> tuple[str, list[Any] | None]:
        if parameters:
            return to_postgres(sql, True), [_param(p) for p in parameters]
        return to_postgres(sql, False), None

    def _trace(self, statement: str, args: Sequence[Any] | None = None) -> None:
        if self.record is None:
            return
        if args:
            import psycopg

            statement = psycopg.ClientCursor(self.raw).mogrify(statement, args)
        self.record(statement)

    def _run(self, sql: str, parameters: Any) -> Cursor:
        query, args = self.query(sql, parameters)
        self._trace(query, args)
        with self.guard():
            return self.raw.execute(query, args)

    @contextmanager
    def write(self) -> Iterator[None]:
        """BEGIN and the store-wide write lock (held until COMMIT or ROLLBACK), sent with the
        transaction's first statement."""
        self.pending = True
        try:
            yield
        except BaseException:
            if self.pending:  # nothing was sent
                self.pending = False
            elif self.usable:
                with self.guard():
                    self.raw.execute("ROLLBACK")
            raise
        if self.pending:  # no statement: nothing to commit
            self.pending = False
            return
        with self.guard():
            self.raw.execute("COMMIT")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """``write()`` as the store's own transaction, traced as BEGIN … COMMIT."""
        self._trace("BEGIN")
        try:
            with self.write():
                yield
        except BaseException:
            self._trace("ROLLBACK")
            raise
        self._trace("COMMIT")


class PgDDL:
    """What a migration's ``apply`` is given on PostgreSQL: DDL translated as it runs."""

    def __init__(self, conn: PgConnection) -> None:
        self.conn = conn

    def execute(self, sql: str, parameters: Any = ()) -> None:
        for statement in postgres_ddl(sql):
            self.conn.execute(statement, parameters)


def explain(url: str, exc: Exception) -> StorageError:
    return StorageError(
        f"[storage] url {url}: can't connect ({first_line(exc)}); check that PostgreSQL runs"
        f" there and the database exists; its password comes from {PASSWORD_ENV} or PGPASSWORD")


class PostgresStore(Store):
    """The Store API on PostgreSQL."""

    backend = Backend.POSTGRESQL

    def __init__(self, url: str, *, pool_size: int = 4, password: str | None = None) -> None:
        self.path = url
        import psycopg
        import psycopg_pool

        self.url = StorageUrl(Backend.POSTGRESQL, url)
        self.errors = psycopg.Error
        self.pool_timeout = psycopg_pool.PoolTimeout
        self._threads()
        self._password = password
        extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
        if password:
            extra["password"] = password
        try:
            raw = psycopg.connect(url, **extra)
        except psycopg.Error as exc:
            raise explain(url, exc) from None
        self._adopt(raw)
        self.pool_size = pool_size
        # check: a pooled connection is pinged as it is handed out, so one the server ended
        # while it sat idle is replaced instead of failing the read that got it.
        self.pool = psycopg_pool.ConnectionPool(
            url, kwargs=extra, min_size=1, max_size=pool_size, configure=configure,
            check=psycopg_pool.ConnectionPool.check_connection, open=True,
            name="shipbell-read")

    def close(self) -> None:
        self.worker.close()
        self.pool.close()
        with self._opening:
            connections, self._connections = self._connections, []
        for pg in connections:
            pg.raw.close()

    def _adopt(self, raw: psycopg.Connection[Any]) -> PgConnection:
        """Make ``raw`` this thread's connection."""
        configure(raw)
        pg = PgConnection(raw)
        with self._opening:
            self._trace_on(pg, self._record)
            self._connections = [c for c in self._connections if not c.raw.closed] + [pg]
        self._here.conn = pg
        return pg

    @property
    def pg(self) -> PgConnection:
        """This thread's connection (opened, or reopened, by ``live``)."""
        pg: PgConnection | None = self._here.conn
        return pg if pg is not None else self.live()

    def live(self) -> PgConnection:
        """This thread's connection, opened on first use and reopened if it was lost (at
        most once per RECONNECT_EVERY seconds, waiting at most RECONNECT_TIMEOUT);
        StoreUnavailable when the database still can't be reached."""
        pg: PgConnection | None = self._here.conn
        if pg is not None and pg.usable:
            return pg
        now = time.monotonic()
        here = self._here
        if now < here.next_attempt:  # this thread's last try failed a moment ago
            raise StoreUnavailable(here.down or "the database connection was lost")
        here.next_attempt = now + RECONNECT_EVERY
        import psycopg

        extra: dict[str, Any] = {"connect_timeout": RECONNECT_TIMEOUT}
        if self._password:
            extra["password"] = self._password
        try:
            raw = psycopg.connect(self.path, **extra)
        except psycopg.Error as exc:
            here.down = f"can't connect to the database ({first_line(exc)})"
            raise StoreUnavailable(here.down) from None
        here.down = None
        self._here.after_commit.clear()
        if pg is not None:
            log.info("Reconnected to the database")
        return self._adopt(raw)

    # -- schema -----------------------------------------------------------------------------
    def migrate(self, migrations: list[Migration]) -> list[str]:
        raw = self.pg.raw
        raw.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        try:
            raw.execute(MIGRATIONS_TABLE)
            applied = []
            for migration in migrations:
                if self._applied(migration.id):
                    continue
                with self.transaction():
                    migration.apply(PgDDL(self.pg))
                    self.pg.execute(RECORD_MIGRATION, (migration.id, utc_stamp()))
                applied.append(migration.id)
            return applied
        finally:
            if not raw.closed:
                raw.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))

    @property
    def schema_version(self) -> int:
        return int(self.live().execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0])

    # -- queries ----------------------------------------------------------------------------
    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """BEGIN; the write lock; … COMMIT: one writer at a time across every replica."""
        not_on_loop()
        pg = self.live()
        with pg.transaction():
            yield pg

    def _in_transaction(self) -> bool:
        pg: PgConnection | None = self._here.conn
        return pg is not None and pg.in_transaction

    def execute(self, sql: str, params: Any = (), *, flush: bool = True) -> Cursor:
        not_on_loop()
        pg = self.live()
        if flush or pg.in_transaction or not is_write(sql):
            return pg.execute(sql, params)
        return pg.lone_write(sql, params, flush=False)

    def all_of(self, *queries: tuple[str, Any]) -> list[list[dict[str, Any]]]:
        only_reads(queries)
        not_on_loop()
        return [[dict(row) for row in cursor.fetchall()]
                for cursor in self.live().pipelined(queries)]

    @staticmethod
    def _trace_on(conn: Any, record: Callable[[str], None] | None) -> None:
        """``trace`` on PostgreSQL: statements as PostgreSQL runs them (``PgConnection.record``)."""
        conn.record = record

    def reachable(self) -> str | None:
        try:
            self.execute("SELECT 1").fetchone()
        except StoreUnavailable as exc:
            return str(exc)
        except self.errors as exc:
            return first_line(exc)
        return None

    def pool_use(self) -> tuple[int, int] | None:
        stats = self.pool.get_stats()
        return stats["pool_size"] - stats["pool_available"], self.pool_size

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a slow read in a worker thread on a pooled connection, off the event loop."""

        def run() -> T:
            try:
                with self.pool.connection(timeout=POOL_WAIT) as raw:
                    return fn(PgConnection(raw))
            except self.pool_timeout as exc:
                raise StoreUnavailable(
                    f"no database connection within {POOL_WAIT:.0f} s ({first_line(exc)})"
                ) from None

        return await asyncio.to_thread(run)

    # -- copying a whole store (bot.storage.copy) --------------------------------------------
    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees the database as it was at the first one (REPEATABLE READ)."""
        raw = self.live().raw
        raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        try:
            yield
        finally:
            if not raw.closed:
                raw.execute("ROLLBACK")

    def batches(self, sql: str, size: int) -> Iterator[list[Any]]:
        """A server-side cursor: ``size`` rows at a time cross the wire (inside ``snapshot``)."""
        with self.live().raw.cursor(name="shipbell_batches") as cursor:
            cursor.execute(to_postgres(sql, False))
            while rows := cursor.fetchmany(size):
                yield rows
