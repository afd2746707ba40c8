"""Waiting helpers that never sleep on the wall clock: they only yield to the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from shipbell.bot.clock import FakeClock


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Yield to the loop until ``condition`` holds (I/O still runs between yields)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition never became true")
        await asyncio.sleep(0)


async def tick(clock: FakeClock, seconds: float) -> None:
    """Wait for a sleeper (a poller or a backoff), then move the clock past it."""
    await clock.until_sleeping()
    clock.advance(seconds=seconds)
