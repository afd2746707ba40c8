"""Opening the configured store: SQLite or PostgreSQL, by the url's scheme."""

from __future__ import annotations

from shipbell.bot.storage.db import Store
from shipbell.bot.storage.postgres import PostgresStore
from shipbell.bot.storage.url import Backend, StorageUrl


def open_store(location: StorageUrl, *, pool_size: int = 4, password: str | None = None) -> Store:
    """The store at ``location``: an SQLite file, or a PostgreSQL database."""
    if location.backend is Backend.SQLITE:
        return Store(location.target)
    return PostgresStore(location.target, pool_size=pool_size, password=password)
