"""Web API methods of the double: state changes plus the error codes real Slack answers with.

Each handler takes the double and the merged request args, returns the success body (without
`ok`) or raises `SlackError`.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .blockkit import MAX_MESSAGE_BLOCK_TEXT, total_text_length, validate_blocks
from .state import SlackError

if TYPE_CHECKING:
    from .server import SlackDouble

Handler = Callable[["SlackDouble", dict[str, Any]], dict[str, Any]]
METHODS: dict[str, Handler] = {}
PASSTHROUGH = ("attachments", "metadata", "username", "icon_emoji", "icon_url", "mrkdwn")


def method(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        METHODS[name] = fn
        return fn

    return register


def flag(value: Any) -> bool:
    """Form and query bodies carry booleans as strings."""
    return value is True or str(value).lower() in ("true", "1")


def check_blocks(d: SlackDouble, blocks: Any, where: str) -> None:
    """Reject like Slack does (`msg_blocks_too_long` first); strict mode also keeps a record."""
    problems = validate_blocks(blocks)
    if not problems:
        return
    d.note_problems(where, problems)
    if total_text_length(blocks) > MAX_MESSAGE_BLOCK_TEXT:
        raise SlackError("msg_blocks_too_long")
    raise SlackError(
        "invalid_blocks",
        errors=problems,
        response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
    )


def check_message_body(d: SlackDouble, a: dict[str, Any], method_name: str) -> None:
    text, blocks = a.get("text"), a.get("blocks")
    if not text and not blocks and not a.get("attachments"):
        raise SlackError("no_text")
    if text and len(text) > 40_000:
        raise SlackError("msg_too_long")
    if blocks is not None:
        check_blocks(d, blocks, method_name)
        if not text:
            d.note_problems(method_name, ["blocks sent without a top-level `text` fallback"])
    check_metadata(a.get("metadata"))


def check_metadata(metadata: Any) -> None:
    """Message metadata is {"event_type": "snake_case_name", "event_payload": {...}}."""
    if metadata is None:
        return
    if not isinstance(metadata, dict) or not isinstance(metadata.get("event_payload"), dict):
        raise SlackError("invalid_metadata_format")
    event_type = metadata.get("event_type")
    if not isinstance(event_type, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,255}", event_type):
        raise SlackError("invalid_metadata_format")


def public_message(msg: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(msg)


def page(items: list[Any], a: dict[str, Any], key: str, *, default_limit: int = 100
         ) -> dict[str, Any]:
    """Cursor pagination as Slack does it: `limit` items, then an opaque
    `response_metadata.next_cursor` ("" on the last page); a cursor Slack never issued is
    `invalid_cursor`, so callers must pass back what they were given, not count themselves."""
    start = 0
    if a.get("cursor"):
        try:
            raw = base64.b64decode(str(a["cursor"]), validate=True).decode()
            kind, _, offset = raw.partition(":")
            start = int(offset)
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise SlackError("invalid_cursor") from None
        if kind != "next" or not 0 <= start <= len(items):
            raise SlackError("invalid_cursor")
    try:
        limit = int(a.get("limit") or 0) or default_limit or len(items)
    except ValueError:
        raise SlackError("invalid_limit") from None
    end = start + limit
    nxt = base64.b64encode(f"next:{end}".encode()).decode() if end < len(items) else ""
    return {key: items[start:end], "response_metadata": {"next_cursor": nxt}}


# ---- auth, users --------------------------------------------------------------------------
@method("auth.test")
def auth_test(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    return {
        "url": "https://shipbell-test.slack.com/",
        "team": "Shipbell Test",
        "user": ws.users[ws.bot_user_id]["name"],
        "team_id": ws.team_id,
        "user_id": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "is_enterprise_install": False,
    }


@method("apps.connections.open")
def apps_connections_open(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    return {"url": f"ws://127.0.0.1:{d.port}/link/?ticket={secrets.token_hex(8)}"}


@method("users.info")
def users_info(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    return {"user": copy.deepcopy(d.state.user(a.get("user")))}


@method("users.list")
def users_list(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    """Every member, deleted ones included (with `deleted: true`); without `limit` Slack
    tries to send them all at once."""
    members = [copy.deepcopy(u) for u in d.state.users.values()]
    return page(members, a, "members", default_limit=0)


@method("usergroups.users.list")
def usergroups_users_list(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    group = d.state.usergroups.get(a.get("usergroup") or "")
    if group is None:
        raise SlackError("no_such_subteam")
    return {"users": list(group["users"])}


@method("usergroups.list")
def usergroups_list(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    """Not paginated; `users` and `user_count` only when asked for, disabled groups
    (`date_delete` set) only with include_disabled, as Slack documents it."""
    groups = []
    for group in d.state.usergroups.values():
        if group.get("date_delete") and not flag(a.get("include_disabled")):
            continue
        out = {k: copy.deepcopy(v) for k, v in group.items() if k not in ("users", "user_count")}
        if flag(a.get("include_users")):
            out["users"] = list(group["users"])
        if flag(a.get("include_count")):
            out["user_count"] = len(group["users"])
        groups.append(out)
    return {"usergroups": groups}


# ---- chat ---------------------------------------------------------------------------------
@method("chat.postMessage")
def chat_post_message(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    ch = ws.writable(a.get("channel"), by_name=True)
    check_message_body(d, a, "chat.postMessage")
    msg: dict[str, Any] = {
        "type": "message",
        "user": ws.bot_user_id,
        "bot_id": ws.bot_id,
        "app_id": d.app_id,
        "team": ws.team_id,
        "text": a.get("text") or "",
    }
    if a.get("blocks") is not None:
        msg["blocks"] = a["blocks"]
    msg.update({k: a[k] for k in PASSTHROUGH if a.get(k) is not None})
    if a.get("thread_ts"):
        ws.message(ch.id, a["thread_ts"])
        msg["thread_ts"] = a["thread_ts"]
        if flag(a.get("reply_broadcast")):
            msg["subtype"] = "thread_broadcast"
    stored = ws.add_message(ch.id, msg)
    return {"channel": ch.id, "ts": stored["ts"], "message": public_message(stored)}


@method("chat.update")
def chat_update(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    ch = ws.channel(a.get("channel"))
    msg = ws.message(ch.id, a.get("ts"))
    if msg.get("user") != ws.bot_user_id:
        raise SlackError("cant_update_message")
    if ch.is_archived:
        raise SlackError("is_archived")
    if a.get("text") and len(a["text"]) > 40_000:
        raise SlackError("msg_too_long")
    if a.get("blocks") is not None:
        check_blocks(d, a["blocks"], "chat.update")
    check_metadata(a.get("metadata"))
    if "text" in a:
        msg["text"] = a["text"] or ""
    for key in ("blocks", "attachments", "metadata"):  # omitted → previous content retained
        if a.get(key) is not None:
            msg[key] = a[key]
    msg["edited"] = {"user": ws.bot_user_id, "ts": ws.new_ts()}
    return {"channel": ch.id, "ts": msg["ts"], "text": msg["text"], "message": public_message(msg)}


@method("chat.delete")
def chat_delete(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    ch = ws.channel(a.get("channel"))
    msg = ws.message(ch.id, a.get("ts"))
    if msg.get("user") != ws.bot_user_id:
        raise SlackError("cant_delete_message")
    ws.delete_message(ch.id, msg["ts"])
    return {"channel": ch.id, "ts": msg["ts"]}


@method("chat.postEphemeral")
def chat_post_ephemeral(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    ch = ws.writable(a.get("channel"), by_name=True)
    user = ws.user(a.get("user"))["id"]
    if ch.members and user not in ch.members:
        raise SlackError("user_not_in_channel")
    check_message_body(d, a, "chat.postEphemeral")
    ts = ws.new_ts()
    ws.ephemerals.append({"channel": ch.id, "user": user, "ts": ts, **a})
    return {"message_ts": ts}


@method("chat.getPermalink")
def chat_get_permalink(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel"))
    ts = d.state.message(ch.id, a.get("message_ts"))["ts"]
    link = f"https://shipbell-test.slack.com/archives/{ch.id}/p{ts.replace('.', '')}"
    return {"channel": ch.id, "permalink": link}


# ---- files --------------------------------------------------------------------------------
@method("files.getUploadURLExternal")
def files_get_upload_url(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    if not a.get("filename") or not str(a.get("length") or "").isdigit():
        raise SlackError("invalid_arguments")
    fid = d.state.new_id("F")
    d.state.files[fid] = {
        "id": fid,
        "name": a["filename"],
        "title": a["filename"],
        "size": int(a["length"]),
        "content": None,
        "created": int(d.state.now()),
        "user": d.state.bot_user_id,
    }
    return {"upload_url": f"{d.base_url}/upload/{fid}", "file_id": fid}


def _file_info(f: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in f.items() if k != "content"}


@method("files.completeUploadExternal")
def files_complete_upload(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    items = a.get("files")
    if isinstance(items, str):
        items = json.loads(items)
    if not isinstance(items, list) or not items:
        raise SlackError("invalid_arguments")
    targets = [c for c in str(a.get("channels") or a.get("channel_id") or "").split(",") if c]
    chans = [ws.writable(c) for c in targets]
    shared = []
    for item in items:
        f = ws.files.get(item.get("id", ""))
        if f is None or f["content"] is None:
            raise SlackError("file_not_found")
        f["title"] = item.get("title") or f["title"]
        shared.append(f)
    for ch in chans:
        msg = {
            "user": ws.bot_user_id,
            "bot_id": ws.bot_id,
            "text": a.get("initial_comment") or "",
            "files": [_file_info(f) for f in shared],
            "upload": True,
        }
        if a.get("thread_ts"):
            ws.message(ch.id, a["thread_ts"])
            msg["thread_ts"] = a["thread_ts"]
        ws.add_message(ch.id, msg)
        for f in shared:
            f.setdefault("channels", []).append(ch.id)
    return {"files": [{"id": f["id"], "title": f["title"]} for f in shared]}


@method("files.info")
def files_info(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    f = d.state.files.get(a.get("file") or "")
    if f is None:
        raise SlackError("file_not_found")
    return {"file": _file_info(f)}
