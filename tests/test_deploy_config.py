"""`[deploy]` validation: mistakes fail at start-up with the key and a valid example."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError
from shipbell.bot.deploys.config import DeploySettings
from shipbell.bot.deploys.demo import DEMO_CONFIG
from shipbell.bot.settings import Settings, format_validation_error


def settings(**deploy: Any) -> str:
    try:
        Settings(deploy=deploy)
    except ValidationError as exc:
        return format_validation_error("shipbell.toml", exc)
    return ""


def base(**env: Any) -> dict[str, Any]:
    return {"providers": {"sim": {"type": "dry-run"}},
            "services": {"api": {"provider": "sim", "environments": {"production": env}}}}


@pytest.mark.parametrize(("config", "expected"), [
    ({"providers": {}, "services": {"api": {"provider": "ci", "environments": {"prod": {}}}}},
     "service 'api' uses provider 'ci'; known: none configured"),
    (base(deployers=["ana"]), "'ana' is neither a Slack user id nor a user group id"),
    (base(channels=["deploys"]), "'deploys' is neither a channel id (C… or G…) nor a #name"),
    # ids Slack never issues (the Slack double's old `U_ANA`), lower case, too short
    (base(deployers=["U_ANA"]), "'U_ANA' is neither a Slack user id nor a user group id"),
    (base(approvers=["u024be7lh"]), "'u024be7lh' is neither a Slack user id nor a user group"),
    (base(channels=["C_DEPLOYS"]), "'C_DEPLOYS' is neither a channel id (C… or G…) nor a #name"),
    (base(channels=["C1"]), "'C1' is neither a channel id (C… or G…) nor a #name"),
    (base(freezes=[{"name": "x", "timezone": "Mars/Base", "days": ["fri"], "from": "10:00",
                    "to": "12:00"}]), "unknown time zone; use an IANA name"),
    (base(freezes=[{"name": "x", "timezone": "UTC", "days": ["fri"]}]),
     "weekly windows need days, from and to"),
    (base(freezes=[{"name": "x", "timezone": "UTC"}]), "give either start and end"),
    (base(approvals=9), "less than or equal to 5"),
    ({"providers": {"ci": {"type": "webhook", "url": "https://ci"}}},
     "a webhook provider needs secret_env"),
    ({"providers": {"gh": {"type": "github"}}}, "needs workflow and token_env"),
    ({"providers": {"sim": {"type": "dry-run"}},
      "services": {"api": {"provider": "sim", "default_env": "prod",
                           "environments": {"production": {}}}}},
     "default_env 'prod' is not one of: production"),
    ({**base(), "queue_ttl_minutes": 0}, "`deploy.queue_ttl_minutes`: Input should be greater"),
])
def test_bad_config_is_explained(config: dict[str, Any], expected: str) -> None:
    assert expected in settings(**config)


def test_demo_and_production_flags() -> None:
    demo = DeploySettings(**DEMO_CONFIG)
    assert list(demo.services) == ["web", "api", "worker"]
    assert demo.is_production("api", "production") and not demo.is_production("api", "staging")
    assert demo.services["web"].environments["production"].approvals == 1
    assert all(p.type == "dry-run" for p in demo.providers.values())
