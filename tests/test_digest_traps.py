"""The traps of the reference implementation (Four Keys), each shown avoided.

See ``shared/reference/dora.md``: recovery keeps its minutes, a failed deploy counts once
however many incidents it caused, a shorter recovery is better, and lead time says that
it weighs each change.
"""

from __future__ import annotations

import pytest
from fakes.stores import OpenStore, conn_of
from shipbell.bot.dora.config import DigestSettings
from shipbell.bot.dora.digest import LEAD_TIME_NOTE, build_digest
from shipbell.bot.dora.text import to_text
from shipbell.bot.storage import Store
from test_digest_reference import (
    PARIS,
    POSTED,
    deploy,
    incident,
    reference_digest,
    reference_store,
)


@pytest.fixture
def store(new_store: OpenStore) -> Store:
    return reference_store(new_store)


def test_recovery_starts_at_the_earlier_evidence(new_store: OpenStore) -> None:
    """An incident declared mid-rollout starts the failure before the deploy finished."""
    s = new_store("early.db")
    deploy(s, 1, "api", "11-20 10:30", started="11-20 10:00")
    incident(s, 1, 2, "11-20 10:15", "11-20 11:15", caused_by=1)
    deploy(s, 2, "api", "11-21 10:00")
    incident(s, 2, 3, "11-21 10:30", "11-21 10:40", caused_by=2)
    incident(s, 3, 3, "11-21 11:00", "11-21 13:00", caused_by=2)  # two incidents, one failure
    c = build_digest(conn_of(s), DigestSettings(min_samples=1), PARIS, POSTED).current
    assert (c.failure.num, c.failure.den) == (2, 2)  # each failed deploy counted once
    # 10:15→11:15 = 1 h; 10:00→13:00 = 3 h (ends with the last of its incidents)
    assert (c.recovery.n, c.recovery.median, c.recovery.p90) == (2, 7200, 10800)


def test_recovery_keeps_minutes_and_down_is_better(store: Store) -> None:
    """Four Keys truncates recovery to whole hours (40 min → 0 h); Shipbell keeps minutes,
    and a shorter recovery is marked better, not worse."""
    text = to_text(build_digest(conn_of(store), DigestSettings(min_samples=1), PARIS, POSTED))
    # D2 2 h and D3 40 min: median 1 h 20 min; before: P2 1 h 30 min → 11% shorter
    assert ("Failed deployment recovery: median 1 h 20 min · p90 2 h (n=2)  ↓ 11% (better)"
            in text)
    assert "SEV3: median 40 min · p90 40 min (n=1) · before: median 2 h" in text
    assert "SEV2: median 1 h 30 min · p90 1 h 30 min (n=1) · before: median 1 h" in text


def test_lead_time_says_each_change_counts(store: Store, new_store: OpenStore) -> None:
    """A 40-change deploy weighs 40× in the median: the digest says so, and n counts changes."""
    text = to_text(reference_digest(store))
    assert "(n=8 changes)" in text and text.rstrip().endswith(LEAD_TIME_NOTE)
    empty = new_store("empty.db")
    assert LEAD_TIME_NOTE not in to_text(build_digest(conn_of(empty), DigestSettings(), PARIS,
                                                      POSTED))


def test_a_deploy_both_rolled_back_and_blamed_is_one_failure(new_store: OpenStore) -> None:
    s = new_store("both.db")
    deploy(s, 1, "api", "11-20 10:00")
    deploy(s, 2, "api", "11-20 10:20", rollback_of=1)
    incident(s, 1, 2, "11-20 10:05", "11-20 10:50", caused_by=1)
    incident(s, 2, 3, "11-20 10:10", "11-20 10:30", caused_by=1)
    c = build_digest(conn_of(s), DigestSettings(min_samples=1), PARIS, POSTED).current
    assert (c.failure.num, c.failure.den, c.rework.num) == (1, 2, 1)  # never 3 of 2
    # one failure, ended by the last of its incidents (10:00 → 10:50), not by the rollback
    assert (c.recovery.n, c.recovery.median) == (1, 3000)
