"""[storage] url: SQLite or PostgreSQL; a password never in the url or the file."""

from __future__ import annotations

from pathlib import Path

import pytest
from shipbell.bot.cli import main
from shipbell.bot.settings import load_config
from shipbell.bot.storage import Backend


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ('[storage]\nurl = "postgresql://bell:hunter2@db:5432/bell"\n',
         "`storage.url`: must not contain a password (urls are logged); remove it from the url"
         " and set SHIPBELL_STORAGE__PASSWORD (or PGPASSWORD)"),
        ('[storage]\nurl = "mysql://db/bell"\n',
         "`storage.url`: unknown database url; use sqlite:///path/shipbell.db or"
         " postgresql://user@host:5432/db"),
        ('[storage]\nurl = "postgresql://bell@db:5432/"\n', "`storage.url`: names no database"),
        ('[storage]\nurl = "sqlite:///"\n', "`storage.url`: names no file"),
        ('[storage]\nurl = "sqlite:///a.db"\npath = "b.db"\n',
         "set either `url` or `path`, not both"),
        ('[storage]\npool_size = 0\n', "`storage.pool_size`"),
        ('[storage]\npassword = "hunter2"\n',
         "`storage.password`: secrets are read from the environment only; remove it from the"
         " file and set SHIPBELL_STORAGE__PASSWORD"),
    ],
)
def test_bad_storage_config_exits_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err, err
    assert "hunter2" not in err and "Traceback" not in err


def test_path_is_short_for_a_sqlite_url(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\npath = "data/bell.db"\n')
    location = load_config(str(path)).settings.storage.location
    assert (location.backend, location.target) == (Backend.SQLITE, "data/bell.db")
    path.write_text('[storage]\nurl = "sqlite:////var/lib/bell.db"\n')
    assert load_config(str(path)).settings.storage.location.target == "/var/lib/bell.db"


def test_postgres_url_with_the_password_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\nurl = "postgresql://bell@db:5432/bell"\npool_size = 8\n')
    monkeypatch.setenv("SHIPBELL_STORAGE__PASSWORD", "hunter2")
    storage = load_config(str(path)).settings.storage
    assert storage.location.backend is Backend.POSTGRESQL and storage.pool_size == 8
    assert storage.password is not None and storage.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(storage) and "hunter2" not in str(storage.location)


def test_unreachable_postgres_is_one_line_naming_the_url(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[storage]\nurl = "postgresql://bell@127.0.0.1:1/bell"\n')
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("SHIPBELL_SERVER__PORT", "0")
    assert main(["--config", str(path), "serve"]) == 2
    err = capsys.readouterr().err
    assert "[storage] url postgresql://bell@127.0.0.1:1/bell: can't connect" in err, err
    assert "Traceback" not in err
