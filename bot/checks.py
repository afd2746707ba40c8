"""`shipbell check`: what the config resolves to, and whether Slack accepts the token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from slack_sdk.errors import SlackApiError

from bot.core import Identity, build_client
from bot.releases.preview import upcoming_lines
from bot.settings import LoadedConfig
from bot.slack.manifest import missing_scopes


def masked(value: SecretStr | None) -> str:
    if not value:
        return "(unset)"
    raw = value.get_secret_value()
    return f"{raw[:5]}…({len(raw)} chars)" if len(raw) > 8 else "****"


def effective(config: LoadedConfig) -> dict[str, Any]:
    data = config.settings.model_dump(mode="json")
    data["secrets"] = {
        "SLACK_BOT_TOKEN": masked(config.secrets.slack_bot_token),
        "SLACK_SIGNING_SECRET": masked(config.secrets.slack_signing_secret),
        "SLACK_APP_TOKEN": masked(config.secrets.slack_app_token),
    }
    return data


async def slack_identity(config: LoadedConfig) -> Identity:
    token = config.secrets.slack_bot_token
    identity = Identity()
    if not token:
        identity.ok, identity.error = False, "SLACK_BOT_TOKEN is not set"
        return identity
    client = build_client(config.settings, token.get_secret_value())
    try:
        response = await client.auth_test()
        identity.ok = True
        identity.bot_user_id = response.get("user_id")
        identity.team_id = response.get("team_id")
        header = response.headers.get("x-oauth-scopes") or ""
        identity.scopes = [s.strip() for s in header.split(",") if s.strip()]
    except SlackApiError as exc:
        identity.ok, identity.error = False, str(exc.response.get("error"))
    except Exception as exc:  # unreachable Slack, TLS, DNS: say what kind
        identity.ok, identity.error = False, type(exc).__name__
    finally:
        if client.session:
            await client.session.close()
    return identity


async def run_check(config: LoadedConfig, now: datetime | None = None) -> int:
    print(f"Config: {config.source} is valid.")
    print(json.dumps(effective(config), indent=2))
    settings = config.settings
    for line in upcoming_lines(settings.release, settings.timezone, now or datetime.now(UTC)):
        print(line)
    identity = await slack_identity(config)
    if not identity.ok:
        print(f"Slack: auth.test failed: {identity.error}")
        return 1
    print(f"Slack: authenticated as {identity.bot_user_id} in {identity.team_id}")
    missing = missing_scopes(identity.scopes) if identity.scopes else []
    if missing:
        print(f"Slack: missing scopes: {', '.join(missing)} (reinstall with `shipbell manifest`)")
        return 1
    print("Slack: all needed scopes granted" if identity.scopes else
          "Slack: scopes not reported by the API; compare with `shipbell manifest`")
    return 0
