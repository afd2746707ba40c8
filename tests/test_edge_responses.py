"""The edge answers exactly what Bolt's own aiohttp adapter would have put on the wire."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import aiohttp
import pytest
from aiohttp import web
from shipbell.bot.slack.server import web_response
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.response import BoltResponse

ANSWERS: dict[str, Callable[[], BoltResponse]] = {
    "json with charset": lambda: BoltResponse(
        status=200, body=json.dumps({"text": "déployé ✓"}),
        headers={"content-type": "application/json;charset=utf-8"}),
    "a dict": lambda: BoltResponse(status=200, body={"response_type": "ephemeral", "text": "é"}),
    "empty": lambda: BoltResponse(status=200, body=""),
    "refused": lambda: BoltResponse(status=401, body=""),
    "plain text": lambda: BoltResponse(status=200, body="That's 4,001 characters; ünïcode"),
    "own header": lambda: BoltResponse(status=404, body="nope",
                                       headers={"x-slack-no-retry": "1"}),
    "cookie": lambda: BoltResponse(status=302, body="", headers={
        "location": "https://example.invalid/", "set-cookie": ["state=abc; Path=/"]}),
}


@pytest.fixture
async def served() -> AsyncIterator[str]:
    async def answer(request: web.Request) -> web.StreamResponse:
        made = ANSWERS[request.match_info["case"]]()
        if request.match_info["how"] == "bolt":
            return await to_aiohttp_response(made)
        return await web_response(made)

    app = web.Application()
    app.router.add_get("/{how}/{case}", answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("case", list(ANSWERS))
async def test_same_status_headers_and_bytes_as_bolts_adapter(served: str, case: str) -> None:
    seen = []
    async with aiohttp.ClientSession() as http:
        for how in ("bolt", "edge"):
            async with http.get(f"{served}/{how}/{case}", allow_redirects=False) as resp:
                headers = {k: v for k, v in resp.headers.items() if k != "Date"}
                seen.append((resp.status, headers, await resp.read()))
    assert seen[0] == seen[1]
