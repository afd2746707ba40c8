"""Start and stop a whole Shipbell: HTTP server, tasks, scheduler, Slack identity.

``serve``, ``shell``, the tests and the benchmarks all run Shipbell through this class, so
they exercise the same request path.
"""

from __future__ import annotations

import asyncio
import contextlib

from aiohttp import web
from slack_sdk.errors import SlackApiError

from bot import logs
from bot.core import Core
from bot.slack.app import build_app
from bot.slack.server import build_web_app
from handlers import register_all


class Runtime:
    def __init__(self, core: Core, *, socket_mode: bool = False) -> None:
        self.core = core
        self.app = build_app(core, socket_mode=socket_mode)
        register_all(self.app, core)
        self.web_app = build_web_app(core, self.app)
        self._runner: web.AppRunner | None = None
        self._auth_task: asyncio.Task[None] | None = None
        self.url = ""

    @property
    def slack_url(self) -> str:
        return self.url + self.core.settings.slack.request_path

    async def start(
        self, host: str | None = None, port: int | None = None, *, http: bool = True,
        scheduler: bool = True,
    ) -> None:
        """Bind the server, resume unfinished tasks, catch up and start the scheduler."""
        settings = self.core.settings.server
        self.core.tasks.resume()  # before requests arrive, so nothing is started twice
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
        if scheduler:
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
        if self.core.client.session is not None:
            await self.core.client.session.close()
