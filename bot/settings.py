"""Settings: one TOML file, environment overrides, secrets only from the environment.

The TOML file comes from ``--config PATH`` or ``SHIPBELL_CONFIG``; any key can be overridden
as ``SHIPBELL_<SECTION>__<KEY>``.  Slack secrets are read from ``SLACK_BOT_TOKEN``,
``SLACK_SIGNING_SECRET`` and ``SLACK_APP_TOKEN`` (or files of those names in a secrets dir)
and are typed as ``SecretStr`` so they never print.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.incidents.config import IncidentSettings
from shipbell.bot.releases.config import ReleaseSettings
from shipbell.bot.sections import ConfigError, Section, TimeZoneName
from shipbell.bot.storage.url import PASSWORD_ENV, Backend, StorageUrl, parse_url, redact

CONFIG_ENV = "SHIPBELL_CONFIG"
SECRETS_DIR_ENV = "SHIPBELL_SECRETS_DIR"
ENV_PREFIX = "SHIPBELL_"
ENV_NESTING = "__"


class SlackSettings(Section):
    api_url: str = "https://slack.com/api/"
    request_path: str = "/slack/events"
    public_url: str = "https://shipbell.example.com"
    app_name: str = "Shipbell"
    retry_rate_limited: int = Field(default=3, ge=0, le=10)

    @field_validator("api_url")
    @classmethod
    def _trailing_slash(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"


class ServerSettings(Section):
    host: str = "127.0.0.1"
    port: int = Field(default=3000, ge=0, le=65535)
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    # Scheduled, catch-up and resumed background work running at once; requests' work is
    # never held back by it.
    backlog_slots: int = Field(default=8, ge=1, le=256)
    # Several processes on one database: each holds its in-flight tasks for this long and
    # renews them every third of it; a replica that dies loses them to the others after it.
    task_lease_seconds: float = Field(default=30.0, ge=3, le=3600)
    # Names this process in task leases and logs (default: the host name); a unique
    # suffix is always added, so two replicas never share an identity.
    replica_name: str | None = Field(default=None, min_length=1, max_length=100)


class StorageSettings(Section):
    """Where the store lives: ``url`` (SQLite or PostgreSQL), or ``path``, an SQLite file."""

    path: str = "shipbell.db"
    url: str | None = None
    # PostgreSQL: connections kept for reads in worker threads (the digest), besides the
    # event loop's own one.
    pool_size: int = Field(default=4, ge=1, le=64)
    # PostgreSQL's password: environment only (SHIPBELL_STORAGE__PASSWORD; libpq's
    # PGPASSWORD and ~/.pgpass work too), never the file or the url.
    password: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None:
            parse_url(value)  # its ValueError names what would work
        return value

    @model_validator(mode="after")
    def _one_location(self) -> StorageSettings:
        if self.url is not None and "path" in self.model_fields_set:
            raise ValueError("set either `url` or `path`, not both (`path` is short for "
                             "url = \"sqlite:///<path>\")")
        return self

    @property
    def location(self) -> StorageUrl:
        """The store's url: ``url``, else the SQLite file at ``path``."""
        return parse_url(self.url) if self.url is not None else StorageUrl(
            Backend.SQLITE, self.path)


class Secrets(BaseSettings):
    """Slack credentials; environment or secrets dir only, never the TOML file."""

    model_config = SettingsConfigDict(extra="ignore", case_sensitive=True)

    slack_bot_token: SecretStr | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: SecretStr | None = Field(default=None, alias="SLACK_APP_TOKEN")

    def missing(self, *, socket: bool = False) -> list[str]:
        """Names of the variables that serving needs but are unset."""
        needed = {"SLACK_BOT_TOKEN": self.slack_bot_token}
        if socket:
            needed["SLACK_APP_TOKEN"] = self.slack_app_token
        else:
            needed["SLACK_SIGNING_SECRET"] = self.slack_signing_secret
        return [name for name, value in needed.items() if not value]


class Settings(BaseSettings):
    """The whole configuration; each feature owns its section model."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_nested_delimiter=ENV_NESTING, extra="forbid"
    )
    _toml_path: ClassVar[Path | None] = None

    timezone: TimeZoneName = "UTC"
    log_level: str = "INFO"
    slack: SlackSettings = SlackSettings()
    server: ServerSettings = ServerSettings()
    storage: StorageSettings = StorageSettings()
    deploy: DeploySettings = DeploySettings()
    incident: IncidentSettings = IncidentSettings()
    release: ReleaseSettings = ReleaseSettings()
    digest: DigestSettings = DigestSettings()

    @model_validator(mode="after")
    def _one_notion_of_production(self) -> Settings:
        """Features that only read deploy records default to the deploy config's production."""
        envs = self.deploy.production_environments()
        if self.digest.environments is None:
            self.digest.environments = envs
        if self.incident.production_environments is None:
            self.incident.production_environments = envs
        return self

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        levels = ("DEBUG", "INFO", "WARNING", "ERROR")
        if value.upper() not in levels:
            raise ValueError(f"must be one of {', '.join(levels)}")
        return value.upper()

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        if cls._toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=cls._toml_path))
        return tuple(sources)


class LoadedConfig(BaseModel):
    """Settings plus the secrets and where they came from."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    settings: Settings
    secrets: Secrets
    source: str


def config_path(explicit: str | None) -> Path | None:
    raw = explicit or os.environ.get(CONFIG_ENV)
    return Path(raw) if raw else None


def load_config(explicit: str | None = None, **overrides: Any) -> LoadedConfig:
    """Load and validate everything, or raise ConfigError with one readable message."""
    path = config_path(explicit)
    source = str(path) if path else "(environment)"
    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: no such config file; copy config.example.toml to start one")
    try:
        Settings._toml_path = path
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(format_validation_error(source, exc)) from None
    except SettingsError as exc:  # a SHIPBELL_<SECTION> variable holding malformed JSON
        raise ConfigError(_env_parse_error(exc)) from None
    except ValueError as exc:  # TOML syntax errors surface as ValueError subclasses
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    finally:
        Settings._toml_path = None
    if path is not None and _file_has_storage_password(path):
        raise ConfigError(f"{path}: `storage.password`: secrets are read from the environment"
                          f" only; remove it from the file and set {PASSWORD_ENV} (or"
                          " PGPASSWORD)")
    secrets_dir = os.environ.get(SECRETS_DIR_ENV)
    # pydantic-settings' init keyword; its type stubs don't declare it.
    secrets = Secrets(_secrets_dir=secrets_dir) if secrets_dir else Secrets()  # type: ignore[call-arg]
    return LoadedConfig(settings=settings, secrets=secrets, source=source)


def _file_has_storage_password(path: Path) -> bool:
    with path.open("rb") as file:
        storage = tomllib.load(file).get("storage")
    return isinstance(storage, dict) and "password" in storage


def env_variable(loc: tuple[Any, ...]) -> str | None:
    """The SHIPBELL_X__Y variable that set the value at ``loc``, if one did."""
    present = {name.upper() for name in os.environ}
    parts = [str(part).upper() for part in loc]
    for end in range(len(parts), 0, -1):  # the most specific variable wins
        name = ENV_PREFIX + ENV_NESTING.join(parts[:end])
        if name in present:
            return name
    return None


def origin(source: str, loc: tuple[Any, ...]) -> str:
    """Where the value at ``loc`` came from: an environment variable, else the config file."""
    variable = env_variable(loc)
    return f"environment variable {variable}" if variable else source


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One line per problem: file or variable, dotted key, what was wrong, what would be valid."""
    lines = []
    for err in exc.errors():
        key = _dotted(err["loc"])
        where = origin(source, err["loc"])
        if err["type"] == "extra_forbidden":
            lines.append(f"{where}: unknown key `{key}`{_valid_keys_hint(err['loc'])}")
            continue
        got = redact(err.get("input"))  # a url's password never reaches the output
        shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
        message = err["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: `{key}`: {message}{shown}")
    return "\n".join(lines)


def _env_parse_error(exc: SettingsError) -> str:
    field = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
    variable = env_variable((field,)) or f"{ENV_PREFIX}{field.upper()}"
    return (f"environment variable {variable}: not valid JSON; set one key instead, "
            f"e.g. {variable}{ENV_NESTING}KEY=value")


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) or "(top level)"


def _valid_keys_hint(loc: tuple[Any, ...]) -> str:
    model: Any = Settings
    for part in loc[:-1]:
        field = getattr(model, "model_fields", {}).get(part)
        annotation = getattr(field, "annotation", None)
        if annotation is None or not hasattr(annotation, "model_fields"):
            return ""
        model = annotation
    names = sorted(getattr(model, "model_fields", {}))
    return f"; valid keys here: {', '.join(names)}" if names else ""
