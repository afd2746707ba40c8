"""The daily post's kept lead times (``bot.dora.leadcache``) never change a figure.

Every test compares whole digests (every period figure, service row and chart week) of a
randomized history: computed without the cache, with a cold one, and with the one the
previous days' posts left, under the settings that must not share cached days (time zone,
production environments, service filter, period length).
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fakes.stores import OpenStore, conn_of
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.dora import leadcache
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.dora.metrics import Digest
from shipbell.bot.slackdouble.cast import ANA
from test_digest_post import CONFIG, due, seeded

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
POSTED = datetime(2026, 11, 25, 8, tzinfo=UTC)  # 09:00 Paris; 8 weeks back cross Oct 25 (DST)
SERVICES = ["api", "web", "jobs", "auth"]


class History:
    """A store with a random history of deploys and changes up to ``until``, shaped like
    Shipbell's: succeeded and failed deploys to production and staging, rollbacks, changes
    re-shipped by a later deploy, shared shas across services, commits "after" the deploy
    and commits with no time."""

    def __init__(self, new_store: OpenStore, seed: int, until: datetime = POSTED) -> None:
        self.store = new_store(f"history-{seed}.db")
        self.rnd = random.Random(seed)
        self.next_id = 1
        self.shas: list[tuple[str, str]] = []  # (service, sha) already shipped somewhere
        t = until - timedelta(days=100)
        with self.store.transaction():
            while t < until:
                self.deploy(t)
                t += timedelta(minutes=self.rnd.uniform(20, 400))

    def deploy(self, finished: datetime, *, service: str | None = None,
               changes: list[tuple[str, datetime | None]] | None = None) -> int:
        rnd, did = self.rnd, self.next_id
        self.next_id += 1
        service = service or rnd.choice(SERVICES)
        env = "production" if rnd.random() < 0.75 else rnd.choice(["staging", "eu-prod"])
        state = rnd.choice(["succeeded"] * 8 + ["failed", "cancelled"])
        self.store.execute(
            "INSERT INTO deploys (id, service, env, ref, state, requester, requested_at,"
            " started_at, finished_at, is_rollback, is_hotfix) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (did, service, env, "main", state, ANA, to_db(finished - timedelta(minutes=9)),
             to_db(finished - timedelta(minutes=8)), to_db(finished),
             int(rnd.random() < 0.03), int(rnd.random() < 0.05)))
        if changes is None:
            changes = []
            for j in range(rnd.randint(0, 4)):
                if self.shas and rnd.random() < 0.15:  # shipped before (maybe elsewhere)
                    sha = rnd.choice(self.shas)[1]
                else:
                    sha = f"{did:x}-{j}"
                age = rnd.choice([-600.0, rnd.uniform(60, 40 * 86400), rnd.uniform(60, 7200)])
                changes.append((sha, finished - timedelta(seconds=age)))
                if rnd.random() < 0.03:
                    changes[-1] = (sha, None)
        for sha, committed in changes:
            self.store.execute(
                "INSERT INTO deploy_changes (deploy_id, sha, committed_at)"
                " VALUES (?,?,?) ON CONFLICT DO NOTHING",
                (did, sha, committed and to_db(committed)))
            self.shas.append((service, sha))
        return did

    def digest(self, at: datetime, now: datetime | None = None, *, tz: ZoneInfo = PARIS,
               **options: Any) -> Digest:
        service = options.pop("service", None)
        cfg = DigestSettings(timezone=str(tz), **options)
        return build_digest(conn_of(self.store), cfg, tz, at, trend=True, service=service, now=now)

    def kept(self) -> int:
        return conn_of(self.store).execute("SELECT COUNT(*) FROM dora_lead_days").fetchone()[0]

    def forget(self) -> None:
        self.store.execute("DELETE FROM dora_lead_days")


def daily_posts(h: History, last: datetime, days: int, **options: Any) -> Digest:
    """The posts of ``days`` mornings up to ``last``, each with the cache the one before left."""
    digest = None
    for back in range(days - 1, -1, -1):
        at = last - timedelta(days=back)
        digest = h.digest(at, at + timedelta(seconds=5), **options)
    assert digest is not None
    return digest


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("options", [
    {}, {"period_days": 1}, {"period_days": 28, "chart_weeks": 10},
    {"environments": ["production", "eu-prod"]}, {"service": "api"}, {"tz": NEW_YORK},
], ids=["week", "day", "28-days", "two-envs", "service", "new-york"])
def test_cold_and_warm_cache_give_the_uncached_digest(
    new_store: OpenStore, seed: int, options: dict[str, Any]
) -> None:
    h = History(new_store, seed)
    expected = h.digest(POSTED, **options)
    assert any(w.lead and w.lead.n for w in expected.weeks)  # a history with something to show

    cold = h.digest(POSTED, POSTED, **options)
    assert h.kept() > 0 and cold == expected

    h.forget()
    warm = daily_posts(h, POSTED, 3, **options)  # today's post finds yesterday's days kept
    assert warm == expected
    assert h.digest(POSTED, POSTED, **options) == expected  # and again, every day kept


@pytest.mark.parametrize("seed", [4, 5])
def test_cache_is_not_shared_across_settings(new_store: OpenStore, seed: int) -> None:
    """One database, every setting's posts in turn: a key missing zone, environments or
    service would hand one setting's days to another."""
    h = History(new_store, seed)
    settings: list[dict[str, Any]] = [
        {}, {"tz": NEW_YORK}, {"environments": ["production", "eu-prod"]},
        {"environments": ["eu-prod"]}, {"service": "web"}, {"period_days": 1},
    ]
    expected = [h.digest(POSTED, **options) for options in settings]
    for _ in range(2):
        for options, want in zip(settings, expected, strict=True):
            assert daily_posts(h, POSTED, 2, **options) == want


def test_a_new_deploy_changes_the_current_week_and_kept_weeks_stay_right(
    new_store: OpenStore
) -> None:
    """Today's deploys reach tomorrow's post; the weeks kept before them still hold, even
    when a new deploy re-ships a change first shipped in a kept week (not first shipped:
    it must not count again, and the kept week keeps counting it once)."""
    h = History(new_store, 6)
    today = h.digest(POSTED, POSTED)  # keeps every day before Nov 25
    tomorrow = POSTED + timedelta(days=1)
    before = h.digest(tomorrow)  # what tomorrow's post would show without today's deploy
    old_sha = conn_of(h.store).execute(
        "SELECT c.sha FROM deploy_changes c JOIN deploys d ON d.id = c.deploy_id"
        " WHERE d.service = 'api' AND d.env = 'production' AND d.state = 'succeeded'"
        " AND c.committed_at IS NOT NULL AND d.finished_at >= ? AND d.finished_at < ?"
        " LIMIT 1", (to_db(POSTED - timedelta(days=20)), to_db(POSTED - timedelta(days=14))),
    ).fetchone()[0]
    finished = POSTED + timedelta(hours=3)  # Nov 25, 12:00 Paris: tomorrow's current week
    did = h.deploy(finished, service="api", changes=[
        ("brand-new", finished - timedelta(hours=2)), (old_sha, finished - timedelta(days=1))])
    h.store.execute("UPDATE deploys SET env = 'production', state = 'succeeded' WHERE id = ?",
                    (did,))

    after = h.digest(tomorrow, tomorrow + timedelta(seconds=5))
    assert after == h.digest(tomorrow)  # the cached post is the uncached one
    assert after.weeks[-1].lead != before.weeks[-1].lead  # the new change counts this week
    assert after.weeks[-1].lead.n == before.weeks[-1].lead.n + 1  # the re-shipped one doesn't
    assert after.weeks[-1].deploys == before.weeks[-1].deploys + 1
    assert after.weeks[:-1] == before.weeks[:-1]  # the kept weeks did not move
    assert today.weeks[-1].lead == h.digest(POSTED).weeks[-1].lead  # nor did today's


def test_a_day_is_kept_only_once_it_is_over_in_fact(new_store: OpenStore) -> None:
    """A digest for a future date (the CLI's --as-of) covers days still being written, and
    a post just after midnight may miss a deploy stamped 23:59:59 that commits at 00:00:01:
    neither may be kept."""
    h = History(new_store, 7)
    now = POSTED - timedelta(days=3)  # Nov 22, 09:00 Paris; the digest is for Nov 25
    h.digest(POSTED, now)
    last_kept = conn_of(h.store).execute("SELECT MAX(hi) FROM dora_lead_days").fetchone()[0]
    assert last_kept <= to_db(now - leadcache.SETTLE)
    h.deploy(now + timedelta(hours=5), service="web", changes=[("late", now)])

    midnight = datetime(2026, 11, 24, 23, tzinfo=UTC)  # Nov 25, 00:00 Paris
    h.digest(midnight + timedelta(minutes=1), midnight + timedelta(minutes=1))
    assert conn_of(h.store).execute(  # the day that just ended is not kept yet
        "SELECT COUNT(*) FROM dora_lead_days WHERE hi = ?", (to_db(midnight),)).fetchone()[0] == 0
    h.deploy(midnight - timedelta(seconds=1), service="web",
             changes=[("just-before-midnight", midnight - timedelta(hours=1))])

    assert h.digest(POSTED, POSTED) == h.digest(POSTED)


def test_a_digest_for_a_past_date_keeps_only_final_days(new_store: OpenStore) -> None:
    h = History(new_store, 8)
    h.digest(POSTED - timedelta(days=30), POSTED)  # e.g. a re-run for last month
    assert h.kept() > 0
    assert daily_posts(h, POSTED, 2) == h.digest(POSTED)


def test_days_kept_by_another_version_of_the_computation_are_not_read(
    new_store: OpenStore
) -> None:
    h = History(new_store, 9)
    expected = h.digest(POSTED)
    h.digest(POSTED, POSTED)
    h.store.execute("UPDATE dora_lead_days SET ms = '1,2,3'")  # a wrong value kept...
    assert h.digest(POSTED, POSTED) != expected  # ...is read (the test can tell)
    wrong = conn_of(h.store).execute("SELECT scope, lo, hi, ms FROM dora_lead_days").fetchall()
    for other in (leadcache.VERSION - 1, leadcache.VERSION + 1):  # older, or after a downgrade
        h.forget()
        conn_of(h.store).executemany(
            "INSERT INTO dora_lead_days (scope, version, lo, hi, ms) VALUES (?, ?, ?, ?, ?)",
            [(scope, other, lo, hi, ms) for scope, lo, hi, ms in wrong])
        assert h.digest(POSTED, POSTED) == expected  # not read: another version's
        left = conn_of(h.store).execute("SELECT DISTINCT version FROM dora_lead_days").fetchall()
        assert [tuple(r) for r in left] == [(leadcache.VERSION,)]  # dropped on today's write


def test_the_table_holds_only_the_days_a_post_reads(new_store: OpenStore) -> None:
    h = History(new_store, 10)
    daily_posts(h, POSTED, 20)
    first, count = conn_of(h.store).execute(
        "SELECT MIN(lo), COUNT(*) FROM dora_lead_days").fetchone()
    assert count == 8 * 7 and first == to_db(h.digest(POSTED).weeks[0].period.start)


async def test_the_scheduled_post_keeps_its_days(make_bell: Any, clock: FakeClock) -> None:
    bell = await seeded(make_bell, clock, config=CONFIG)
    clock.advance(minutes=1)
    await due(bell)
    kept = bell.core.store.one("SELECT COUNT(*) AS n, MAX(hi) AS last FROM dora_lead_days")
    assert kept is not None and kept["n"] == 8 * 7  # the chart's days, all over at 09:00
    assert kept["last"] == to_db(datetime(2026, 11, 24, 23, tzinfo=UTC))  # Nov 25, 00:00 Paris
