"""Modal and Home tab methods: trigger expiry, stack depth and hash conflicts like real Slack."""

from __future__ import annotations

import copy
import secrets
from typing import TYPE_CHECKING, Any

from .blockkit import validate_view
from .methods import method
from .state import SlackError

if TYPE_CHECKING:
    from .server import SlackDouble

MAX_STACK = 3  # root view plus two pushes


def _check_view(d: SlackDouble, view: Any, where: str) -> dict[str, Any]:
    problems = validate_view(view)
    if problems:
        d.note_problems(where, problems)
        raise SlackError(
            "invalid_arguments",
            response_metadata={"messages": [f"[ERROR] {p}" for p in problems]},
        )
    return view


def _new_hash(d: SlackDouble) -> str:
    return f"{int(d.state.now())}.{secrets.token_hex(6)}"


def _store(
    d: SlackDouble, view: dict[str, Any], *, user: str | None, **extra: Any
) -> dict[str, Any]:
    ws = d.state
    vid = ws.new_id("V")
    stored = {
        "id": vid,
        "team_id": ws.team_id,
        "type": view.get("type", "modal"),
        "callback_id": view.get("callback_id", ""),
        "private_metadata": view.get("private_metadata", ""),
        "external_id": view.get("external_id", ""),
        "title": view.get("title"),
        "submit": view.get("submit"),
        "close": view.get("close"),
        "blocks": copy.deepcopy(view.get("blocks", [])),
        "state": {"values": {}},
        "hash": _new_hash(d),
        "root_view_id": vid,
        "previous_view_id": None,
        "app_id": d.app_id,
        "bot_id": ws.bot_id,
        "user": user,
        "closed": False,
    }
    stored.update(extra)
    ws.views[vid] = stored
    return stored


def _public(view: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in view.items() if k not in ("user", "closed")}


def _stack(d: SlackDouble, root_id: str) -> list[dict[str, Any]]:
    return [v for v in d.state.views.values() if v["root_view_id"] == root_id and not v["closed"]]


@method("views.open")
def views_open(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    d.state.consume_trigger(a.get("trigger_id"), peek=True)
    view = _check_view(d, a.get("view"), "views.open")
    d.state.consume_trigger(a.get("trigger_id"))
    return {"view": _public(_store(d, view, user=None))}


@method("views.push")
def views_push(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    d.state.consume_trigger(a.get("trigger_id"), peek=True)
    view = _check_view(d, a.get("view"), "views.push")
    open_modals = [v for v in d.state.views.values() if v["type"] == "modal" and not v["closed"]]
    if not open_modals:
        raise SlackError("not_found")
    top = open_modals[-1]
    if len(_stack(d, top["root_view_id"])) >= MAX_STACK:
        raise SlackError("push_limit_reached")
    d.state.consume_trigger(a.get("trigger_id"))
    pushed = _store(
        d, view, user=top["user"], root_view_id=top["root_view_id"], previous_view_id=top["id"]
    )
    return {"view": _public(pushed)}


@method("views.update")
def views_update(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    if a.get("view_id"):
        current = ws.views.get(a["view_id"])
    elif a.get("external_id"):
        current = next((v for v in ws.views.values() if v["external_id"] == a["external_id"]), None)
    else:
        raise SlackError("invalid_arguments")
    if current is None:
        raise SlackError("not_found")
    if a.get("hash") and a["hash"] != current["hash"]:
        raise SlackError("hash_conflict")
    view = _check_view(d, a.get("view"), "views.update")
    for key in (
        "type",
        "callback_id",
        "private_metadata",
        "external_id",
        "title",
        "submit",
        "close",
    ):
        current[key] = view.get(key, "" if key in ("callback_id", "private_metadata") else None)
    current["external_id"] = current["external_id"] or ""
    current["blocks"] = copy.deepcopy(view.get("blocks", []))
    current["hash"] = _new_hash(d)
    return {"view": _public(current)}


@method("views.publish")
def views_publish(d: SlackDouble, a: dict[str, Any]) -> dict[str, Any]:
    ws = d.state
    user = ws.user(a.get("user_id"))["id"]
    view = _check_view(d, a.get("view"), "views.publish")
    if view.get("type") != "home":
        raise SlackError("invalid_arguments")
    old = ws.views.get(ws.home_views.get(user, ""))
    if old is not None and a.get("hash") and a["hash"] != old["hash"]:
        raise SlackError("hash_conflict")
    stored = _store(d, view, user=user)
    if old is not None:
        del ws.views[old["id"]]
    ws.home_views[user] = stored["id"]
    return {"view": _public(stored)}
