"""Managers named by user group (S…): members are read from Slack in the background.

The ack path only reads ``ReleaseBook.group_members``; a coalesced scheduled job refreshes it
every few minutes (and once at start-up), so a permission check never waits on Slack.
"""

from __future__ import annotations

from datetime import UTC, datetime

from apscheduler.triggers.interval import IntervalTrigger

from bot import logs
from bot.core import Core
from bot.releases.service import releases_of
from bot.slack import outbox
from handlers.release.ids import GROUPS_JOB
from scheduled.scheduler import ScheduledJob

REFRESH_SECONDS = 600


async def refresh_groups(core: Core) -> None:
    """Read each manager group's members; a group Slack can't read keeps its last members."""
    book = releases_of(core)
    for group in book.manager_groups():
        data = await outbox.call(core, "usergroups.users.list", {"usergroup": group})
        if data is not None:
            book.group_members[group] = set(data.get("users") or [])


def groups_job(core: Core) -> ScheduledJob:
    async def run(when: datetime) -> str:
        try:
            await refresh_groups(core)
        except Exception:  # Slack down or rate limited: keep the last members, try later
            logs.logger.warning(logs.RELEASE_GROUPS_STALE)
            return "skipped"
        return f"{len(releases_of(core).group_members)} groups read"

    trigger = IntervalTrigger(seconds=REFRESH_SECONDS, timezone=UTC,
                              start_date=datetime(2020, 1, 1, tzinfo=UTC))
    return ScheduledJob(GROUPS_JOB, trigger, run, kind="release.groups", coalesce=True,
                        local=True)  # every process keeps its own members fresh
