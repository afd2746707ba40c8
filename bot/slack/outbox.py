"""The old data-or-None face of the Slack gateway, kept for existing callers (the tests).

New code calls ``bot.slack.gateway``, whose ``Result`` tells gone from final from
already-done; this answers the data on success and None for any error that isn't transient.
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.slack import gateway
from shipbell.bot.slack.gateway import respond

__all__ = ["call", "respond"]


async def call(core: Core, method: str, args: dict[str, Any]) -> dict[str, Any] | None:
    """Call a Web API method; its data, or None after a refusal (transient errors raise)."""
    result = await gateway.call(core, method, args)
    return result.data if result.kind is gateway.Kind.OK else None
