"""A fake CI for the webhook provider: receives signed jobs, sends signed callbacks."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import aiohttp
from aiohttp import web
from shipbell.bot.deploys import signing

from fakes.server import LocalServer


class FakeCI(LocalServer):
    def __init__(self, secret: str, now: Callable[[], datetime]) -> None:
        super().__init__()
        self.secret = secret
        self.now = now
        self.jobs: list[dict[str, Any]] = []
        self.cancels: list[dict[str, Any]] = []
        self.rejected: list[str] = []  # requests whose signature did not verify
        self.fail_next: list[int] = []  # HTTP statuses to answer before accepting
        self.answer: dict[str, Any] = {}
        self.hold: asyncio.Event | None = None
        self._changed = asyncio.Event()
        self.connections: set[tuple[str, int]] = set()  # client (address, port) seen

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/jobs", self._job)

    async def start(self) -> FakeCI:
        self.url = await self.serve("/jobs")
        return self

    async def _job(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.connections.add((str(peer[0]), int(peer[1])))
        raw = await request.read()
        ok = signing.verify(self.secret, request.headers.get(signing.TIMESTAMP_HEADER, ""), raw,
                            request.headers.get(signing.SIGNATURE_HEADER, ""),
                            self.now().timestamp())
        if not ok:
            self.rejected.append(raw.decode())
            return web.json_response({"error": "bad signature"}, status=401)
        if self.fail_next:
            return web.json_response({"error": "busy"}, status=self.fail_next.pop(0))
        body = json.loads(raw)
        (self.cancels if body.get("action") == "cancel" else self.jobs).append(body)
        self._changed.set()
        if self.hold is not None and body.get("action") != "cancel":
            await self.hold.wait()  # a slow CI: the job is in, the answer isn't yet
        return web.json_response(self.answer)

    async def _wait(self, seen: list[dict[str, Any]], count: int, timeout: float
                    ) -> list[dict[str, Any]]:
        async with asyncio.timeout(timeout):
            while len(seen) < count:
                self._changed.clear()
                await self._changed.wait()
        return seen

    async def wait_jobs(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return await self._wait(self.jobs, count, timeout)

    async def wait_cancels(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return await self._wait(self.cancels, count, timeout)

    def signed(self, payload: dict[str, Any], *, delivery: str | None = None,
               at: datetime | None = None, secret: str | None = None
               ) -> tuple[bytes, dict[str, str]]:
        body = json.dumps(payload).encode()
        stamp = int((at or self.now()).timestamp())
        headers = signing.headers(secret or self.secret, stamp, body,
                                  delivery or secrets.token_hex(8))
        return body, headers

    async def callback(self, base_url: str, deploy_id: int, status: str, *,
                       delivery: str | None = None, at: datetime | None = None,
                       secret: str | None = None, **fields: Any) -> tuple[int, dict[str, Any]]:
        body, headers = self.signed({"deploy_id": deploy_id, "status": status, **fields},
                                    delivery=delivery, at=at, secret=secret)
        return await post(base_url + "/hooks/deploy", body, headers)


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict[str, Any]]:
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers=headers
    ) as resp:
        return resp.status, await resp.json(content_type=None)
