"""`webhook`: POST a signed JSON job to a CI; the CI calls back on `POST /hooks/deploy`.

Retrying a failed POST is safe: the job carries the deploy id, which the CI can use as an
idempotency key, and a duplicate callback is ignored on our side anyway.
"""

from __future__ import annotations

import json
import os
import secrets

import aiohttp

from bot.clock import Clock
from bot.deploys import signing
from bot.deploys.config import ProviderConfig
from bot.deploys.models import Deploy
from bot.deploys.providers.base import Job, ProviderError, Report, Triggered
from bot.http import Http


class WebhookProvider:
    polls = False

    def __init__(self, name: str, config: ProviderConfig, clock: Clock, http: Http) -> None:
        self.name = name
        self.http = http
        self.config = config
        self.clock = clock
        self.poll_seconds = config.poll_seconds
        self.retries = config.retries

    def secret(self) -> str:
        value = os.environ.get(self.config.secret_env or "")
        if not value:
            raise ProviderError(
                f"the webhook secret variable {self.config.secret_env} is not set",
                retryable=False,
            )
        return value

    async def _post(self, payload: dict[str, object]) -> dict[str, object]:
        body = json.dumps(payload).encode()
        stamp = int(self.clock.now().timestamp())
        headers = signing.headers(self.secret(), stamp, body, secrets.token_hex(8))
        timeout = aiohttp.ClientTimeout(total=10)
        try:
            async with self.http.session.post(
                self.config.url or "", data=body, headers=headers, timeout=timeout
            ) as resp:
                text = await resp.text()
                if resp.status >= 500 or resp.status == 429:
                    raise ProviderError(f"the CI answered HTTP {resp.status}", retryable=True)
                if resp.status >= 400:
                    raise ProviderError(f"the CI refused the job (HTTP {resp.status})",
                                        retryable=False)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ProviderError(f"couldn't reach the CI ({type(exc).__name__})",
                                retryable=True) from None
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            data = {}
        return data if isinstance(data, dict) else {}

    async def trigger(self, job: Job) -> Triggered:
        data = await self._post({"action": "deploy", **job.as_dict()})
        log_url = data.get("log_url")
        return Triggered(str(data.get("id") or f"webhook:{job.deploy_id}"),
                         str(log_url) if log_url else None)

    async def status(self, deploy: Deploy) -> Report:
        raise ProviderError("the webhook provider reports by callback", retryable=False)

    async def cancel(self, deploy: Deploy) -> None:
        await self._post({"action": "cancel", "deploy_id": deploy.id})
