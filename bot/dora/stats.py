"""Small statistics with the sample size always attached, so no figure travels without its n.

Median is the usual middle (mean of the two middles for even n); p90 is nearest-rank
(the ceil(0.9·n)-th smallest value), which is easy to check by hand and never invents a
value that was not observed.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Spread:
    """Median and p90 of durations in seconds, with their sample size."""

    n: int
    median: float | None
    p90: float | None

    def enough(self, minimum: int) -> bool:
        return self.n >= minimum and self.median is not None


@dataclass(frozen=True)
class Ratio:
    """A rate kept as numerator and denominator, so it is never shown without them."""

    num: int
    den: int

    @property
    def value(self) -> float | None:
        return self.num / self.den if self.den else None

    def enough(self, minimum: int) -> bool:
        return self.den >= minimum


def median(sorted_values: list[float]) -> float | None:
    n = len(sorted_values)
    if n == 0:
        return None
    mid = n // 2
    if n % 2:
        return sorted_values[mid]
    return (sorted_values[mid - 1] + sorted_values[mid]) / 2


def nearest_rank(sorted_values: list[float], q: float) -> float | None:
    if not sorted_values:
        return None
    rank = max(1, math.ceil(q * len(sorted_values)))
    return sorted_values[rank - 1]


def spread(values: Iterable[float]) -> Spread:
    ordered = sorted(values)
    return Spread(len(ordered), median(ordered), nearest_rank(ordered, 0.9))


def change(current: float | None, prior: float | None) -> float | None:
    """Relative change, or None when either side is missing or the prior is zero."""
    if current is None or prior is None or prior == 0:
        return None
    return (current - prior) / prior
