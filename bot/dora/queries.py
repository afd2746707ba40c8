"""The digest's reads: each one is a range scan over the periods shown, never the history.

They take a plain store ``Connection`` because they run in a worker thread through
``Store.read``.  Test incidents (``test = 1``) are left out everywhere; private ones are
kept (they count) and carry their flag so nothing downstream names them.
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise, repeat
from operator import truediv
from typing import NamedTuple

from shipbell.bot.clock import from_db, to_db
from shipbell.bot.dora.stats import Spread, spread
from shipbell.bot.storage import Connection

NOT_A_ROLLBACK = ("rejected", "cancelled")  # a rollback request that never ran


class DeployRow(NamedTuple):  # a tuple: thousands of them are made per digest
    id: int
    service: str
    finished: str  # stored UTC text: sorts and compares like the time it stands for
    is_rollback: bool
    is_hotfix: bool
    failed: bool  # caused an incident, or was rolled back


@dataclass(frozen=True)
class FailureRow:
    deploy_id: int
    service: str
    started: datetime
    recovered: datetime | None  # None: still open at the digest's instant


@dataclass(frozen=True)
class IncidentRow:
    id: int
    title: str
    severity: int
    service: str | None
    private: bool
    declared: datetime
    resolved: datetime | None


@dataclass(frozen=True)
class FollowupRow:
    incident_id: int
    incident_title: str
    private: bool
    text: str
    owner: str | None
    due: str


def _in(values: list[str]) -> str:
    return ", ".join("?" for _ in values)


def _dt(text: str) -> datetime:
    value = from_db(text)
    assert value is not None
    return value


def _production(
    envs: list[str], start: datetime, end: datetime, service: str | None
) -> tuple[str, list[object]]:
    """The WHERE clause (and its parameters) for deploys ``d`` to production in [start, end)."""
    sql = (f" WHERE d.env IN ({_in(envs)}) AND d.state = 'succeeded'"
           " AND d.finished_at >= ? AND d.finished_at < ?")
    params: list[object] = [*envs, to_db(start), to_db(end)]
    if service:
        sql += " AND d.service = ?"
        params.append(service)
    return sql, params


def failed_deploys(
    conn: Connection, envs: list[str], start: datetime, end: datetime,
    service: str | None, ids: tuple[int, int],
) -> dict[int, str]:
    """Successful production deploys finished in [start, end) that failed (caused a non-test
    incident, or were rolled back by a rollback that ran), by id, with their finish time.

    ``ids`` is the (lowest, highest) id of the window's deploys, which the caller read with
    them.  The failures are read from their side over that id range (the few "caused" links
    and rollbacks there) instead of two searches per deploy of the window.
    """
    where, params = _production(envs, start, end, service)
    # CROSS JOIN pins the order: the links (or rollbacks) in the id range first, then their
    # deploy, so nothing is looked up per deploy of the window.
    sql = (
        "SELECT d.id, d.finished_at FROM incident_deploys x CROSS JOIN deploys d"
        " ON d.id = x.deploy_id CROSS JOIN incidents i ON i.id = x.incident_id"
        f"{where} AND x.relation = 'caused' AND x.deploy_id BETWEEN ? AND ? AND i.test = 0"
        " UNION SELECT d.id, d.finished_at FROM deploys r CROSS JOIN deploys d"
        f" ON d.id = r.rollback_of{where} AND r.rollback_of BETWEEN ? AND ?"
        f" AND r.state NOT IN ({_in(list(NOT_A_ROLLBACK))})"
    )
    rows = conn.execute(sql, [*params, *ids, *params, *ids, *NOT_A_ROLLBACK])
    return dict(rows.fetchall())


def deploys(
    conn: Connection, envs: list[str], start: datetime, end: datetime,
    service: str | None = None,
) -> list[DeployRow]:
    """Successful production deploys finished in [start, end), in time order, with their
    failure flag."""
    where, params = _production(envs, start, end, service)
    rows = conn.execute(f"SELECT d.id, d.service, d.finished_at, d.is_rollback, d.is_hotfix"
                        f" FROM deploys d{where} ORDER BY d.finished_at", params).fetchall()
    if not rows:
        return []
    ids = [r[0] for r in rows]
    failed = failed_deploys(conn, envs, start, end, service, (min(ids), max(ids)))
    return [DeployRow(r[0], r[1], r[2], bool(r[3]), bool(r[4]), r[0] in failed) for r in rows]


def deploy_counts(
    conn: Connection, envs: list[str], spans: list[tuple[datetime, datetime]],
    service: str | None = None,
) -> list[tuple[int, int]]:
    """(deploys, failed deploys) for each [start, end) span (the chart's weeks, oldest
    first, back to back): one statement counts them all, then the window's failures once."""
    if not spans:
        return []
    svc_sql, svc = (" AND d.service = ?", [service]) if service else ("", [])
    where = f" FROM deploys d WHERE d.env IN ({_in(envs)}) AND d.state = 'succeeded'{svc_sql}"
    bounds = [(to_db(lo), to_db(hi)) for lo, hi in spans]
    # each span counted in its own index range (nothing to sort), then the window's id range
    counts = conn.execute(
        f"WITH w(k, lo, hi) AS (VALUES {', '.join('(?, ?, ?)' for _ in bounds)})"
        f" SELECT (SELECT COUNT(*){where} AND d.finished_at >= w.lo AND d.finished_at < w.hi)"
        f" FROM w ORDER BY w.k",
        [*(v for k, b in enumerate(bounds) for v in (k, *b)), *envs, *svc],
    ).fetchall()
    first, last = conn.execute(
        f"SELECT MIN(d.id), MAX(d.id){where} AND d.finished_at >= ? AND d.finished_at < ?",
        [*envs, *svc, bounds[0][0], bounds[-1][1]]).fetchone()
    failed = [] if first is None else sorted(failed_deploys(
        conn, envs, spans[0][0], spans[-1][1], service, (first, last)).values())
    return [(int(total), bisect_left(failed, hi) - bisect_left(failed, lo))
            for (total,), (lo, hi) in zip(counts, bounds, strict=True)]


@dataclass(frozen=True)
class Changes:
    """Lead times (seconds, one per change first shipped) of a window cut at ``cuts``.

    ``spans`` maps (k, service) to the values shipped in [cuts[k], cuts[k + 1]); service is
    None for spans before ``named_from`` (see ``lead_times``), where no breakdown per
    service is shown.  A period or a chart week is a run of spans, so its bounds must be
    among the cuts.
    """

    cuts: list[str]  # stored UTC text, sorted
    spans: dict[tuple[int, str | None], list[float]]
    _spreads: dict[tuple[str, str], Spread] = field(default_factory=dict, repr=False)

    def spread(self, lo: str, hi: str) -> Spread:
        """Median and p90 of [lo, hi), sorted once however often it is asked (the current
        period is also the chart's last week)."""
        if (lo, hi) not in self._spreads:
            self._spreads[lo, hi] = spread(self.seconds(lo, hi))
        return self._spreads[lo, hi]

    def _range(self, lo: str, hi: str) -> range:
        return range(self.cuts.index(lo), self.cuts.index(hi))

    def seconds(self, lo: str, hi: str) -> list[float]:
        ks = self._range(lo, hi)
        return [s for (k, _), values in self.spans.items() if k in ks for s in values]

    def per_service(self, lo: str, hi: str) -> dict[str, list[float]]:
        ks = self._range(lo, hi)
        out: dict[str, list[float]] = {}
        for (k, name), values in self.spans.items():
            if k in ks and name is not None:
                out.setdefault(name, []).extend(values)
        return out


def _lead_sql(source: str, envs: list[str], service: str | None) -> str:
    """The whole milliseconds from commit to first production deploy of the changes shipped
    by deploys ``d`` (read from ``source``) in [w.lo, w.hi), as one comma-separated line."""
    return (
        # Whole milliseconds (julianday's resolution): over 1000 they are the same doubles as
        # round(… * 86400.0, 3), whose decimal round trip costs more than both julianday()s.
        "group_concat(CAST(round((julianday(d.finished_at) - julianday(c.committed_at))"
        f" * 86400000.0) AS INTEGER)) FROM {source} CROSS JOIN deploy_changes c"
        f" ON c.deploy_id = d.id WHERE d.env IN ({_in(envs)}) AND d.state = 'succeeded'"
        " AND d.finished_at >= w.lo AND d.finished_at < w.hi"
        f"{' AND d.service = ?' if service else ''} AND c.committed_at IS NOT NULL"
        # CROSS JOIN pins the order: look the sha up first (a row or two, deploy id in the
        # index), then its deploys; otherwise SQLite may walk every deploy of the service.
        " AND NOT EXISTS (SELECT 1 FROM deploy_changes c2 CROSS JOIN deploys d2"
        "   ON d2.id = c2.deploy_id"
        "   WHERE c2.sha = c.sha AND c2.deploy_id != d.id AND d2.service = d.service"
        f"   AND d2.env IN ({_in(envs)}) AND d2.state = 'succeeded'"
        "   AND (d2.finished_at < d.finished_at"
        "        OR (d2.finished_at = d.finished_at AND d2.id < d.id)))"
    )


def lead_times(
    conn: Connection, envs: list[str], cuts: list[datetime],
    service: str | None = None, named_from: datetime | None = None,
) -> Changes:
    """One value per change first shipped (to that service) by a deploy in
    [cuts[0], cuts[-1]), gathered per span between consecutive cuts.

    SQLite does the per-change work and hands back one line of whole milliseconds per span
    (per span and service from ``named_from`` on, the period shown per service): no row,
    tuple or string per change crosses into Python.
    """
    bounds = sorted({to_db(c) for c in cuts})
    named = bounds.index(to_db(named_from)) if named_from is not None else len(bounds)
    spans = [(k, lo, hi) for k, (lo, hi) in enumerate(pairwise(bounds))]
    found = lead_lines(conn, envs, spans[:named], service, per_service=False)
    found += lead_lines(conn, envs, spans[named:], service, per_service=True)
    return changes_from(bounds, found)


def lead_lines(
    conn: Connection, envs: list[str], spans: list[tuple[int, str, str]],
    service: str | None, *, per_service: bool,
) -> list[tuple[int, str | None, str | None]]:
    """(k, service or None, line of whole milliseconds or None) for each span (k, lo, hi);
    per service only when asked (the period shown per service)."""
    if not spans:
        return []
    params = [*envs, *([service] if service else []), *envs]
    sql = f"WITH w(k, lo, hi) AS (VALUES {', '.join('(?, ?, ?)' for _ in spans)}) "
    if per_service:  # sorts the named period's changes by service, no others
        sql += (f"SELECT w.k, d.service, {_lead_sql('w CROSS JOIN deploys d', envs, service)}"
                " GROUP BY w.k, d.service")
    else:  # each span in its own index range, in order: nothing to sort
        sql += f"SELECT w.k, NULL, (SELECT {_lead_sql('deploys d', envs, service)}) FROM w"
    return conn.execute(sql, [*(v for span in spans for v in span), *params]).fetchall()


def changes_from(bounds: list[str], found: list[tuple[int, str | None, str | None]]) -> Changes:
    return Changes(bounds, {(k, name): _seconds(line) for k, name, line in found if line})


def _seconds(line: str) -> list[float]:
    """Seconds from a line of whole milliseconds; a commit "after" its deploy is a bad record
    and dropped (as is a time julianday can't read, which never makes it into the line)."""
    ms = list(map(int, line.split(",")))
    if min(ms) <= 0:
        ms = [m for m in ms if m > 0]
    return list(map(truediv, ms, repeat(1000)))


def failures(
    conn: Connection, envs: list[str], start: datetime, at: datetime,
    service: str | None = None,
) -> list[FailureRow]:
    """Change-caused failures recovered in [start, at) or still open at ``at``.

    Each failed deploy is one failure.  Linked incidents govern: it starts at the deploy
    or the earliest incident declaration, whichever is first, and ends when the last of
    its incidents is resolved.  A deploy rolled back without an incident ends at its
    first successful rollback.
    """
    envs_in, lo, hi = _in(envs), to_db(start), to_db(at)
    svc_sql, svc = (" AND d.service = ?", [service]) if service else ("", [])
    candidates = [r[0] for r in conn.execute(
        # CROSS JOIN fixes the order: the few recent or open incidents first (by index),
        # then their links, never every link in the history.
        "SELECT DISTINCT x.deploy_id FROM incidents i CROSS JOIN incident_deploys x"
        " ON x.incident_id = i.id AND x.relation = 'caused'"
        " WHERE i.test = 0 AND (i.resolved_at >= ? OR i.resolved_at IS NULL)"
        " AND +i.declared_at < ?",
        (lo, hi),
    )]
    linked: dict[int, list[tuple[str, str, str, str | None]]] = {}
    for chunk in range(0, len(candidates), 500):
        ids = candidates[chunk:chunk + 500]
        for row in conn.execute(
            "SELECT d.id, d.service, d.finished_at, i.declared_at, i.resolved_at"
            " FROM incident_deploys x JOIN incidents i ON i.id = x.incident_id"
            " JOIN deploys d ON d.id = x.deploy_id"
            f" WHERE x.relation = 'caused' AND i.test = 0 AND x.deploy_id IN ({_in(ids)})"
            f" AND d.env IN ({envs_in}) AND d.state = 'succeeded'{svc_sql}",
            [*ids, *envs, *svc],
        ):
            linked.setdefault(row[0], []).append(row[1:])
    out = []
    for deploy_id, rows in linked.items():
        started = min(_dt(rows[0][1]), *(_dt(r[2]) for r in rows))
        ends = [_dt(r[3]) if r[3] else None for r in rows]
        if any(e is None or e >= at for e in ends):
            out.append(FailureRow(deploy_id, rows[0][0], started, None))
        else:
            out.append(FailureRow(deploy_id, rows[0][0], started, max(e for e in ends if e)))
    for row in conn.execute(
        "SELECT d.id, d.service, d.finished_at, r.finished_at FROM deploys r"
        " JOIN deploys d ON d.id = r.rollback_of"
        f" WHERE r.env IN ({envs_in}) AND r.state = 'succeeded'"
        " AND r.finished_at >= ? AND r.finished_at < ?"
        f" AND d.state = 'succeeded' AND d.env IN ({envs_in}){svc_sql}"
        " AND NOT EXISTS (SELECT 1 FROM deploys r2 WHERE r2.rollback_of = d.id"
        "   AND r2.state = 'succeeded' AND r2.finished_at < r.finished_at)"
        " AND NOT EXISTS (SELECT 1 FROM incident_deploys x JOIN incidents i"
        "   ON i.id = x.incident_id WHERE x.deploy_id = d.id AND x.relation = 'caused'"
        "   AND i.test = 0)",
        [*envs, lo, hi, *envs, *svc],
    ):
        out.append(FailureRow(row[0], row[1], _dt(row[2]), _dt(row[3])))
    return out


def incidents(
    conn: Connection, start: datetime, at: datetime, service: str | None = None
) -> list[IncidentRow]:
    """Incidents declared or resolved in [start, at), plus those still open at ``at``."""
    lo, hi = to_db(start), to_db(at)
    columns = "id, title, severity, service, private, declared_at, resolved_at"
    svc_sql, svc = (" AND service = ?", [service]) if service else ("", [])
    # Three index ranges, not one OR: declared in the window, resolved in it, still open.
    # The unary + keeps the planner off the declared_at index where it would scan history.
    sql = " UNION ".join(
        f"SELECT {columns} FROM incidents WHERE test = 0 AND {cond}{svc_sql}"
        for cond in ("declared_at < ? AND declared_at >= ?",
                     "+declared_at < ? AND resolved_at >= ?",
                     "+declared_at < ? AND resolved_at IS NULL")
    )
    params: list[object] = [hi, lo, *svc, hi, lo, *svc, hi, *svc]
    rows = []
    for r in conn.execute(sql, params):
        resolved = _dt(r[6]) if r[6] else None
        rows.append(IncidentRow(r[0], r[1], int(r[2]), r[3], bool(r[4]), _dt(r[5]),
                                resolved if resolved is None or resolved < at else None))
    return rows


def overdue_followups(
    conn: Connection, today: str, at: datetime, service: str | None = None,
    limit: int = 20,
) -> tuple[int, list[FollowupRow]]:
    """(how many, the oldest ``limit``) post-mortem follow-ups due before ``today`` (local)
    and not done at ``at``; the count is taken in SQLite so a long backlog costs nothing."""
    where = (
        " FROM followups f JOIN incidents i ON i.id = f.incident_id"
        " WHERE (f.done_at IS NULL OR f.done_at >= ?) AND f.due_date < ? AND i.test = 0"
    )
    params: list[object] = [to_db(at), today]
    if service:
        where += " AND i.service = ?"
        params.append(service)
    total = conn.execute(f"SELECT COUNT(*){where}", params).fetchone()[0]
    rows = conn.execute(
        f"SELECT f.incident_id, i.title, i.private, f.text, f.owner, f.due_date{where}"
        " ORDER BY f.due_date, f.id LIMIT ?", [*params, limit],
    )
    return int(total), [FollowupRow(r[0], r[1], bool(r[2]), r[3], r[4], r[5]) for r in rows]


def updates_on_time(
    conn: Connection, start: datetime, end: datetime, service: str | None = None
) -> tuple[int, int] | None:
    """(on time, due) for incident status updates in [start, end); None if not recorded.

    The incident feature records punctuality in ``incident_updates.on_time``; until that
    table exists (older databases) the digest leaves the line out rather than guess.
    """
    cols = {r[1] for r in conn.execute("PRAGMA table_info(incident_updates)")}
    if not {"on_time", "at", "incident_id"} <= cols:
        return None
    sql = (
        "SELECT COUNT(*), COALESCE(SUM(CASE WHEN u.on_time = 1 THEN 1 ELSE 0 END), 0)"
        " FROM incident_updates u"
        " JOIN incidents i ON i.id = u.incident_id"
        " WHERE u.at >= ? AND u.at < ? AND u.on_time IS NOT NULL AND i.test = 0"
    )
    params: list[object] = [to_db(start), to_db(end)]
    if service:
        sql += " AND i.service = ?"
        params.append(service)
    due, on_time = conn.execute(sql, params).fetchone()
    return int(on_time), int(due)
