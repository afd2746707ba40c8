"""Socket Mode for the double: the WebSocket that `apps.connections.open` points to.

Slack sends envelopes (`slash_commands`, `interactive`, `events_api`) down the socket and
waits for an ack envelope with the same `envelope_id`; this does the same, so the bot's
Socket Mode path is tested over a real WebSocket.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

from aiohttp import WSMsgType, web

_ids = itertools.count(1)


class SocketLink:
    """Serves `/link/` and lets a test send envelopes to whichever client is connected."""

    def __init__(self) -> None:
        self.clients: list[web.WebSocketResponse] = []
        self.connected = asyncio.Event()
        self._acks: dict[str, asyncio.Future[dict[str, Any]]] = {}

    def install(self, app: web.Application) -> None:
        app.router.add_get("/link/", self._serve)

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.clients.append(ws)
        await ws.send_json({"type": "hello", "num_connections": len(self.clients),
                            "debug_info": {"host": "double"}, "connection_info": {"app_id": "A"}})
        self.connected.set()
        try:
            async for message in ws:
                if message.type != WSMsgType.TEXT:
                    continue
                data = json.loads(message.data)
                future = self._acks.pop(str(data.get("envelope_id")), None)
                if future is not None and not future.done():
                    future.set_result(data.get("payload") or {})
        finally:
            self.clients.remove(ws)
            if not self.clients:
                self.connected.clear()
        return ws

    async def send(self, kind: str, payload: dict[str, Any], *, timeout: float = 5.0
                   ) -> dict[str, Any]:
        """Send one envelope and return the payload of the client's ack."""
        async with asyncio.timeout(timeout):
            await self.connected.wait()
        envelope_id = f"env-{next(_ids)}"
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._acks[envelope_id] = future
        await self.clients[-1].send_json({"envelope_id": envelope_id, "type": kind,
                                          "payload": payload, "accepts_response_payload": True,
                                          "retry_attempt": 0, "retry_reason": ""})
        async with asyncio.timeout(timeout):
            return await future

    async def close(self) -> None:
        for ws in list(self.clients):
            await ws.close()
