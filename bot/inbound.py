"""Reading an inbound request's body within limits: Slack's endpoint and the CI callbacks.

Infrastructure both entry points share, so a webhook handler needs nothing of the Slack
server to read its body the same careful way.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import HttpProcessingError


@dataclass
class Limits:
    """How much and how slowly a client may send; a test may lower them on a running app."""

    max_body: int = 1024 * 1024
    read_timeout: float = 5.0  # Slack wants the ack within 3 s; a slower body is no Slack


LIMITS = web.AppKey("limits", Limits)


class Refused(Exception):
    def __init__(self, status: int, outcome: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.outcome, self.reason = status, outcome, reason


async def read_body(request: web.Request, limits: Limits) -> bytes:
    """The raw body, or Refused: too large, too slow, or the client went away."""
    if (request.content_length or 0) > limits.max_body:
        raise Refused(413, "too_large", "body over the size limit")
    if request.content.is_eof():  # all of it came with the headers: nothing to wait for
        try:
            raw = request.content.read_nowait()
        except (ClientPayloadError, HttpProcessingError, ConnectionError):
            raise Refused(400, "client_gone", "client went away mid-body") from None
        if len(raw) > limits.max_body:
            raise Refused(413, "too_large", "body over the size limit")
        return raw
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(limits.read_timeout):
            async for chunk in request.content.iter_any():
                size += len(chunk)
                if size > limits.max_body:
                    raise Refused(413, "too_large", "body over the size limit")
                chunks.append(chunk)
    except TimeoutError:
        raise Refused(408, "timeout", "body not received in time") from None
    except (ClientPayloadError, HttpProcessingError, ConnectionError):
        raise Refused(400, "client_gone", "client went away mid-body") from None
    return b"".join(chunks)
