"""`shipbell storage copy`: a real SQLite installation into a real PostgreSQL and back, every
row and the digest's figures unchanged; refusals that leave both stores as they were."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import need_postgres
from fakes import postgres
from fakes.history import seed_history
from shipbell.bot.cli import main
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.dora.metrics import Digest
from shipbell.bot.dora.text import to_text
from shipbell.bot.schema import all_migrations
from shipbell.bot.slackdouble.cast import ANA, METRICS
from shipbell.bot.storage import Connection, Store, open_store, parse_url
from shipbell.bot.storage.copy import tables
from test_digest_reference import PARIS, POSTED, seed_reference

CFG = DigestSettings(timezone="Europe/Paris")


@pytest.fixture
def pg_url() -> Iterator[str]:
    need_postgres()
    with postgres.fresh_schema() as url:
        yield url


def installation(tmp_path: Path) -> Store:
    """An SQLite installation with the digest's reference data, a year of history (several
    copy batches) and rows in the other tables: a blob, unicode, NULLs, quotes."""
    store = Store(tmp_path / "reference.db")
    store.migrate(all_migrations())
    seed_reference(store)
    seed_history(store.conn, deploys=2500, incidents=40, services=["api", "web"],
                 envs=["production", "staging"], end=datetime(2026, 11, 1, tzinfo=UTC))
    store.execute("INSERT INTO audit_log (at, actor, action, subject, detail)"
                  f" VALUES ('2026-11-20T10:00:00', '{ANA}', 'lock', 'api/prod', ?)",
                  ("l'équipe 🚀 100% ?",))
    store.execute("INSERT INTO digest_posts (day, channel, summary, details, chart,"
                  " created_at)"
                  f" VALUES ('2026-11-25', '{METRICS}', 's', 'd', ?, '2026-11-25T08:00:00')",
                  (bytes(range(256)),))
    store.execute("INSERT INTO idempotency_keys (key, created_at) VALUES ('event:Ev1', 'x')")
    store.execute("INSERT INTO tasks (kind, payload, status, created_at, updated_at)"
                  " VALUES ('slack.call', '{}', 'done', 'x', 'x')")
    return store


def digest(conn: Connection) -> Digest:
    return build_digest(conn, CFG, PARIS, POSTED, trend=True)


def rows(store: Store) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, in a backend-independent order."""
    return {name: sorted((tuple(r.values()) for r in store.all(f"SELECT * FROM {name}")),
                         key=repr) for name in tables(store)}


def copy(capsys: pytest.CaptureFixture[str], source: str, target: str) -> tuple[int, str, str]:
    code = main(["storage", "copy", "--from", source, "--to", target])
    out = capsys.readouterr()
    return code, out.out, out.err


def opened(url: str) -> Store:
    return open_store(parse_url(url), pool_size=1)


async def test_sqlite_to_postgresql_and_back_keeps_every_row_and_the_digest(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    original = installation(tmp_path)
    before, everything = digest(original.conn), rows(original)
    original.close()
    source = f"sqlite:///{tmp_path / 'reference.db'}"

    code, out, err = copy(capsys, source, pg_url)
    assert (code, err) == (0, ""), err
    assert "  deploys: 2,514 row(s)" in out and "  deploy_events: 2,500 row(s)" in out
    assert out.index("  deploys:") < out.index("  deploy_events:")  # foreign keys first
    assert "every table's row count matches the source" in out
    pg = opened(pg_url)
    try:
        on_pg = await pg.read(digest)
        assert on_pg == before and to_text(on_pg) == to_text(before)
        assert rows(pg) == everything
        # New rows continue after the copied ids (the id trigger reads max(id)).
        top = pg.one("SELECT MAX(id) AS n FROM incidents")
        new = pg.execute("INSERT INTO incidents (title, severity, status, reporter,"
                         f" declared_at) VALUES ('x', 2, 'open', '{ANA}', 'x') RETURNING id")
        assert top is not None and new.fetchone()[0] == top["n"] + 1
        pg.execute(f"DELETE FROM incidents WHERE title = 'x' AND reporter = '{ANA}'"
                   " AND declared_at = 'x'")
    finally:
        pg.close()

    back = f"sqlite:///{tmp_path / 'back.db'}"
    code, out, err = copy(capsys, pg_url, back)
    assert (code, err) == (0, ""), err
    returned = opened(back)
    try:
        assert digest(returned.conn) == before
        assert rows(returned) == everything
    finally:
        returned.close()


def test_a_target_holding_rows_is_refused_and_left_alone(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    installation(tmp_path).close()
    source = f"sqlite:///{tmp_path / 'reference.db'}"
    assert copy(capsys, source, pg_url)[0] == 0
    pg = opened(pg_url)
    held = rows(pg)
    code, out, err = copy(capsys, source, pg_url)
    assert code == 2 and "row(s)" not in out
    assert err.count("\n") == 1
    assert "already holds rows in audit_log (1), deploys (2,514)" in err, err
    assert "copy only into an empty database" in err
    assert rows(pg) == held
    pg.close()


@pytest.mark.parametrize("spelling", ["same", "relative"])
def test_copying_a_store_onto_itself_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    spelling: str
) -> None:
    installation(tmp_path).close()
    monkeypatch.chdir(tmp_path)
    source = f"sqlite:///{tmp_path / 'reference.db'}"
    target = source if spelling == "same" else "sqlite:///./reference.db"
    code, _out, err = copy(capsys, source, target)
    assert code == 2 and err.count("\n") == 1
    assert "are the same database; copy into a different, empty database" in err


def test_copying_a_postgresql_store_onto_itself_is_refused(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same database and schema, reached through a different spelling of the url."""
    store = opened(pg_url)
    store.migrate(all_migrations())
    store.close()
    other = pg_url.replace("127.0.0.1", "localhost")
    assert other != pg_url
    code, _out, err = copy(capsys, pg_url, other)
    assert code == 2 and "are the same database" in err, err
    with postgres.fresh_schema() as elsewhere:  # same server and database, another schema
        assert copy(capsys, pg_url, elsewhere)[0] == 0


def test_a_value_the_target_refuses_rolls_the_whole_copy_back(
    tmp_path: Path, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """SQLite keeps 'high' in an INTEGER column; PostgreSQL refuses it: one line naming the
    table, and the target holds nothing (the tables copied before it were rolled back)."""
    store = installation(tmp_path)
    store.execute("UPDATE incidents SET severity = 'high' WHERE id = 1")
    store.close()
    source = f"sqlite:///{tmp_path / 'reference.db'}"
    code, _out, err = copy(capsys, source, pg_url)
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err
    assert "copying incidents failed after 0 row(s)" in err and "run the copy again" in err
    pg = opened(pg_url)
    assert all(not r for r in rows(pg).values())
    pg.close()
    fixed = Store(tmp_path / "reference.db")
    fixed.execute("UPDATE incidents SET severity = 2 WHERE id = 1")
    fixed.close()
    assert copy(capsys, source, pg_url)[0] == 0


def test_a_missing_source_file_is_refused_without_creating_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = copy(capsys, f"sqlite:///{tmp_path / 'nope.db'}",
                        f"sqlite:///{tmp_path / 'to.db'}")
    assert code == 2 and "is not a file" in err
    assert not (tmp_path / "nope.db").exists() and not (tmp_path / "to.db").exists()
