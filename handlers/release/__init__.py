"""`/release`: the release trains' calendar in Slack, and their scheduled posts.

``register`` builds the release book from config, adds the trains' jobs to the scheduler
(dropping jobs of trains no longer configured), keeps manager user groups' members fresh
in the background, and wires the slash command.
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.releases.demo import DEMO_CONFIG
from shipbell.bot.releases.schema import MIGRATIONS
from shipbell.handlers.common import SlashCommand
from shipbell.handlers.feature import Command, Feature
from shipbell.handlers.release import announce
from shipbell.handlers.release.book import releases_of
from shipbell.handlers.release.commands import answer
from shipbell.handlers.release.groups import groups_job, share_groups
from shipbell.handlers.release.ids import COMMAND
from slack_bolt.async_app import AsyncApp


def register(app: AsyncApp, core: Core) -> None:
    book = releases_of(core)
    share_groups(core)  # first, so a due post knows who is who
    if book.calendars:
        core.scheduler.add(groups_job(core))
    announce.register(core)

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any]) -> None:
        # Reads/writes of a few rows and date arithmetic, on the store's thread (the loop
        # keeps serving meanwhile); Slack posts are handed to the task runner. Only `captain`
        # asks Slack first (users.info, bounded at a second) whether the new captain is in
        # the workspace.
        reply = await answer(core, SlashCommand.from_body(body))
        await ack(**reply)


FEATURE = Feature(
    name="release",
    register=register,
    commands=(Command(COMMAND, "Release trains: next date, calendar, freezes, captain",
                      "next [train] · calendar [train] · help"),),
    migrations=tuple(MIGRATIONS),
    demo_config=DEMO_CONFIG,
    config_section="release",
)
