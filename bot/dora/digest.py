"""Assemble a digest: run the bounded queries once, then compute every figure from the rows.

``build_digest`` is synchronous and takes a connection, so the bot runs it through
``Store.read`` (a worker thread) and the CLI and benchmark call it directly.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shipbell.bot.dora import leadcache, queries
from shipbell.bot.dora.clusters import place
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.metrics import Digest, period_metrics, service_rows, week_points
from shipbell.bot.dora.periods import current_period, local_midnight, weeks_before
from shipbell.bot.storage import Connection

LEAD_TIME_NOTE = (
    "Lead time has one value per change, so a deploy carrying 40 changes weighs 40×; "
    "n counts changes, not deploys."
)


def build_digest(
    conn: Connection,
    cfg: DigestSettings,
    tz: ZoneInfo,
    at: datetime,
    *,
    service: str | None = None,
    days: int | None = None,
    trend: bool = False,
    now: datetime | None = None,
) -> Digest:
    """The digest that would be posted at ``at``: the whole local days before it.

    ``trend`` also reads lead times for every chart week (the daily post and
    ``--chart``); on-demand stats skip that and read only the two periods.
    ``now`` (the real time; the daily post passes it, on a writable connection) cuts the
    lead times by local day and keeps those of days that are over in ``dora_lead_days``,
    so tomorrow's post computes only what it has not seen (see ``leadcache``).
    """
    envs = list(cfg.environments or ["production"])
    current = current_period(at.astimezone(tz).date(), days or cfg.period_days, tz)
    prior = current.previous()
    weeks = weeks_before(current.end_day, cfg.chart_weeks, tz)

    deploys = queries.deploys(conn, envs, prior.start, current.end, service)
    week_counts = queries.deploy_counts(conn, envs, [(w.start, w.end) for w in weeks], service)
    # Lead times come back per span between these cuts: the periods' bounds, and the chart
    # weeks' when the trend is drawn.
    cuts = [prior.start, current.start, current.end]
    if trend:
        cuts += [b for w in weeks for b in (w.start, w.end)]
    if now is None:
        changes = queries.lead_times(conn, envs, cuts, service, named_from=current.start)
    else:
        first = min(cuts).astimezone(tz).date()
        cuts += [local_midnight(first + timedelta(days=i), tz)
                 for i in range((current.end_day - first).days)]
        changes = leadcache.lead_times(conn, envs, cuts, service, current.start,
                                       leadcache.settled(at, now))
    failures = queries.failures(conn, envs, prior.start, at, service)
    incidents = queries.incidents(conn, prior.start, at, service)
    today = at.astimezone(tz).date().isoformat()
    overdue_total, overdue = queries.overdue_followups(conn, today, at, service)
    updates_now = queries.updates_on_time(conn, current.start, current.end, service)
    updates_before = queries.updates_on_time(conn, prior.start, prior.end, service)

    now_metrics = period_metrics(current, deploys, changes, failures, incidents, updates_now)
    before = period_metrics(prior, deploys, changes, failures, incidents, updates_before)
    open_incidents = sorted(
        (i for i in incidents if i.resolved is None), key=lambda i: (i.declared, i.id)
    )
    open_failures = sorted(
        (f for f in failures if f.recovered is None), key=lambda f: f.started
    )
    services = [] if service else service_rows(
        current, deploys, changes, incidents, open_incidents
    )
    n = cfg.min_samples
    cluster = place(
        now_metrics.per_day if now_metrics.deploys >= n else None,
        now_metrics.lead.median if now_metrics.lead.enough(n) else None,
        now_metrics.failure.value if now_metrics.failure.enough(n) else None,
        now_metrics.recovery.median if now_metrics.recovery.enough(n) else None,
    )
    return Digest(
        at=at,
        envs=envs,
        service=service,
        min_samples=n,
        current=now_metrics,
        prior=before,
        open_incidents=open_incidents,
        open_failures=open_failures,
        overdue=overdue,
        overdue_total=overdue_total,
        services=services[: cfg.max_services],
        more_services=max(0, len(services) - cfg.max_services),
        weeks=week_points(weeks, week_counts, changes if trend else None),
        cluster=cluster,
        notes=[LEAD_TIME_NOTE] if now_metrics.lead.n else [],
    )


def known_services(conn: Connection, limit: int = 12) -> list[str]:
    """Service names ever deployed, for a helpful "did you mean"; walks the service index."""
    rows = conn.execute(
        # The walk stops after limit + 1 names by counting its steps (PostgreSQL has no
        # LIMIT inside a recursive query; SQLite would have taken one there).
        "WITH RECURSIVE s(name, n) AS (SELECT MIN(service), 1 FROM deploys"
        " UNION ALL SELECT (SELECT MIN(service) FROM deploys WHERE service > s.name), n + 1"
        " FROM s WHERE s.name IS NOT NULL AND n < ?)"
        " SELECT name FROM s WHERE name IS NOT NULL",
        (limit + 1,),
    )
    return [r[0] for r in rows][:limit]


def has_service(conn: Connection, service: str) -> bool:
    return conn.execute("SELECT 1 FROM deploys WHERE service = ? LIMIT 1", (service,)).fetchone() \
        is not None
