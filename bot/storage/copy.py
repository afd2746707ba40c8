"""Copying a whole store into an empty one: SQLite to PostgreSQL, and back.

``shipbell storage copy --from URL --to URL`` (bot.cli) moves an installation's history:

1. refuse copying a store onto itself, and a source Shipbell's migrations don't know;
2. bring both up to the same schema (the migrations, as start-up applies them);
3. refuse a target that already holds rows (nothing is ever overwritten or merged);
4. read the source in one consistent snapshot, tables in foreign-key order, ``batch`` rows at
   a time, and write them, ids kept, in ONE transaction on the target: a failure anywhere
   leaves the target as empty as it was, and the copy can simply be run again;
5. PostgreSQL: each sequence (if a table has one) is moved past the copied ids; the id
   triggers need nothing, they read max(id) on every insert;
6. count every table on both sides and compare.

The source should be stopped while it is copied: the snapshot is consistent, but rows written
after it are not in the copy (step 6 says so when the source changed meanwhile).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from shipbell.bot.storage.db import StorageError, Store
from shipbell.bot.storage.migrations import Migration
from shipbell.bot.storage.url import Backend, StorageUrl

BATCH = 1000
SKIPPED = ("schema_migrations",)  # the target's own, written by its migrations

# The catalogue, per backend: data tables, and the tables each one's foreign keys reference.
TABLES = {
    Backend.SQLITE: "SELECT name FROM sqlite_master WHERE type = 'table'"
                    " AND name NOT LIKE 'sqlite_%' ORDER BY name",
    Backend.POSTGRESQL: "SELECT table_name AS name FROM information_schema.tables"
                        " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
                        " ORDER BY table_name",
}
REFERENCES = {
    Backend.SQLITE: 'SELECT DISTINCT "table" AS name FROM pragma_foreign_key_list(?)',
    Backend.POSTGRESQL: "SELECT DISTINCT c.confrelid::regclass::text AS name"
                        " FROM pg_constraint c WHERE c.contype = 'f'"
                        " AND c.conrelid = to_regclass(quote_ident(?))",
}
# PostgreSQL sequences owned by a column (none today: ids come from triggers), to be set
# past the copied rows.
SEQUENCES = (
    "SELECT t.relname AS tbl, a.attname AS col,"
    " pg_get_serial_sequence(quote_ident(t.relname), a.attname) AS seq"
    " FROM pg_class t JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0"
    " WHERE t.relkind = 'r' AND t.relnamespace = current_schema()::regnamespace"
    " AND pg_get_serial_sequence(quote_ident(t.relname), a.attname) IS NOT NULL"
)


class CopyRefused(StorageError):
    """A copy that must not start; the message is one sentence saying what would work."""


@dataclass
class CopyReport:
    tables: dict[str, int] = field(default_factory=dict)  # rows copied, in copy order
    source_changed: list[str] = field(default_factory=list)  # tables the source grew in

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


def same_place(a: StorageUrl, b: StorageUrl) -> bool:
    """Two SQLite urls naming one file (through any path spelling or link)."""
    if a.backend is not Backend.SQLITE or b.backend is not Backend.SQLITE:
        return False
    pa, pb = Path(a.target), Path(b.target)
    if pa.exists() and pb.exists():
        return os.path.samefile(pa, pb)
    return pa.resolve() == pb.resolve()


def same_store(source: Store, target: Store) -> bool:
    """Whether two open stores are one database: one SQLite file, or one PostgreSQL database
    and schema (a session advisory lock taken through the source is held on the target's
    server only if they are the same server and database)."""
    if source.backend is not target.backend:
        return False
    if source.backend is Backend.SQLITE:
        return same_place(source.url, target.url)
    key = int.from_bytes(os.urandom(7), "big")
    source.execute("SELECT pg_advisory_lock(?)", (key,))
    try:
        free = target.one("SELECT pg_try_advisory_lock(?) AS got", (key,))
        if free and free["got"]:
            target.execute("SELECT pg_advisory_unlock(?)", (key,))
            return False
    finally:
        source.execute("SELECT pg_advisory_unlock(?)", (key,))
    schema = "SELECT current_schema() AS name"
    return source.one(schema) == target.one(schema)


def tables(store: Store) -> list[str]:
    return [r["name"] for r in store.all(TABLES[store.backend]) if r["name"] not in SKIPPED]


def in_dependency_order(store: Store, names: list[str]) -> list[str]:
    """Tables with every table they reference before them (a self-reference is kept in order
    by copying rows in id order)."""
    needs = {name: {r["name"] for r in store.all(REFERENCES[store.backend], (name,))} - {name}
             for name in names}
    ordered: list[str] = []
    while len(ordered) < len(names):
        ready = [n for n in names if n not in ordered and needs[n] <= set(ordered)]
        if not ready:
            raise CopyRefused(f"the foreign keys between {sorted(set(names) - set(ordered))}"
                              " form a cycle; copy can't order them")
        ordered.extend(ready)
    return ordered


def columns(store: Store, table: str) -> list[str]:
    return [r["name"] for r in store.all(f"PRAGMA table_info({table})")]


def counts(store: Store, names: list[str]) -> dict[str, int]:
    return {name: int(store.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0])
            for name in names}


def applied(store: Store) -> list[str]:
    if "schema_migrations" not in {r["name"] for r in store.all(TABLES[store.backend])}:
        return []
    return [r["id"] for r in store.all("SELECT id FROM schema_migrations ORDER BY version")]


def copy_store(
    source: Store,
    target: Store,
    migrations: list[Migration],
    *,
    batch: int = BATCH,
    say: Callable[[str], None] = print,
) -> CopyReport:
    """Copy every row of ``source`` into the empty ``target`` (see the module's steps)."""
    if same_store(source, target):
        raise CopyRefused(f"{source.url} and {target.url} are the same database; copy into"
                          " a different, empty database")
    unknown = sorted(set(applied(source)) - {m.id for m in migrations})
    if unknown:
        raise CopyRefused(f"{source.url} has migrations this Shipbell doesn't know"
                          f" ({', '.join(unknown)}); run the copy with the Shipbell version"
                          " that wrote it")
    for store, role in ((source, "source"), (target, "target")):
        done = store.migrate(migrations)
        if done:
            say(f"{role}: applied {len(done)} migration(s), schema version"
                f" {store.schema_version}")
    names = in_dependency_order(target, tables(target))
    missing = sorted(set(names) - set(tables(source)))
    if missing:
        raise CopyRefused(f"{source.url} lacks the tables {', '.join(missing)}; is it a"
                          " Shipbell database?")
    held = {name: n for name, n in counts(target, names).items() if n}
    if held:
        listed = ", ".join(f"{name} ({n:,})" for name, n in held.items())
        raise CopyRefused(
            f"{target.url} already holds rows in {listed}; copy only into an empty database"
            " (create a new one, or drop this one's tables) so nothing is overwritten")
    report = CopyReport()
    with source.snapshot(), target.transaction() as conn:
        for name in names:
            cols = columns(target, name)
            listed = ", ".join(cols)
            order = " ORDER BY id" if "id" in cols else ""
            insert = (f"INSERT INTO {name} ({listed})"
                      f" VALUES ({', '.join('?' for _ in cols)})")
            copied = 0
            try:
                for rows in source.batches(f"SELECT {listed} FROM {name}{order}", batch):
                    conn.executemany(insert, [tuple(row) for row in rows])
                    copied += len(rows)
            except Exception as exc:  # a value the target refuses, the connection lost, …
                why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise StorageError(
                    f"copying {name} failed after {copied:,} row(s) ({why}); nothing was"
                    f" written to {target.url}, fix that and run the copy again") from None
            report.tables[name] = copied
            say(f"  {name}: {copied:,} row(s)")
        if target.backend is Backend.POSTGRESQL:
            for seq in target.all(SEQUENCES):
                conn.execute(f"SELECT setval(?, COALESCE((SELECT MAX({seq['col']})"
                             f" FROM {seq['tbl']}), 0) + 1, false)", (seq["seq"],))
    after = counts(target, names)
    wrong = {name: (report.tables[name], n) for name, n in after.items()
             if n != report.tables[name]}
    if wrong:
        raise StorageError(f"{target.url}: row counts differ after the copy ({wrong}); the"
                           " copy is not complete, don't use it")
    now = counts(source, names)
    report.source_changed = [name for name in names if now[name] != report.tables[name]]
    return report
