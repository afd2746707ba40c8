"""What a domain service may use of the running Shipbell, and nothing more.

Domains take an ``Infra`` rather than the whole ``Core``: the store, the clock, the task
runner, the shared HTTP session and the audit log.  ``Core`` satisfies it structurally, so
wiring passes the core; tests may pass anything that has these.
"""

from __future__ import annotations

from typing import Any, Protocol

from shipbell.bot.clock import Clock
from shipbell.bot.http import Http
from shipbell.bot.observability import Metrics
from shipbell.bot.storage import Store
from shipbell.bot.tasks import TaskRunner


class Infra(Protocol):
    @property
    def store(self) -> Store: ...

    @property
    def clock(self) -> Clock: ...

    @property
    def tasks(self) -> TaskRunner: ...

    @property
    def http(self) -> Http: ...

    @property
    def metrics(self) -> Metrics: ...

    def audit(self, actor: str, action: str, subject: str | None = None, *,
              channel: str | None = None, **detail: Any) -> None: ...
