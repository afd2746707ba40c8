"""Names in the config (`#deploys`, `@ana`, `@oncall`) turned into Slack ids, once at start-up.

Config fields typed `ChannelRef`, `UserRef` or `PrincipalRef` (see `bot.sections`) take an id
or a name.  `resolve_names` reads the workspace's lists once (conversations.list, users.list,
usergroups.list; only those the config's names need, paged by cursor), replaces every name by
its id in the settings, in place, and raises `ConfigError` with one line per name it can't
place, naming the file (or environment variable) and the key.  After that, everything sees
ids; nothing asks Slack for the lists again.  `shipbell check` uses the same lists to print
names beside ids.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from shipbell.bot.core import build_client
from shipbell.bot.sections import RefKind, SlackRef, is_name
from shipbell.bot.settings import ConfigError, Settings, origin
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

PAGE = 200  # Slack recommends no more than 200 results a page
LIST_SCOPES = {"conversations.list": "channels:read, groups:read", "users.list": "users:read",
               "usergroups.list": "usergroups:read"}


class SlackUnreachable(Exception):
    """Slack's Web API could not be reached at all (network, DNS, TLS, proxy)."""


@dataclass
class Ref:
    """One Slack reference in the settings: where it is, what it may name, what it says."""

    loc: tuple[str | int, ...]
    kind: RefKind
    value: str
    holder: Any  # the model (attribute `key`) or list (index `key`) holding the value
    key: str | int

    @property
    def dotted(self) -> str:
        return ".".join(str(part) for part in self.loc)

    def set(self, value: str) -> None:
        if isinstance(self.holder, list):
            assert isinstance(self.key, int)
            self.holder[self.key] = value
        else:
            setattr(self.holder, str(self.key), value)
        self.value = value


def _marker(annotation: Any, metadata: list[Any] | tuple[Any, ...] = ()) -> SlackRef | None:
    for item in metadata:
        if isinstance(item, SlackRef):
            return item
    found = None
    if typing.get_origin(annotation) is typing.Annotated:
        found = _marker(None, annotation.__metadata__)
    for arg in typing.get_args(annotation):
        found = found or _marker(arg)
    return found


def references(model: BaseModel, loc: tuple[str | int, ...] = ()) -> Iterator[Ref]:
    """Every Slack reference in ``model`` and its sub-sections, in file order."""
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        here = (*loc, info.alias or name)
        marker = _marker(info.annotation, info.metadata)
        if marker is not None:
            if isinstance(value, str):
                yield Ref(here, marker.kind, value, model, name)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    yield Ref((*here, index), marker.kind, item, value, index)
        elif isinstance(value, BaseModel):
            yield from references(value, here)
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, BaseModel):
                    yield from references(item, (*here, key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                if isinstance(item, BaseModel):
                    yield from references(item, (*here, index))


def _folded(text: Any) -> str:
    return str(text or "").strip().lower()


@dataclass
class Directory:
    """The workspace's channels, people and user groups, as the bot can see them."""

    channels: dict[str, dict[str, Any]] = field(default_factory=dict)
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    listed: set[str] = field(default_factory=set)  # which list methods were read

    def label(self, slack_id: str) -> str | None:
        """`#name` or `@name` for an id, if the lists have it."""
        if slack_id in self.channels:
            return "#" + self.channels[slack_id]["name"]
        if slack_id in self.groups:
            return "@" + self.groups[slack_id]["handle"]
        if slack_id in self.users:
            user = self.users[slack_id]
            return "@" + ((user.get("profile") or {}).get("display_name") or user["name"])
        return None

    def channel_ids(self, name: str) -> list[str]:
        return [cid for cid, ch in self.channels.items()
                if _folded(ch.get("name")) == name and not ch.get("is_archived")]

    def user_ids(self, name: str) -> list[str]:
        """People whose display name (what @-mentions show) or username is ``name``."""
        live = {uid: u for uid, u in self.users.items() if not u.get("deleted")}
        for pick in (lambda u: (u.get("profile") or {}).get("display_name"),
                     lambda u: u.get("name")):
            found = [uid for uid, u in live.items() if _folded(pick(u)) == name]
            if found:
                return found
        return []

    def group_ids(self, handle: str) -> list[str]:
        return [gid for gid, g in self.groups.items() if _folded(g.get("handle")) == handle]

    def lookup(self, kind: RefKind, value: str) -> tuple[str | None, str | None]:
        """(id, None) for a name that names one thing, else (None, why not)."""
        name = _folded(value[1:])  # the field's type already checked # or @ against its kind
        if kind is RefKind.CHANNEL:
            found = self.channel_ids(name)
            what = (f"no channel {value} the bot can see (a private channel needs the bot"
                    " invited first: /invite @<bot> in it)")
        else:
            users = self.user_ids(name)
            groups = self.group_ids(name) if kind is RefKind.PRINCIPAL else []
            found = users + groups
            what = f"no person or user group {value} in the workspace"
            if kind is RefKind.USER:
                what = f"no person {value} in the workspace"
                if self.group_ids(name):  # known when the groups were listed (`check`)
                    what = f"{value} is a user group; this takes people"
        if len(found) == 1:
            return found[0], None
        if found:
            return None, f"{value} matches {', '.join(sorted(found))}; use the one id you mean"
        return None, what


def lists_for(kinds: set[RefKind]) -> list[str]:
    methods = []
    if RefKind.CHANNEL in kinds:
        methods.append("conversations.list")
    if kinds & {RefKind.USER, RefKind.PRINCIPAL}:
        methods.append("users.list")
    if RefKind.PRINCIPAL in kinds:
        methods.append("usergroups.list")
    return methods


async def _paged(client: AsyncWebClient, method: str, key: str, **args: Any
                 ) -> list[dict[str, Any]]:
    """Every page of a cursor-paginated list method, following response_metadata.next_cursor."""
    call = getattr(client, method.replace(".", "_"))
    items: list[dict[str, Any]] = []
    cursor = ""
    while True:
        response = await (call(cursor=cursor, **args) if cursor else call(**args))
        items.extend(response.get(key) or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return items


async def fetch_directory(client: AsyncWebClient, methods: list[str]) -> Directory:
    """Read the named list methods (each once, every page). Raises SlackApiError or
    SlackUnreachable."""
    directory = Directory()
    try:
        if "conversations.list" in methods:
            channels = await _paged(client, "conversations.list", "channels", limit=PAGE,
                                    types="public_channel,private_channel",
                                    exclude_archived=True)
            directory.channels = {c["id"]: c for c in channels}
        if "users.list" in methods:
            users = await _paged(client, "users.list", "members", limit=PAGE)
            directory.users = {u["id"]: u for u in users}
        if "usergroups.list" in methods:
            response = await client.usergroups_list()  # not paginated
            directory.groups = {g["id"]: g for g in response.get("usergroups") or []}
    except SlackApiError:
        raise
    except Exception as exc:  # connection refused, DNS, TLS, timeout: no answer at all
        raise SlackUnreachable(type(exc).__name__) from None
    directory.listed = set(methods)
    return directory


def slack_refusal(exc: SlackApiError) -> str:
    """One line for an error Slack answered a list method with."""
    error = str(exc.response.get("error"))
    method = str(getattr(exc.response, "api_url", "")).rstrip("/").rsplit("/", 1)[-1]
    if error == "missing_scope":
        needed = exc.response.get("needed") or LIST_SCOPES.get(method, "")
        return (f"Slack refused {method or 'a list method'}: missing_scope ({needed}); "
                "reinstall the app with the scopes from `shipbell manifest`")
    if error in ("invalid_auth", "not_authed", "token_revoked", "account_inactive"):
        return f"Slack refused the bot token ({error}); {TOKEN_HINT}"
    return f"Slack refused {method or 'a list method'}: {error}"


TOKEN_HINT = ("copy the Bot User OAuth Token (xoxb-…) from your app's OAuth & Permissions page "
              "into SLACK_BOT_TOKEN, and reinstall the app if it was revoked")


def unreachable(settings: Settings, why: str) -> str:
    return (f"can't reach Slack at {settings.slack.api_url} ({why}); check the network or "
            "proxy (HTTPS_PROXY), or [slack] api_url")


def place(settings: Settings, directory: Directory, source: str) -> list[str]:
    """Replace every name in ``settings`` by its id; one error line per name it can't place."""
    errors = []
    for ref in references(settings):
        if not is_name(ref.value):
            continue
        slack_id, why = directory.lookup(ref.kind, ref.value)
        if slack_id is None:
            errors.append(f"{origin(source, ref.loc)}: `{ref.dotted}`: {why}")
        else:
            ref.set(slack_id)
    return errors


async def resolve_names(settings: Settings, token: str | None, *, source: str = "config"
                        ) -> Directory | None:
    """Turn the config's names into ids, in place; None when the config has only ids."""
    names = [ref for ref in references(settings) if is_name(ref.value)]
    if not names:
        return None
    client = build_client(settings, token)
    try:
        directory = await fetch_directory(client, lists_for({ref.kind for ref in names}))
    except SlackApiError as exc:
        raise ConfigError(f"{source}: can't look up {names[0].value} and other names: "
                          f"{slack_refusal(exc)}") from None
    except SlackUnreachable as exc:
        raise ConfigError(f"{source}: can't look up {names[0].value} and other names: "
                          f"{unreachable(settings, str(exc))}") from None
    finally:
        if client.session is not None:
            await client.session.close()
    errors = place(settings, directory, source)
    if errors:
        raise ConfigError("\n".join(errors))
    return directory
