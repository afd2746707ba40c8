"""The Store contract, on each backend (SQLite file; PostgreSQL schema): what every query in
Shipbell relies on, whichever database holds the data."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Backend, IntegrityError, Store, open_store, parse_url
from shipbell.bot.storage.migrations import sql

OpenStore = Callable[[], Store]
TABLE = sql("zz_contract_0001", """
    CREATE TABLE things (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        state TEXT NOT NULL DEFAULT 'new',
        flag INTEGER NOT NULL DEFAULT 0,
        size REAL,
        blob BLOB
    )""")


def url_of(location: str) -> str:
    return location if "://" in location else f"sqlite:///{location}"


@pytest.fixture
def open_one(store_location: str) -> Iterator[OpenStore]:
    """Open stores on the test's database (each its own connections, like a replica)."""
    opened: list[Store] = []

    def make() -> Store:
        store = open_store(parse_url(url_of(store_location)), pool_size=2)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_one: OpenStore) -> Store:
    s = open_one()
    s.migrate([TABLE])
    return s


def test_insert_returning_id_and_rows_by_name(store: Store) -> None:
    first = store.execute("INSERT INTO things (name, flag) VALUES (?, ?) RETURNING id",
                          ("a", True)).fetchone()
    second = store.execute("INSERT INTO things (name) VALUES (?) RETURNING id", ("b",)).fetchone()
    assert (first[0], second["id"]) == (1, 2)
    row = store.one("SELECT id, name, flag, size FROM things WHERE name = ?", ("a",))
    assert row == {"id": 1, "name": "a", "flag": 1, "size": None}
    assert [r["name"] for r in store.all("SELECT name FROM things ORDER BY id")] == ["a", "b"]


def test_text_with_a_nul_is_stored_on_every_backend(store: Store) -> None:
    """PostgreSQL's text can't hold NUL: a forged request's text still stores (U+FFFD in its
    place there), rather than failing the request."""
    store.execute("INSERT INTO things (name) VALUES (?)", ("ti\x00tle",))
    row = store.one("SELECT name FROM things")
    assert row is not None and row["name"] in ("ti\x00tle", "ti\ufffdtle")
    assert (row["name"] == "ti\ufffdtle") == (store.url.backend == "postgresql")


def test_ids_have_no_gaps_after_conflicts_or_rollbacks(store: Store) -> None:
    """A new row's id is max(id) + 1: a skipped duplicate or a rolled-back insert uses none
    (incident numbers are shown to people and must run INC-1, INC-2, …)."""
    store.execute("INSERT INTO things (name) VALUES (?)", ("a",))
    skipped = store.execute("INSERT INTO things (name) VALUES (?) ON CONFLICT DO NOTHING"
                            " RETURNING id", ("a",)).fetchone()
    assert skipped is None
    with pytest.raises(RuntimeError), store.transaction() as conn:
        conn.execute("INSERT INTO things (name) VALUES (?)", ("gone",))
        raise RuntimeError("rolled back")
    row = store.execute("INSERT INTO things (name) VALUES (?) RETURNING id", ("b",)).fetchone()
    assert row[0] == 2


def test_unique_conflict_is_the_store_integrity_error(store: Store) -> None:
    store.execute("INSERT INTO things (name) VALUES (?)", ("a",))
    with pytest.raises(IntegrityError), store.transaction() as conn:
        conn.execute("INSERT INTO things (name) VALUES (?)", ("a",))
    assert isinstance(IntegrityError("x"), sqlite3.IntegrityError)
    # the transaction rolled back; the store is usable again
    store.execute("INSERT INTO things (name) VALUES (?)", ("b",))
    assert store.one("SELECT COUNT(*) AS n FROM things") == {"n": 2}


def test_rollback_drops_rows_and_after_commit_hooks(store: Store) -> None:
    ran: list[str] = []
    with pytest.raises(ValueError), store.transaction() as conn:
        conn.execute("INSERT INTO things (name) VALUES (?)", ("a",))
        store.after_commit(lambda: ran.append("rolled back"))
        raise ValueError("no")
    assert store.all("SELECT * FROM things") == [] and ran == []
    with store.transaction() as conn:
        conn.execute("INSERT INTO things (name) VALUES (?)", ("b",))
        store.after_commit(lambda: ran.append("committed"))
        assert ran == []  # not before the commit
    assert ran == ["committed"]
    store.after_commit(lambda: ran.append("at once"))  # no transaction open: runs now
    assert ran == ["committed", "at once"]


def test_compare_and_set_and_rowcount(store: Store) -> None:
    store.execute("INSERT INTO things (name) VALUES (?)", ("a",))
    moved = store.execute("UPDATE things SET state = ? WHERE name = ? AND state = ?",
                          ("done", "a", "new"))
    again = store.execute("UPDATE things SET state = ? WHERE name = ? AND state = ?",
                          ("done", "a", "new"))
    assert (moved.rowcount, again.rowcount) == (1, 0)


def test_literals_with_percent_and_question_marks_stay_literal(store: Store) -> None:
    store.execute("INSERT INTO things (name, state) VALUES (?, '100% sure?')", ("a",))
    assert store.one("SELECT state FROM things WHERE name = ? AND state LIKE '100%'",
                     ("a",)) == {"state": "100% sure?"}


def test_sums_reals_and_blobs_come_back_as_on_sqlite(store: Store) -> None:
    store.execute("INSERT INTO things (name, flag, size, blob) VALUES (?, ?, ?, ?)",
                  ("a", 1, 1.5, b"\x00\xff"))
    store.execute("INSERT INTO things (name, flag, size) VALUES (?, ?, ?)", ("b", 1, 0.25))
    row = store.one("SELECT SUM(flag) AS n, SUM(size) AS s FROM things")
    assert row == {"n": 2, "s": 1.75}
    assert type(row["n"]) is int and type(row["s"]) is float  # type: ignore[index]
    assert store.one("SELECT blob FROM things WHERE name = 'a'") == {"blob": b"\x00\xff"}


def test_text_orders_bytewise(store: Store) -> None:
    for name in ("b", "B", "a", "_", "Z"):
        store.execute("INSERT INTO things (name) VALUES (?)", (name,))
    assert [r["name"] for r in store.all("SELECT name FROM things ORDER BY name")] == [
        "B", "Z", "_", "a", "b"]


def test_fifty_racers_check_then_insert_once(open_one: OpenStore) -> None:
    """Fifty threads, five stores (processes' worth of connections), one check-then-insert:
    the write transaction serialises them, so exactly one inserts."""
    stores = [open_one() for _ in range(5)]
    stores[0].migrate([TABLE])
    locks = [threading.Lock() for _ in stores]  # a store's connection serves one thread
    start = threading.Barrier(50)

    def race(n: int) -> bool:
        start.wait()
        with locks[n % 5]:
            store = stores[n % 5]
            with store.transaction() as conn:
                if conn.execute("SELECT id FROM things WHERE state = 'running'").fetchone():
                    return False
                conn.execute("INSERT INTO things (name, state) VALUES (?, 'running')", (str(n),))
                return True

    with ThreadPoolExecutor(50) as pool:
        won = list(pool.map(race, range(50)))
    assert won.count(True) == 1
    assert stores[1].one("SELECT COUNT(*) AS n FROM things") == {"n": 1}


def test_lone_writes_race_serialised_flushed_or_not(open_one: OpenStore) -> None:
    """Writes outside a transaction, from fifty threads over five stores, half of them not
    awaiting the flush: each holds the write lock, so every new id is max(id) + 1, once, with
    no conflict; a flush=False write is committed (another store reads it) and leaves the
    connection's settings as they were."""
    stores = [open_one() for _ in range(5)]
    stores[0].migrate([TABLE])
    locks = [threading.Lock() for _ in stores]
    start = threading.Barrier(50)

    def insert(n: int) -> int:
        start.wait()
        with locks[n % 5]:
            return int(stores[n % 5].execute(
                "INSERT INTO things (name) VALUES (?) RETURNING id", (str(n),),
                flush=n % 2 == 0).fetchone()[0])

    with ThreadPoolExecutor(50) as pool:
        ids = list(pool.map(insert, range(50)))
    assert sorted(ids) == list(range(1, 51))
    assert stores[1].one("SELECT COUNT(*) AS n FROM things") == {"n": 50}
    if stores[0].backend is Backend.POSTGRESQL:
        assert stores[0].one("SHOW synchronous_commit") == {"synchronous_commit": "on"}


def test_reads_together_come_back_in_order(store: Store) -> None:
    store.execute("INSERT INTO things (name, flag) VALUES (?, ?)", ("a", 1))
    store.execute("INSERT INTO things (name) VALUES (?)", ("b",))
    named, none, flagged = store.all_of(
        ("SELECT name FROM things WHERE name = ?", ("b",)),
        ("SELECT name FROM things WHERE name = ?", ("zz",)),
        ("SELECT name, flag FROM things WHERE flag = ? ORDER BY name", (1,)))
    assert (named, none, flagged) == ([{"name": "b"}], [], [{"name": "a", "flag": 1}])
    with pytest.raises(ValueError, match="for reads"):
        store.all_of(("DELETE FROM things", ()))
    assert store.one("SELECT COUNT(*) AS n FROM things") == {"n": 2}


def test_migrations_apply_once_and_are_idempotent(open_one: OpenStore) -> None:
    store = open_one()
    applied = store.migrate(all_migrations())
    assert applied == [m.id for m in all_migrations()]
    assert store.migrate(all_migrations()) == []
    assert store.schema_version == len(applied)
    assert open_one().migrate([*all_migrations(), TABLE]) == ["zz_contract_0001"]


def test_failed_migration_leaves_nothing_behind(open_one: OpenStore) -> None:
    store = open_one()
    broken = sql("zz_broken", "CREATE TABLE half (x INTEGER); CREATE TABLE half (y INTEGER)")
    with pytest.raises(Exception, match="already exists"):
        store.migrate([TABLE, broken])
    assert store.one("SELECT id FROM schema_migrations WHERE id = 'zz_broken'") is None
    store.execute("INSERT INTO things (name) VALUES ('ok')")  # the migration before it stays
    with pytest.raises(Exception, match="half"):
        store.execute("SELECT * FROM half")


def test_replicas_starting_together_apply_migrations_once(open_one: OpenStore) -> None:
    """Four stores migrate the same empty database at once: each migration is applied by
    exactly one of them, and all of them end with the whole schema."""
    stores = [open_one() for _ in range(4)]
    start = threading.Barrier(len(stores))

    def boot(store: Store) -> list[str]:
        start.wait()
        return store.migrate(all_migrations())

    with ThreadPoolExecutor(len(stores)) as pool:
        results = list(pool.map(boot, stores))
    everything = [m.id for m in all_migrations()]
    assert sorted(i for applied in results for i in applied) == sorted(everything)
    assert all(s.schema_version == len(everything) for s in stores)


async def test_read_runs_off_the_loop_and_sees_committed_rows(store: Store) -> None:
    store.execute("INSERT INTO things (name) VALUES (?)", ("a",))
    loop_thread = threading.get_ident()

    def query(conn):  # type: ignore[no-untyped-def]
        return threading.get_ident(), conn.execute("SELECT COUNT(*) FROM things").fetchone()[0]

    thread, count = await store.read(query)
    assert thread != loop_thread and count == 1


async def test_a_worker_thread_can_write_in_its_own_transaction(store: Store) -> None:
    def write(conn):  # type: ignore[no-untyped-def]
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT INTO things (name) VALUES (?) ON CONFLICT DO NOTHING",
                         [("a",), ("b",), ("a",)])
        conn.commit()

    await store.read(write)
    assert store.one("SELECT COUNT(*) AS n FROM things") == {"n": 2}


def test_ping(store: Store) -> None:
    assert store.ping()
