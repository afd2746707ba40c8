"""The digest reads its window in a few statements, and the shortcuts keep the definitions.

Failure flags are read from the failure side (the "caused" links and rollbacks over the
window's id range) instead of two searches per deploy; ids follow request order, not finish
order, so a randomised history with long-running and out-of-order deploys checks them
against the definition spelled out per deploy.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fakes.stores import OpenStore, conn_of
from shipbell.bot.clock import to_db
from shipbell.bot.dora import queries
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.dora.metrics import deploy_days
from shipbell.bot.dora.periods import Period, current_period, weeks_before
from shipbell.bot.slackdouble.cast import ANA, BOB
from shipbell.bot.storage import Store
from test_digest_reference import PARIS, POSTED

ENVS = ["production", "prod-eu"]
# The definition, one deploy at a time (what the digest computed before reading the window).
FAILED = (
    "CASE WHEN EXISTS (SELECT 1 FROM incident_deploys x JOIN incidents i ON i.id = x.incident_id"
    " WHERE x.relation = 'caused' AND x.deploy_id = d.id AND i.test = 0)"
    " OR EXISTS (SELECT 1 FROM deploys r WHERE r.rollback_of = d.id"
    " AND r.state NOT IN ('rejected', 'cancelled')) THEN 1 ELSE 0 END"
)


def random_history(store: Store, seed: int) -> None:
    rnd = random.Random(seed)
    start = POSTED - timedelta(days=70)
    done: list[tuple[int, datetime]] = []
    for n in range(400):
        finished = start + timedelta(hours=4 * n + rnd.random())
        # ids follow requests: some deploys were requested long before they finished
        did = 1000 - n if rnd.random() < 0.1 else n + 1
        state = rnd.choice(["succeeded"] * 8 + ["failed", "cancelled"])
        target = rnd.choice(done)[0] if done and rnd.random() < 0.1 else None
        store.execute(
            "INSERT INTO deploys (id, service, env, ref, state, requester, requested_at,"
            " finished_at, is_rollback, is_hotfix, rollback_of) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (did, rnd.choice(["api", "web"]), rnd.choice([*ENVS, "staging"]), "main", state,
             ANA, to_db(finished - timedelta(minutes=5)), to_db(finished),
             int(target is not None), int(rnd.random() < 0.05), target),
        )
        done.append((did, finished))
    for incident_id in range(1, 80):
        did, finished = rnd.choice(done)
        store.execute(
            "INSERT INTO incidents (id, title, severity, status, service, test, reporter,"
            " declared_at, resolved_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (incident_id, "x", 2, "resolved", "api", int(rnd.random() < 0.2), BOB,
             to_db(finished), to_db(finished + timedelta(hours=1))))
        store.execute(
            "INSERT INTO incident_deploys (incident_id, deploy_id, relation, linked_at)"
            " VALUES (?,?,?,?)",
            (incident_id, did, rnd.choice(["caused", "caused", "fixed"]), to_db(finished)))


def test_failure_flags_and_weekly_counts_keep_the_definition(new_store: OpenStore) -> None:
    for seed in range(3):
        store = new_store(f"window{seed}.db")
        random_history(store, seed)
        cfg = DigestSettings(environments=ENVS, min_samples=1)
        current = current_period(POSTED.astimezone(PARIS).date(), 7, PARIS)
        weeks = weeks_before(current.end_day, 8, PARIS)
        for service in (None, "api"):
            svc = " AND d.service = ?" if service else ""
            where = (" FROM deploys d WHERE d.env IN ('production', 'prod-eu')"
                     " AND d.state = 'succeeded'"
                     f" AND d.finished_at >= ? AND d.finished_at < ?{svc}")
            lo, hi = current.previous().start, current.end
            rows = queries.deploys(conn_of(store), ENVS, lo, hi, service)
            expected = conn_of(store).execute(
                f"SELECT d.id, {FAILED}{where} ORDER BY d.finished_at",
                [to_db(lo), to_db(hi), *([service] if service else [])]).fetchall()
            assert [(r.id, r.failed) for r in rows] == [(i, bool(f)) for i, f in expected]
            assert any(r.failed for r in rows)
            counts = queries.deploy_counts(conn_of(store), ENVS, [(w.start, w.end) for w in weeks],
                                           service)
            assert counts == [tuple(conn_of(store).execute(
                f"SELECT COUNT(*), COALESCE(SUM({FAILED}), 0){where}",
                [to_db(w.start), to_db(w.end), *([service] if service else [])]).fetchone())
                for w in weeks]
        digest = build_digest(conn_of(store), cfg, PARIS, POSTED, trend=True)
        assert digest.weeks[-1].deploys == digest.current.deploys
        assert digest.weeks[-1].failed == digest.current.failure.num


def test_the_charts_weeks_are_counted_in_one_statement(new_store: OpenStore) -> None:
    """Eight weeks or twenty-six, one grouped count: the statements don't grow with the chart."""
    store = new_store("few.db")
    random_history(store, 7)
    ran: dict[int, list[str]] = {}
    for weeks in (8, 26):
        ran[weeks] = statements = []
        with store.trace(statements.append):
            build_digest(conn_of(store), DigestSettings(chart_weeks=weeks), PARIS, POSTED,
                         trend=True)
        counts = [s for s in statements if "COUNT(" in s.upper() and "deploys d" in s]
        assert len(counts) == 1, counts
    assert len(ran[8]) == len(ran[26])


def test_an_empty_window_has_no_failures(new_store: OpenStore) -> None:
    store = new_store("empty.db")
    start = datetime(2026, 11, 1, tzinfo=UTC)
    assert queries.deploys(conn_of(store), ENVS, start, POSTED) == []
    assert queries.deploy_counts(conn_of(store), ENVS, [(start, POSTED)]) == [(0, 0)]
    assert queries.deploy_counts(conn_of(store), ENVS, []) == []


def test_lead_times_keep_their_rounding_to_the_millisecond(new_store: OpenStore) -> None:
    """Lead times are read as whole milliseconds over 1000: the same doubles as rounding the
    seconds to three decimals, for microsecond times, far-apart years and sub-ms gaps."""
    store = new_store("lead.db")
    rnd = random.Random(11)
    start = POSTED - timedelta(days=6)
    for did in range(1, 301):
        finished = start + timedelta(minutes=20 * did, microseconds=rnd.randint(0, 999_999))
        store.execute(
            "INSERT INTO deploys (id, service, env, ref, state, requester, requested_at,"
            f" finished_at) VALUES (?, 'api', 'production', 'main', 'succeeded', '{ANA}', ?, ?)",
            (did, to_db(finished), to_db(finished)))
        gap = rnd.choice([timedelta(microseconds=rnd.randint(-2_000, 2_000)),
                          timedelta(seconds=rnd.lognormvariate(9.6, 1.4)),
                          timedelta(days=rnd.randint(1, 3_000), microseconds=rnd.randint(0, 10**6)),
                          timedelta(milliseconds=rnd.randint(1, 10**7))])
        store.execute("INSERT INTO deploy_changes (deploy_id, sha, committed_at) VALUES (?,?,?)",
                      (did, f"s{did}", to_db(finished - gap)))
    expected = [r[0] for r in conn_of(store).execute(
        "SELECT round((julianday(d.finished_at) - julianday(c.committed_at)) * 86400.0, 3)"
        " FROM deploys d JOIN deploy_changes c ON c.deploy_id = d.id ORDER BY d.finished_at")]
    middle = start + timedelta(days=3)
    for named_from in (None, middle):
        changes = queries.lead_times(conn_of(store), ["production"], [start, middle, POSTED],
                                     named_from=named_from)
        seconds = changes.seconds(to_db(start), to_db(POSTED))
        assert sorted(seconds) == sorted(s for s in expected if s > 0)
        assert len(seconds) > 200  # the sub-ms and negative gaps are dropped
        named = changes.per_service(to_db(middle), to_db(POSTED))
        if named_from is None:  # no period asked for names: none read
            assert named == {}
        else:
            assert sorted(named["api"]) == sorted(changes.seconds(to_db(middle), to_db(POSTED)))
        assert changes.per_service(to_db(start), to_db(middle)) == {}


@pytest.mark.parametrize("zone", ["Europe/Paris", "America/Santiago", "America/Havana",
                                  "Asia/Beirut", "Pacific/Apia", "Asia/Kathmandu"])
def test_deploy_days_are_the_local_days_seen_in_the_zone(zone: str) -> None:
    """Days counted by bisecting at local midnights match converting each deploy, in zones
    whose daylight-saving changes happen at midnight (and one that skipped a whole day)."""
    tz = ZoneInfo(zone)
    rnd = random.Random(zone)
    for first in (date(2011, 12, 25), date(2026, 3, 25), date(2026, 9, 1), date(2026, 10, 20)):
        period = Period(first, 14, tz)
        lo, hi = period.start.timestamp(), period.end.timestamp()
        for _ in range(20):
            times = sorted(datetime.fromtimestamp(rnd.uniform(lo, hi), UTC)
                           for _ in range(rnd.randint(0, 12)))
            expected = {t.astimezone(tz).date() for t in times}
            assert deploy_days([to_db(t) for t in times], period) == len(expected)
