"""What the release book needs to know about people, read from Slack in the background.

Manager user groups (S…) come from the shared group directory (``bot.slack.groups``);
this module checks which captains' accounts are deactivated, so a reminder can say that
one needs a swap. The ack path only reads ``ReleaseBook.group_members`` and ``gone_users``.

Both are written here, on the event loop, and read by the ack path on the store's thread:
a set once published is never changed in place, only replaced whole, so a reader there sees
the old set or the new one, never one half changed.
"""

from __future__ import annotations

from datetime import datetime

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.scheduling import ScheduledJob, every
from shipbell.bot.scheduling.runs import RunStatus
from shipbell.bot.slack import gateway
from shipbell.bot.slack.groups import groups_of
from shipbell.handlers.release.book import releases_of
from shipbell.handlers.release.ids import GROUPS_JOB

REFRESH_SECONDS = 600


def share_groups(core: Core) -> None:
    """Point the book at the shared directory and ask it for the manager groups."""
    book = releases_of(core)
    directory = groups_of(core)
    book.group_members = directory.members
    directory.want(book.manager_groups())


async def check_captains(core: Core) -> int:
    """Flag deactivated captains (user_not_found is a config typo, not a departure)."""
    book = releases_of(core)
    for user in await core.store.run(book.captains):
        answer = await gateway.call(core, "users.info", {"user": user})
        if answer.ok:
            gone = bool((answer.data.get("user") or {}).get("deleted"))
            # Replaced, not changed in place: the ack path reads it on the store's thread.
            book.gone_users = (book.gone_users | {user}) if gone else (book.gone_users - {user})
    return len(book.gone_users)


async def refresh_groups(core: Core) -> None:
    """Everything this module keeps, read now: manager groups and captains."""
    await groups_of(core).refresh()
    await check_captains(core)


def groups_job(core: Core) -> ScheduledJob:
    async def run(when: datetime) -> str:
        try:
            gone = await check_captains(core)
        except Exception:  # Slack down or rate limited: keep what was known, try later
            logs.logger.warning(logs.RELEASE_CAPTAINS_STALE)
            return RunStatus.SKIPPED
        return f"{gone} captains gone"

    return ScheduledJob(GROUPS_JOB, every(REFRESH_SECONDS), run, kind="release.captains",
                        coalesce=True, local=True)  # every process keeps its own view fresh
