"""The `[deploy]` section the local shell uses without a config file: dry-run deploys.

Three services, staging and production; production needs one approval, so the shell
shows the whole flow (try `--as bob` to approve what ana asked for).
"""

from __future__ import annotations

from typing import Any

DEMO_CONFIG: dict[str, Any] = {
    "providers": {"dry-run": {"type": "dry-run", "seconds": 3}},
    "services": {
        name: {
            "repository": f"example/{name}",
            "default_ref": "main",
            "default_env": "staging",
            "provider": "dry-run",
            "environments": {
                "staging": {"production": False},
                "production": {"approvals": 1, "timeout_minutes": 15},
            },
        }
        for name in ("web", "api", "worker")
    },
}
