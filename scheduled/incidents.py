"""`incident.sweep`: the periodic pass for update reminders, overdue follow-ups and archiving.

Runs on an IntervalTrigger with coalesce (only the latest due pass matters). The scheduler's
ledger runs each pass once; each reminder slot is claimed in the store before it is posted.
A pass is one ``store.run``: it only reads, claims and submits tasks (the tasks talk to Slack).
"""

from __future__ import annotations

from datetime import datetime

from shipbell.bot.core import Core
from shipbell.bot.incidents import followups, reminders
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.scheduling import ScheduledJob, every
from shipbell.bot.scheduling.runs import RunStatus
from shipbell.bot.tasks import TaskStatus
from shipbell.handlers.incident import messages
from shipbell.handlers.incident.ids import Task

JOB_ID = "incident.sweep"
SYSTEM = "shipbell"


def retry_setup(core: Core, incident_id: int, now: datetime) -> bool:
    """Resubmit a set-up whose retries a Slack outage outlasted (at most every 10 minutes)."""
    latest = core.store.one(
        "SELECT status FROM tasks WHERE kind = ? AND (key = ? OR key LIKE ?)"
        " ORDER BY id DESC LIMIT 1",
        (Task.SETUP, f"{Task.SETUP}:{incident_id}", f"{Task.SETUP}:{incident_id}:%"),
    )
    if latest is None or latest["status"] != TaskStatus.FAILED:
        return False
    window = now.replace(minute=now.minute - now.minute % 10, second=0, microsecond=0)
    key = f"{Task.SETUP}:{incident_id}:{window.isoformat()}"
    return core.tasks.submit(Task.SETUP, {"id": incident_id}, key=key) is not None


def register(core: Core) -> None:
    """The incident sweep: reminders, overdue follow-ups, set-up retries, archiving (none in a
    Shipbell without the incident feature)."""
    svc = core.registry.get(IncidentService)
    if svc is None:
        return
    settings = svc.settings

    async def sweep(when: datetime) -> str:
        return await core.store.run(sweep_now, core.clock.now())

    def sweep_now(now: datetime) -> str:
        """(On the store's thread.)  One pass at ``now``: what it did, or SKIPPED."""
        nudges = 0
        for inc in reminders.due(svc, now):
            claimed = reminders.claim(svc, inc, now)
            if claimed is None:
                continue
            escalate = settings.escalation_group if claimed.escalate else None
            text, blocks = messages.reminder(
                inc, claimed.slot, claimed.missed, escalate, settings.snooze_minutes,
                inc.last_update_at or inc.declared_at, now)
            core.tasks.submit(Task.REMIND, {"id": inc.id, "text": text, "blocks": blocks},
                              key=f"{Task.REMIND}:{inc.id}:{claimed.slot}")
            nudges += 1
        overdue = followups.overdue(svc, now)
        for row in overdue:
            text, blocks = messages.followup_reminder(row)
            core.tasks.submit(Task.FOLLOWUP_REMIND, {
                "id": row["incident_id"], "owner": row["owner"], "text": text, "blocks": blocks},
                key=f"incident.followup:{row['id']}:{now.date().isoformat()}")
        retried = sum(retry_setup(core, inc.id, now)
                      for inc in reminders.without_channel(svc, now))
        archived = 0
        for inc in reminders.to_archive(svc, now):
            if svc.close(inc, SYSTEM):
                core.tasks.submit(Task.ARCHIVE, {"id": inc.id},
                                  key=f"{Task.ARCHIVE}:{inc.id}")
                archived += 1
        if not (nudges or overdue or archived or retried):
            return RunStatus.SKIPPED
        return (f"{nudges} reminders, {len(overdue)} follow-ups, {archived} archived,"
                f" {retried} set-ups retried")

    trigger = every(settings.sweep_minutes * 60)
    core.scheduler.add(ScheduledJob(JOB_ID, trigger, sweep, kind="incident", coalesce=True))
