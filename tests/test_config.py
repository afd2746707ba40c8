"""Settings: the example file loads, bad config stops with one readable line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from shipbell.bot.cli import main
from shipbell.bot.settings import ConfigError, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_example_config_loads_and_covers_every_section() -> None:
    config = load_config(str(ROOT / "config.example.toml"))
    text = (ROOT / "config.example.toml").read_text()
    for section in type(config.settings).model_fields:
        if section not in ("timezone", "log_level"):
            assert f"[{section}]" in text, f"config.example.toml lacks [{section}]"


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[server]\nprot = 1\n",
         "unknown key `server.prot`; valid keys here: backlog_slots, host, port"),
        ('[server]\nport = "abc"\n', "`server.port`"),
        ('timezone = "Mars/Base"\n', "use an IANA name such as Europe/Paris"),
        ("[slack\n", "not valid TOML"),
        ('[slack]\napi_url = "ftp://x"\n', "must be an http(s) URL"),
    ],
)
def test_bad_config_exits_2_naming_file_and_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], toml: str, expected: str
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(toml)
    assert main(["--config", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and expected in err
    assert "Traceback" not in err


def test_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(tmp_path / "nope.toml"), "check"]) == 2
    assert "no such config file" in capsys.readouterr().err


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[server]\nport = 4000\n")
    monkeypatch.setenv("SHIPBELL_SERVER__PORT", "4100")
    monkeypatch.setenv("SHIPBELL_CONFIG", str(path))
    assert load_config().settings.server.port == 4100


def test_secrets_come_only_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('SLACK_BOT_TOKEN = "xoxb-in-file"\n')
    with pytest.raises(ConfigError, match="unknown key `SLACK_BOT_TOKEN`"):
        load_config(str(path))


def test_secrets_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "SLACK_BOT_TOKEN").write_text("xoxb-from-dir")
    monkeypatch.setenv("SHIPBELL_SECRETS_DIR", str(tmp_path))
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    token = load_config().secrets.slack_bot_token
    assert token is not None and token.get_secret_value() == "xoxb-from-dir"
    assert "xoxb-from-dir" not in repr(load_config())


@pytest.mark.parametrize(("verb", "missing"), [
    ("serve", "SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET"),
    ("socket", "SLACK_BOT_TOKEN and SLACK_APP_TOKEN"),
])
def test_serving_without_tokens_names_the_missing_variables(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], verb: str, missing: str
) -> None:
    for name in ("SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN", "SHIPBELL_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    assert main([verb]) == 2
    err = capsys.readouterr().err.strip()
    assert missing in err and len(err.splitlines()) == 1


def test_production_is_one_notion_unless_a_feature_overrides_it(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[deploy.providers.dry]\ntype = "dry-run"\n'
        '[deploy.services.api]\nrepository = "x/api"\nprovider = "dry"\n'
        "[deploy.services.api.environments.prod-eu]\nproduction = true\n"
        "[deploy.services.api.environments.staging]\n"
        '[incident]\nproduction_environments = ["live"]\n'
    )
    settings = load_config(str(path)).settings
    assert settings.digest.environments == ["prod-eu"]
    assert settings.incident.production_environments == ["live"]
    assert load_config().settings.digest.environments == ["production"]
