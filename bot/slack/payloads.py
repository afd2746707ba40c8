"""Typed shapes of what Slack sends, checked at the edge before Bolt or a handler reads a key.

Only verified bodies get here (bot.slack.server checks the signature on the raw bytes first).
``parse`` turns the bytes into one of the payload models below or raises ``Malformed`` with a
short reason: the body is not UTF-8, the charset is not UTF-8, JSON is not an object, a
``payload=`` form field is not JSON, ``actions`` is not a list of objects, ``view`` or
``event`` is not an object, an id is not a string...  Models keep unknown keys (Slack adds
fields all the time) but every key Bolt's own context extraction or a handler reads has a
declared type, so nothing downstream meets a list where it expects an object.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from urllib.parse import unquote_plus

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, ValidationError

VERIFIED = "shipbell_verified"
"""Bolt context key set by the HTTP edge on requests whose signature it verified."""

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"


class Malformed(ValueError):
    """A verified body Shipbell cannot read; the message is one short line, no user text."""


class _Shape(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Ref(_Shape):
    """`{"id": ...}` objects: user, team, channel, enterprise."""

    id: StrictStr | None = None
    team_id: StrictStr | None = None


class UserRef(Ref):
    id: Annotated[StrictStr, Field(min_length=1)]


class Authorization(_Shape):
    team_id: StrictStr | None = None
    enterprise_id: StrictStr | None = None
    user_id: StrictStr | None = None
    is_enterprise_install: StrictBool | None = None


class _Ids(_Shape):
    """The keys Bolt reads on any payload to build its context."""

    team: StrictStr | Ref | None = None
    enterprise: StrictStr | Ref | None = None
    user: StrictStr | Ref | None = None
    channel: StrictStr | Ref | None = None
    team_id: StrictStr | None = None
    enterprise_id: StrictStr | None = None
    user_id: StrictStr | None = None
    channel_id: StrictStr | None = None
    thread_ts: StrictStr | None = None
    user_team: StrictStr | None = None
    message: Message | None = None
    previous_message: Message | None = None
    item: Item | None = None
    authorizations: list[Authorization] | None = None
    is_enterprise_install: StrictBool | StrictStr | None = None
    is_ext_shared_channel: StrictBool | None = None
    function_execution_id: StrictStr | None = None
    function_data: dict[str, Any] | None = None
    bot_access_token: StrictStr | None = None
    assistant_thread: _Ids | None = None


class Message(_Ids):
    ts: StrictStr | None = None
    text: StrictStr | None = None
    blocks: list[dict[str, Any]] | None = None


class Item(_Ids):
    type: StrictStr | None = None
    ts: StrictStr | None = None


# ---- slash commands (form fields, all strings) ---------------------------------------------
class Command(_Shape):
    kind: Literal["command"] = "command"
    command: Annotated[StrictStr, Field(pattern=r"^/[^\s]{1,80}$")]
    text: StrictStr = ""
    user_id: Annotated[StrictStr, Field(min_length=1)]
    channel_id: Annotated[StrictStr, Field(min_length=1)]
    team_id: StrictStr | None = None
    response_url: StrictStr | None = None
    trigger_id: StrictStr | None = None


class SslCheck(_Shape):
    kind: Literal["ssl_check"] = "ssl_check"
    ssl_check: StrictStr


# ---- interactivity (`payload=` JSON) --------------------------------------------------------
class Option(_Shape):
    value: StrictStr


class Action(_Shape):
    action_id: Annotated[StrictStr, Field(min_length=1, max_length=255)]
    block_id: StrictStr | None = None
    type: StrictStr | None = None
    value: StrictStr | None = None
    selected_option: Option | None = None
    action_ts: StrictStr | None = None


class ViewState(_Shape):
    values: dict[str, dict[str, dict[str, Any]]] = {}


class View(_Ids):
    id: StrictStr | None = None
    callback_id: StrictStr = ""
    private_metadata: StrictStr = ""
    root_view_id: StrictStr | None = None
    app_installed_team_id: StrictStr | None = None
    state: ViewState | None = None


class Container(_Shape):
    type: StrictStr | None = None
    message_ts: StrictStr | None = None
    channel_id: StrictStr | None = None
    view_id: StrictStr | None = None


class ResponseUrl(_Shape):
    response_url: StrictStr


class _Interaction(_Ids):
    user: UserRef  # handlers read body["user"]["id"]
    trigger_id: StrictStr | None = None
    response_url: StrictStr | None = None
    response_urls: list[ResponseUrl] | None = None
    container: Container | None = None


class BlockActions(_Interaction):
    type: Literal["block_actions"]
    actions: Annotated[list[Action], Field(min_length=1)]
    view: View | None = None
    state: ViewState | None = None


class ViewSubmission(_Interaction):
    type: Literal["view_submission", "view_closed"]
    view: View


# ---- Events API (JSON) ----------------------------------------------------------------------
class Event(_Ids):
    type: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    subtype: StrictStr | None = None
    reaction: StrictStr | None = None
    event_ts: StrictStr | None = None
    ts: StrictStr | None = None
    text: StrictStr | None = None
    team: StrictStr | None = None


class EventCallback(_Ids):
    type: Literal["event_callback"]
    event_id: Annotated[StrictStr, Field(min_length=1, max_length=100)]
    event: Event


class UrlVerification(_Shape):
    type: Literal["url_verification"]
    challenge: StrictStr


class AppRateLimited(_Shape):
    type: Literal["app_rate_limited"]
    minute_rate_limited: StrictInt
    team_id: StrictStr | None = None


Payload = (Command | SslCheck | BlockActions | ViewSubmission | EventCallback | UrlVerification
           | AppRateLimited)

_INTERACTIVE: dict[str, type[BlockActions | ViewSubmission]] = {
    "block_actions": BlockActions, "view_submission": ViewSubmission,
    "view_closed": ViewSubmission,
}
_ENVELOPES: dict[str, type[EventCallback | UrlVerification | AppRateLimited]] = {
    "event_callback": EventCallback, "url_verification": UrlVerification,
    "app_rate_limited": AppRateLimited,
}


def kind_of(payload: Payload) -> str:
    """The metric `kind` of a payload: command, block_actions, event_callback…"""
    return payload.kind if isinstance(payload, Command | SslCheck) else payload.type


def name_of(payload: Payload) -> str:
    """What a listener is registered for: the command, action id, callback id or event type."""
    if isinstance(payload, Command):
        return payload.command
    if isinstance(payload, BlockActions):
        return payload.actions[0].action_id
    if isinstance(payload, ViewSubmission):
        return payload.view.callback_id
    if isinstance(payload, EventCallback):
        return payload.event.type
    return ""


def media_type(content_type: str) -> str:
    """`application/json` from `application/json; charset=utf-8`; Malformed for other charsets."""
    media, _, params = content_type.partition(";")
    for param in params.split(";"):
        key, _, value = param.strip().partition("=")
        if key.lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise Malformed("charset is not UTF-8")
    return media.strip().lower()


def parse(raw: bytes, content_type: str) -> tuple[str, dict[str, Any], Payload]:
    """The body as text (Bolt keeps it), decoded (what Bolt and handlers will read) and
    as its typed payload."""
    media = media_type(content_type)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if media == JSON:
        data = _json_object(text, "body")
    elif media == FORM:
        form = form_fields(text)
        data = _json_object(form["payload"], "payload") if "payload" in form else form
    else:
        raise Malformed(f"content type {media[:40]!r} is neither JSON nor a form")
    return text, data, typed(data)


def form_fields(text: str) -> dict[str, str]:
    """``dict(parse_qsl(text, keep_blank_values=True))``, field for field (a name repeated:
    the last value), without decoding the many fields that have nothing to decode."""
    fields: dict[str, str] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            if "%" in value or "+" in value:
                value = unquote_plus(value)
            fields[name] = value
    return fields


def typed(data: dict[str, Any]) -> Payload:
    """The typed payload of a decoded body (HTTP, or Socket Mode where Slack sends dicts)."""
    kind = str(data.get("type"))
    model: type[Payload] | None = (
        Command if "command" in data else _INTERACTIVE.get(kind) or _ENVELOPES.get(kind)
        or (SslCheck if "ssl_check" in data else None))
    if model is None:
        raise Malformed("not a request type Shipbell handles")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])[:80]
        raise Malformed(f"{model.__name__} field {where}: {first['msg'][:80]}") from None


def _json_object(text: str, what: str) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except ValueError:
        raise Malformed(f"{what} is not JSON") from None
    except RecursionError:
        raise Malformed(f"{what} is nested too deeply") from None
    if not isinstance(data, dict):
        raise Malformed(f"{what} is JSON but not an object")
    return data
