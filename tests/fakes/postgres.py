"""The test PostgreSQL: where it is, whether it answers, and a fresh schema per test.

``SHIPBELL_TEST_POSTGRES_URL`` names the server (default postgresql://postgres@127.0.0.1:5432/test,
the machine's trust-auth database).  Each test gets its own schema in that database (its url
sets ``search_path``); nothing is shared between tests.  When the server does not answer,
PostgreSQL tests skip with ``SKIP_PREFIX`` in their reason, and conftest prints one line
saying how many skipped and why.

Two kinds of schema:

- ``fresh_schema``: new and empty, dropped afterwards (the store contract tests, which
  migrate it themselves);
- ``migrated_schema``: Shipbell's whole schema, with no rows (the end-to-end tests, whose
  Shipbell then finds every migration applied, as a restarted replica does).  Applying the
  migrations costs about half a second and dropping a schema a third, against a few
  milliseconds to empty one, so a schema a test leaves is emptied and handed to the next test
  instead, if its tables, columns, indexes, constraints, triggers, functions and applied
  migrations are still exactly those of a freshly migrated one (a test that added a trigger
  and left it gets its schema dropped instead).  The pool is dropped when the session ends.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

if TYPE_CHECKING:
    import psycopg

URL_ENV = "SHIPBELL_TEST_POSTGRES_URL"
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
BACKENDS_ENV = "SHIPBELL_TEST_BACKENDS"  # which backends the end-to-end fixture runs on
SKIP_PREFIX = "PostgreSQL unavailable"


def base_url() -> str:
    return os.environ.get(URL_ENV) or DEFAULT_URL


@cache
def unavailable() -> str | None:
    """Why PostgreSQL tests can't run here (None: they can)."""
    try:
        import psycopg
    except ImportError as exc:  # pragma: no cover - a dependency, normally installed
        return f"{SKIP_PREFIX}: psycopg not importable ({exc})"
    try:
        with psycopg.connect(base_url(), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return f"{SKIP_PREFIX}: {shown(base_url())} does not answer ({first}); set {URL_ENV}"
    return None


def shown(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(query=""))


def with_search_path(url: str, schema: str) -> str:
    parts = urlsplit(url)
    option = "options=" + quote(f"-csearch_path={schema}")
    query = f"{parts.query}&{option}" if parts.query else option
    return urlunsplit(parts._replace(query=query))


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A url whose connections live in a new, empty schema; dropped on exit."""
    schema = _create()
    try:
        yield with_search_path(base_url(), schema)
    finally:
        _drop(schema)


@contextmanager
def migrated_schema() -> Iterator[str]:
    """A url whose connections live in a schema holding Shipbell's migrated, empty tables;
    emptied for the next test on exit, or dropped if the test changed its structure."""
    _reference()  # the first migrated schema, measured, then the pool's first
    schema = _POOL.pop() if _POOL else _migrated()
    try:
        yield with_search_path(base_url(), schema)
    finally:
        if _reusable(schema):
            _POOL.append(schema)
        else:
            _drop(schema)


def drop_pool() -> None:
    """Drop the schemas kept for reuse (at the end of the test session)."""
    while _POOL:
        _drop(_POOL.pop())
    if _ADMIN:
        _ADMIN.pop().close()


_POOL: list[str] = []  # migrated, empty schemas ready for the next test
_ADMIN: list[psycopg.Connection[Any]] = []  # one connection creating, emptying, dropping
_SHAPE = """
SELECT md5(string_agg(x, ',' ORDER BY x)) FROM (
  SELECT 'col ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
         || ' ' || a.attnotnull || ' ' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '')
  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
  LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE c.relnamespace = %(s)s::regnamespace AND a.attnum > 0 AND NOT a.attisdropped
  UNION ALL SELECT 'rel ' || relname || ' ' || relkind::text FROM pg_class
  WHERE relnamespace = %(s)s::regnamespace
  UNION ALL SELECT 'con ' || conname || ' ' || pg_get_constraintdef(oid) FROM pg_constraint
  WHERE connamespace = %(s)s::regnamespace
  UNION ALL SELECT 'trg ' || tgname || ' ' || pg_get_triggerdef(t.oid) FROM pg_trigger t
  JOIN pg_class c ON c.oid = t.tgrelid WHERE c.relnamespace = %(s)s::regnamespace
  UNION ALL SELECT 'fn ' || proname || ' ' || md5(prosrc) FROM pg_proc
  WHERE pronamespace = %(s)s::regnamespace
) AS shape(x)
"""


def _admin() -> psycopg.Connection[Any]:
    import psycopg

    if not _ADMIN or _ADMIN[0].closed:
        _ADMIN[:] = [psycopg.connect(base_url(), autocommit=True)]
        _ADMIN[0].execute("SET lock_timeout = '10s'")  # a Shipbell left running: drop, not hang
    return _ADMIN[0]


def _create() -> str:
    schema = f"t_{secrets.token_hex(6)}"
    _admin().execute(f"CREATE SCHEMA {schema}")
    return schema


def _drop(schema: str) -> None:
    _admin().execute(f"DROP SCHEMA {schema} CASCADE")


@cache
def _reference() -> tuple[str, tuple[str, ...]]:
    """A freshly migrated schema's shape and its tables, children before parents (the order
    in which rows can be deleted without breaking a foreign key)."""
    schema = _migrated()
    _POOL.append(schema)
    return _shape(schema), _delete_order(schema)


def _migrated() -> str:
    from shipbell.bot.schema import all_migrations
    from shipbell.bot.storage.postgres import PostgresStore

    schema = _create()
    store = PostgresStore(with_search_path(base_url(), schema), pool_size=1)
    try:
        store.migrate(all_migrations())
    finally:
        store.close()
    return schema


def _shape(schema: str) -> str:
    conn = _admin()
    (shape,) = conn.execute(_SHAPE, {"s": schema}).fetchone() or ("",)
    migrations = conn.execute(
        f"SELECT string_agg(id, ',' ORDER BY id) FROM {schema}.schema_migrations").fetchone()
    return f"{shape} {migrations}"


def _delete_order(schema: str) -> tuple[str, ...]:
    conn = _admin()
    tables = [r[0] for r in conn.execute(
        "SELECT tablename FROM pg_tables WHERE schemaname = %s"
        " AND tablename <> 'schema_migrations' ORDER BY tablename", (schema,))]
    parents: dict[str, set[str]] = {t: set() for t in tables}
    for child, parent in conn.execute(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint"
            " WHERE contype = 'f' AND connamespace = %s::regnamespace", (schema,)):
        child, parent = child.rsplit(".", 1)[-1], parent.rsplit(".", 1)[-1]
        if child != parent:
            parents[child].add(parent)
    order: list[str] = []
    while parents:  # a parent goes after every table referring to it
        leaves = sorted(t for t in parents if not any(t in p for p in parents.values()))
        assert leaves, f"foreign keys in a cycle: {parents}"
        order += leaves
        for t in leaves:
            del parents[t]
    return tuple(order)


def _reusable(schema: str) -> bool:
    """Empty the schema if its structure is still a freshly migrated one's (else False)."""
    import psycopg

    shape, order = _reference()
    try:
        if _shape(schema) != shape:
            return False
        with _admin().transaction():
            for table in order:
                _admin().execute(f"DELETE FROM {schema}.{table}")
    except psycopg.Error:
        return False
    return True


def e2e_backends() -> list[str]:
    """The backends the end-to-end fixture runs on: both unless SHIPBELL_TEST_BACKENDS names
    some (``sqlite`` for a quick run); without a reachable PostgreSQL its half skips."""
    raw = os.environ.get(BACKENDS_ENV, "sqlite,postgresql")
    return [name.strip() for name in raw.split(",") if name.strip()]


@contextmanager
def fresh_database() -> Iterator[str]:
    """A url to a new, empty database on the test server; dropped on exit (its connections
    closed first).  For tests of several processes, each with its own pool: a database of its
    own is what a deployment has, search_path and all."""
    import psycopg

    name = f"shipbell_t_{secrets.token_hex(6)}"
    with psycopg.connect(base_url(), autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(urlsplit(base_url())._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(base_url(), autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
