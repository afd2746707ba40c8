"""2024 DORA cluster placement: profiles, the non-monotonic failure rates, ties, missing data."""

from __future__ import annotations

import pytest
from shipbell.bot.dora.clusters import HOUR, place

DAY = 24 * HOUR


@pytest.mark.parametrize(
    ("per_day", "lead", "rate", "recovery", "expected"),
    [
        (4.0, 3 * HOUR, 0.04, 0.5 * HOUR, ("elite", 4, 4)),
        (0.5, 2 * DAY, 0.18, 3 * HOUR, ("high", 4, 4)),
        (0.1, 10 * DAY, 0.11, 5 * HOUR, ("medium", 4, 4)),  # 10% is medium's rate, not high's
        (0.01, 60 * DAY, 0.45, 9 * DAY, ("low", 4, 4)),
        (0.5, 2 * DAY, 0.15, None, ("high", 3, 3)),  # 15% is as near 10% as 20%: both match
        (2.0, 3 * HOUR, 0.40, None, ("elite", 2, 3)),
    ],
)
def test_placement(
    per_day: float, lead: float, rate: float, recovery: float | None,
    expected: tuple[str, int, int],
) -> None:
    placement = place(per_day, lead, rate, recovery)
    assert placement is not None
    assert (placement.cluster, placement.votes, placement.of) == expected


def test_no_placement_without_frequency_lead_time_and_failure_rate() -> None:
    assert place(None, HOUR, 0.1, HOUR) is None
    assert place(1.0, None, 0.1, HOUR) is None
    assert place(1.0, HOUR, None, HOUR) is None
