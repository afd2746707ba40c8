"""The `[release]` section the local shell uses when started without a config file."""

from __future__ import annotations

from typing import Any

DEMO_CONFIG: dict[str, Any] = {
    "trains": {
        "weekly": {
            "channel": "#releases",
            "services": ["web", "api"],
            "environment": "production",
            "timezone": "Europe/Paris",
            "weekday": "tue",
            "time": "14:00",
            "freeze": "24h",
            "reminders": ["3d", "24h", "2h", "0"],
            "captains": ["@ana", "@bob"],
            "holidays": "FR",
            "on_holiday": "next",
            "skip_when_empty": False,
        }
    }
}
