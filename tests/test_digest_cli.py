"""`shipbell digest`: the digest as text and the chart as PNG, from a real or missing database."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import need_postgres
from fakes import postgres
from shipbell.bot.cli import main
from shipbell.bot.schema import all_migrations
from shipbell.bot.storage import Store, open_store, parse_url
from test_digest_reference import seed_reference


def config(tmp_path: Path, db: Path | str, *, key: str = "path") -> str:
    """A config whose store is ``[storage] <key> = db`` (an SQLite path, or a ``url``)."""
    path = tmp_path / "shipbell.toml"
    path.write_text(f'timezone = "Europe/Paris"\n[storage]\n{key} = "{db}"\n')
    return str(path)


def test_prints_the_reference_digest_and_writes_the_chart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "shipbell.bot.db"
    store = Store(db)
    store.migrate(all_migrations())
    seed_reference(store)
    store.close()
    chart = tmp_path / "trend.png"
    args = ["--config", config(tmp_path, db), "digest", "--as-of", "2026-11-25",
            "--chart", str(chart)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Nov 18–24 vs Nov 11–17 · production · 6 deploys" in out
    assert "Change failure rate: 50.0% (3 of 6)" in out
    assert "api: 4 deploys" in out and "Secret" not in out
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_missing_database_is_an_empty_history_and_stays_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "nothing-here.db"
    assert main(["--config", config(tmp_path, db), "digest", "--as-of", "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "· production · 0 deploys" in out and "Change failure rate: no deploys" in out
    assert not db.exists()


def test_empty_database_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "empty.db"
    db.write_bytes(b"")
    assert main(["--config", config(tmp_path, db), "digest"]) == 0
    assert "0 deploys" in capsys.readouterr().out


def test_bad_date_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--config", config(tmp_path, tmp_path / "x.db"), "digest",
                 "--as-of", "25/11/2026"]) == 2
    assert "use a date like 2026-11-25" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[digest]\ntime = "9am"\n', "`digest.time`: use 24-hour HH:MM, e.g. 09:00"),
        ("[digest]\nperiod_days = 14\n", "`digest.period_days`"),
        ('[digest]\nchannel = "metrics"\n', "use an id such as C024BE91L or a name such as #"),
        ('[digest]\ntimezone = "Paris"\n', "use an IANA name such as Europe/Paris"),
        ("[digest]\nenvironments = []\n", "name at least one environment"),
    ],
)
def test_bad_digest_config_is_named_with_a_valid_example(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    assert main(["--config", str(path), "digest"]) == 2
    assert expected in capsys.readouterr().err


def test_an_unwritable_chart_path_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "no-such-dir" / "trend.png"
    assert main(["--config", config(tmp_path, tmp_path / "x.db"), "digest",
                 "--chart", str(target)]) == 2
    err = capsys.readouterr().err
    assert f"can't write the chart to {target} (No such file or directory)" in err
    assert "e.g. --chart /tmp/trend.png" in err and "Traceback" not in err


def test_reads_the_configured_postgresql_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """With `[storage] url` on PostgreSQL the preview reads that database, not a stray file."""
    need_postgres()
    with postgres.fresh_schema() as url:
        store = open_store(parse_url(url))
        store.migrate(all_migrations())
        seed_reference(store)
        store.close()
        assert main(["--config", config(tmp_path, url, key="url"), "digest", "--as-of",
                     "2026-11-25"]) == 0
    out = capsys.readouterr().out
    assert "Nov 18–24 vs Nov 11–17 · production · 6 deploys" in out
    assert "Change failure rate: 50.0% (3 of 6)" in out


def test_a_postgresql_database_without_shipbell_is_one_sentence_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    need_postgres()
    with postgres.fresh_schema() as url:
        assert main(["--config", config(tmp_path, url, key="url"), "digest"]) == 2
    err = capsys.readouterr().err
    assert "holds no Shipbell tables yet" in err and err.count("\n") == 1
