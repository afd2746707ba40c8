"""Plays Slack's side towards the app: signed slash commands, clicks, modal submits and events.

Payload shapes follow what Slack sends, so Bolt parses them exactly as in production.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import aiohttp
from slack_sdk.signature import SignatureVerifier

from .cast import ANA, DEPLOYS

if TYPE_CHECKING:
    from .server import SlackDouble

VERIFICATION_TOKEN = "legacy-verification-token"
_event_ids = itertools.count(1)


@dataclass
class Ack:
    """The app's HTTP answer to one request, with its round-trip time in seconds."""

    status: int
    body: str
    headers: dict[str, str]
    latency: float

    @property
    def json(self) -> dict[str, Any] | None:
        try:
            data = json.loads(self.body)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    @property
    def text(self) -> str:
        data = self.json
        if data is not None and isinstance(data.get("text"), str):
            return str(data["text"])
        return self.body


def _find_element(blocks: list[dict[str, Any]], action_id: str) -> tuple[str, dict[str, Any]]:
    for block in blocks:
        candidates = list(block.get("elements") or [])
        candidates += [block[k] for k in ("accessory", "element") if isinstance(block.get(k), dict)]
        for el in candidates:
            if isinstance(el, dict) and el.get("action_id") == action_id:
                return str(block.get("block_id", "")), el
    raise AssertionError(f"no element with action_id {action_id!r} in message blocks")


class SlackDriver:
    """Sends requests to the app the way Slack would, signed with the app's signing secret."""

    def __init__(
        self,
        app_url: str,
        signing_secret: str,
        double: SlackDouble,
        *,
        team_id: str | None = None,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.app_url = app_url
        self.double = double
        self.team_id = team_id or double.team_id
        self.verifier = SignatureVerifier(signing_secret)
        self._session = session
        self._own_session = session is None

    async def close(self) -> None:
        if self._own_session and self._session is not None:
            await self._session.close()
        self._session = None

    async def __aenter__(self) -> SlackDriver:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ---- transport --------------------------------------------------------------------------
    def sign(self, body: bytes, timestamp: int) -> dict[str, str]:
        signature = self.verifier.generate_signature(timestamp=str(timestamp), body=body)
        return {"X-Slack-Request-Timestamp": str(timestamp), "X-Slack-Signature": signature or ""}

    async def raw(self, body: bytes, headers: dict[str, str]) -> Ack:
        """POST exact bytes and headers (forged, replayed or malformed requests)."""
        if self._session is None:
            self._session = aiohttp.ClientSession()
        started = time.perf_counter()
        async with self._session.post(self.app_url, data=body, headers=headers) as resp:
            text = await resp.text()
            latency = time.perf_counter() - started
            return Ack(resp.status, text, dict(resp.headers), latency)

    async def _send(
        self,
        body: bytes,
        content_type: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        extra: dict[str, str] | None = None,
    ) -> Ack:
        headers = {"Content-Type": content_type, **self.sign(body, timestamp or int(time.time()))}
        if signature is not None:
            headers["X-Slack-Signature"] = signature
        return await self.raw(body, {**headers, **(extra or {})})

    async def _interaction(self, payload: dict[str, Any]) -> Ack:
        body = urlencode({"payload": json.dumps(payload)}).encode()
        return await self._send(body, "application/x-www-form-urlencoded")

    # ---- payload pieces ---------------------------------------------------------------------
    def _user(self, user: str) -> dict[str, Any]:
        name = self.double.state.users.get(user, {}).get("name", user.lower())
        return {"id": user, "username": name, "name": name, "team_id": self.team_id}

    def _channel_name(self, channel: str) -> str:
        ch = self.double.state.channels.get(channel)
        return ch.name if ch else channel.lower()

    def _base(self, kind: str, user: str) -> dict[str, Any]:
        return {
            "type": kind,
            "token": VERIFICATION_TOKEN,
            "api_app_id": self.double.app_id,
            "team": {"id": self.team_id, "domain": "shipbell-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "user": self._user(user),
            "trigger_id": self.double.new_trigger_id(),
        }

    # ---- what users do ----------------------------------------------------------------------
    async def command(
        self,
        command: str,
        text: str = "",
        *,
        user: str = ANA,
        channel: str = DEPLOYS,
        timestamp: int | None = None,
        signature: str | None = None,
    ) -> Ack:
        form = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "team_domain": "shipbell-test",
            "channel_id": channel,
            "channel_name": self._channel_name(channel),
            "user_id": user,
            "user_name": self._user(user)["name"],
            "command": command,
            "text": text,
            "api_app_id": self.double.app_id,
            "is_enterprise_install": "false",
            "response_url": self.double.new_response_url(channel, user),
            "trigger_id": self.double.new_trigger_id(),
        }
        body = urlencode(form).encode()
        return await self._send(
            body, "application/x-www-form-urlencoded", timestamp=timestamp, signature=signature
        )

    async def action(
        self,
        action_id: str,
        value: str = "",
        *,
        user: str = ANA,
        channel: str = DEPLOYS,
        message_ts: str | None = None,
        block_id: str = "b",
        message: dict[str, Any] | None = None,
        view: dict[str, Any] | None = None,
    ) -> Ack:
        act = {"action_id": action_id, "block_id": block_id, "type": "button", "value": value}
        return await self._block_action(
            act, user=user, channel=channel, message_ts=message_ts, message=message, view=view
        )

    async def press(
        self,
        message: dict[str, Any],
        action_id: str,
        *,
        user: str = ANA,
        value: str | None = None,
        channel: str | None = None,
    ) -> Ack:
        """Click the element `action_id` of a message, sending its own value and block_id."""
        block_id, el = _find_element(message.get("blocks") or [], action_id)
        act: dict[str, Any] = {"action_id": action_id, "block_id": block_id, "type": el["type"]}
        if el["type"] in ("static_select", "overflow") and value is None:
            act["selected_option"] = (el.get("options") or [{}])[0]
        else:
            act["value"] = el.get("value", "") if value is None else value
        if "text" in el:
            act["text"] = el["text"]
        found = self.double.state.find_message(message["ts"]) if message.get("ts") else None
        where = channel or (found[0] if found else DEPLOYS)
        return await self._block_action(
            act, user=user, channel=where, message_ts=message.get("ts"), message=message, view=None
        )

    async def _block_action(
        self,
        act: dict[str, Any],
        *,
        user: str,
        channel: str,
        message_ts: str | None,
        message: dict[str, Any] | None,
        view: dict[str, Any] | None,
    ) -> Ack:
        payload = self._base("block_actions", user)
        payload["actions"] = [{**act, "action_ts": f"{time.time():.6f}"}]
        if view is not None:
            payload["container"] = {"type": "view", "view_id": view.get("id")}
            payload["view"] = view
            return await self._interaction(payload)
        ts = message_ts or (message or {}).get("ts")
        stored = self.double.state.find_message(ts) if ts else None
        if stored is not None:
            message = copy.deepcopy(stored[1])  # what Slack sends is the message as it is now
        payload["channel"] = {"id": channel, "name": self._channel_name(channel)}
        payload["container"] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": stored is None,
        }
        if stored is not None and message is not None:
            payload["message"] = message
        payload["state"] = {"values": {}}
        payload["response_url"] = self.double.new_response_url(channel, user, message_ts=ts)
        return await self._interaction(payload)

    async def submit_view(
        self, view: dict[str, Any], values: dict[str, dict[str, Any]], *, user: str = ANA
    ) -> Ack:
        """Submit a modal; `view` as opened (id looked up by callback_id when missing)."""
        views = self.double.state.views
        vid = view.get("id") or next(
            (
                v["id"]
                for v in reversed(views.values())
                if v["callback_id"] == view.get("callback_id") and not v["closed"]
            ),
            None,
        )
        current = {
            k: copy.deepcopy(v)
            for k, v in views.get(vid or "", {}).items()
            if k not in ("user", "closed")
        }
        sent = {**current, **copy.deepcopy(view), "id": vid, "team_id": self.team_id}
        sent.setdefault("hash", f"{int(time.time())}.x")
        sent["state"] = {"values": copy.deepcopy(values)}
        payload = self._base("view_submission", user)
        payload.update({"view": sent, "response_urls": []})
        ack = await self._interaction(payload)
        if vid in views and ack.status == 200:
            self._after_submit(vid, ack)
        return ack

    def _after_submit(self, vid: str, ack: Ack) -> None:
        """Apply the ack to the modal stack like Slack: close, clear or update the view."""
        views = self.double.state.views
        action = (ack.json or {}).get("response_action")
        if not ack.body.strip() or action is None:
            views[vid]["closed"] = True
        elif action == "clear":
            root = views[vid]["root_view_id"]
            for v in views.values():
                if v["root_view_id"] == root:
                    v["closed"] = True
        elif action == "update" and isinstance((ack.json or {}).get("view"), dict):
            views[vid].update(
                {
                    k: v
                    for k, v in ack.json["view"].items()  # type: ignore[index]
                    if k
                    in ("title", "blocks", "submit", "close", "callback_id", "private_metadata")
                }
            )

    async def event(
        self,
        event: dict[str, Any],
        *,
        event_id: str | None = None,
        retry_num: int | None = None,
        retry_reason: str = "http_timeout",
    ) -> Ack:
        now = time.time()
        body = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": self.double.app_id,
            "event": {"event_ts": f"{now:.6f}", **event},
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_event_ids):010d}",
            "event_time": int(now),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": self.double.bot_user_id,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        extra = {}
        if retry_num is not None:
            extra = {"X-Slack-Retry-Num": str(retry_num), "X-Slack-Retry-Reason": retry_reason}
        return await self._send(json.dumps(body).encode(), "application/json", extra=extra)

    async def url_verification(self, challenge: str = "challenge-token") -> Ack:
        body = {"token": VERIFICATION_TOKEN, "challenge": challenge, "type": "url_verification"}
        return await self._send(json.dumps(body).encode(), "application/json")

    # ---- view state values ------------------------------------------------------------------
    @staticmethod
    def text_value(s: str | None) -> dict[str, Any]:
        return {"type": "plain_text_input", "value": s}

    @staticmethod
    def select_value(v: str | None, text: str | None = None) -> dict[str, Any]:
        option = (
            None if v is None else {"text": {"type": "plain_text", "text": text or v}, "value": v}
        )
        return {"type": "static_select", "selected_option": option}

    @staticmethod
    def checkbox_values(values: list[str]) -> dict[str, Any]:
        return {
            "type": "checkboxes",
            "selected_options": [
                {"text": {"type": "plain_text", "text": v}, "value": v} for v in values
            ],
        }

    @staticmethod
    def user_value(user_id: str | None) -> dict[str, Any]:
        return {"type": "users_select", "selected_user": user_id}

    @staticmethod
    def date_value(day: str | None) -> dict[str, Any]:
        return {"type": "datepicker", "selected_date": day}
