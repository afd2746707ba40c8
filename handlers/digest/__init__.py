"""The digest feature's wiring: `/deploy stats` (the daily job lives in ``scheduled.digest``)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.core import Core
from bot.dora.schema import MIGRATIONS
from handlers.digest.ids import SUBCOMMAND
from handlers.digest.stats import register_stats
from handlers.feature import Feature


def register(app: AsyncApp, core: Core) -> None:
    """Plug `stats` into the `/deploy` router (no listener of its own)."""
    core.services.setdefault("deploy_subcommands", {})[SUBCOMMAND] = register_stats(core)


# No slash command of its own (`/deploy stats`) and no demo config: the shell's demo has no
# `[digest]` section.
FEATURE = Feature(name="digest", register=register, migrations=tuple(MIGRATIONS),
                  config_section="digest")
