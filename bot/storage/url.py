"""Where the store lives: ``sqlite:///path/shipbell.db`` or ``postgresql://user@host/db``.

A url never carries a password (it is logged and shown by ``shipbell check``); PostgreSQL's
password comes from the environment: ``SHIPBELL_STORAGE__PASSWORD`` or libpq's own
``PGPASSWORD`` / ``~/.pgpass``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

SQLITE_PREFIX = "sqlite:///"
POSTGRES_SCHEMES = ("postgresql", "postgres")
PASSWORD_ENV = "SHIPBELL_STORAGE__PASSWORD"
EXAMPLES = "sqlite:///path/shipbell.db or postgresql://user@host:5432/db"


class Backend(StrEnum):
    SQLITE = "sqlite"
    POSTGRESQL = "postgresql"


@dataclass(frozen=True)
class StorageUrl:
    backend: Backend
    target: str  # the SQLite file, or the PostgreSQL url (password-free)

    def __str__(self) -> str:
        return SQLITE_PREFIX + self.target if self.backend is Backend.SQLITE else self.target


def redact(value: object) -> object:
    """A url with its password replaced by ***, so an error can show what was given."""
    if isinstance(value, str) and "://" in value:
        try:
            parts = urlsplit(value)
            if parts.password is not None:
                netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
                return parts._replace(netloc=netloc).geturl()
        except ValueError:
            return value
    return value


def parse_url(url: str) -> StorageUrl:
    """Split a storage url; ValueError (phrased for the config file) when it isn't one."""
    if url.startswith(SQLITE_PREFIX):
        path = url.removeprefix(SQLITE_PREFIX)
        if not path:
            raise ValueError(f"names no file; use e.g. {SQLITE_PREFIX}shipbell.db")
        return StorageUrl(Backend.SQLITE, path)
    parts = urlsplit(url)
    if parts.scheme not in POSTGRES_SCHEMES:
        raise ValueError(f"unknown database url; use {EXAMPLES}")
    try:
        password, _ = parts.password, parts.port  # a malformed port raises here
    except ValueError:
        raise ValueError(f"malformed port; use {EXAMPLES}") from None
    if password is not None:
        raise ValueError(
            "must not contain a password (urls are logged); remove it from the url and set "
            f"{PASSWORD_ENV} (or PGPASSWORD) in the environment instead")
    if not parts.path.strip("/"):
        raise ValueError(f"names no database; use {EXAMPLES}")
    return StorageUrl(Backend.POSTGRESQL, url)
