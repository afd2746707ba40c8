"""Place the team in a performance cluster of the 2024 State of DevOps (DORA) report.

The report's clusters are profiles, not thresholds, and its change-failure rates are not
monotonic (medium: 10%, high: 20%).  So each metric votes for the clusters whose profile
it matches — frequency, lead time and recovery by range, failure rate by the nearest
published value — and the cluster with most votes wins; a tie goes to the lower-performing
cluster, so Shipbell never flatters.  The year is part of every label.
"""

from __future__ import annotations

from dataclasses import dataclass

REPORT_YEAR = 2024
ORDER = ("elite", "high", "medium", "low")  # best first
FAILURE_RATES = {"elite": 0.05, "high": 0.20, "medium": 0.10, "low": 0.40}
HOUR, DAY = 3600.0, 86400.0


@dataclass(frozen=True)
class Placement:
    cluster: str
    votes: int
    of: int  # how many metrics voted
    by_key: tuple[tuple[str, str], ...] = ()  # (key, the cluster(s) it matches), for "why"

    @property
    def label(self) -> str:
        return f"{self.cluster} ({self.votes} of {self.of} keys match its profile)"

    @property
    def why(self) -> str:
        return ", ".join(f"{key} {cluster}" for key, cluster in self.by_key)


def frequency_clusters(per_day: float) -> set[str]:
    if per_day > 1:
        return {"elite"}  # on demand, several a day
    if per_day >= 1 / 7:
        return {"high"}  # daily to weekly
    if per_day >= 1 / 30:
        return {"medium"}  # weekly to monthly
    return {"low"}  # monthly to every six months (or less)


def lead_time_clusters(median_seconds: float) -> set[str]:
    if median_seconds < DAY:
        return {"elite"}
    if median_seconds < 7 * DAY:
        return {"high"}
    if median_seconds < 30 * DAY:
        return {"medium"}
    return {"low"}


def failure_rate_clusters(rate: float) -> set[str]:
    distance = {name: abs(rate - value) for name, value in FAILURE_RATES.items()}
    best = min(distance.values())
    return {name for name, d in distance.items() if abs(d - best) < 1e-9}


def recovery_clusters(median_seconds: float) -> set[str]:
    if median_seconds < HOUR:
        return {"elite"}
    if median_seconds < DAY:
        return {"high", "medium"}  # the report gives both "less than one day"
    return {"low"}


def place(
    per_day: float | None,
    lead_median: float | None,
    failure_rate: float | None,
    recovery_median: float | None,
) -> Placement | None:
    """The best-matching cluster, or None without frequency, lead time and failure rate.

    Recovery is optional: a team with too few failures to measure recovery is not
    penalised for it.
    """
    if per_day is None or lead_median is None or failure_rate is None:
        return None
    keyed: list[tuple[str, set[str]]] = [
        ("frequency", frequency_clusters(per_day)),
        ("lead time", lead_time_clusters(lead_median)),
        ("failure rate", failure_rate_clusters(failure_rate)),
    ]
    if recovery_median is not None:
        keyed.append(("recovery", recovery_clusters(recovery_median)))
    tally = {name: sum(name in v for _, v in keyed) for name in ORDER}
    top = max(tally.values())
    winner = [name for name in ORDER if tally[name] == top][-1]  # ties: the lower cluster
    why = tuple((key, "/".join(n for n in ORDER if n in v)) for key, v in keyed)
    return Placement(winner, top, len(keyed), why)
