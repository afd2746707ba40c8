"""Storage: SQLite (one file, WAL) or PostgreSQL behind one Store API; ordered migrations."""

from shipbell.bot.storage.backends import open_store
from shipbell.bot.storage.db import Connection, Cursor, IntegrityError, Store, StoreUnavailable
from shipbell.bot.storage.url import Backend, StorageUrl, parse_url
from shipbell.bot.storage.worker import LoopBlocked, allow_loop

__all__ = [
           "Backend",
           "Connection",
           "Cursor",
           "IntegrityError",
           "LoopBlocked",
           "StorageUrl",
           "Store",
           "StoreUnavailable",
           "allow_loop",
           "open_store",
           "parse_url",
]
