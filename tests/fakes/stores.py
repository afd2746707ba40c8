"""A migrated store on the backend a test runs on, for tests that query the store directly."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Connection, Store, open_store, parse_url
from shipbell.bot.storage.postgres import PostgresStore

from fakes import postgres

OpenStore = Callable[[str], Store]


@contextmanager
def stores(backend: str, folder: Path) -> Iterator[OpenStore]:
    """Open migrated stores by name (an SQLite file in ``folder``, or a PostgreSQL schema);
    every one is closed on exit."""
    with ExitStack() as stack:

        def make(name: str) -> Store:
            if backend == "postgresql":
                url = stack.enter_context(postgres.migrated_schema())
            else:
                url = f"sqlite:///{folder / name}"
            store = open_store(parse_url(url), pool_size=2)
            stack.callback(store.close)
            store.migrate(all_migrations())
            return store

        yield make


def conn_of(store: Store) -> Connection:
    """The store's own connection, as the digest's queries take it, on either backend."""
    return store.pg if isinstance(store, PostgresStore) else store.conn
