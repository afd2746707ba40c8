"""A whole Shipbell wired to an in-process Slack double, over real loopback HTTP.

The shell and the test suite both use this: the real app, handlers, store and scheduler,
with signed Slack requests going to the real endpoint and Web API calls landing in the
double.  Nothing here is a mock; only Slack itself is replaced.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import SecretStr
from shipbell.bot.clock import Clock
from shipbell.bot.core import Core, build_core
from shipbell.bot.runtime import Runtime
from shipbell.bot.sections import RefKind, is_name
from shipbell.bot.settings import Secrets, Settings
from shipbell.bot.slack.directory import references, resolve_names
from shipbell.bot.slackdouble import Ack, SlackDouble, SlackDriver
from shipbell.bot.slackdouble.cast import PEOPLE
from shipbell.bot.storage import allow_loop


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge config dicts (extra wins), so tests override one key of a section."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def simulate_names(double: SlackDouble, settings: Settings) -> list[str]:
    """Add to the simulated workspace each #channel and @person the config names that it
    lacks, so a real config works in the shell; returns the names added."""
    state = double.state
    added = []
    for ref in references(settings):
        if not is_name(ref.value) or ref.value in added:
            continue
        name = ref.value[1:].lower()
        if ref.kind is RefKind.CHANNEL:
            if not any(c.name == name and not c.is_im for c in state.channels.values()):
                double.add_channel(name, members=list(PEOPLE))
                added.append(ref.value)
        elif not any(u["name"] == name for u in state.users.values()) and not (
                ref.kind is RefKind.PRINCIPAL
                and any(g["handle"] == name for g in state.usergroups.values())):
            double.add_user(state.new_id("U"), name)
            added.append(ref.value)
    return added


class LocalShipbell:
    """Shipbell plus its Slack double; use as an async context manager."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        config: dict[str, Any] | None = None,
        clock: Clock | None = None,
        scheduler: bool = False,
        base: Settings | None = None,
        simulate_names: bool = False,
        plugins: Sequence[Callable[[Core], None]] = (),
    ) -> None:
        self.db_path = str(db_path)
        # The shell: a config's #names and @names that the simulated workspace lacks are
        # added to it rather than refused (tests keep this off so typos fail).
        self.simulate_names = simulate_names
        self.simulated: list[str] = []
        self.config = config or {}
        self.clock = clock
        self.run_scheduler = scheduler
        self.base = base
        self.plugins = plugins  # extra task kinds and subscribers, registered at each boot
        self.signing_secret = secrets.token_hex(16)
        self.double = SlackDouble()
        self.core: Core
        self.runtime: Runtime
        self.driver: SlackDriver

    async def __aenter__(self) -> LocalShipbell:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        await self.double.start()
        self.double.add_cast()  # a restored workspace keeps what it already has
        base = self.base.model_dump() if self.base else {}
        # A url (postgresql://…) or an SQLite file's path.
        storage = {"url": self.db_path} if "://" in self.db_path else {"path": self.db_path}
        overrides = merge(base, {"slack": {"api_url": self.double.api_url},
                                 "storage": storage})
        overrides["storage"].pop("path" if "url" in storage else "url", None)
        settings = Settings(**merge(overrides, self.config))
        if self.simulate_names:
            self.simulated = simulate_names(self.double, settings)
        await resolve_names(settings, self.double.token)  # #names and @names, as serve does
        secret_values = Secrets(
            SLACK_BOT_TOKEN=SecretStr(self.double.token),
            SLACK_SIGNING_SECRET=SecretStr(self.signing_secret),
        )
        await self._boot(settings, secret_values)

    async def _boot(self, settings: Settings, secret_values: Secrets) -> None:
        """One Shipbell process: core, runtime on an ephemeral port, a driver aimed at it."""
        with allow_loop("start-up"):  # migrations and job registration, before serving
            self.core = build_core(settings, secret_values, clock=self.clock)
            for plugin in self.plugins:
                plugin(self.core)
            self.runtime = Runtime(self.core)
        await self.runtime.start("127.0.0.1", 0, scheduler=self.run_scheduler)
        await self.runtime.identity_known()
        self.driver = SlackDriver(self.runtime.slack_url, self.signing_secret, self.double)

    async def _halt(self, grace: float) -> None:
        await self.runtime.stop(grace)
        await self.driver.close()
        self.core.store.close()

    async def stop(self, grace: float = 5.0) -> None:
        await self._halt(grace)
        await self.double.stop()

    async def restart(self) -> None:
        """Stop Shipbell (not the double) and start a fresh process on the same database."""
        await self._halt(0)
        await self._boot(self.core.settings, self.core.secrets)

    # -- conversation helpers -----------------------------------------------------------
    async def command(self, command: str, text: str = "", **kwargs: Any) -> Ack:
        return await self.driver.command(command, text, **kwargs)

    async def idle(self, timeout: float = 10.0) -> None:
        """Wait until every background task has finished."""
        await self.core.tasks.idle(timeout)


MakeBell = Callable[..., Awaitable[LocalShipbell]]
"""The `make_bell` fixture's type: start a LocalShipbell with extra config."""
