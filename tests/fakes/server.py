"""A small aiohttp server on 127.0.0.1 with an ephemeral port, for the fakes."""

from __future__ import annotations

from aiohttp import web


class LocalServer:
    """Subclasses add their routes in `routes`; `url` is the base once started."""

    def __init__(self) -> None:
        self.url = ""
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    async def serve(self, path: str) -> str:
        app = web.Application()
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        return f"http://127.0.0.1:{self._runner.addresses[0][1]}{path}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
