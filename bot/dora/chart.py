"""The trend chart: weekly deploys (those that caused a failure in red) with the change
failure rate, and, when the trend was read, the weekly median and p90 lead time, as a PNG.

What to draw is computed here; the drawing itself lives in ``bot.dora.drawing``, imported on
the first chart only: matplotlib costs tens of megabytes and half a second, and a process that
never posts a chart should not pay for it at start-up.  Rendered headless with matplotlib's Agg
backend through the object API (no pyplot, no
global state), so it is safe in a worker thread and needs no display.  A week whose sample
is below the digest's minimum is a labelled gap ("n<3"), never a misleading point, and a
week without deploys says "none" rather than looking like missing data.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass
from datetime import date

from shipbell.bot.dora.metrics import Digest

OK_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"
RATE_COLOUR = "#37474f"
LEAD_COLOUR = "#1565c0"
GAP_COLOUR = "#9e9e9e"
NAN = math.nan
HOUR, DAY = 3600.0, 86400.0
ROOMY = 10  # up to this many weeks, two-line labels fit; more get one turned line each


@dataclass(frozen=True)
class Series:
    """What the chart draws, computed apart from drawing so it can be checked in tests."""

    labels: list[str]  # "Nov 18\n6 deploys" (or "Nov 18 · 6" turned, for many weeks)
    ok: list[int]  # deploys that caused no failure
    failed: list[int]
    rates: list[float | None]  # change failure rate; None below the minimum sample
    lead_unit: str  # "hours" or "days"
    medians: list[float | None]  # in lead_unit; None below the minimum sample
    p90s: list[float | None]
    lead_n: list[int]  # changes with a lead time, per week
    with_lead: bool
    minimum: int


def series(d: Digest) -> Series:
    n = d.min_samples
    leads = [w.lead if w.lead is not None and w.lead.enough(n) else None for w in d.weeks]
    longest = max([s.p90 or 0 for s in leads if s] + [0])
    unit, scale = ("days", DAY) if longest >= 3 * DAY else ("hours", HOUR)
    return Series(
        labels=[_label(w.period.first_day, w.deploys, roomy=len(d.weeks) <= ROOMY)
                for w in d.weeks],
        ok=[w.deploys - w.failed for w in d.weeks],
        failed=[w.failed for w in d.weeks],
        rates=[w.failed / w.deploys if w.deploys >= n else None for w in d.weeks],
        lead_unit=unit,
        medians=[s.median / scale if s and s.median is not None else None for s in leads],
        p90s=[s.p90 / scale if s and s.p90 is not None else None for s in leads],
        lead_n=[w.lead.n if w.lead is not None else 0 for w in d.weeks],
        with_lead=any(w.lead is not None for w in d.weeks),
        minimum=n,
    )


def _label(first_day: date, deploys: int, *, roomy: bool) -> str:
    day = f"{first_day:%b} {first_day.day}"
    if not roomy:
        return f"{day} · {deploys}"
    return f"{day}\n{'no deploys' if deploys == 0 else f'{deploys} deploy' + 's' * (deploys != 1)}"


def title(d: Digest) -> str:
    scope = ", ".join(d.envs) + (f" · {d.service}" if d.service else "")
    last = d.current.period.last_day
    return (f"Weekly delivery trend · {scope} · {len(d.weeks)} weeks to {last:%b} {last.day}"
            f" ({d.current.period.tz.key})")


def render_chart(d: Digest) -> bytes:
    """PNG bytes of the last weeks' trend; readable at Slack's preview size."""
    drawing = importlib.import_module("shipbell.bot.dora.drawing")
    png: bytes = drawing.render(series(d), title(d))
    return png
