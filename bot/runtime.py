"""Start and stop a whole Shipbell: HTTP server, tasks, scheduler, Slack identity.

``serve``, ``shell``, the tests and the benchmarks all run Shipbell through this class, so
they exercise the same request path. ``run_until_signal`` is the process around it for
``serve`` and ``socket``: SIGTERM or Ctrl-C stops it in every state (looking up names,
starting, connecting, retrying, connected); a second one during shutdown stops waiting for
background work.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from aiohttp import web
from shipbell import scheduled
from shipbell.bot import __version__, logs
from shipbell.bot.core import Core
from shipbell.bot.slack.app import build_app
from shipbell.bot.slack.server import build_web_app
from shipbell.handlers import register_all
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient


class Runtime:
    def __init__(self, core: Core, *, socket_mode: bool = False) -> None:
        self.core = core
        self.app = build_app(core, socket_mode=socket_mode)
        register_all(self.app, core)
        scheduled.register(core)
        self.web_app = build_web_app(core, self.app, slack_route=not socket_mode)
        self._runner: web.AppRunner | None = None
        self._auth_task: asyncio.Task[None] | None = None
        self._scheduler_start: asyncio.Task[Any] | None = None
        self.url = ""

    @property
    def slack_url(self) -> str:
        return self.url + self.core.settings.slack.request_path

    async def start(
        self, host: str | None = None, port: int | None = None, *, http: bool = True,
        scheduler: bool = True, catch_up_in_background: bool = False,
    ) -> None:
        """Bind the server, resume unfinished tasks, catch up and start the scheduler.

        ``catch_up_in_background``: don't wait for the catch-up (it may call a Slack that
        is slow or down); the process serves and connects meanwhile.
        """
        settings = self.core.settings.server
        # Before requests arrive, so nothing is started twice: the tasks no replica holds
        # (never another live replica's); then the beat renews leases and takes over those
        # of a replica that dies.
        await self.core.tasks.resume()
        self.core.tasks.start_beating()
        if http:
            self._runner = web.AppRunner(self.web_app, access_log=None, handle_signals=False)
            await self._runner.setup()
            site = web.TCPSite(self._runner, host or settings.host,
                               settings.port if port is None else port)
            await site.start()
            server = site._server
            sockets = getattr(server, "sockets", None) or []
            bound_host, bound_port = sockets[0].getsockname()[:2]
            self.url = f"http://{bound_host}:{bound_port}"
        self._auth_task = asyncio.get_running_loop().create_task(self.refresh_identity())
        if scheduler and catch_up_in_background:
            self._scheduler_start = asyncio.get_running_loop().create_task(
                self.core.scheduler.start(), name="scheduler-start")
            self._scheduler_start.add_done_callback(_report_crash)
        elif scheduler:
            await self.core.scheduler.start()

    async def identity_known(self) -> None:
        """Wait for the start-up auth.test to finish (the shell and tests want a settled start)."""
        if self._auth_task is not None:
            await asyncio.shield(self._auth_task)

    async def refresh_identity(self) -> None:
        """auth.test, once, off the request path; /healthz and `check` report it."""
        identity = self.core.identity
        try:
            response = await self.core.client.auth_test()
        except SlackApiError as exc:
            identity.ok, identity.error = False, str(exc.response.get("error"))
            logs.logger.warning(logs.AUTH_TEST_FAILED, identity.error)
            return
        except Exception as exc:  # unreachable Slack must not crash start-up
            identity.ok, identity.error = False, type(exc).__name__
            logs.logger.warning(logs.AUTH_TEST_FAILED, identity.error)
            return
        identity.ok, identity.error = True, None
        identity.bot_user_id = response.get("user_id")
        identity.bot_id = response.get("bot_id")
        identity.team_id = response.get("team_id")
        scopes = response.headers.get("x-oauth-scopes") or response.headers.get("X-OAuth-Scopes")
        identity.scopes = [s.strip() for s in (scopes or "").split(",") if s.strip()]
        logs.logger.info(logs.AUTH_TEST_OK, identity.bot_user_id, identity.team_id)

    async def stop(self, grace: float | None = None) -> None:
        """Stop accepting, let in-flight work finish (or persist it), close everything."""
        if self._runner is not None:
            await self._runner.shutdown()
        if self._scheduler_start is not None:
            self._scheduler_start.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._scheduler_start
        await self.core.scheduler.stop()
        await self.core.tasks.shutdown(
            self.core.settings.server.shutdown_grace_seconds if grace is None else grace
        )
        if self._auth_task is not None:
            self._auth_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._auth_task
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        await self.core.http.close()

    def hurry(self) -> None:
        """Stop waiting for background work: cancelled tasks stay pending for the next start."""
        for task in list(self.core.tasks.running.values()):
            task.cancel()


def _report_crash(task: asyncio.Task[Any]) -> None:
    """A background start-up step that raised is a bug: say so now, not at shutdown."""
    if not task.cancelled() and task.exception() is not None:
        logs.logger.error(logs.START_STEP_FAILED, task.get_name(), exc_info=task.exception())


T = TypeVar("T")


async def unless_stopped(stop: asyncio.Event, work: Awaitable[T]) -> tuple[bool, T | None]:
    """Await ``work`` unless ``stop`` is set first (then cancel it): (finished, result)."""
    task = asyncio.ensure_future(work)
    stopper = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({task, stopper}, return_when=asyncio.FIRST_COMPLETED)
    except asyncio.CancelledError:
        task.cancel()
        raise
    finally:
        stopper.cancel()
    if task.done():
        return True, task.result()
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task
    return False, None


class SocketRefused(Exception):
    """Slack refused the app-level token: retrying cannot help."""


class _ClientLog(logging.LoggerAdapter):  # type: ignore[type-arg,unused-ignore]
    """The Socket Mode client's logger. While Shipbell makes the first connection, a
    handshake failure the client would log with a traceback (and retry on the same URL every
    10 s) becomes the attempt's one-line cause instead."""

    def __init__(self) -> None:
        super().__init__(logs.child("socket"), {})
        self.watching: asyncio.Event | None = None
        self.cause: str | None = None

    @property
    def level(self) -> int:  # Bolt's Socket Mode adapter reads it
        return self.logger.level

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = sys.exc_info()[1] if kwargs.get("exc_info") else None
        if self.watching is not None and exc is not None:
            self.cause = logs.describe(exc)
            self.watching.set()
            return
        super().log(level, msg, *args, **kwargs)


class SocketConnection:
    """Socket Mode, connected by a loop Shipbell controls.

    Bolt's client retries a failed first connection forever, every 10 s, with a traceback
    each time, and ignores a refused token. Here each attempt asks
    ``apps.connections.open`` for a URL itself: a refused token ends the start with one
    clear line, anything else is retried with a growing delay and one line per attempt,
    and every wait gives way to ``stop``. Once connected, the client's own reconnection
    (for Slack's routine disconnects) takes over.
    """

    REFUSED = frozenset({"invalid_auth", "not_authed", "account_inactive", "token_revoked",
                         "token_expired", "not_allowed_token_type", "missing_scope"})
    ATTEMPT_SECONDS = 20.0  # one URL's WebSocket handshake, then a fresh URL

    def __init__(self, runtime: Runtime, app_token: str, *, first_delay: float = 1.0,
                 max_delay: float = 60.0) -> None:
        self.app_token = app_token
        self.first_delay, self.max_delay = first_delay, max_delay
        # Its own client: no hidden retries under this loop's, and the app token, not the bot's.
        self.web = AsyncWebClient(token=app_token, base_url=runtime.core.settings.slack.api_url,
                                  timeout=15, retry_handlers=[])
        self.log = _ClientLog()
        self.handler = AsyncSocketModeHandler(runtime.app, app_token, web_client=self.web,
                                              logger=self.log)  # type: ignore[arg-type]

    async def connect(self, stop: asyncio.Event) -> bool:
        """Until connected (True) or stopped (False); raises SocketRefused."""
        delay = self.first_delay
        logs.logger.info(logs.SOCKET_CONNECTING)
        while not stop.is_set():
            finished, problem = await unless_stopped(stop, self._attempt())
            if not finished:
                return False
            if problem is None:
                return True
            logs.logger.warning(logs.SOCKET_RETRY, problem, delay)
            await unless_stopped(stop, asyncio.sleep(delay))
            delay = min(delay * 2, self.max_delay)
        return False

    async def _attempt(self) -> str | None:
        """One connection attempt: None when connected, else what went wrong."""
        client = self.handler.client
        try:
            response = await self.web.apps_connections_open(app_token=self.app_token)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "unknown"))
            if error in self.REFUSED:
                raise SocketRefused(error) from None
            return logs.describe(exc)
        except Exception as exc:  # unreachable, DNS, TLS, timeout: all worth a retry
            return logs.describe(exc)
        client.wss_uri = str(response["url"])
        self.log.watching, self.log.cause = asyncio.Event(), None
        connecting = asyncio.ensure_future(client.connect())
        failed = asyncio.ensure_future(self.log.watching.wait())
        try:
            await asyncio.wait({connecting, failed}, timeout=self.ATTEMPT_SECONDS,
                               return_when=asyncio.FIRST_COMPLETED)
            if connecting.done():
                connecting.result()
                return None
            return self.log.cause or f"no WebSocket session within {self.ATTEMPT_SECONDS:.0f} s"
        finally:
            self.log.watching = None
            failed.cancel()
            if not connecting.done():
                connecting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await connecting

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            async with asyncio.timeout(5):
                await self.handler.close_async()


async def run_until_signal(
    prepare: Callable[[], Awaitable[Runtime]], *, app_token: str | None = None
) -> int:
    """Run ``serve`` (or ``socket``, given the app token) until SIGTERM/SIGINT; exit code.

    The signal handlers go in before anything can block, so a stop request is honoured
    while preparing (``prepare`` may ask Slack for the config's names), starting,
    connecting or retrying, connected and shutting down (a second signal stops waiting for
    background work; a third is the default action). What ``prepare`` raises propagates.
    """
    stop, loop = asyncio.Event(), asyncio.get_running_loop()
    signals = (signal.SIGTERM, signal.SIGINT)
    runtime: Runtime | None = None

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            logs.logger.info(logs.STOP_REQUESTED, sig.name)
            stop.set()
            return
        logs.logger.warning(logs.STOP_FORCED, sig.name)
        for each in signals:
            loop.remove_signal_handler(each)
        if runtime is not None:
            runtime.hurry()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal, sig)
    try:
        prepared, runtime = await unless_stopped(stop, prepare())
        if not prepared or runtime is None:
            return 0
        return await _serve(runtime, stop, app_token)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


async def _serve(runtime: Runtime, stop: asyncio.Event, app_token: str | None) -> int:
    code, connection = 0, None
    try:
        try:
            started, _ = await unless_stopped(stop, runtime.start(catch_up_in_background=True))
        except OSError as exc:  # the port is taken, or the host is not this machine's
            server = runtime.core.settings.server
            logs.logger.error(logs.LISTEN_FAILED, server.host, server.port,
                              exc.strerror or exc)
            return EXIT_LISTEN
        if started and app_token is not None:
            logs.logger.info(logs.SOCKET_HTTP, __version__, runtime.url)
            connection = SocketConnection(runtime, app_token)
            try:
                if await connection.connect(stop):
                    logs.logger.info(logs.SOCKET_MODE, __version__)
            except SocketRefused as exc:
                logs.logger.error(logs.SOCKET_REFUSED, exc)
                code = EXIT_REFUSED
                stop.set()
        elif started:
            logs.logger.info(logs.SERVING, __version__, runtime.slack_url)
        await stop.wait()
    finally:
        if connection is not None:
            await connection.close()
        await runtime.stop()
        runtime.core.store.close()
    return code


EXIT_LISTEN = 2  # like a config error: [server] host/port must change
EXIT_REFUSED = 3  # Slack refused a token: restarting will not help
