"""The scheduler engine: APScheduler wakes it, an SQLite ledger claims each run exactly once.

Core infrastructure: jobs themselves live in ``scheduled/`` (and per-process upkeep with the
feature it keeps), and register here through ``Scheduler.add``.
"""

from shipbell.bot.scheduling.engine import RunOutcome, ScheduledJob, Scheduler, every
from shipbell.bot.scheduling.runs import RunStatus

__all__ = ["RunOutcome", "RunStatus", "ScheduledJob", "Scheduler", "every"]
