"""Lead times of whole past days, kept so the daily post computes each day once.

A change's lead time is counted by the deploy that first shipped it, so the values of a day
depend only on deploys finished that day and before: ``finished_at`` is stamped when a
deploy ends (it is always "now"), a succeeded deploy never changes state again, its
changes are written with it, and nothing is deleted.  Once a day is over (with a margin
for a deploy whose transaction stamped the time just before midnight and commits just
after), its values are final, whatever ``as of`` a digest is computed for.

A row holds one span's values as the line of whole milliseconds SQLite hands back (the
same text the uncached read turns into seconds, so the figures are the same numbers),
keyed by:
  * scope: the production environments (as a set) and the service filter;
  * version: bumped whenever the lead-time computation changes (``queries._lead_sql``);
  * the span's UTC bounds, which carry the time zone (a local day is a different span in
    another zone, or across a daylight-saving change).
``min_samples`` and the chart's length only decide what is shown of the values, so they are
not part of the key.  Only the daily post keeps days (it passes ``now``); each time it adds
one it drops the days older than those it reads, so the table holds about 56 rows.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from itertools import pairwise

from shipbell.bot.clock import to_db
from shipbell.bot.dora.queries import Changes, changes_from, lead_lines
from shipbell.bot.storage import Connection

VERSION = 1  # bump when a day's lead-time values would come out differently
SETTLE = timedelta(minutes=10)  # a day is final this long after its end


def scope(envs: list[str], service: str | None) -> str:
    return json.dumps({"envs": sorted(set(envs)), "service": service}, separators=(",", ":"))


def settled(at: datetime, now: datetime) -> datetime:
    """Spans ending by this instant are final: over at the digest's ``as of`` time and in
    fact (a digest for a future date must not keep a day still being written)."""
    return min(at, now) - SETTLE


def lead_times(
    conn: Connection, envs: list[str], cuts: list[datetime], service: str | None,
    named_from: datetime, final: datetime,
) -> Changes:
    """``queries.lead_times``, with each span ending by ``final`` read from the cache when
    it is there, and stored when it was computed here.

    Spans from ``named_from`` on are always computed (the period shown per service) and
    stored merged over services, so the next day's digest finds them too.
    """
    bounds = sorted({to_db(c) for c in cuts})
    named = bounds.index(to_db(named_from))
    spans = [(k, lo, hi) for k, (lo, hi) in enumerate(pairwise(bounds))]
    key, until = scope(envs, service), to_db(final)
    known = dict(((lo, hi), line) for lo, hi, line in conn.execute(
        "SELECT lo, hi, ms FROM dora_lead_days WHERE scope = ? AND version = ?"
        " AND lo >= ? AND lo < ?", (key, VERSION, bounds[0], until)))
    found: list[tuple[int, str | None, str | None]] = []
    missing = []
    for k, lo, hi in spans[:named]:
        if (lo, hi) in known:
            found.append((k, None, known[lo, hi]))
        else:
            missing.append((k, lo, hi))
    computed = lead_lines(conn, envs, missing, service, per_service=False)
    computed += lead_lines(conn, envs, spans[named:], service, per_service=True)
    new: dict[int, list[str]] = {k: [] for k, lo, hi in [*missing, *spans[named:]]
                                 if hi <= until and (lo, hi) not in known}
    for k, _, line in computed:
        if k in new and line:
            new[k].append(line)
    if new:
        store(conn, key, [(spans[k][1], spans[k][2], ",".join(parts))
                          for k, parts in new.items()], oldest=bounds[0])
    return changes_from(bounds, found + list(computed))


def store(conn: Connection, key: str, rows: list[tuple[str, str, str]], *,
          oldest: str) -> None:
    """Keep (lo, hi, line) rows for ``key``, in one transaction; a row already there stays.

    What no post will read again goes: days that ended by ``oldest`` (the first day the
    digest reads, so the table holds about the chart's days), and other versions' rows.
    """
    began = not conn.in_transaction
    if began:
        conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM dora_lead_days WHERE hi <= ? OR version != ?",
                     (oldest, VERSION))
        conn.executemany(
            "INSERT INTO dora_lead_days (scope, version, lo, hi, ms)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [(key, VERSION, *row) for row in rows])
    except BaseException:
        if began:
            conn.rollback()
        raise
    if began:
        conn.commit()
