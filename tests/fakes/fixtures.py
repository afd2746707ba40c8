"""Fixtures the deploy tests share; a test module opts in with `pytest_plugins`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from shipbell.bot.clock import FakeClock

from fakes.ci import FakeCI
from fakes.configs import SECRET, SECRET_ENV


@pytest.fixture
async def ci(clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeCI]:
    """A fake CI on 127.0.0.1 that verifies jobs with the secret Shipbell signs with."""
    monkeypatch.setenv(SECRET_ENV, SECRET)
    fake = await FakeCI(SECRET, clock.now).start()
    yield fake
    await fake.stop()
