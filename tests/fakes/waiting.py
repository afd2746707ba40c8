"""Waiting helpers that never sleep on the wall clock: they only yield to the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell

POLL = 0.001  # seconds between checks once a condition takes a while


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Yield to the loop until ``condition`` holds (I/O still runs between yields)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    spins = 0
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition never became true")
        # Yield to the loop; after a few rounds, let go of the interpreter a moment too, so
        # the store's thread (and a poll of the store) isn't starved by this loop spinning.
        spins += 1
        await asyncio.sleep(0 if spins < 20 else POLL)


async def tick(clock: FakeClock, seconds: float) -> None:
    """Wait for a sleeper (a poller or a backoff), then move the clock past it."""
    await clock.until_sleeping()
    clock.advance(seconds=seconds)


async def deploy_reaches(bell: LocalShipbell, deploy_id: int, state: str) -> None:
    """Wait until deploy ``deploy_id`` is in ``state`` (its task runs on its own)."""

    def there() -> bool:
        row = bell.core.store.one("SELECT state FROM deploys WHERE id = ?", (deploy_id,))
        return row is not None and row["state"] == state

    await until(there)
