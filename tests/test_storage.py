"""Storage: pragmas, ordered idempotent migrations, slow reads off the event loop, hooks."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store
from shipbell.bot.storage.migrations import sql

# The SQLite file itself: its pragmas (WAL, foreign keys), DDL in its transactions, a worker
# thread's own connection to the file.  The same promises on both backends (migrations once,
# in order, all or nothing; reads off the event loop) are in test_store_contract.py.
pytestmark = pytest.mark.sqlite_only("SQLite's file, pragmas and connections")


def test_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    assert store.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.execute("PRAGMA foreign_keys").fetchone()[0] == 1


def test_migrations_apply_once_in_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    applied = store.migrate(all_migrations())
    assert applied == [m.id for m in all_migrations()]
    assert store.schema_version == len(applied)
    assert store.migrate(all_migrations()) == []
    extra = sql("zz_test_0001", "CREATE TABLE extra (x INTEGER)")
    assert store.migrate([*all_migrations(), extra]) == ["zz_test_0001"]
    assert store.schema_version == len(applied) + 1


def test_failed_migration_leaves_nothing_behind(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.migrate(all_migrations())
    broken = sql("zz_broken", "CREATE TABLE half (x INTEGER); CREATE TABLE half (y INTEGER)")
    with pytest.raises(sqlite3.OperationalError, match="already exists"):
        store.migrate([*all_migrations(), broken])
    assert store.one("SELECT name FROM sqlite_master WHERE name = 'half'") is None
    assert store.one("SELECT id FROM schema_migrations WHERE id = 'zz_broken'") is None


async def test_read_runs_in_a_worker_thread(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    store.migrate(all_migrations())
    loop_thread = threading.get_ident()

    def query(conn):  # type: ignore[no-untyped-def]
        return threading.get_ident(), conn.execute("SELECT COUNT(*) FROM deploys").fetchone()[0]

    thread, count = await store.read(query)
    assert thread != loop_thread and count == 0


def test_after_rollback_runs_only_when_the_transaction_rolls_back(tmp_path: Path) -> None:
    store = Store(tmp_path / "s.db")
    seen: list[str] = []
    store.after_rollback(lambda: seen.append("no transaction"))  # nothing to roll back
    with store.transaction():
        store.after_rollback(lambda: seen.append("committed"))
    with pytest.raises(RuntimeError), store.transaction():
        store.after_rollback(lambda: seen.append("rolled back"))
        store.after_commit(lambda: seen.append("started"))
        raise RuntimeError("the change failed")
    with store.transaction():
        pass  # nothing left over from the transactions before
    assert seen == ["rolled back"]
