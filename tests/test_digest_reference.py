"""The reference dataset: rows inserted straight into the shared tables, expected values by hand.

Time zone Europe/Paris (UTC+1 in November), 7-day periods, digest posted Wed 2026-11-25 at
09:00 Paris = 08:00 UTC.  Current period Nov 18–24 = [Nov 17 23:00Z, Nov 24 23:00Z),
prior Nov 11–17 = [Nov 10 23:00Z, Nov 17 23:00Z).

Current period, production, succeeded:
  D1 api  Nov 17 23:30Z (00:30 Paris: across the zone boundary, counts on Nov 18)
          changes 2 h and 10 h old                                   lead 7200, 36000
  D2 api  started 22:50Z, finished Nov 19 23:10Z (across local midnight, Nov 20)
          change 3 h old; caused I1 (declared 23:40Z, resolved Nov 20 01:10Z)
          → failed; recovery 23:10 → 01:10 = 2 h                      lead 10800
  D3 web  Nov 21 10:00Z; changes: 1 h (kept), sha already shipped in P1 (not first
          shipped: dropped), committed after the deploy (non-positive: dropped)
          rolled back by D4 → failed; recovery 10:00 → 10:40 = 40 min lead 3600
  D4 web  rollback of D3, Nov 21 10:40Z (rework)
  D5 api  hotfix, Nov 22 08:00Z (rework); changes 1 h, 2 h, 24 h     lead 3600, 7200, 86400
  D8 api  Nov 24 12:00Z; caused I2 (private SEV1, still open) → failed, open 20 h
                                                                     lead 3600
Not deploys: D6 failed, D7 staging, D9 Nov 24 23:30Z (Nov 25 Paris, after the period),
D10 cancelled rollback of D1 (does not make D1 failed).

  deploys 6 on 5 local days; failures 3 of 6 = 50.0%; rework 2 of 6 = 33.3%
  lead n=8 sorted [3600, 3600, 3600, 7200, 7200, 10800, 36000, 86400]: median 2 h, p90 24 h
  failed deployment recovery n=2 [2400, 7200]: insufficient data (min 3)
Prior: P1 web (4 h, 24 h), P2 api (1 h; caused I6 → failed, recovered in 1 h 30 min),
P3 api (2 h), P4 api Nov 17 22:30Z (23:30 Paris, still Nov 17; 2 h).
  deploys 4 on 4 days; failures 1 of 4 = 25.0%; rework 0 of 4
  lead n=5 [3600, 7200, 7200, 14400, 86400]: median 2 h, p90 24 h
Incidents: I1 SEV2 1 h 30 min, I3 SEV3 40 min (no causing deploy) resolved in the current
period; I2 open since Nov 24 13:00Z (19 h at posting); I4 is a test incident (ignored);
prior: I5 SEV3 2 h, I6 SEV2 1 h.
Follow-ups due before Nov 25 and not done: F1 (I1, public) and F2 (I2, private).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes.stores import OpenStore, conn_of
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.dora.metrics import Digest
from shipbell.bot.dora.text import to_text
from shipbell.bot.slackdouble.cast import ANA, BOB
from shipbell.bot.storage import Store

PARIS = ZoneInfo("Europe/Paris")
POSTED = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)  # 09:00 Paris


def z(text: str) -> str:
    """`11-17 23:30` → stored UTC text for 2026."""
    return datetime.fromisoformat(f"2026-{text}:00+00:00").isoformat(timespec="microseconds")


def deploy(store: Store, did: int, service: str, finished: str, *, state: str = "succeeded",
           env: str = "production", rollback_of: int | None = None, hotfix: bool = False,
           started: str | None = None, changes: tuple[tuple[str, str], ...] = ()) -> None:
    store.execute(
        "INSERT INTO deploys (id, service, env, ref, state, requester, requested_at, started_at,"
        " finished_at, is_rollback, is_hotfix, rollback_of) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
        (did, service, env, "main", state, ANA, z(started or finished),
         z(started or finished), z(finished), int(rollback_of is not None), int(hotfix),
         rollback_of),
    )
    for sha, committed in changes:
        store.execute("INSERT INTO deploy_changes (deploy_id, sha, committed_at) VALUES (?,?,?)",
                      (did, sha, z(committed)))


def incident(store: Store, iid: int, severity: int, declared: str, resolved: str | None, *,
             service: str = "api", private: bool = False, test: bool = False,
             caused_by: int | None = None, title: str = "") -> None:
    store.execute(
        "INSERT INTO incidents (id, title, severity, status, service, private, test, reporter,"
        " declared_at, resolved_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (iid, title or f"Incident {iid}", severity, "resolved" if resolved else "investigating",
         service, int(private), int(test), BOB, z(declared), z(resolved) if resolved else None),
    )
    if caused_by is not None:
        store.execute("INSERT INTO incident_deploys (incident_id, deploy_id, relation, linked_at)"
                      " VALUES (?, ?, 'caused', ?)", (iid, caused_by, z(declared)))


def followup(store: Store, incident_id: int, text: str, due: str, done: str | None = None,
             owner: str | None = BOB) -> None:
    store.execute("INSERT INTO followups (incident_id, text, owner, due_date, created_at, done_at)"
                  " VALUES (?,?,?,?,?,?)",
                  (incident_id, text, owner, due, z("11-20 10:00"), z(done) if done else None))


def seed_reference(store: Store) -> None:
    # prior period
    deploy(store, 101, "web", "11-12 10:00", changes=(("old1", "11-12 06:00"),
                                                      ("p1b", "11-11 10:00")))
    deploy(store, 102, "api", "11-13 10:00", changes=(("p2a", "11-13 09:00"),))
    deploy(store, 103, "api", "11-15 10:00", changes=(("p3a", "11-15 08:00"),))
    deploy(store, 104, "api", "11-17 22:30", changes=(("p4a", "11-17 20:30"),))
    # current period
    deploy(store, 1, "api", "11-17 23:30", started="11-17 23:20",
           changes=(("c1", "11-17 21:30"), ("c2", "11-17 13:30")))
    deploy(store, 2, "api", "11-19 23:10", started="11-19 22:50", changes=(("c3", "11-19 20:10"),))
    deploy(store, 3, "web", "11-21 10:00", changes=(
        ("c4", "11-21 09:00"), ("old1", "11-12 06:00"), ("c6", "11-21 10:30")))
    deploy(store, 4, "web", "11-21 10:40", rollback_of=3)
    deploy(store, 5, "api", "11-22 08:00", hotfix=True, changes=(
        ("c7", "11-22 07:00"), ("c8", "11-22 06:00"), ("c9", "11-21 08:00")))
    deploy(store, 6, "api", "11-23 10:00", state="failed", changes=(("c11", "11-23 09:00"),))
    deploy(store, 7, "api", "11-23 11:00", env="staging", changes=(("c12", "11-23 09:00"),))
    deploy(store, 8, "api", "11-24 12:00", changes=(("c10", "11-24 11:00"),))
    deploy(store, 9, "web", "11-24 23:30", changes=(("c13", "11-24 22:00"),))
    deploy(store, 10, "api", "11-18 09:00", state="cancelled", rollback_of=1)
    # incidents
    incident(store, 1, 2, "11-19 23:40", "11-20 01:10", caused_by=2, title="DB latency")
    incident(store, 2, 1, "11-24 13:00", None, private=True, caused_by=8,
             title="Secret payments outage")
    incident(store, 3, 3, "11-20 10:00", "11-20 10:40", service="web", title="Slow pages")
    incident(store, 4, 2, "11-21 10:00", "11-21 12:00", test=True, caused_by=5)
    incident(store, 5, 3, "11-14 10:00", "11-14 12:00")
    incident(store, 6, 2, "11-13 10:30", "11-13 11:30", caused_by=102)
    # follow-ups (today is 2026-11-25 in Paris)
    followup(store, 1, "Add a DB latency alert", "2026-11-23")
    followup(store, 2, "Rotate the payment keys", "2026-11-24")
    followup(store, 5, "Document the cache flush", "2026-11-30")
    followup(store, 6, "Pin the driver version", "2026-11-20", done="11-21 09:00")
    followup(store, 1, "Due today is not overdue", "2026-11-25")


def reference_store(new_store: OpenStore) -> Store:
    s = new_store("reference.db")
    seed_reference(s)
    return s


@pytest.fixture
def store(new_store: OpenStore) -> Store:
    """The reference history, on each backend (the digest's SQL is translated for
    PostgreSQL: the figures must not change)."""
    return reference_store(new_store)


def reference_digest(store: Store, **kwargs: object) -> Digest:
    cfg = DigestSettings(timezone="Europe/Paris")
    return build_digest(conn_of(store), cfg, PARIS, POSTED, **kwargs)  # type: ignore[arg-type]


def test_periods_are_local_calendar_days(store: Store) -> None:
    d = reference_digest(store)
    assert d.current.period.start == datetime(2026, 11, 17, 23, tzinfo=UTC)
    assert d.current.period.end == datetime(2026, 11, 24, 23, tzinfo=UTC)
    assert d.current.period.label == "Nov 18–24" and d.prior.period.label == "Nov 11–17"


def test_a_period_across_the_clocks_going_back_is_169_hours() -> None:
    from shipbell.bot.dora.periods import current_period

    week = current_period(date(2026, 10, 26), 7, PARIS)  # Oct 19–25; DST ends Oct 25
    assert week.label == "Oct 19–25" and week.end - week.start == timedelta(hours=169)
    assert week.start == datetime(2026, 10, 18, 22, tzinfo=UTC)


def test_current_period_keys(store: Store) -> None:
    c = reference_digest(store).current
    assert (c.deploys, c.deploy_days) == (6, 5)
    assert (c.failure.num, c.failure.den) == (3, 6)
    assert (c.rework.num, c.rework.den) == (2, 6)
    assert (c.lead.n, c.lead.median, c.lead.p90) == (8, 7200, 86400)
    assert (c.recovery.n, c.recovery.median) == (2, 4800)
    assert not c.recovery.enough(3)
    assert (c.opened, c.resolved) == (3, 2)
    assert c.incident_recovery[2].n == 1 and c.incident_recovery[2].median == 5400
    assert c.incident_recovery[3].median == 2400 and c.incident_recovery[1].n == 0


def test_prior_period_keys(store: Store) -> None:
    p = reference_digest(store).prior
    assert (p.deploys, p.deploy_days) == (4, 4)
    assert (p.failure.num, p.failure.den, p.rework.num) == (1, 4, 0)
    assert (p.lead.n, p.lead.median, p.lead.p90) == (5, 7200, 86400)
    assert (p.recovery.n, p.recovery.median) == (1, 5400)
    assert (p.opened, p.resolved) == (2, 2)
    assert p.incident_recovery[2].median == 3600 and p.incident_recovery[3].median == 7200


def test_open_things_stay_visible_with_their_age(store: Store) -> None:
    d = reference_digest(store)
    assert [i.id for i in d.open_incidents] == [2]
    assert [f.deploy_id for f in d.open_failures] == [8]
    assert POSTED - d.open_failures[0].started == datetime(2026, 11, 25, 8, tzinfo=UTC) - \
        datetime(2026, 11, 24, 12, tzinfo=UTC)
    assert [f.text for f in d.overdue] == ["Add a DB latency alert", "Rotate the payment keys"]
    assert d.overdue_total == 2


def test_chart_weeks_match_the_periods(store: Store) -> None:
    weeks = reference_digest(store).weeks
    assert len(weeks) == 8 and weeks[-1].period.label == "Nov 18–24"
    assert [(w.deploys, w.failed) for w in weeks[-2:]] == [(4, 1), (6, 3)]
    assert all(w.deploys == 0 for w in weeks[:-2]) and weeks[-1].lead is None
    trend = reference_digest(store, trend=True)
    assert [(w.lead.n, w.lead.median) for w in trend.weeks[-2:] if w.lead] == [(5, 7200),
                                                                               (8, 7200)]
    assert trend.current == reference_digest(store).current


def test_per_service_breakdown(store: Store) -> None:
    rows = {r.service: r for r in reference_digest(store).services}
    assert list(rows) == ["api", "web"]
    api, web = rows["api"], rows["web"]
    assert (api.deploys, api.failure.num, api.rework.num, api.lead.n) == (4, 2, 1, 7)
    assert (api.lead.median, api.lead.p90, api.opened, api.open_now) == (7200, 86400, 2, 1)
    assert (web.deploys, web.failure.num, web.rework.num, web.lead.n, web.opened) == (2, 1, 1, 1, 1)


def test_cluster_names_the_report_year(store: Store) -> None:
    d = reference_digest(store)
    # frequency 6/7 a day → high; lead 2 h → elite; failure 50% → nearest 40% → low;
    # recovery has too few samples. A three-way tie goes to the lower cluster.
    assert d.cluster is not None and (d.cluster.cluster, d.cluster.votes, d.cluster.of) == (
        "low", 1, 3)
    assert ("2024 DORA cluster: low (1 of 3 keys match its profile); per key: frequency high,"
            " lead time elite, failure rate low") in to_text(d)


def test_text_shows_n_and_direction_and_hides_private_incidents(store: Store) -> None:
    text = to_text(reference_digest(store))
    assert "Nov 18–24 vs Nov 11–17 · production · 6 deploys" in text
    assert "Deploys: 6 (0.9/day, on 5 of 7 days)  ↑ 50% (better)" in text
    assert "Lead time: median 2 h · p90 24 h (n=8 changes)  → same" in text
    assert "Change failure rate: 50.0% (3 of 6)  ↑ 25.0 pp (worse)" in text
    assert "Failed deployment recovery: insufficient data (n=2)\n" in text
    assert "Rework rate: 33.3% (2 of 6)  ↑ 33.3 pp (worse)" in text
    assert "1 failed deploy not yet recovered, oldest 20 h" in text
    assert "3 opened, 2 resolved · 1 open, oldest 19 h" in text
    assert "a private SEV1 incident: open 19 h" in text
    assert "a follow-up on a private incident, due 2026-11-24" in text
    assert f"“Add a DB latency alert” on #1 DB latency, due 2026-11-23, owner {BOB}" in text
    assert "Secret" not in text and "payment" not in text and "#2" not in text


def test_service_filter_and_one_day_period_without_incidents(store: Store) -> None:
    at = datetime(2026, 11, 16, 8, tzinfo=UTC)  # Nov 16 09:00 Paris: reports Nov 15
    d = build_digest(conn_of(store), DigestSettings(), PARIS, at, days=1)
    assert (d.current.deploys, d.current.opened, d.current.resolved) == (1, 0, 0)
    assert d.current.failure.value == 0 and not d.open_incidents
    assert "insufficient data (0 of 1 deploys)" in to_text(d)
    web = reference_digest(store, service="web")
    assert (web.current.deploys, web.prior.deploys, web.services) == (2, 1, [])


def test_empty_history_says_no_data_not_zero(new_store: OpenStore) -> None:
    s = new_store("empty.db")
    d = build_digest(conn_of(s), DigestSettings(), PARIS, POSTED)
    text = to_text(d)
    assert d.cluster is None and not d.has_news
    assert "Lead time: no data (n=0 changes)" in text
    assert "Change failure rate: no deploys" in text and "0.0%" not in text
    assert "not placed" in text


def test_update_punctuality_is_shown_only_when_recorded(store: Store) -> None:
    from shipbell.bot.dora.queries import updates_on_time
    from shipbell.bot.storage.migrations import FOUNDATION

    bare = Store(":memory:")
    bare.migrate(FOUNDATION)  # a database from before the incident feature recorded it
    assert updates_on_time(bare.conn, POSTED, POSTED) is None
    store.execute(
        "CREATE TABLE IF NOT EXISTS incident_updates (id INTEGER PRIMARY KEY,"
        " incident_id INTEGER NOT NULL, at TEXT NOT NULL, status TEXT, due_at TEXT,"
        " on_time INTEGER)"
    )
    for iid, at, on_time in ((1, "11-19 23:55", 1), (1, "11-20 00:40", 0), (2, "11-24 13:20", 1),
                             (4, "11-21 10:10", 0), (5, "11-14 10:30", 1)):
        store.execute("INSERT INTO incident_updates (incident_id, at, status, on_time)"
                      " VALUES (?, ?, 'investigating', ?)", (iid, z(at), on_time))
    d = reference_digest(store)
    assert d.current.updates is not None
    assert (d.current.updates.num, d.current.updates.den) == (2, 3)  # I4 is a test incident
    assert "Status updates on time: 2 of 3 (67%)" in to_text(d)
