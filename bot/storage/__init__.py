"""SQLite storage: one file, WAL, foreign keys, ordered migrations."""

from bot.storage.db import Store

__all__ = ["Store"]
