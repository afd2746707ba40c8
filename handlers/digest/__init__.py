"""The digest feature's wiring: `/deploy stats` (the daily job lives in ``scheduled.digest``)."""

from __future__ import annotations

from shipbell.bot.core import Core
from shipbell.bot.dora.schema import MIGRATIONS
from shipbell.handlers.deploy.commands import Subcommands
from shipbell.handlers.digest.ids import SUBCOMMAND
from shipbell.handlers.digest.stats import register_stats
from shipbell.handlers.feature import Feature
from slack_bolt.async_app import AsyncApp


def register(app: AsyncApp, core: Core) -> None:
    """Plug `stats` into the `/deploy` router (no listener of its own)."""
    core.registry.ensure(Subcommands, Subcommands)[SUBCOMMAND] = register_stats(core)


# No slash command of its own (`/deploy stats`) and no demo config: the shell's demo has no
# `[digest]` section.
FEATURE = Feature(name="digest", register=register, migrations=tuple(MIGRATIONS),
                  config_section="digest")
