"""Slack that is slow: hold the double's answers and see what an ack did not wait for.

An ack's promptness is asserted as behaviour, not time: with Slack holding its answers, the
ack must still come, and must not have asked Slack anything it would have waited on. How
fast acks are is measured in bench/ack_latency.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble import Ack
from shipbell.bot.slackdouble.methods import METHODS

T = TypeVar("T")

HANG = 10.0
"""A hang detector, not a speed limit (like ``SlackDouble.wait_for``'s timeout): an answer
that waits on a held call does not come while it is held; this is the time allowed for any
other answer on a loaded machine, short of Shipbell's own Slack client giving up (15 s)."""

EVERYTHING = (*METHODS, "response_url")


async def answered(send: Awaitable[T]) -> T:
    """``send``'s answer; a failure saying so when it waits on something the test holds."""
    try:
        async with asyncio.timeout(HANG):
            return await send
    except TimeoutError:
        raise AssertionError("no answer: it is waiting on something the test holds") from None


async def ack_asking_slack_nothing(bell: LocalShipbell, send: Awaitable[Ack]) -> Ack:
    """The ack of ``send`` while Slack holds every method and response URL: it must come,
    without a call to Slack on its way (one would be parked in ``waiting`` or recorded)."""
    await bell.idle()
    double = bell.double
    before = len(double.calls)
    for method in EVERYTHING:
        double.hold(method)
    try:
        ack = await answered(send)
        parked = {m: n for m, n in double.waiting.items() if n}
        assert not parked, f"the ack asked Slack and waits on it: {parked}"
        assert [c.method for c in double.calls[before:]] == []
    finally:
        for method in EVERYTHING:
            double.release(method)
    return ack
