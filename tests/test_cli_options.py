"""The command line as typed: -c/--config anywhere, helpful --help, errors that say where."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from fakes.cli import shipbell

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def probe(tmp_path: Path) -> Path:
    path = tmp_path / "x.toml"
    path.write_text('[slack]\napp_name = "Probe"\n')
    return path


@pytest.mark.parametrize("placement", [
    ["--config", "{path}", "manifest"],
    ["-c", "{path}", "manifest"],
    ["manifest", "--config", "{path}"],
    ["manifest", "-c", "{path}"],
    ["manifest", "--socket", "-c", "{path}"],
])
def test_config_option_is_accepted_before_and_after_the_verb(
    tmp_path: Path, probe: Path, placement: list[str]
) -> None:
    result = shipbell(*(a.format(path=probe) for a in placement), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert yaml.safe_load(result.stdout)["display_information"]["name"] == "Probe"


def test_top_level_help_lists_every_verb(tmp_path: Path) -> None:
    out = shipbell("--help", cwd=tmp_path).stdout
    for verb in ("shell", "manifest", "check", "serve", "socket", "digest"):
        assert f"\n    {verb} " in out, verb
    assert "-c PATH, --config PATH" in out


@pytest.mark.parametrize(("verb", "needs"), [
    ("serve", ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "host", "port", "-c PATH"]),
    ("socket", ["SLACK_BOT_TOKEN", "SLACK_APP_TOKEN", "connections:write"]),
    ("check", ["SLACK_BOT_TOKEN", "--offline", "--json"]),
    ("manifest", ["no tokens", "public_url"]),
    ("shell", ["no tokens"]),
    ("digest", ["no tokens", "[storage] path"]),
])
def test_each_verb_says_what_it_needs(tmp_path: Path, verb: str, needs: list[str]) -> None:
    result = shipbell(verb, "--help", cwd=tmp_path)
    assert result.returncode == 0
    text = " ".join(result.stdout.split())
    for word in needs:
        assert word in text, f"`shipbell {verb} --help` does not mention {word}"


def test_an_environment_override_is_blamed_on_its_variable(tmp_path: Path, probe: Path) -> None:
    result = shipbell("check", "--offline", "-c", str(probe), cwd=tmp_path,
                      env={"SHIPBELL_SERVER__PORT": "abc"})
    assert result.returncode == 2
    err = result.stderr.strip()
    assert err.startswith("shipbell: environment variable SHIPBELL_SERVER__PORT: `server.port`")
    assert str(probe) not in err and len(err.splitlines()) == 1


def test_a_malformed_json_variable_is_not_called_bad_toml(tmp_path: Path, probe: Path) -> None:
    result = shipbell("check", "--offline", "-c", str(probe), cwd=tmp_path,
                      env={"SHIPBELL_DEPLOY": "{bad"})
    assert result.returncode == 2
    assert "environment variable SHIPBELL_DEPLOY: not valid JSON" in result.stderr
    assert "TOML" not in result.stderr


def test_a_file_mistake_still_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[server]\nport = "abc"\n')
    result = shipbell("check", "--offline", "-c", str(path), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"shipbell: {path}: `server.port`")


def test_packaging_metadata_installs_without_deprecation_warnings() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"  # SPDX string; a table is deprecated
    assert "setuptools>=77" in project["build-system"]["requires"]  # first to read SPDX


@pytest.mark.parametrize("name", ["shipbell.toml", "manifest.yaml"])
def test_a_local_config_and_manifest_are_never_committed(name: str) -> None:
    import subprocess

    ignored = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
    assert ignored.returncode == 0, f"{name} is not in .gitignore"
