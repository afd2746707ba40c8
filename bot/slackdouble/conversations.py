"""Conversation, pin, bookmark and reaction methods of the double (registered on import)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .methods import flag, method, page, public_message
from .state import Channel, SlackError, validate_channel_name

if TYPE_CHECKING:
    from .server import SlackDouble


# ---- conversations ------------------------------------------------------------------------
def _name_free(d: SlackDouble, name: str) -> None:
    if any(c.name == name and not c.is_im for c in d.state.channels.values()):
        raise SlackError("name_taken")


def _info(d: SlackDouble, ch: Channel) -> dict[str, Any]:
    return {"channel": ch.to_api(d.state.bot_user_id)}


@method("conversations.create")
def conversations_create(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    name = a.get("name") or ""
    validate_channel_name(name)
    _name_free(d, name)
    private = flag(a.get("is_private"))
    cid = d.state.new_id("G" if private else "C")
    ch = Channel(
        cid,
        name,
        is_private=private,
        members=[d.state.bot_user_id],
        creator=d.state.bot_user_id,
        created=int(d.state.now()),
    )
    d.state.channels[cid] = ch
    return _info(d, ch)


@method("conversations.rename")
def conversations_rename(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.writable(a.get("channel"))
    name = a.get("name") or ""
    validate_channel_name(name)
    if name != ch.name:
        _name_free(d, name)
    ch.name = name
    return _info(d, ch)


@method("conversations.invite")
def conversations_invite(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    ch = ws.writable(a.get("channel"))
    users = [u.strip() for u in str(a.get("users") or "").split(",") if u.strip()]
    if not users:
        raise SlackError("no_user")
    for user in users:
        if user == ws.bot_user_id:
            raise SlackError("cant_invite_self")
        ws.user(user)
    new = [u for u in users if u not in ch.members]
    if not new:
        raise SlackError("already_in_channel")
    ch.members.extend(dict.fromkeys(new))
    return _info(d, ch)


@method("conversations.join")
def conversations_join(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.writable(a.get("channel"))
    if ch.is_private or ch.is_im:
        raise SlackError("method_not_supported_for_channel_type")
    out = _info(d, ch)
    if d.state.bot_user_id in ch.members:
        return {**out, "warning": "already_in_channel"}
    ch.members.append(d.state.bot_user_id)
    return _info(d, ch)


def _set_text(d: SlackDouble, a: dict[str, Any], key: str) -> dict[str, Any]:
    ch = d.state.writable(a.get("channel"))
    value = a.get(key) or ""
    if len(value) > 250:
        raise SlackError("too_long")
    setattr(ch, key, value)
    return {**_info(d, ch), key: value}


@method("conversations.setTopic")
def conversations_set_topic(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    return _set_text(d, a, "topic")


@method("conversations.setPurpose")
def conversations_set_purpose(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    return _set_text(d, a, "purpose")


@method("conversations.archive")
def conversations_archive(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel"))
    if ch.is_archived:
        raise SlackError("already_archived")
    ch.is_archived = True
    return {}


@method("conversations.unarchive")
def conversations_unarchive(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel"))
    if not ch.is_archived:
        raise SlackError("not_archived")
    ch.is_archived = False
    return {}


@method("conversations.info")
def conversations_info(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    return _info(d, d.state.channel(a.get("channel")))


@method("conversations.members")
def conversations_members(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    return page(list(d.state.channel(a.get("channel")).members), a, "members")


@method("conversations.list")
def conversations_list(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    types = set(str(a.get("types") or "public_channel").split(","))
    chans = [
        c.to_api(ws.bot_user_id)
        for c in ws.channels.values()
        if not c.is_im
        and ("private_channel" if c.is_private else "public_channel") in types
        and not (c.is_private and ws.bot_user_id not in c.members)
        and not (c.is_archived and flag(a.get("exclude_archived")))
    ]
    return page(chans, a, "channels")


@method("conversations.history")
def conversations_history(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    """Newest first; ``oldest``/``latest`` bound the ts (exclusive unless ``inclusive``), and
    message metadata is returned only with ``include_all_metadata``, like Slack."""
    ch = d.state.channel(a.get("channel"))
    oldest, latest = float(a.get("oldest") or 0), float(a.get("latest") or "inf")
    inclusive, metadata = flag(a.get("inclusive")), flag(a.get("include_all_metadata"))

    def within(ts: str) -> bool:
        t = float(ts)
        return (oldest <= t <= latest) if inclusive else (oldest < t < latest)

    top = [
        public_message(m) if metadata else
        {k: v for k, v in public_message(m).items() if k != "metadata"}
        for m in d.state.messages.get(ch.id, [])
        if (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
        and within(m["ts"])
    ]
    out = page(top[::-1], a, "messages")
    return {**out, "has_more": bool(out["response_metadata"]["next_cursor"])}


@method("conversations.replies")
def conversations_replies(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel"))
    try:
        parent = d.state.message(ch.id, a.get("ts"))
    except SlackError:
        raise SlackError("thread_not_found") from None
    root = parent.get("thread_ts") or parent["ts"]
    msgs = [m for m in d.state.messages[ch.id] if m["ts"] == root or m.get("thread_ts") == root]
    metadata = flag(a.get("include_all_metadata"))  # like history: only when asked
    out = page([public_message(m) if metadata else
                {k: v for k, v in public_message(m).items() if k != "metadata"}
                for m in msgs], a, "messages")
    return {**out, "has_more": bool(out["response_metadata"]["next_cursor"])}


# ---- pins, bookmarks, reactions -----------------------------------------------------------
@method("pins.add")
def pins_add(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.writable(a.get("channel"))
    ts = d.state.message(ch.id, a.get("timestamp"))["ts"]
    pins = d.state.pins.setdefault(ch.id, [])
    if ts in pins:
        raise SlackError("already_pinned")
    pins.append(ts)
    return {}


@method("pins.remove")
def pins_remove(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel"))
    ts = a.get("timestamp")
    if ts not in d.state.pins.get(ch.id, []):
        raise SlackError("no_pin")
    d.state.pins[ch.id].remove(ts)
    return {}


@method("pins.list")
def pins_list(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel"))
    items = [
        {"type": "message", "channel": ch.id, "message": public_message(d.state.message(ch.id, t))}
        for t in d.state.pins.get(ch.id, [])
    ]
    return {"items": items}


@method("bookmarks.add")
def bookmarks_add(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.writable(a.get("channel_id"))
    if a.get("type") != "link":
        raise SlackError("invalid_bookmark_type")
    if not a.get("title") or not a.get("link"):
        raise SlackError("invalid_arguments")
    marks = d.state.bookmarks.setdefault(ch.id, [])
    if len(marks) >= 100:
        raise SlackError("too_many_bookmarks")
    mark = {
        "id": d.state.new_id("Bk"),
        "channel_id": ch.id,
        "title": a["title"],
        "link": a["link"],
        "emoji": a.get("emoji"),
        "type": "link",
        "date_created": int(d.state.now()),
    }
    marks.append(mark)
    return {"bookmark": dict(mark)}


@method("bookmarks.list")
def bookmarks_list(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ch = d.state.channel(a.get("channel_id"))
    return {"bookmarks": [dict(b) for b in d.state.bookmarks.get(ch.id, [])]}


@method("reactions.add")
def reactions_add(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    ch = ws.writable(a.get("channel"))
    msg = ws.message(ch.id, a.get("timestamp"))
    name = str(a.get("name") or "").strip(":")
    if not name:
        raise SlackError("invalid_name")
    reactions = msg.setdefault("reactions", [])
    entry = next((r for r in reactions if r["name"] == name), None)
    if entry is None:
        entry = {"name": name, "users": [], "count": 0}
        reactions.append(entry)
    if ws.bot_user_id in entry["users"]:
        raise SlackError("already_reacted")
    entry["users"].append(ws.bot_user_id)
    entry["count"] += 1
    return {}
