"""Scheduled jobs for the release trains: T-minus reminders, the freeze, release day.

Each train gets one job per kind of post; its trigger yields the train's release times
(holiday moves applied) minus the job's offset, in absolute time (24 h is 24 real hours, even
across a daylight-saving change).  What a run posts is decided when it runs:
a manually skipped release posts nothing, an empty train can skip itself.  Posts go through
the persisted ``slack.call`` task keyed by job and time, so a crash after the ledger claim
still delivers the post once.  Runs missed beyond the grace window (the bot was down) are
not posted late; instead each train's channel gets one short notice per pass saying what
was missed and what comes next.  A run reads the calendar and queues its post in one call on
the store's thread (``Store.run``), never on the event loop.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from shipbell.bot.clock import to_db
from shipbell.bot.core import Core
from shipbell.bot.durations import format_duration
from shipbell.bot.releases.service import ReleaseBook
from shipbell.bot.scheduling import RunOutcome, ScheduledJob
from shipbell.bot.scheduling.runs import RunStatus
from shipbell.bot.slack import tagged
from shipbell.handlers.release import messages
from shipbell.handlers.release.book import releases_of
from shipbell.handlers.release.ids import Kind

PREFIX = "release:"


class ReleaseTrigger(BaseTrigger):
    """Fire ``offset`` before each release of a train that is not skipped by the holiday rule."""

    def __init__(self, book: ReleaseBook, train: str, offset: timedelta) -> None:
        self.book = book
        self.train = train
        self.offset = offset

    def get_next_fire_time(
        self, previous_fire_time: datetime | None, now: datetime
    ) -> datetime | None:
        # Like APScheduler's own triggers: the first fire time strictly after the previous one
        # (a wake-up exactly on time must not get the same instant back), else from now.
        since = now if previous_fire_time is None else (
            previous_fire_time.astimezone(UTC) + timedelta(microseconds=1))
        for occ in self.book.calendars[self.train].occurrences(since.astimezone(UTC) + self.offset):
            if occ.at is not None:
                return occ.at.astimezone(UTC) - self.offset
        return None

    def __str__(self) -> str:
        return f"release train {self.train} - {format_duration(self.offset)}"

    def __getstate__(self) -> Any:  # pragma: no cover - only persistent job stores pickle
        raise TypeError("release triggers live in memory; they are rebuilt from config")

def job_ids(core: Core) -> list[str]:
    return [job_id for job_id in core.scheduler.jobs if job_id.startswith(PREFIX)]


def register(core: Core) -> None:
    """The trains' jobs, and the one listener that tells a train's channel what was missed."""
    core.scheduler.on_missed.append(_missed_notice(core))
    register_jobs(core)


def register_jobs(core: Core) -> list[str]:
    """Add every configured train's jobs; drop release jobs no longer in the config."""
    book = releases_of(core)
    grace = core.settings.release.grace
    wanted: dict[str, ScheduledJob] = {}
    for name, cal in book.calendars.items():
        lead = cal.train.freeze_lead
        if lead:
            wanted[f"{PREFIX}{name}:freeze"] = ScheduledJob(
                f"{PREFIX}{name}:freeze", ReleaseTrigger(book, name, lead),
                _freeze_run(core, name, lead), kind=Kind.FREEZE.value, grace=grace,
                rerun_claimed=True)
        for offset in cal.train.reminder_offsets:
            if offset and offset != lead:
                job_id = f"{PREFIX}{name}:t-{format_duration(offset)}"
                wanted[job_id] = ScheduledJob(
                    job_id, ReleaseTrigger(book, name, offset),
                    _reminder_run(core, name, offset), kind=Kind.REMINDER.value, grace=grace,
                    rerun_claimed=True)
        wanted[f"{PREFIX}{name}:release"] = ScheduledJob(
            f"{PREFIX}{name}:release", ReleaseTrigger(book, name, timedelta(0)),
            _release_run(core, name), kind=Kind.DAY.value, grace=grace,
            rerun_claimed=True)
    for stale in set(job_ids(core)) - set(wanted):
        core.scheduler.remove(stale)
    for job_id, job in wanted.items():
        if job_id not in core.scheduler.jobs:
            core.scheduler.add(job)
    return sorted(wanted)


def _post(core: Core, name: str, key: str, message: dict[str, Any]) -> None:
    """Queue a train channel's post, once per key (on the store's thread)."""
    channel = releases_of(core).calendars[name].train.channel
    tagged.post_once(core, {"channel": channel, **message}, key=key)


def _reminder_run(core: Core, name: str, offset: timedelta) -> Any:
    async def run(when: datetime) -> str:
        return await core.store.run(remind, when)

    def remind(when: datetime) -> str:
        book = releases_of(core)
        release = book.release_at(name, when.astimezone(UTC) + offset)
        if release is None or release.at is None:
            return RunStatus.SKIPPED
        since = book.previous_release(name, release.at)
        shipped = book.on_train(name, core.clock.now(), since)
        train = book.calendars[name].train
        message = messages.reminder(name, release, when, shipped, since,
                                    train.skip_when_empty)
        _post(core, name, f"release:{name}:t-{format_duration(offset)}@{to_db(when)}", message)
        return f"reminder for {release.day}: {len(shipped)} deploys on the train"

    return run


def _freeze_run(core: Core, name: str, lead: timedelta) -> Any:
    async def run(when: datetime) -> str:
        return await core.store.run(announce_freeze, when)

    def announce_freeze(when: datetime) -> str:
        book = releases_of(core)
        release = book.release_at(name, when.astimezone(UTC) + lead)
        if release is None:
            return RunStatus.SKIPPED
        train = book.calendars[name].train
        since = book.previous_release(name, when.astimezone(UTC) + lead)
        shipped = book.on_train(name, core.clock.now(), since)
        message = messages.freeze_started(name, release, train.services, train.environment,
                                          shipped, since)
        _post(core, name, f"release:{name}:freeze@{to_db(when)}", message)
        return f"freeze for {release.day}"

    return run


def _release_run(core: Core, name: str) -> Any:
    async def run(when: datetime) -> str:
        return await core.store.run(announce_release, when)

    def announce_release(when: datetime) -> str:
        book = releases_of(core)
        release = book.release_at(name, when)
        if release is None or release.at is None:
            return RunStatus.SKIPPED
        since = book.previous_release(name, when)
        shipped = book.on_train(name, when, since)
        following = book.next_release(name, when)
        key = f"release:{name}:release@{to_db(when)}"
        if not shipped and book.calendars[name].train.skip_when_empty:
            _post(core, name, key, messages.release_skipped_empty(name, release, since,
                                                                  following))
            return RunStatus.SKIPPED
        # "The freeze is over" only where a code freeze ran up to now and nothing still holds
        # the train (an ad-hoc freeze outlasting the release).
        thawed = bool(book.calendars[name].train.freeze_lead) and \
            book.freeze_window(name, when) is None
        _post(core, name, key, messages.release_day(name, release, shipped, since, following,
                                                    thawed=thawed))
        return f"release {release.day}: {len(shipped)} deploys"

    return run


def _label(job: ScheduledJob, offset: timedelta) -> str:
    if job.kind == Kind.FREEZE:
        return "code freeze announcement"
    if job.kind == Kind.DAY:
        return "release announcement"
    return f"{format_duration(offset)} reminder"


def _missed_notice(core: Core) -> Callable[[list[RunOutcome]], Awaitable[None]]:
    async def notice(missed: list[RunOutcome]) -> None:
        """One notice per train: which posts were missed while down, and what comes next."""
        book = releases_of(core)
        # The scheduler's jobs belong to the event loop: read here, handed over as values.
        runs: list[tuple[str, datetime, str, datetime]] = []  # train, release, label, run
        for outcome in missed:
            job = core.scheduler.jobs.get(outcome.job_id)
            trigger = job.trigger if job is not None else None
            if (job is None or not isinstance(trigger, ReleaseTrigger)
                    or trigger.train not in book.calendars):
                continue
            due = outcome.scheduled_for.astimezone(UTC) + trigger.offset
            runs.append((trigger.train, due, _label(job, trigger.offset), outcome.scheduled_for))
        if runs:
            await core.store.run(tell_missed, missed, runs)

    def tell_missed(missed: list[RunOutcome],
                    runs: list[tuple[str, datetime, str, datetime]]) -> None:
        """(On the store's thread.)  Queue each train's notice of the ``runs`` still due."""
        book = releases_of(core)
        by_train: dict[str, list[tuple[str, datetime]]] = {}
        for train, due, label, scheduled_for in runs:
            if book.release_at(train, due) is None:
                continue  # skipped by hand since: nothing was lost
            by_train.setdefault(train, []).append((label, scheduled_for))
        now = core.clock.now()
        for name, items in by_train.items():
            first = min(o.scheduled_for for o in missed if o.job_id.startswith(f"{PREFIX}{name}:"))
            message = messages.missed_notice(name, sorted(items, key=lambda item: item[1]),
                                             book.freeze_window(name, now),
                                             book.next_release(name, now), now)
            _post(core, name, f"release:{name}:missed@{to_db(first)}", message)

    return notice
