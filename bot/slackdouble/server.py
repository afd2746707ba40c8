"""The fake Slack Web API: an aiohttp server on 127.0.0.1 that records every call it answers.

Tests point `AsyncWebClient(base_url=double.api_url)` at it and assert on `double.calls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import secrets
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from shipbell.bot.inputs import CHANNEL_ID, GROUP_ID, USER_ID
from shipbell.bot.slack.manifest import BOT_SCOPES as DEFAULT_SCOPES

from . import conversations as _conversations  # noqa: F401  (registers methods)
from . import views as _views  # noqa: F401  (registers methods)
from .blockkit import validate_blocks
from .cast import ANA, CHANNELS, GROUPS, PEOPLE, SHIPBELL, TEAM
from .methods import METHODS
from .socket import SocketLink
from .state import RESPONSE_URL_TTL, RESPONSE_URL_USES, Channel, SlackError, Workspace

JSON_ARGS = ("blocks", "attachments", "view", "files", "metadata", "outputs", "unfurls")


@dataclass
class Call:
    """One request the double answered (a Web API method, `response_url` or `file_upload`)."""

    method: str
    args: dict[str, Any]
    response: dict[str, Any]
    status: int = 200
    token: str | None = None


def _decode(args: dict[str, Any]) -> dict[str, Any]:
    """Form/query bodies carry blocks, views and file lists as JSON strings; tests want objects."""
    for key in JSON_ARGS:
        value = args.get(key)
        if isinstance(value, str) and value[:1] in ("[", "{"):
            with contextlib.suppress(ValueError):
                args[key] = json.loads(value)
    return args


# Methods that read JSON bodies (slack-platform.md's table); others read form or query fields.
JSON_METHODS = frozenset({"chat.postMessage", "chat.postEphemeral", "chat.update", "chat.delete",
                          "views.open", "views.push", "views.update", "views.publish"})


async def _read_args(request: web.Request) -> dict[str, Any]:
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                args.update(body)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    return _decode(args)


def _issued(kind: re.Pattern[str], slack_id: str, *members: str) -> None:
    """Seeded ids have the shape Slack gives them, so nothing passes here that real Slack
    would never send (the cast in `.cast` names people and channels readably)."""
    for value, pattern in ((slack_id, kind), *((m, USER_ID) for m in members)):
        if not pattern.fullmatch(value):
            raise ValueError(f"{value!r} is not an id Slack would issue; use a kind letter and"
                             " eight or more upper-case letters or digits, e.g. U0ANA0001")


class SlackDouble:
    """In-process stand-in for slack.com: Web API, response_urls, upload URLs, workspace state."""

    def __init__(
        self,
        *,
        token: str = "xoxb-test-token",
        team_id: str = TEAM,
        bot_user_id: str = SHIPBELL,
        app_token: str = "xapp-test",
        strict: bool = True,
        app_id: str = "A0SHIPBELL",
    ) -> None:
        self.token = token
        self.app_token = app_token
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.app_id = app_id
        self.strict = strict
        # Scopes the bot token "has": sent as X-OAuth-Scopes like Slack, so `check` can compare.
        self.scopes: list[str] = list(DEFAULT_SCOPES)
        self.socket = SocketLink()
        self.state = Workspace(team_id=team_id, bot_user_id=bot_user_id)
        self.calls: list[Call] = []
        self.listeners: list[Callable[[Call], None]] = []
        self.problems: list[str] = []
        # Client connections seen (peer address and port): reuse shows as fewer of them.
        self.connections: set[tuple[str, int]] = set()
        self.port = 0
        self._injected: dict[str, deque[tuple[int, dict[str, Any], dict[str, str]]]] = {}
        self._lost: dict[str, list[Callable[[dict[str, Any]], bool] | None]] = {}
        self._gates: dict[str, asyncio.Event] = {}
        self.waiting: dict[str, int] = {}  # calls parked at a held method, by method
        self._stopping = asyncio.Event()
        self._waiters: set[asyncio.Event] = set()
        self._runner: web.AppRunner | None = None
        self.add_user(bot_user_id, "shipbell", real_name="Shipbell")
        self.state.users[bot_user_id]["is_bot"] = True

    # ---- lifecycle --------------------------------------------------------------------------
    async def start(self) -> None:
        app = web.Application(middlewares=[self._count_connection])
        app.router.add_route("*", "/api/{method}", self._api)
        app.router.add_post("/response/{key}", self._response_url)
        app.router.add_post("/upload/{file_id}", self._upload)
        self.socket.install(app)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    @web.middleware
    async def _count_connection(self, request: web.Request, handler: Any) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peername") if request.transport else None
        if peer:
            self.connections.add((str(peer[0]), int(peer[1])))
        response: web.StreamResponse = await handler(request)
        return response

    async def stop(self) -> None:
        self._stopping.set()  # lost replies stop waiting
        await self.socket.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> SlackDouble:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        if not self.port:
            raise RuntimeError("SlackDouble not started")
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/"

    @property
    def now(self) -> Callable[[], float]:
        """The double's clock (trigger and response_url expiry); assign a callable to move it."""
        return self.state.now

    @now.setter
    def now(self, clock: Callable[[], float]) -> None:
        self.state.now = clock

    # ---- seeding ----------------------------------------------------------------------------
    def add_user(
        self,
        user_id: str,
        name: str,
        *,
        real_name: str | None = None,
        deleted: bool = False,
        tz: str = "UTC",
    ) -> None:
        _issued(USER_ID, user_id)
        real = real_name or name
        self.state.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": real,
            "deleted": deleted,
            "is_bot": False,
            "tz": tz,
            "tz_offset": 0,
            "profile": {"real_name": real, "display_name": name, "email": f"{name}@example.com"},
        }

    def add_usergroup(self, group_id: str, handle: str, members: list[str], *,
                      disabled: bool = False) -> None:
        _issued(GROUP_ID, group_id, *members)
        self.state.usergroups[group_id] = {
            "id": group_id,
            "team_id": self.team_id,
            "is_usergroup": True,
            "handle": handle,
            "name": handle,
            "date_delete": int(self.state.now()) if disabled else 0,
            "users": list(members),
            "user_count": len(members),
        }

    def add_channel(
        self,
        name: str,
        *,
        channel_id: str | None = None,
        is_private: bool = False,
        members: list[str] | tuple[str, ...] = (),
        is_archived: bool = False,
    ) -> str:
        cid = channel_id or self.state.new_id("G" if is_private else "C")
        _issued(CHANNEL_ID, cid, *members)
        self.state.channels[cid] = Channel(
            cid,
            name,
            is_private=is_private,
            members=list(members),
            is_archived=is_archived,
            created=int(self.state.now()),
        )
        return cid

    def add_cast(self, *, channel_members: list[str] | None = None) -> SlackDouble:
        """The simulated workspace (``cast.py``): its people, groups and channels, keeping
        any already here (a restored workspace).  Each channel's members are
        ``channel_members`` (default: the people)."""
        for user_id, name in PEOPLE.items():
            if user_id not in self.state.users:
                self.add_user(user_id, name)
        for group_id, (handle, members) in GROUPS.items():
            if group_id not in self.state.usergroups:
                self.add_usergroup(group_id, handle, members)
        for channel_id, name in CHANNELS.items():
            if channel_id not in self.state.channels:
                self.add_channel(name, channel_id=channel_id, members=list(
                    PEOPLE if channel_members is None else channel_members))
        return self

    def add_message(
        self,
        channel_id: str,
        text: str,
        *,
        user: str = ANA,
        thread_ts: str | None = None,
        **fields: Any,
    ) -> str:
        """Seed a message as if a person wrote it (bots may not update it); returns its ts."""
        msg: dict[str, Any] = {"type": "message", "user": user, "text": text, **fields}
        if thread_ts:
            msg["thread_ts"] = thread_ts
        return str(self.state.add_message(channel_id, msg)["ts"])

    def fail_next(self, method: str, error: str, *, times: int = 1, **extra: Any) -> None:
        for _ in range(times):
            self._inject(method, 200, {"ok": False, "error": error, **extra}, {})

    def rate_limit_next(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        body = {"ok": False, "error": "ratelimited"}
        for _ in range(times):
            self._inject(method, 429, body, {"Retry-After": str(retry_after)})

    def lose_reply_next(self, method: str, *, times: int = 1,
                        where: Callable[[dict[str, Any]], bool] | None = None) -> None:
        """The next call to ``method`` (whose arguments match ``where``, when given) takes
        effect, but its answer never reaches the caller (the caller crashed, or the network
        dropped the reply): it hangs until cancelled."""
        self._lost.setdefault(method, []).extend([where] * times)

    def hold(self, method: str) -> None:
        """Calls to ``method`` wait (Slack is slow) until ``release(method)``; ``waiting``
        counts them, so a test sees how many the caller has in flight at once.
        ``"response_url"`` holds posts to response URLs the same way."""
        self._gates[method] = asyncio.Event()

    async def wait_held(self, method: str, count: int = 1, *, timeout: float = 5.0) -> None:
        """Wait until ``count`` calls to a held ``method`` are parked at its gate."""
        async with asyncio.timeout(timeout):
            while self.waiting.get(method, 0) < count:
                event = asyncio.Event()
                self._waiters.add(event)
                try:
                    await event.wait()
                finally:
                    self._waiters.discard(event)

    def release(self, method: str) -> None:
        gate = self._gates.pop(method, None)
        if gate is not None:
            gate.set()

    def _inject(self, method: str, status: int, body: dict[str, Any], headers: dict[str, str]):
        self._injected.setdefault(method, deque()).append((status, body, headers))

    def new_response_url(
        self, channel_id: str, user_id: str, *, message_ts: str | None = None
    ) -> str:
        """A response_url good for 5 posts in 30 minutes; `message_ts` enables replace/delete."""
        key = secrets.token_hex(12)
        self.state.response_urls[key] = {
            "channel": channel_id,
            "user": user_id,
            "message_ts": message_ts,
            "uses": 0,
            "issued": self.state.now(),
        }
        return f"{self.base_url}/response/{key}"

    def new_trigger_id(self) -> str:
        return self.state.issue_trigger()

    # ---- inspection -------------------------------------------------------------------------
    def calls_to(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def messages(self, channel_id: str) -> list[dict[str, Any]]:
        """Snapshot copies, so a test can't mutate the workspace by accident."""
        return copy.deepcopy(self.state.messages.get(channel_id, []))

    def note_problems(self, where: str, problems: list[str]) -> None:
        """Strict mode keeps every Block Kit / usage problem so a fixture can assert none."""
        if self.strict:
            self.problems.extend(f"{where}: {p}" for p in problems)

    async def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int = 0,
    ) -> Call:
        """First call to `method` at index >= `after` matching `predicate`; woken per call."""
        return (await self.wait_for_count(method, 1, predicate, timeout=timeout, after=after))[0]

    async def wait_for_count(
        self,
        method: str,
        count: int,
        predicate: Callable[[Call], bool] | None = None,
        *,
        timeout: float = 5.0,
        after: int = 0,
    ) -> list[Call]:
        """The first `count` matching calls, waiting for them to arrive."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event = asyncio.Event()
        self._waiters.add(event)
        try:
            while True:
                event.clear()
                found = [
                    c
                    for c in self.calls[after:]
                    if c.method == method and (predicate is None or predicate(c))
                ]
                if len(found) >= count:
                    return found[:count]
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(event.wait(), remaining)
        finally:
            self._waiters.discard(event)
        seen = "\n".join(
            f"  [{i}] {c.status} {c.method} {c.args!r:.200} -> {c.response!r:.120}"
            for i, c in enumerate(self.calls[after:], start=after)
        )
        raise AssertionError(
            f"timed out after {timeout}s waiting for {count}× {method}; calls seen:\n"
            f"{seen or '  (none)'}"
        )

    # ---- HTTP -------------------------------------------------------------------------------
    def _record(self, call: Call) -> None:
        self.calls.append(call)
        for event in self._waiters:
            event.set()
        for listener in list(self.listeners):
            try:
                listener(call)
            except Exception as exc:  # a broken printer must not break the API
                self.problems.append(f"listener {listener!r} raised {exc!r}")

    def _auth_error(self, method: str, token: str | None) -> str | None:
        if token is None:
            return "not_authed"
        wants_app_token = method == "apps.connections.open"
        if token == self.app_token:
            return None if wants_app_token else "not_allowed_token_type"
        if token == self.token:
            return "not_allowed_token_type" if wants_app_token else None
        return "invalid_auth"

    def _answer(
        self,
        method: str,
        args: dict[str, Any],
        token: str | None,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
    ) -> web.Response:
        self._record(Call(method, args, body, status, token))
        return web.json_response(body, status=status, headers=headers)

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        args = await _read_args(request)
        if request.content_type == "application/json" and method not in JSON_METHODS:
            self.note_problems(method, ["sent as JSON; Slack reads this method's form fields"])
        auth = request.headers.get("Authorization", "")
        token = auth[7:] if auth.startswith("Bearer ") else args.pop("token", None)
        if method not in METHODS:
            self.note_problems(method, ["unknown_method: the double does not implement it"])
            return self._answer(method, args, token, 200, {"ok": False, "error": "unknown_method"})
        error = self._auth_error(method, token)
        if error:
            return self._answer(method, args, token, 200, {"ok": False, "error": error})
        await self._held(method)
        if self._injected.get(method):
            status, body, headers = self._injected[method].popleft()
            return self._answer(method, args, token, status, dict(body), headers)
        try:
            body = {"ok": True, **METHODS[method](self, args)}
        except SlackError as exc:
            body = {"ok": False, "error": exc.error, **exc.extra}
        scopes = {"X-OAuth-Scopes": ",".join(self.scopes)} if token == self.token else None
        if self._loses(method, args):
            self._record(Call(method, args, body, 200, token))
            await self._stopping.wait()  # the caller gives up first; nothing answers it
            raise web.HTTPServiceUnavailable()
        return self._answer(method, args, token, 200, body, scopes)

    def _loses(self, method: str, args: dict[str, Any]) -> bool:
        """Whether this call's answer is to be lost (``lose_reply_next``); uses the loss up."""
        lost = self._lost.get(method) or []
        for i, where in enumerate(lost):
            if where is None or where(args):
                del lost[i]
                return True
        return False

    async def _held(self, method: str) -> None:
        """Park the call while ``method`` is held (counted in ``waiting``)."""
        gate = self._gates.get(method)
        if gate is not None:
            self.waiting[method] = self.waiting.get(method, 0) + 1
            for event in self._waiters:  # wake wait_held
                event.set()
            try:
                await asyncio.wait({asyncio.ensure_future(gate.wait()),
                                    asyncio.ensure_future(self._stopping.wait())},
                                   return_when=asyncio.FIRST_COMPLETED)
            finally:
                self.waiting[method] -= 1

    async def _response_url(self, request: web.Request) -> web.Response:
        try:
            args = _decode(await request.json())
        except ValueError:
            args = {"raw": await request.text()}
        await self._held("response_url")
        entry = self.state.response_urls.get(request.match_info["key"])
        if self._injected.get("response_url"):
            status, body, headers = self._injected["response_url"].popleft()
            return self._answer("response_url", args, None, status, dict(body), headers)
        if entry is None:
            return self._answer(
                "response_url", args, None, 404, {"ok": False, "error": "no_service"}
            )
        expired = self.state.now() - entry["issued"] > RESPONSE_URL_TTL
        if expired or entry["uses"] >= RESPONSE_URL_USES:
            return self._answer(
                "response_url", args, None, 404, {"ok": False, "error": "expired_url"}
            )
        if args.get("blocks") is not None and (problems := validate_blocks(args["blocks"])):
            self.note_problems("response_url", problems)
            body = {"ok": False, "error": "invalid_blocks", "errors": problems}
            return self._answer("response_url", args, None, 400, body)
        entry["uses"] += 1
        self._apply_response(entry, args)
        return self._answer("response_url", args, None, 200, {"ok": True})

    def _apply_response(self, entry: dict[str, Any], args: dict[str, Any]) -> None:
        """Mirror what the client would show: replace/delete the original, or post anew."""
        ws, channel, ts = self.state, entry["channel"], entry["message_ts"]
        original = ws.find_message(ts) if ts else None
        content: dict[str, Any] = {k: args[k] for k in ("text", "blocks", "attachments")
                                   if k in args}
        if original and args.get("delete_original"):
            ws.delete_message(original[0], ts)
        elif original and args.get("replace_original"):
            for key in ("blocks", "attachments"):  # a replacement is the whole message
                original[1].pop(key, None)
            original[1].update({"text": "", **content})
        elif args.get("response_type") == "in_channel" and channel in ws.channels:
            msg: dict[str, Any] = {"user": ws.bot_user_id, "bot_id": ws.bot_id, "text": "",
                                   **content}
            if args.get("thread_ts"):
                msg["thread_ts"] = args["thread_ts"]
            ws.add_message(channel, msg)
        else:
            ws.ephemerals.append(
                {"channel": channel, "user": entry["user"], "ts": ws.new_ts(), **content}
            )

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        f = self.state.files.get(request.match_info["file_id"])
        args = {"file_id": request.match_info["file_id"], "length": len(data)}
        if f is None:
            self._record(Call("file_upload", args, {"ok": False, "error": "not_found"}, 404))
            return web.Response(status=404, text="not_found")
        f["content"], f["size"] = data, len(data)
        args["filename"] = f["name"]
        self._record(Call("file_upload", args, {"ok": True, "body": f"OK - {len(data)}"}, 200))
        return web.Response(text=f"OK - {len(data)}")
