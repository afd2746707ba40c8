"""Workspace state of the Slack double: what a real workspace would remember between calls.

Kept free of HTTP so tests and the local shell can seed and inspect it directly.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .cast import SHIPBELL_BOT

CHANNEL_NAME_RE = re.compile(r"^[a-z0-9_-]+$")
TRIGGER_TTL = 3.0
RESPONSE_URL_USES = 5
RESPONSE_URL_TTL = 30 * 60.0


class SlackError(Exception):
    """A Web API error the double answers as HTTP 200 `{"ok": false, "error": ...}`."""

    def __init__(self, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.extra = extra


@dataclass
class Channel:
    """A conversation; `members` empty on a public channel means "nobody modelled yet"."""

    id: str
    name: str
    is_private: bool = False
    members: list[str] = field(default_factory=list)
    is_archived: bool = False
    is_im: bool = False
    creator: str = ""
    created: int = 0
    topic: str = ""
    purpose: str = ""

    def to_api(self, bot_user_id: str) -> dict[str, Any]:
        """Shape of `conversations.info`'s `channel` object (the fields apps actually read)."""
        return {
            "id": self.id,
            "name": self.name,
            "name_normalized": self.name,
            "is_channel": not self.is_private and not self.is_im,
            "is_group": self.is_private,
            "is_im": self.is_im,
            "is_private": self.is_private,
            "is_archived": self.is_archived,
            "is_general": False,
            "is_member": bot_user_id in self.members,
            "created": self.created,
            "creator": self.creator,
            "num_members": len(self.members),
            "topic": {"value": self.topic, "creator": self.creator, "last_set": 0},
            "purpose": {"value": self.purpose, "creator": self.creator, "last_set": 0},
        }


def validate_channel_name(name: str) -> None:
    """Slack's channel-name rules, with the error codes Slack uses."""
    if not name:
        raise SlackError("invalid_name_required")
    if len(name) > 80:
        raise SlackError("invalid_name_maxlength")
    if not CHANNEL_NAME_RE.match(name):
        raise SlackError("invalid_name_specials")


class Workspace:
    """Channels, users, messages and friends, plus the double's clock for expiring tokens."""

    def __init__(self, *, team_id: str, bot_user_id: str, bot_id: str = SHIPBELL_BOT) -> None:
        self.team_id = team_id
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.now: Callable[[], float] = time.time
        self.channels: dict[str, Channel] = {}
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, dict[str, Any]] = {}
        self.messages: dict[str, list[dict[str, Any]]] = {}
        self.ephemerals: list[dict[str, Any]] = []
        self.pins: dict[str, list[str]] = {}
        self.bookmarks: dict[str, list[dict[str, Any]]] = {}
        self.views: dict[str, dict[str, Any]] = {}
        self.home_views: dict[str, str] = {}
        self.files: dict[str, dict[str, Any]] = {}
        self.triggers: dict[str, float] = {}
        self.response_urls: dict[str, dict[str, Any]] = {}
        self._next_id = 1
        self._last_ts = 0

    # ---- ids and clocks ---------------------------------------------------------------------
    def new_id(self, prefix: str) -> str:
        """Slack-looking ids (`C…`, `V…`, `F…`), unique within the workspace."""
        number, self._next_id = self._next_id, self._next_id + 1
        return f"{prefix}0{number:08X}"

    def new_ts(self) -> str:
        """Message ts from the clock, bumped by 1 µs when needed so it is unique and increasing."""
        micros = max(self._last_ts + 1, int(self.now() * 1_000_000))
        self._last_ts = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def issue_trigger(self) -> str:
        trigger_id = f"{int(self.now())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"
        self.triggers[trigger_id] = self.now()
        return trigger_id

    def consume_trigger(self, trigger_id: str | None, *, peek: bool = False) -> None:
        """Triggers are single use and live 3 s; anything else is `expired_trigger_id`."""
        issued = self.triggers.get(trigger_id or "")
        if issued is None or self.now() - issued > TRIGGER_TTL:
            raise SlackError("expired_trigger_id")
        if not peek:
            del self.triggers[trigger_id or ""]

    # ---- persistence (the local shell keeps its workspace beside its database) -------------
    PERSISTED = ("users", "usergroups", "messages", "pins", "bookmarks", "views", "home_views")

    def snapshot(self) -> dict[str, Any]:
        """What a workspace remembers across restarts, as JSON-ready data.

        Trigger ids, response_urls and ephemerals are left out: Slack forgets them too.
        """
        data: dict[str, Any] = {key: getattr(self, key) for key in self.PERSISTED}
        data["channels"] = [asdict(ch) for ch in self.channels.values()]
        data["files"] = {
            fid: {**f, "content": None if f.get("content") is None
                  else base64.b64encode(f["content"]).decode("ascii")}
            for fid, f in self.files.items()
        }
        data["next_id"], data["last_ts"] = self._next_id, self._last_ts
        return data

    def restore(self, data: dict[str, Any]) -> None:
        """Load a `snapshot()`; ids and ts keep counting from where they stopped."""
        for key in self.PERSISTED:
            getattr(self, key).update(data.get(key) or {})
        for raw in data.get("channels") or []:
            self.channels[raw["id"]] = Channel(**raw)
        for fid, f in (data.get("files") or {}).items():
            content = f.get("content")
            self.files[fid] = {**f, "content": None if content is None
                               else base64.b64decode(content)}
        self._next_id = max(self._next_id, int(data.get("next_id") or 1))
        self._last_ts = max(self._last_ts, int(data.get("last_ts") or 0))

    # ---- lookups ----------------------------------------------------------------------------
    def user(self, user_id: str | None) -> dict[str, Any]:
        if not user_id or user_id not in self.users:
            raise SlackError("user_not_found")
        return self.users[user_id]

    def channel(self, ref: str | None, *, by_name: bool = False) -> Channel:
        """Resolve a channel the bot can see: private channels it is not in are invisible."""
        ref = (ref or "").lstrip("#")
        found = self.channels.get(ref)
        if found is None and by_name:
            found = next((c for c in self.channels.values() if c.name == ref), None)
        if found is None and by_name and ref[:1] in ("U", "W") and ref in self.users:
            found = self.dm_with(ref)
        if found is None or (found.is_private and self.bot_user_id not in found.members):
            raise SlackError("channel_not_found")
        return found

    def dm_with(self, user_id: str) -> Channel:
        """The bot's DM with a user, opened on first use like posting to a user id does."""
        for ch in self.channels.values():
            if ch.is_im and ch.members == [self.bot_user_id, user_id]:
                return ch
        ch = Channel(self.new_id("D"), user_id, is_im=True, members=[self.bot_user_id, user_id])
        self.channels[ch.id] = ch
        return ch

    def writable(self, ref: str | None, *, by_name: bool = False) -> Channel:
        ch = self.channel(ref, by_name=by_name)
        if ch.is_archived:
            raise SlackError("is_archived")
        return ch

    def message(self, channel_id: str, ts: str | None) -> dict[str, Any]:
        for msg in self.messages.get(channel_id, []):
            if msg["ts"] == ts:
                return msg
        raise SlackError("message_not_found")

    def find_message(self, ts: str) -> tuple[str, dict[str, Any]] | None:
        """Locate a message by ts alone (ts values are unique across the double)."""
        for channel_id, msgs in self.messages.items():
            for msg in msgs:
                if msg["ts"] == ts:
                    return channel_id, msg
        return None

    # ---- mutations --------------------------------------------------------------------------
    def add_message(self, channel_id: str, msg: dict[str, Any]) -> dict[str, Any]:
        """Store a message, keeping thread parents' reply bookkeeping like Slack shows it."""
        msg.setdefault("type", "message")
        msg.setdefault("ts", self.new_ts())
        thread_ts = msg.get("thread_ts")
        if thread_ts and thread_ts != msg["ts"]:
            parent = self.message(channel_id, thread_ts)
            parent["thread_ts"] = thread_ts
            parent["reply_count"] = parent.get("reply_count", 0) + 1
            users = parent.setdefault("reply_users", [])
            if msg.get("user") and msg["user"] not in users:
                users.append(msg["user"])
            parent["latest_reply"] = msg["ts"]
        self.messages.setdefault(channel_id, []).append(msg)
        return msg

    def delete_message(self, channel_id: str, ts: str) -> None:
        msg = self.message(channel_id, ts)
        self.messages[channel_id].remove(msg)
        if ts in self.pins.get(channel_id, []):
            self.pins[channel_id].remove(ts)
