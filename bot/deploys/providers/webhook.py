"""`webhook`: POST a signed JSON job to a CI; the CI calls back on `POST /hooks/deploy`.

Retrying a failed POST is safe: the job carries the deploy id, which the CI can use as an
idempotency key, and a duplicate callback is ignored on our side anyway.
"""

from __future__ import annotations

import json
import os
import secrets

from pydantic import model_validator
from shipbell.bot.deploys import signing
from shipbell.bot.deploys.models import Deploy
from shipbell.bot.deploys.providers import http
from shipbell.bot.deploys.providers.base import (
    Job,
    ProviderConfig,
    ProviderContext,
    ProviderError,
    Triggered,
)

REQUEST_TIMEOUT = 10.0


class WebhookConfig(ProviderConfig):
    url: str | None = None
    secret_env: str | None = None

    @model_validator(mode="after")
    def _needs(self) -> WebhookConfig:
        self.require("url", "secret_env")
        return self

    def secret_variables(self) -> list[str]:
        return [self.secret_env] if self.secret_env else []

    def where(self) -> str:
        return self.url or ""


class WebhookProvider:
    """Triggers, cancels and verifies callbacks; never polls (the CI calls back)."""

    Config = WebhookConfig

    def __init__(self, name: str, config: WebhookConfig, context: ProviderContext) -> None:
        self.name = name
        self.config = config
        self.context = context
        self.retries = config.retries

    def _secret(self) -> str | None:
        return os.environ.get(self.config.secret_env or "") or None

    def secret(self) -> str:
        value = self._secret()
        if not value:
            raise ProviderError(
                f"the webhook secret variable {self.config.secret_env} is not set",
                retryable=False,
            )
        return value

    async def _post(self, payload: dict[str, object]) -> dict[str, object]:
        body = json.dumps(payload).encode()
        stamp = int(self.context.clock.now().timestamp())
        headers = signing.headers(self.secret(), stamp, body, secrets.token_hex(8))
        answer = await http.call(
            self.context.http, self.context.clock, "POST", self.config.url or "",
            who="the CI", timeout=REQUEST_TIMEOUT, data=body, headers=headers,
            refusal=lambda status, _: f"the CI refused the job (HTTP {status})")
        return answer.data

    async def trigger(self, job: Job) -> Triggered:
        data = await self._post({"action": "deploy", **job.as_dict()})
        log_url = data.get("log_url")
        return Triggered(str(data.get("id") or f"webhook:{job.deploy_id}"),
                         str(log_url) if log_url else None)

    async def cancel(self, deploy: Deploy) -> None:
        await self._post({"action": "cancel", "deploy_id": deploy.id})

    def verifies(self, stamp: str, raw: bytes, signature: str, now: float) -> bool:
        secret = self._secret()
        return secret is not None and signing.verify(secret, stamp, raw, signature, now)
