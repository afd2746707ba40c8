"""The Slack app manifest, generated from config so commands, scopes and URLs never drift."""

from __future__ import annotations

from typing import Any

import yaml
from shipbell.bot.settings import Settings
from shipbell.handlers import commands

# Derived from the features' records (handlers/feature.py): (command, description, usage hint).
COMMANDS = tuple((c.command, c.description, c.usage_hint) for c in commands())
BOT_SCOPES = (
    "commands", "chat:write", "chat:write.public", "channels:manage", "channels:read",
    "channels:write.invites", "channels:write.topic", "channels:history",
    "groups:write", "groups:read", "groups:history", "pins:read", "pins:write",
    "bookmarks:read", "bookmarks:write", "files:write", "reactions:read", "users:read",
    "usergroups:read",
)
BOT_EVENTS = ("pin_added", "reaction_added")
APP_NAME_MAX = 35  # Slack refuses a manifest whose display_information.name is longer


def build_manifest(settings: Settings, *, socket_mode: bool = False) -> dict[str, Any]:
    url = settings.slack.public_url.rstrip("/") + settings.slack.request_path
    commands = []
    for command, description, hint in COMMANDS:
        entry: dict[str, Any] = {"command": command, "description": description,
                                 "usage_hint": hint, "should_escape": True}
        if not socket_mode:
            entry["url"] = url
        commands.append(entry)
    name = settings.slack.app_name
    events: dict[str, Any] = {"bot_events": list(BOT_EVENTS)}
    interactivity: dict[str, Any] = {"is_enabled": True}
    if not socket_mode:
        events["request_url"] = url
        interactivity["request_url"] = url
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": name,
            "description": "Deploys, incidents, release trains and delivery metrics.",
        },
        "features": {
            "bot_user": {"display_name": name.lower(), "always_online": True},
            "slash_commands": commands,
        },
        "oauth_config": {"scopes": {"bot": list(BOT_SCOPES)}},
        "settings": {
            "event_subscriptions": events,
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": socket_mode,
            "token_rotation_enabled": False,
        },
    }


def manifest_yaml(settings: Settings, *, socket_mode: bool = False) -> str:
    return yaml.safe_dump(
        build_manifest(settings, socket_mode=socket_mode), sort_keys=False, allow_unicode=True
    )


def missing_scopes(granted: list[str]) -> list[str]:
    return [scope for scope in BOT_SCOPES if scope not in set(granted)]
