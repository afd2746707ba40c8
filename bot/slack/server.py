"""The aiohttp application: Slack's endpoint, health, metrics, and feature routes.

Slack's endpoint is the trust boundary, crossed in this order and no other:

1. read the body: at most ``Limits.max_body`` bytes (413), within ``Limits.read_timeout``
   seconds (408); a client that goes away mid-body is one log line;
2. verify ``X-Slack-Request-Timestamp`` (ASCII digits, within five minutes) and
   ``X-Slack-Signature`` (HMAC-SHA256 over the raw bytes): else 401, and nothing was parsed,
   stored, counted by name or sent anywhere;
3. parse into a typed payload (bot.slack.payloads): else 400 with one log line;
4. hand Bolt the parsed body, marked verified.  Bolt's own signature check
   (bot.slack.app.SecondLine) is the second line of defence for anything that reaches Bolt
   without that mark (marked requests are not hashed twice), and its error handler only
   answers requests marked verified.

Metric labels come from a fixed set: the kinds in bot.slack.payloads and the commands,
action ids, callback ids and event types a listener was registered for, else ``other``.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import re
import time
from typing import Any

from aiohttp import web
from prometheus_client import Counter, Histogram
from shipbell.bot import __version__, logs
from shipbell.bot.core import Core
from shipbell.bot.inbound import LIMITS, Limits, Refused, read_body
from shipbell.bot.inputs import parse_int
from shipbell.bot.observability import OTHER, KnownNames
from shipbell.bot.slack import payloads
from shipbell.bot.storage import Store, StoreUnavailable
from slack_bolt.adapter.aiohttp import to_aiohttp_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.request.async_internals import build_async_context
from slack_bolt.response import BoltResponse

SIGNATURE_WINDOW = 300  # seconds, as Slack documents
HEALTH_WAIT = 5.0  # seconds /healthz waits for its round trip before calling the store down


def slack_signature_ok(secret: bytes, raw: bytes, headers: Any, now: float) -> bool:
    """Slack's v0 signature over the raw bytes, and a timestamp within five minutes."""
    stamp_text = headers.get("X-Slack-Request-Timestamp", "")
    signature = headers.get("X-Slack-Signature", "")
    stamp = parse_int(stamp_text)
    if stamp is None or str(stamp) != stamp_text or abs(now - stamp) > SIGNATURE_WINDOW:
        return False
    if not signature.isascii():
        return False
    mac = hmac.new(secret, b"v0:" + stamp_text.encode() + b":" + raw, hashlib.sha256)
    return hmac.compare_digest(("v0=" + mac.hexdigest()).encode(), signature.encode())


def bolt_request(text: str, data: dict[str, Any], request: web.Request) -> AsyncBoltRequest:
    """Bolt's request for the body we parsed and verified (Bolt keeps the raw text for its
    own signature check; its form parser would misread any body containing "payload")."""
    req = AsyncBoltRequest(body="", query=request.query_string,
                           headers=request.headers)  # type: ignore[arg-type]
    req.raw_body = text
    req.body = data
    req.context = build_async_context(AsyncBoltContext({payloads.VERIFIED: True}), data)
    return req


_UTF8 = re.compile(r";\s*charset=utf-8")


async def web_response(resp: BoltResponse) -> web.Response:
    """Bolt's answer as aiohttp's, made as Bolt's aiohttp adapter makes it (the content type
    from Bolt's header, else from the body's first character, less a UTF-8 charset), but
    with the body handed over as UTF-8 bytes: as text it would go through aiohttp's payload
    registry on every response.  Cookies (only Bolt's OAuth flow sets any) go to the adapter."""
    if "set-cookie" in resp.headers:
        return await to_aiohttp_response(resp)
    headers = resp.first_headers()
    default = "application/json" if resp.body.startswith("{") else "text/plain"
    content_type = _UTF8.sub("", headers.pop("content-type", default))
    return web.Response(status=resp.status, body=resp.body.encode(), headers=headers,
                        content_type=content_type)


def outcome(status: int) -> str:
    return {200: "ok", 400: "malformed", 401: "unauthorized", 404: "not_found"}.get(
        status, f"http_{status}")


class RateLimitNotices:
    """`app_rate_limited` is logged once per rate-limited minute, however often it arrives."""

    def __init__(self) -> None:
        self.minute: int | None = None

    def note(self, payload: payloads.AppRateLimited) -> None:
        if payload.minute_rate_limited != self.minute:
            self.minute = payload.minute_rate_limited
            logs.logger.warning(logs.EVENTS_RATE_LIMITED, payload.minute_rate_limited)


def build_web_app(core: Core, app: AsyncApp, *, slack_route: bool = True) -> web.Application:
    """``slack_route=False`` for Socket Mode: Slack arrives over the WebSocket instead."""
    path = core.settings.slack.request_path
    secret_value = core.secrets.slack_signing_secret
    secret = secret_value.get_secret_value().encode() if secret_value else b""
    known: KnownNames = getattr(app, "known", None) or KnownNames()
    notices = RateLimitNotices()

    # Each label set's children, looked up once: labels come from fixed sets (see above).
    children: dict[tuple[str, str, str], tuple[Histogram, Counter]] = {}

    def count(kind: str, name: str, result: str, started: float) -> None:
        key = (kind, name, result)
        pair = children.get(key)
        if pair is None:
            pair = children[key] = (core.metrics.ack_latency.labels(kind),
                                    core.metrics.requests.labels(kind, name, result))
        pair[0].observe(time.perf_counter() - started)
        pair[1].inc()

    async def slack_events(request: web.Request) -> web.StreamResponse:
        started = time.perf_counter()
        try:
            raw = await read_body(request, request.app[LIMITS])
            if not secret or not slack_signature_ok(secret, raw, request.headers, time.time()):
                raise Refused(401, "unauthorized", "")
            try:
                text, data, payload = payloads.parse(raw,
                                                     request.headers.get("Content-Type", ""))
            except payloads.Malformed as exc:
                logs.logger.info(logs.MALFORMED_REQUEST, exc)
                raise Refused(400, "malformed", "malformed request") from None
        except Refused as refused:
            if refused.outcome == "client_gone":
                logs.logger.info(logs.CLIENT_GONE, request.remote)
            kind = "malformed" if refused.outcome == "malformed" else "unverified"
            count(kind, OTHER, refused.outcome, started)
            return web.Response(status=refused.status, text=refused.reason)
        kind = payloads.kind_of(payload)
        name = known.label(kind, payloads.name_of(payload))
        if isinstance(payload, payloads.AppRateLimited):
            notices.note(payload)
            count(kind, OTHER, "ok", started)
            return web.Response(status=200)
        response = await app.async_dispatch(bolt_request(text, data, request))
        result = outcome(response.status)
        if response.status == 404 and isinstance(payload, payloads.EventCallback):
            # No listener (or none that matched): Slack must still get its 200, or it
            # disables the subscription; the event is counted, not warned about.
            response, result = BoltResponse(status=200, body=""), "ignored"
        count(kind, name, result, started)
        return await web_response(response)

    async def healthz(_: web.Request) -> web.Response:
        """200 when this replica can reach its store (a round trip, not a cached flag); else
        503 with the reason, so a load balancer or readiness probe takes it out of rotation.
        The backend is named, never the url (which names hosts and users)."""
        try:
            async with asyncio.timeout(HEALTH_WAIT):
                problem, schema = await core.store.run(_store_health, core.store)
        except TimeoutError:
            problem, schema = f"no answer from the database within {HEALTH_WAIT:.0f} s", None
        identity = core.identity
        slack = "ok" if identity.ok else ("unknown" if identity.ok is None else identity.error)
        body: dict[str, Any] = {
            "status": "ok" if problem is None else "degraded", "backend": core.store.backend,
            "store": problem is None, "slack": slack, "version": __version__,
            "schema_version": schema}
        if problem is not None:
            body["store_error"] = problem
        return web.json_response(body, status=200 if problem is None else 503)

    async def metrics(_: web.Request) -> web.Response:
        core.metrics.observe_pool(core.store.pool_use(), core.store.worker.in_flight)
        return web.Response(body=core.metrics.render(),
                            headers={"Content-Type": core.metrics.content_type})

    @web.middleware
    async def store_outage(request: web.Request, handler: Any) -> web.StreamResponse:
        """Any route (the CI callbacks): an unreachable database is a 503 and one log line;
        the caller (CI retries its callback) sends it again."""
        try:
            return await handler(request)
        except StoreUnavailable as exc:
            logs.logger.warning(logs.STORE_UNAVAILABLE, request.path, exc)
            return web.json_response(
                {"error": "database unreachable; nothing was stored, try again"}, status=503)

    web_app = web.Application(client_max_size=Limits.max_body, middlewares=[store_outage])
    web_app[LIMITS] = Limits()
    if slack_route:
        web_app.router.add_post(path, slack_events)
    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)
    for route in core.routes:
        web_app.router.add_route(route.method, route.path, route.handler)
    return web_app


def _store_health(store: Store) -> tuple[str | None, int | None]:
    """(On the store's thread.)  Why the database can't be reached (None: it can), and the
    schema version when it can."""
    problem = store.reachable()
    return problem, store.schema_version if problem is None else None
