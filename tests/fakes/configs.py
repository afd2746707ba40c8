"""`[deploy]` sections for tests: a webhook-backed api/web and a dry-run worker."""

from __future__ import annotations

from typing import Any

SECRET_ENV = "SHIPBELL_TEST_CI_SECRET"
SECRET = "test-ci-secret-0123456789"


def deploy_config(ci_url: str = "http://127.0.0.1:9/jobs", **production: Any) -> dict[str, Any]:
    prod = {"timeout_minutes": 30, **production}
    envs = {"staging": {}, "production": prod}
    return {"deploy": {
        "providers": {
            "ci": {"type": "webhook", "url": ci_url, "secret_env": SECRET_ENV},
            "sim": {"type": "dry-run", "seconds": 30},
        },
        "services": {
            "web": {"repository": "acme/web", "provider": "ci", "environments": envs},
            "api": {"repository": "acme/api", "provider": "ci", "default_env": "staging",
                    "environments": envs},
            "worker": {"repository": "acme/worker", "provider": "sim", "environments": envs},
        },
    }}
