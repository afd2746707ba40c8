"""The aiohttp application: Slack's endpoint, health, metrics, and feature routes."""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp

from bot import __version__
from bot.core import Core


def classify(body: dict[str, Any]) -> tuple[str, str]:
    """(kind, name) of a parsed Slack request for metrics: command, action, callback or event."""
    if "command" in body:
        return "command", str(body["command"])
    kind = str(body.get("type", "unknown"))
    if kind == "event_callback":
        return kind, str((body.get("event") or {}).get("type", ""))
    if kind == "block_actions":
        return kind, str(((body.get("actions") or [{}])[0]).get("action_id", ""))
    return kind, str((body.get("view") or {}).get("callback_id", ""))


def outcome(status: int) -> str:
    return {200: "ok", 401: "unauthorized", 404: "not_found"}.get(status, f"http_{status}")


def build_web_app(core: Core, app: AsyncApp) -> web.Application:
    path = core.settings.slack.request_path

    async def slack_events(request: web.Request) -> web.Response:
        started = time.perf_counter()
        bolt_request = await to_bolt_request(request)
        response = await app.async_dispatch(bolt_request)
        elapsed = time.perf_counter() - started
        kind, name = classify(bolt_request.body)
        core.metrics.ack_latency.labels(kind).observe(elapsed)
        core.metrics.requests.labels(kind, name, outcome(response.status)).inc()
        return await to_aiohttp_response(response)

    async def healthz(_: web.Request) -> web.Response:
        store_ok = core.store.ping()
        identity = core.identity
        slack = "ok" if identity.ok else ("unknown" if identity.ok is None else identity.error)
        body = {"status": "ok" if store_ok else "degraded", "store": store_ok, "slack": slack,
                "version": __version__, "schema_version": core.store.schema_version}
        return web.json_response(body, status=200 if store_ok else 503)

    async def metrics(_: web.Request) -> web.Response:
        return web.Response(body=core.metrics.render(),
                            headers={"Content-Type": core.metrics.content_type})

    web_app = web.Application(client_max_size=1024 * 1024)
    web_app.router.add_post(path, slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    for method, route, handler in core.services.get("http_routes", []):
        web_app.router.add_route(method, route, handler)
    return web_app
