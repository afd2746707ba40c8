"""The digest feature's wiring: the daily job, its posting task and `/deploy stats`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.core import Core


def register(app: AsyncApp, core: Core) -> None:
    """Schedule the digest and plug `stats` into the `/deploy` router (no listener of ours)."""
    # Imported here: scheduled.digest uses this package's messages, so a module-level
    # import would be circular when the scheduler side is imported first.
    from handlers.digest.ids import SUBCOMMAND
    from handlers.digest.stats import register_stats
    from scheduled.digest import add_digest_job

    add_digest_job(core)
    core.services.setdefault("deploy_subcommands", {})[SUBCOMMAND] = register_stats(core)
