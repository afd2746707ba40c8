"""The test PostgreSQL: where it is, whether it answers, and a fresh schema per test.

``SHIPBELL_TEST_POSTGRES_URL`` names the server (default postgresql://postgres@127.0.0.1:5432/test,
the machine's trust-auth database).  Each test gets its own schema in that database (its url
sets ``search_path``), dropped afterwards; nothing is shared between tests.  When the server
does not answer, PostgreSQL tests skip with ``SKIP_PREFIX`` in their reason, and conftest
prints one line saying how many skipped and why.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from urllib.parse import quote, urlsplit, urlunsplit

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
    import psycopg

    schema = f"t_{secrets.token_hex(6)}"
    with psycopg.connect(base_url(), autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield with_search_path(base_url(), schema)
    finally:
        with psycopg.connect(base_url(), autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def e2e_backends() -> list[str]:
    """The backends the end-to-end fixture runs on: sqlite unless SHIPBELL_TEST_BACKENDS says."""
    raw = os.environ.get(BACKENDS_ENV, "sqlite")
    return [name.strip() for name in raw.split(",") if name.strip()]
