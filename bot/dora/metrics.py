"""The digest's figures as pure functions over rows: no SQL, no Slack, easy to check by hand.

Definitions follow ``shared/reference/dora.md``: only successful production deploys count;
a failed deploy counts once however many incidents it caused; durations keep their
minutes; open things stay visible as open instead of vanishing.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise
from typing import TypeVar

from shipbell.bot.clock import to_db
from shipbell.bot.dora.clusters import Placement
from shipbell.bot.dora.periods import Period, local_midnight
from shipbell.bot.dora.queries import Changes, DeployRow, FailureRow, FollowupRow, IncidentRow
from shipbell.bot.dora.stats import Ratio, Spread, spread

SEVERITIES = (1, 2, 3, 4)
T = TypeVar("T")


def between(rows: Sequence[T], times: Sequence[str], period: Period) -> Sequence[T]:
    """The rows whose stored time falls in ``period``; ``times`` is sorted, parallel to rows.

    The queries return deploys and changes in time order as stored (fixed-width UTC text,
    which sorts like time), so bisection slices a period without parsing every row.
    """
    lo, hi = period.bounds
    return rows[bisect_left(times, lo):bisect_left(times, hi)]


@dataclass(frozen=True)
class PeriodMetrics:
    period: Period
    deploys: int
    deploy_days: int  # distinct local days with at least one deploy
    failure: Ratio  # change failure rate: failed deploys / deploys
    rework: Ratio  # rollbacks and hotfixes / deploys
    lead: Spread  # one value per change
    recovery: Spread  # failed deployment recovery time
    incident_recovery: dict[int, Spread]  # declared → resolved, by severity
    opened: int
    resolved: int
    updates: Ratio | None  # status updates on time / due; None when not recorded

    @property
    def per_day(self) -> float:
        return self.deploys / self.period.days


@dataclass(frozen=True)
class ServiceRow:
    service: str
    deploys: int
    failure: Ratio
    rework: Ratio
    lead: Spread
    opened: int
    open_now: int


@dataclass(frozen=True)
class WeekPoint:
    period: Period
    deploys: int
    failed: int
    lead: Spread | None = None  # only when the trend was asked for


@dataclass
class Digest:
    at: datetime  # the instant "open" and "overdue" refer to
    envs: list[str]
    service: str | None
    min_samples: int
    current: PeriodMetrics
    prior: PeriodMetrics
    open_incidents: list[IncidentRow]
    open_failures: list[FailureRow]
    overdue: list[FollowupRow]  # the oldest few
    overdue_total: int
    services: list[ServiceRow]
    more_services: int
    weeks: list[WeekPoint]
    cluster: Placement | None
    notes: list[str] = field(default_factory=list)

    @property
    def has_news(self) -> bool:
        """False on a day with nothing to say: what quiet mode stays silent about."""
        c = self.current
        return bool(c.deploys or c.opened or c.resolved or self.open_incidents
                    or self.open_failures or self.overdue)


def period_metrics(
    period: Period,
    deploys: list[DeployRow],
    changes: Changes,
    failures: list[FailureRow],
    incidents: list[IncidentRow],
    updates: tuple[int, int] | None,
) -> PeriodMetrics:
    """Figures for one period from rows that may cover more; each row is filtered here."""
    mine = between(deploys, [d.finished for d in deploys], period)
    days = deploy_days([d.finished for d in mine], period)
    failed = sum(d.failed for d in mine)
    rework = sum(d.is_rollback or d.is_hotfix for d in mine)
    lead = changes.spread(*period.bounds)
    recovery = spread(
        (f.recovered - f.started).total_seconds()
        for f in failures
        if f.recovered is not None and period.contains(f.recovered)
    )
    by_severity: dict[int, list[float]] = defaultdict(list)
    for i in incidents:
        if i.resolved is not None and period.contains(i.resolved):
            by_severity[i.severity].append((i.resolved - i.declared).total_seconds())
    return PeriodMetrics(
        period=period,
        deploys=len(mine),
        deploy_days=days,
        failure=Ratio(failed, len(mine)),
        rework=Ratio(rework, len(mine)),
        lead=lead,
        recovery=recovery,
        incident_recovery={s: spread(by_severity.get(s, [])) for s in SEVERITIES},
        opened=sum(period.contains(i.declared) for i in incidents),
        resolved=sum(i.resolved is not None and period.contains(i.resolved) for i in incidents),
        updates=Ratio(*updates) if updates is not None else None,
    )


def service_rows(
    period: Period,
    deploys: list[DeployRow],
    changes: Changes,
    incidents: list[IncidentRow],
    open_incidents: list[IncidentRow],
) -> list[ServiceRow]:
    """The current period per service, busiest first."""
    by_service: dict[str, list[DeployRow]] = defaultdict(list)
    for d in between(deploys, [d.finished for d in deploys], period):
        by_service[d.service].append(d)
    leads = changes.per_service(*period.bounds)
    opened = [i.service for i in incidents if i.service and period.contains(i.declared)]
    open_now = [i.service for i in open_incidents if i.service]
    rows = []
    for name in set(by_service) | set(opened) | set(open_now):
        mine = by_service.get(name, [])
        rows.append(ServiceRow(
            service=name,
            deploys=len(mine),
            failure=Ratio(sum(d.failed for d in mine), len(mine)),
            rework=Ratio(sum(d.is_rollback or d.is_hotfix for d in mine), len(mine)),
            lead=spread(leads.get(name, [])),
            opened=opened.count(name),
            open_now=open_now.count(name),
        ))
    rows.sort(key=lambda r: (-r.deploys, -r.opened, r.service))
    return rows


def week_points(
    weeks: list[Period], counts: list[tuple[int, int]], changes: Changes | None
) -> list[WeekPoint]:
    return [
        WeekPoint(week, total, failed, None if changes is None else changes.spread(*week.bounds))
        for week, (total, failed) in zip(weeks, counts, strict=True)
    ]


def deploy_days(finished: Sequence[str], period: Period) -> int:
    """Local days of ``period`` with at least one of these sorted in-period finish times.

    Each local midnight is one stored-text bound (as the period's own are), so a day is two
    bisections rather than a time-zone conversion per deploy.
    """
    bounds = [to_db(local_midnight(period.first_day + timedelta(days=i), period.tz))
              for i in range(period.days + 1)]
    return sum(bisect_left(finished, lo) < bisect_left(finished, hi)
               for lo, hi in pairwise(bounds))
