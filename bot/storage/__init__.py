"""SQLite storage: one file, WAL, foreign keys, ordered migrations."""

from shipbell.bot.storage.db import Store

__all__ = ["Store"]
