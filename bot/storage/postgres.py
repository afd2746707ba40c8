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
    utc_stamp,
)
from shipbell.bot.storage.dialect import is_write, postgres_ddl, to_postgres
from shipbell.bot.storage.migrations import Migration
from shipbell.bot.storage.url import PASSWORD_ENV, Backend, StorageUrl

if TYPE_CHECKING:
    import psycopg

T = TypeVar("T")
log = logging.getLogger(__name__)

# Advisory lock keys (any 64-bit numbers, the same in every replica).
WRITE_LOCK = 0x5348_4950_4245_4C01  # "SHIPBEL" 1: every write transaction
MIGRATION_LOCK = 0x5348_4950_4245_4C02  # applying migrations
CONNECT_TIMEOUT = 10
BEGIN_WRITE = "BEGIN IMMEDIATE"  # SQLite's "a write transaction": BEGIN, then the write lock


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
    return int(value) if isinstance(value, bool) else value  # booleans are stored as 0/1


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

    @property
    def in_transaction(self) -> bool:
        return self.raw.info.transaction_status != self.idle

    def execute(self, sql: str, parameters: Any = (), /) -> Cursor:
        if sql == BEGIN_WRITE:  # a worker thread's own write transaction
            self._trace("BEGIN")
            self.raw.execute("BEGIN")
            return self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
        if not self.in_transaction and is_write(sql):
            with self.write():
                return self._run(sql, parameters)
        return self._run(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> None:
        rows = [[_param(p) for p in row] for row in parameters]
        if not rows:
            return
        with self.raw.cursor() as cursor:
            try:
                cursor.executemany(to_postgres(sql, True), rows)
            except self.conflict as exc:
                raise PostgresIntegrityError(str(exc).strip()) from exc

    def commit(self) -> None:
        self._trace("COMMIT")
        self.raw.execute("COMMIT")

    def rollback(self) -> None:
        self._trace("ROLLBACK")
        self.raw.execute("ROLLBACK")

    def _trace(self, statement: str, args: Sequence[Any] | None = None) -> None:
        if self.record is None:
            return
        if args:
            import psycopg

            statement = psycopg.ClientCursor(self.raw).mogrify(statement, args)
        self.record(statement)

    def _run(self, sql: str, parameters: Any) -> Cursor:
        if parameters:
            query, args = to_postgres(sql, True), [_param(p) for p in parameters]
        else:
            query, args = to_postgres(sql, False), None
        self._trace(query, args)
        try:
            return self.raw.execute(query, args)
        except self.conflict as exc:
            raise PostgresIntegrityError(str(exc).strip()) from exc

    @contextmanager
    def write(self) -> Iterator[None]:
        """BEGIN, then the store-wide write lock (held until COMMIT or ROLLBACK)."""
        self.raw.execute("BEGIN")
        try:
            self.raw.execute("SELECT pg_advisory_xact_lock(%s)", (WRITE_LOCK,))
            yield
        except BaseException:
            if not self.raw.closed:
                self.raw.execute("ROLLBACK")
            raise
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
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StorageError(
        f"[storage] url {url}: can't connect ({first}); check that PostgreSQL runs there and"
        f" the database exists; its password comes from {PASSWORD_ENV} or PGPASSWORD")


class PostgresStore(Store):
    """The Store API on PostgreSQL."""

    backend = Backend.POSTGRESQL

    def __init__(self, url: str, *, pool_size: int = 4, password: str | None = None) -> None:
        self.path = url
        import psycopg
        import psycopg_pool

        self.url = StorageUrl(Backend.POSTGRESQL, url)
        self.errors = psycopg.Error
        self._after_commit: list[Callable[[], None]] = []
        extra: dict[str, Any] = {"connect_timeout": CONNECT_TIMEOUT}
        if password:
            extra["password"] = password
        try:
            raw = psycopg.connect(url, **extra)
        except psycopg.Error as exc:
            raise explain(url, exc) from None
        configure(raw)
        self.pg = PgConnection(raw)
        self.pool = psycopg_pool.ConnectionPool(
            url, kwargs=extra, min_size=1, max_size=pool_size, configure=configure,
            open=True, name="shipbell-read")

    def close(self) -> None:
        self.pool.close()
        self.pg.raw.close()

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
        return int(self.pg.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0])

    # -- queries ----------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """BEGIN; the write lock; … COMMIT: one writer at a time across every replica."""
        try:
            with self.pg.transaction():
                yield self.pg
        except BaseException:
            self._after_commit.clear()
            raise
        hooks, self._after_commit = self._after_commit, []
        for hook in hooks:
            hook()

    def after_commit(self, hook: Callable[[], None]) -> None:
        if self.pg.in_transaction:
            self._after_commit.append(hook)
        else:
            hook()

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        return self.pg.execute(sql, params)

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        row = self.pg.execute(sql, params).fetchone()
        return dict(row) if row is not None else None

    def all(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return [dict(row) for row in self.pg.execute(sql, params)]

    @contextmanager
    def trace(self, record: Callable[[str], None]) -> Iterator[None]:
        """Hand ``record`` each statement the store runs on its own connection meanwhile,
        with its values written in, as PostgreSQL runs it (see ``PgConnection.record``)."""
        self.pg.record = record
        try:
            yield
        finally:
            self.pg.record = None

    def ping(self) -> bool:
        try:
            return bool(self.pg.execute("SELECT 1").fetchone()[0] == 1)
        except self.errors:
            return False

    async def read(self, fn: Callable[[Connection], T]) -> T:
        """Run a slow read in a worker thread on a pooled connection, off the event loop."""

        def run() -> T:
            with self.pool.connection() as raw:
                return fn(PgConnection(raw))

        return await asyncio.to_thread(run)
