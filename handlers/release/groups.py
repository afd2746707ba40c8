"""What the release book needs to know about people, read from Slack in the background:
members of manager user groups (S…), and which captains' accounts are deactivated.

The ack path only reads ``ReleaseBook.group_members`` and ``gone_users``; a coalesced local
job refreshes them every few minutes (and once at start-up), so nothing waits on Slack.
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
    """Read each manager group's members; a group Slack can't read keeps its last members.

    Captains are looked up too, so a reminder can say that a deactivated one needs a swap.
    """
    book = releases_of(core)
    for group in book.manager_groups():
        data = await outbox.call(core, "usergroups.users.list", {"usergroup": group})
        if data is not None:
            book.group_members[group] = set(data.get("users") or [])
    for user in book.captains():
        data = await outbox.call(core, "users.info", {"user": user})
        if data is not None:  # user_not_found is a config typo, not a departure: not flagged
            gone = bool((data.get("user") or {}).get("deleted"))
            (book.gone_users.add if gone else book.gone_users.discard)(user)


def groups_job(core: Core) -> ScheduledJob:
    async def run(when: datetime) -> str:
        try:
            await refresh_groups(core)
        except Exception:  # Slack down or rate limited: keep the last members, try later
            logs.logger.warning(logs.RELEASE_GROUPS_STALE)
            return "skipped"
        book = releases_of(core)
        return f"{len(book.group_members)} groups, {len(book.gone_users)} captains gone"

    trigger = IntervalTrigger(seconds=REFRESH_SECONDS, timezone=UTC,
                              start_date=datetime(2020, 1, 1, tzinfo=UTC))
    return ScheduledJob(GROUPS_JOB, trigger, run, kind="release.groups", coalesce=True,
                        local=True)  # every process keeps its own members fresh
