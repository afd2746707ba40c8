"""What became of a scheduled run: the ``scheduled_runs.status`` ledger values and the
outcomes the scheduler counts (the ``outcome`` label of shipbell_scheduled_runs).

Apart from the engine so a job anywhere (a domain sweep, a feature's upkeep) can answer
``RunStatus.SKIPPED`` without importing APScheduler.
"""

from __future__ import annotations

from enum import StrEnum


class RunStatus(StrEnum):
    CLAIMED = "claimed"  # this process is running it (left so if it died mid-run)
    POSTED = "posted"  # ran
    SKIPPED = "skipped"  # ran and had nothing to do (a job's ``run`` returns this)
    FAILED = "failed"
    MISSED = "missed"  # found later than the grace window: not run
    DUPLICATE = "duplicate"  # another process had claimed it: not run


class SchedulerTask(StrEnum):
    """The persisted task a claimed run's body runs as (``tasks.kind``)."""

    RUN = "scheduled.run"
