"""The one way providers speak HTTP, and the one retry classification they share.

Requests go through the process's client session (``bot.http.Http``). What comes back is
classified once, here:

- transient (``retryable``): the server was never reached (``uncertain`` False: nothing
  happened), the answer was lost (a timeout, a dropped connection) or was a 5xx
  (``uncertain`` True: the request may have been acted on), or a 429 (with the wait the
  server named in Retry-After or an exhausted rate-limit quota's reset, if it named one);
- final: any other 4xx, phrased by the caller's ``refusal`` when it knows better.

A 2xx or 3xx comes back as an `Answer` whose ``data`` is the JSON object body ({} if none).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from shipbell.bot.clock import Clock
from shipbell.bot.deploys.providers.base import ProviderError
from shipbell.bot.http import Http
from shipbell.bot.inputs import parse_int


class HttpError(ProviderError):
    """A failed call: ``status`` is the HTTP status (0: no answer), ``message`` the first line
    of the body's `message`, ``wait`` the back-off the server asked for (if any)."""

    def __init__(self, text: str, *, status: int, retryable: bool, wait: float | None = None,
                 uncertain: bool = False, message: str = "") -> None:
        super().__init__(text, retryable=retryable, wait=wait)
        self.status = status
        self.uncertain = uncertain  # the request may have been acted on (no answer, or a 5xx)
        self.message = message


@dataclass(frozen=True)
class Answer:
    status: int
    data: dict[str, Any]


def asked_wait(headers: Mapping[str, str], now: float) -> float | None:
    """Seconds the server asks us to wait (Retry-After, or an exhausted quota's reset)."""
    after = parse_int(headers.get("retry-after", ""), hi=86_400)
    if after is not None:
        return float(after)
    reset = parse_int(headers.get("x-ratelimit-reset", ""))
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        return max(float(reset) - now, 1.0)
    return None


async def call(http: Http, clock: Clock, method: str, url: str, *, who: str, timeout: float,
               json_body: Any = None, data: bytes | None = None,
               params: Mapping[str, str] | None = None,
               headers: Mapping[str, str] | None = None,
               refusal: Callable[[int, str], str] | None = None) -> Answer:
    """One request to ``who`` (named in messages: "GitHub", "the CI"), classified."""
    try:
        async with http.session.request(
            method, url, json=json_body, data=data, params=params, headers=headers,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as resp:
            status = resp.status
            raw = await resp.read()
            wait = asked_wait(resp.headers, clock.now().timestamp())
    except aiohttp.ClientConnectorError as exc:  # never reached: nothing happened
        raise HttpError(f"couldn't reach {who} ({type(exc).__name__})", status=0,
                        retryable=True) from None
    except (aiohttp.ClientError, TimeoutError) as exc:  # sent, but the answer was lost
        raise HttpError(f"no answer from {who} ({type(exc).__name__})", status=0,
                        retryable=True, uncertain=True) from None
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    message = str(body.get("message") or "").split("\n")[0][:200]
    if status >= 500:
        raise HttpError(f"{who} answered HTTP {status}", status=status, retryable=True,
                        uncertain=True, message=message)
    if status == 429:
        raise HttpError(f"{who} answered HTTP 429", status=status, retryable=True, wait=wait,
                        message=message)
    if status >= 400:
        text = refusal(status, message) if refusal else f"{who} refused (HTTP {status})"
        raise HttpError(text, status=status, retryable=False, wait=wait, message=message)
    return Answer(status, body)
