"""Scheduled jobs: an APScheduler loop whose runs are claimed in an SQLite ledger."""

from scheduled.scheduler import ScheduledJob, Scheduler

__all__ = ["ScheduledJob", "Scheduler"]
