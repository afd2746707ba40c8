"""The running Shipbell: settings, store, clock, tasks, scheduler and the Slack client.

Built once per process (or per test) by ``build_core``; in ``handlers.register_all`` each
feature adds its services to ``Core.registry`` (one per type) and its HTTP endpoints to
``Core.routes``.  Nothing here talks to Slack at build time.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import aiohttp
from aiohttp import web
from pydantic import SecretStr
from shipbell.bot.clock import Clock, SystemClock, to_db
from shipbell.bot.events import Bus
from shipbell.bot.http import Http, replayable
from shipbell.bot.observability import Metrics
from shipbell.bot.scheduling import Scheduler
from shipbell.bot.schema import all_migrations
from shipbell.bot.settings import Secrets, Settings
from shipbell.bot.storage import Store, open_store
from shipbell.bot.tasks import TaskRunner, replica_id
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient

T = TypeVar("T")


class Registry:
    """The feature services of one Shipbell, at most one of each class; the class is the key.

    A feature adds what it builds at registration (``add``); another reaches it by its type
    (``get`` gives None when this Shipbell lacks it). A consumer never depends on the class it
    finds: it names what it needs as a small Protocol in its own package, and its feature's
    ``register`` wires the provider, usually through ``lazy``, looked up when used, so the
    features register in any order.
    """

    def __init__(self) -> None:
        self._by_class: dict[type[Any], Any] = {}

    def add(self, service: T) -> T:
        kind = type(service)
        if kind in self._by_class:
            raise ValueError(f"this Shipbell has a {kind.__name__} already")
        self._by_class[kind] = service
        return service

    def get(self, kind: type[T]) -> T | None:
        found = self._by_class.get(kind)
        return found if isinstance(found, kind) else None

    def need(self, kind: type[T]) -> T:
        found = self.get(kind)
        if found is None:
            raise LookupError(f"this Shipbell has no {kind.__name__} (is its feature registered?)")
        return found

    def ensure(self, kind: type[T], make: Callable[[], T]) -> T:
        """The ``kind`` registered, or the one ``make`` builds now (shared from then on)."""
        found = self.get(kind)
        return found if found is not None else self.add(make())

    def lazy(self, kind: type[T]) -> Callable[[], T | None]:
        """``get(kind)`` for later: a provider that registers after the consumer still counts."""
        return lambda: self.get(kind)

    def remove(self, kind: type[Any]) -> None:
        """Take a feature's service out again (a test's Shipbell without that feature)."""
        self._by_class.pop(kind, None)


class Route(NamedTuple):
    """An HTTP endpoint a feature serves beside Slack's (e.g. the CI deploy callbacks)."""

    method: str
    path: str
    handler: Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class Identity:
    """What auth.test told us; filled after start-up, never on the ack path."""

    ok: bool | None = None
    error: str | None = None
    bot_user_id: str | None = None
    bot_id: str | None = None
    team_id: str | None = None
    scopes: list[str] = field(default_factory=list)


@dataclass
class Core:
    settings: Settings
    secrets: Secrets
    store: Store
    clock: Clock
    metrics: Metrics
    tasks: TaskRunner
    scheduler: Scheduler
    client: AsyncWebClient
    identity: Identity = field(default_factory=Identity)
    http: Http = field(default_factory=Http)
    registry: Registry = field(default_factory=Registry)  # feature services, by class
    routes: list[Route] = field(default_factory=list)  # features' HTTP endpoints (server.py)
    events: Bus = field(init=False)  # domain events -> subscribed tasks (bot/events.py)

    def __post_init__(self) -> None:
        self.events = Bus(self.tasks)

    def audit(
        self,
        actor: str,
        action: str,
        subject: str | None = None,
        *,
        channel: str | None = None,
        **detail: Any,
    ) -> None:
        """Record who did what, when and from where; every state-changing action calls this."""
        self.store.execute(
            "INSERT INTO audit_log (at, actor, channel, action, subject, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (to_db(self.clock.now()), actor, channel, action, subject, json.dumps(detail)),
        )

    def claim_key(self, key: str) -> bool:
        """True the first time ``key`` is seen: the idempotency check for retries and clicks."""
        cursor = self.store.execute(
            "INSERT INTO idempotency_keys (key, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING",
            (key, to_db(self.clock.now())),
        )
        return cursor.rowcount == 1


class ReplayGuard(AsyncConnectionErrorRetryHandler):
    """Retries a Web API call after a connection error only when sending it again is safe.

    A call that never reached Slack (refused, DNS, connect timeout) is always retried. A call
    that failed after it was written (a kept-alive connection the server had closed, a reset,
    a read timeout) may have been acted on: only methods that don't create anything are
    replayed; a `chat.postMessage` is not, the task behind it fails and is retried whole (the
    deploy message's stored intent then adopts a message that was posted after all).
    """

    async def _can_retry_async(self, *, state: RetryState, request: HttpRequest,
                               response: HttpResponse | None = None,
                               error: Exception | None = None) -> bool:
        if isinstance(error, aiohttp.ClientConnectorError):
            return True
        if not await super()._can_retry_async(state=state, request=request,
                                              response=response, error=error):
            return False
        return replayable(request.url.split("?")[0].rstrip("/").rsplit("/", 1)[-1])


class SharedSessionClient(AsyncWebClient):
    """The Web API client on the process's one session (``bot.http``), made in the loop on
    first use. Bolt hands ``app.client.session`` to its per-request clients, so they share it."""

    def __init__(self, http: Http, **kwargs: Any) -> None:
        self.http = http
        super().__init__(**kwargs)

    @property
    def session(self) -> aiohttp.ClientSession | None:
        return self.http.in_loop()

    @session.setter
    def session(self, value: aiohttp.ClientSession | None) -> None:
        pass  # always the shared session


def build_client(settings: Settings, token: str | None, http: Http | None = None
                 ) -> AsyncWebClient:
    """The Web API client: configurable base URL, retries on connection errors and 429;
    with ``http``, on the shared session (without, a session per call: one-off checks)."""
    handlers: list[AsyncRetryHandler] = [ReplayGuard(max_retry_count=2)]
    if settings.slack.retry_rate_limited:
        handlers.append(
            AsyncRateLimitErrorRetryHandler(max_retry_count=settings.slack.retry_rate_limited)
        )
    if http is not None:
        return SharedSessionClient(http, token=token, base_url=settings.slack.api_url,
                                   timeout=15, retry_handlers=handlers)
    return AsyncWebClient(
        token=token, base_url=settings.slack.api_url, timeout=15, retry_handlers=handlers
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def build_core(
    settings: Settings,
    secrets: Secrets,
    *,
    clock: Clock | None = None,
    store: Store | None = None,
) -> Core:
    clock = clock or SystemClock()
    store = store or open_store(settings.storage.location,
                                pool_size=settings.storage.pool_size,
                                password=_secret(settings.storage.password))
    store.migrate(all_migrations())
    metrics = Metrics()
    token = secrets.slack_bot_token.get_secret_value() if secrets.slack_bot_token else None
    http = Http()
    replica = replica_id(settings.server.replica_name)
    tasks = TaskRunner(store, clock, metrics, backlog_slots=settings.server.backlog_slots,
                       replica=replica, lease_seconds=settings.server.task_lease_seconds)
    return Core(
        settings=settings,
        secrets=secrets,
        store=store,
        clock=clock,
        metrics=metrics,
        tasks=tasks,
        scheduler=Scheduler(store, clock, metrics, tasks, instance=replica),
        client=build_client(settings, token, http),
        http=http,
    )
