"""The `[incident]` section the local shell uses when started without a config file."""

from __future__ import annotations

from typing import Any

DEMO_CONFIG: dict[str, Any] = {
    "announcements_channel": "#incidents",
    "responders": ["@oncall"],
    "escalation_group": "@leads",
    "services": {
        "api": {
            "runbook": "https://runbooks.example.com/api",
            "dashboard": "https://grafana.example.com/d/api-overview",
        },
    },
    "production_environments": ["production"],
}
