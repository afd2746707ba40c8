"""Fixtures: a real Shipbell on loopback, its Slack double, a fake clock.

Tests read like a conversation: send a signed command with ``bell.command``, then wait
for what reached the double with ``bell.double.wait_for``.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fakes import postgres
from fakes.stores import OpenStore, stores
from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell, MakeBell
from shipbell.bot.storage.worker import GUARD_ENV

BACKENDS = ["sqlite", "postgresql"]
# A statement run on the event loop by Shipbell's own coroutines fails the test that ran it
# (and the `shipbell serve` processes tests start inherit it), instead of a log line.
os.environ.setdefault(GUARD_ENV, "raise")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(why): a test of SQLite itself (its planner, its file), which"
        " runs on SQLite only by design; ``why`` says so and names the PostgreSQL counterpart")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def need_postgres() -> None:
    reason = postgres.unavailable()
    if reason:
        pytest.skip(reason)


@pytest.fixture(params=BACKENDS)
def store_location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Where a store contract test's database lives, on each backend in turn: an SQLite file,
    or a url to a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.db")
        return
    need_postgres()
    with postgres.fresh_schema() as url:
        yield url


@pytest.fixture(params=postgres.e2e_backends())
def e2e_backend(request: pytest.FixtureRequest) -> str:
    """The backend end-to-end tests run on: each in turn (SHIPBELL_TEST_BACKENDS=sqlite or
    =postgresql runs the suite on one)."""
    if request.param == "postgresql":
        need_postgres()
    return str(request.param)


@pytest.fixture
async def make_bell(tmp_path: Path, clock: FakeClock, e2e_backend: str
                    ) -> AsyncIterator[MakeBell]:
    """Start a Shipbell with extra config (a dict shaped like the TOML file)."""
    started: list[LocalShipbell] = []
    schemas = ExitStack()

    async def make(config: dict[str, Any] | None = None, **kwargs: Any) -> LocalShipbell:
        kwargs.setdefault("clock", clock)
        location: str | Path = tmp_path / f"shipbell-{len(started)}.db"
        if e2e_backend == "postgresql":
            location = schemas.enter_context(postgres.migrated_schema())
        bell = LocalShipbell(location, config=config, **kwargs)
        await bell.start()
        started.append(bell)
        return bell

    with schemas:
        yield make
        for bell in reversed(started):
            await bell.stop()
            assert not bell.double.problems, f"invalid Slack calls: {bell.double.problems}"


@pytest.fixture
def new_store(tmp_path: Path, e2e_backend: str) -> Iterator[OpenStore]:
    """Open a migrated store by name, on each end-to-end backend in turn."""
    with stores(e2e_backend, tmp_path) as make:
        yield make


@pytest.fixture
async def bell(make_bell: MakeBell) -> LocalShipbell:
    return await make_bell()


def pytest_sessionfinish() -> None:
    if not postgres.unavailable():
        postgres.drop_pool()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line saying how many PostgreSQL tests were skipped, and why."""
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        if reason.startswith(postgres.SKIP_PREFIX):
            reasons[reason] = reasons.get(reason, 0) + 1
    for reason, count in reasons.items():
        terminalreporter.write_line(f"{count} PostgreSQL tests skipped: {reason}")
