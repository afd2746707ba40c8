"""The PostgreSQL schemas end-to-end tests get: migrated and empty, reused only unchanged."""

from __future__ import annotations

from conftest import need_postgres
from fakes import postgres
from shipbell.bot.slackdouble.cast import ANA
from shipbell.bot.storage.postgres import PostgresStore

ROW = (f"INSERT INTO audit_log (at, actor, action) VALUES ('2026-11-02T09:00:00Z', '{ANA}',"
       " 'test')")


def count(url: str) -> int:
    store = PostgresStore(url, pool_size=1)
    try:
        return int(store.one("SELECT COUNT(*) AS n FROM audit_log")["n"])  # type: ignore[index]
    finally:
        store.close()


def run(url: str, statement: str) -> None:
    store = PostgresStore(url, pool_size=1)
    try:
        store.execute(statement)
    finally:
        store.close()


def test_a_schema_is_reused_empty_and_a_changed_one_is_dropped() -> None:
    need_postgres()
    with postgres.migrated_schema() as url:
        run(url, ROW)
        assert count(url) == 1
    with postgres.migrated_schema() as again:
        assert again == url, "the schema the last test left is handed on"
        assert count(again) == 0, "emptied"
        run(again, "CREATE INDEX audit_log_actor ON audit_log (actor)")
    with postgres.migrated_schema() as third:
        assert third != url, "a schema whose structure changed is not handed on"
        assert count(third) == 0
