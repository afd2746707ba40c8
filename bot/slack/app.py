"""The one AsyncApp: fast acks, deduplicated events, and one error handler for everything.

``process_before_response=True`` sends the response as soon as the listener returns, so
listeners ack first and hand slow work to the task runner; Bolt's default mode would poll
for the ack every 10 ms.  Authorization comes from the configured token without calling
``auth.test`` on the request path (start-up does that, in the background).

Over HTTP, Bolt's own signature check stays as a second line of defence (``SecondLine``) for
any request that reaches Bolt without the edge's mark (bot.slack.server); requests the edge
verified are not hashed a second time.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.observability import KnownNames
from shipbell.bot.slack import gateway, payloads
from shipbell.bot.slack.payloads import VERIFIED
from shipbell.bot.storage import StoreUnavailable
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.middleware.request_verification.async_request_verification import (
    AsyncRequestVerification,
)
from slack_bolt.response import BoltResponse

MAX_COMMAND_TEXT = 4000
TOO_LONG = (
    "That's {n:,} characters; Shipbell reads commands up to 4,000. "
    "Put long text in a message and link it instead."
)
SOMETHING_WRONG = "Something went wrong (error id {error_id}). It has been logged; try again."
STORE_DOWN = ("Shipbell can't reach its database right now; nothing was changed. Try again in"
              " a minute.")


class ShipbellApp(AsyncApp):
    """Bolt's AsyncApp, remembering what listeners are registered for (metric labels)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.known = KnownNames()

    def command(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        self.known.add("command", command)
        return super().command(command, *args, **kwargs)

    def action(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.known.add("block_actions", constraints)
        return super().action(constraints, *args, **kwargs)

    def view(self, constraints: Any, *args: Any, **kwargs: Any) -> Any:
        self.known.add("view_submission", constraints)
        return super().view(constraints, *args, **kwargs)

    def event(self, event: Any, *args: Any, **kwargs: Any) -> Any:
        self.known.add("event_callback", event)
        return super().event(event, *args, **kwargs)


def build_app(core: Core, *, socket_mode: bool = False) -> AsyncApp:
    secret = core.secrets.slack_signing_secret
    signing_secret = secret.get_secret_value() if secret else "socket-mode-unused"
    token = core.secrets.slack_bot_token.get_secret_value() if core.secrets.slack_bot_token else ""

    app = ShipbellApp(
        logger=_bolt_logger(),
        client=core.client,
        signing_secret=signing_secret,
        authorize=_ConfiguredToken(core, token),
        process_before_response=True,
        request_verification_enabled=False,  # SecondLine takes its place over HTTP
        before_authorize=None if socket_mode else SecondLine(signing_secret,
                                                             base_logger=_bolt_logger()),
        raise_error_for_unhandled_request=False,
    )
    if socket_mode:  # over HTTP the edge (bot.slack.server) has typed the body already
        app.use(_typed)
    app.use(_Screen(core))
    app.error(_error_handler(core, trusted_transport=socket_mode))
    return app


class _ConfiguredToken(AsyncAuthorize):
    """Every request is authorized with the configured bot token and what start-up's
    ``auth.test`` said (never a call on the request path).  An ``AsyncAuthorize``, which
    Bolt calls directly; a plain function would have its arguments built on every request."""

    def __init__(self, core: Core, token: str) -> None:
        self.core, self.token = core, token

    async def __call__(self, *, context: AsyncBoltContext, enterprise_id: str | None,
                       team_id: str | None, user_id: str | None,
                       **_: Any) -> AuthorizeResult:
        identity = self.core.identity
        return AuthorizeResult(
            enterprise_id=enterprise_id,
            team_id=team_id or identity.team_id,
            bot_token=self.token,
            bot_user_id=identity.bot_user_id,
            bot_id=identity.bot_id,
        )


class SecondLine(AsyncRequestVerification):
    """Bolt's signature check, where Bolt puts it (before authorization), for every request
    that did not come through the HTTP edge: the edge verified the raw bytes of those it
    marked (``payloads.VERIFIED``, set in the Bolt context, which no body can write), so
    the same HMAC over the same bytes is not computed twice.  Anything else that reaches
    Bolt is checked exactly as Bolt's own middleware would."""

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse:
        if req.context.get(VERIFIED) is True:
            return await next()
        return await super().async_process(req=req, resp=resp, next=next)


class _DropTokenWarning(logging.Filter):
    """Bolt warns that the client's token is unused when `authorize` is given; by design here.

    Its multi-line "Unhandled request … [Suggestion]" warning goes too: the HTTP edge answers
    and counts requests no listener took (events get their 200, counted by name or `other`).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        # "… `token` will be unused" (client given) / "… will be ignored" (authorize given)
        return "`token`" not in message and not message.startswith("Unhandled request")


def _bolt_logger() -> logging.Logger:
    log = logging.getLogger("shipbell.bolt")
    if not any(isinstance(f, _DropTokenWarning) for f in log.filters):
        log.addFilter(_DropTokenWarning())
    return log


async def _typed(body: dict[str, Any], next: Any) -> Any:
    """Socket Mode bodies get the edge's typed-payload check: malformed is one line, no 500.

    The envelope is still acknowledged (a 200 without payload): unacknowledged, Slack would
    redeliver something that will never parse.
    """
    try:
        payloads.typed(body)
    except payloads.Malformed as exc:
        logs.logger.info(logs.MALFORMED_REQUEST, exc)
        return BoltResponse(status=200, body="")
    return await next()


class _Screen(AsyncMiddleware):
    """One middleware for cheap refusals: already-handled events and over-long commands.

    A middleware class, not a function: Bolt calls it directly instead of inspecting a
    function's arguments and building them for every request."""

    def __init__(self, core: Core) -> None:
        self.core = core

    async def async_process(self, *, req: AsyncBoltRequest, resp: BoltResponse,
                            next: Callable[[], Awaitable[BoltResponse]]) -> BoltResponse | None:
        body = req.body
        if "command" in body:
            text = body.get("text") or ""
            if len(text) > MAX_COMMAND_TEXT:
                return BoltResponse(status=200, body=TOO_LONG.format(n=len(text)))
        elif body.get("event_id") and not await self.core.store.run(
                self.core.claim_key, f"event:{body['event_id']}"):
            retry = req.headers.get("x-slack-retry-num", ["-"])[0]
            logs.logger.info(logs.EVENT_DUPLICATE, body["event_id"], retry)
            return BoltResponse(status=200, body="")
        return await next()


def _error_handler(
    core: Core, *, trusted_transport: bool
) -> Callable[..., Awaitable[BoltResponse | None]]:
    """Log with an error id and tell the user; but only ever for a request that was verified
    (the HTTP edge marks those; Socket Mode arrives over Slack's own authenticated socket).
    Anything else gets a bare 401: its body names a response_url nobody vouched for."""

    async def handle(
        error: Exception, body: dict[str, Any], request: AsyncBoltRequest
    ) -> BoltResponse | None:
        if not (trusted_transport or request.context.get(VERIFIED)):
            logs.logger.warning(logs.UNVERIFIED_ERROR, type(error).__name__)
            return BoltResponse(status=401, body="")
        what = body.get("command") or body.get("type") or "request"
        if isinstance(error, StoreUnavailable):
            return await _store_down(core, error, what, body)
        error_id = uuid.uuid4().hex[:8]
        logs.logger.error(logs.LISTENER_ERROR, error_id, what, exc_info=error)
        message = {"response_type": "ephemeral", "text": SOMETHING_WRONG.format(error_id=error_id)}
        if body.get("type") == "view_submission":
            return BoltResponse(status=200, body="")
        if body.get("response_url") and not body.get("command"):
            await gateway.reply(core, body["response_url"], message)
            return BoltResponse(status=200, body="")
        return BoltResponse(
            status=200, body=json.dumps(message), headers={"content-type": "application/json"}
        )

    return handle


async def _store_down(core: Core, error: StoreUnavailable, what: str,
                      body: dict[str, Any]) -> BoltResponse:
    """The database is unreachable: whatever the request asked was not stored, so nothing is
    acknowledged as done.  The person is told so in one sentence (an event is refused with a
    503 instead, so that Slack delivers it again); the log gets one line, no traceback."""
    logs.logger.warning(logs.STORE_UNAVAILABLE, what, error)
    message = {"response_type": "ephemeral", "text": STORE_DOWN}
    if body.get("type") == "event_callback":
        return BoltResponse(status=503, body="")
    if body.get("type") == "view_submission":  # the modal stays open, the text under a field
        inputs = [b["block_id"] for b in body.get("view", {}).get("blocks", [])
                  if b.get("type") == "input" and b.get("block_id")]
        if not inputs:
            return BoltResponse(status=503, body="")
        answer = {"response_action": "errors", "errors": {inputs[0]: STORE_DOWN}}
        return BoltResponse(status=200, body=json.dumps(answer),
                            headers={"content-type": "application/json"})
    if body.get("response_url") and not body.get("command"):
        # Not gateway.reply: that persists a task, in the database that is out of reach.
        try:
            await gateway.respond(core, body["response_url"],
                                  {**message, "replace_original": False})
        except Exception as exc:  # Slack unreachable too: said in the log
            logs.logger.warning(logs.SLACK_CALL_FAILED, "response_url", logs.describe(exc))
        return BoltResponse(status=200, body="")
    return BoltResponse(
        status=200, body=json.dumps(message), headers={"content-type": "application/json"})
