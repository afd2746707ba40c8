"""A [storage] path Shipbell can't use is a one-line config error (exit 2), never a traceback."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from shipbell.bot.cli import EXIT_CONFIG, main


@pytest.fixture
def read_only_dir(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() == 0:  # root writes anywhere it may chmod; /proc/self takes no new files
        yield Path("/proc/self")
        return
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield folder
    folder.chmod(stat.S_IRWXU)


def run(tmp_path: Path, db: str, verb: str, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    config = tmp_path / "shipbell.toml"
    config.write_text(f"[storage]\npath = {db!r}\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s" * 32)
    code = main(["--config", str(config), verb])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", ["missing dir", "a directory", "not sqlite", "read-only dir"])
@pytest.mark.parametrize("verb", ["serve", "socket"])
def test_unusable_storage_path_is_one_line_and_exit_2(
    tmp_path: Path, read_only_dir: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], case: str, verb: str,
) -> None:
    if verb == "socket":
        monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-test")
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    db, why = {
        "missing dir": (tmp_path / "nope" / "shipbell.db", "does not exist"),
        "a directory": (tmp_path, "is a directory"),
        "not sqlite": (junk, "is not an SQLite database"),
        "read-only dir": (read_only_dir / "shipbell.db", "read-only"),
    }[case]
    code, err = run(tmp_path, str(db), verb, monkeypatch, capsys)
    assert code == EXIT_CONFIG
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"shipbell: [storage] path {db}: ") and why in lines[0], err
    assert "Traceback" not in err
    assert junk.read_bytes().startswith(b"these are my notes")  # nothing written into it


def test_digest_preview_of_a_file_that_is_not_sqlite_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    junk = tmp_path / "notes.db"
    junk.write_bytes(b"these are my notes, not a database\n" * 200)
    code, err = run(tmp_path, str(junk), "digest", monkeypatch, capsys)
    assert code == EXIT_CONFIG
    assert err.strip() == (f"shipbell: [storage] path {junk}: is not an SQLite database "
                           "(another file with that name?); point [storage] path (or "
                           "SHIPBELL_STORAGE__PATH) at a writable SQLite file")
