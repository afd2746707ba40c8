"""User-group members, read from Slack off the ack path, for every feature that names groups.

Permission checks run on the ack path and must not wait on Slack, so they read this cache.
A local scheduled job (every process keeps its own copy; no shared ledger) refreshes the
groups features asked for; a group Slack can't read keeps its last known members.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.inputs import is_group
from shipbell.bot.scheduling import ScheduledJob, every
from shipbell.bot.scheduling.runs import RunStatus
from shipbell.bot.slack import gateway

JOB_ID = "slack.groups"
REFRESH_SECONDS = 600


class GroupDirectory:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.members: dict[str, set[str]] = {}  # shared by reference with the features
        self.wanted: set[str] = set()

    def want(self, principals: Iterable[str]) -> None:
        """Remember the group ids (S…) among ``principals``; users (U…) need no lookup."""
        self.wanted.update(p for p in principals if is_group(p))

    async def refresh(self) -> int:
        """Read every wanted group; return how many Slack answered."""
        read = 0
        for group in sorted(self.wanted):
            answer = await gateway.call(self.core, "usergroups.users.list", {"usergroup": group})
            if answer.ok:
                # A new set, never one changed in place: permission checks read these on
                # the store's thread, and see the old members or the new ones.
                self.members[group] = set(answer.data.get("users") or [])
                read += 1
        return read

    def job(self) -> ScheduledJob:
        async def run(when: datetime) -> str:
            if not self.wanted:
                return RunStatus.SKIPPED
            try:
                read = await self.refresh()
            except Exception:  # Slack down or rate limited: keep the last members
                logs.logger.warning(logs.GROUPS_STALE)
                return RunStatus.SKIPPED
            return f"{read} of {len(self.wanted)} groups read"

        return ScheduledJob(JOB_ID, every(REFRESH_SECONDS), run, kind="slack.groups", coalesce=True,
                            local=True)


def groups_of(core: Core) -> GroupDirectory:
    """The process's directory, created on first use (features register in any order)."""
    directory = core.registry.get(GroupDirectory)
    if directory is None:
        directory = core.registry.add(GroupDirectory(core))
        core.scheduler.add(directory.job())
    return directory
