"""Fixtures: a real Shipbell on loopback, its Slack double, a fake clock.

Tests read like a conversation: send a signed command with ``bell.command``, then wait
for what reached the double with ``bell.double.wait_for``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell, MakeBell


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def make_bell(tmp_path: Path, clock: FakeClock) -> AsyncIterator[MakeBell]:
    """Start a Shipbell with extra config (a dict shaped like the TOML file)."""
    started: list[LocalShipbell] = []

    async def make(config: dict[str, Any] | None = None, **kwargs: Any) -> LocalShipbell:
        kwargs.setdefault("clock", clock)
        bell = LocalShipbell(tmp_path / f"shipbell-{len(started)}.db", config=config, **kwargs)
        await bell.start()
        started.append(bell)
        return bell

    yield make
    for bell in reversed(started):
        await bell.stop()
        assert not bell.double.problems, f"invalid Slack calls: {bell.double.problems}"


@pytest.fixture
async def bell(make_bell: MakeBell) -> LocalShipbell:
    return await make_bell()
