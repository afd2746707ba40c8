"""The trend chart: weekly deploys (those that caused a failure in red) with the change
failure rate, and, when the trend was read, the weekly median and p90 lead time, as a PNG.

Rendered headless with matplotlib's Agg backend through the object API (no pyplot, no
global state), so it is safe in a worker thread and needs no display.  A week whose sample
is below the digest's minimum is a labelled gap ("n<3"), never a misleading point, and a
week without deploys says "none" rather than looking like missing data.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import date

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.dora.metrics import Digest

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
    s = series(d)
    roomy = len(s.labels) <= ROOMY
    width = 8 if roomy else min(14, 2 + 0.45 * len(s.labels))
    height = (5.6 if s.with_lead else 3.8) + (0 if roomy else 0.8)
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2 if s.with_lead else 1, 1,
                               height_ratios=[3, 2][: 1 + s.with_lead])
    top = figure.add_subplot(grid[0])
    _deploys(top, s)
    if s.with_lead:
        _lead(figure.add_subplot(grid[1], sharex=top), s)
    else:
        top.set_xlabel("week starting" + ("" if roomy else " · deploys"), fontsize=8)
    top.set_title(title(d), fontsize=10)
    handles, labels = [], []
    for axes in figure.axes:
        h, lab = axes.get_legend_handles_labels()
        handles += h
        labels += lab
    figure.legend(handles, labels, loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.1 if s.with_lead else 0.16, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _nan(values: list[float | None]) -> list[float]:
    return [NAN if v is None else v for v in values]


def _gaps(axes: Axes, s: Series) -> None:
    """Name each lead-time gap by its sample, so a gap never reads as zero."""
    for x, (value, n) in enumerate(zip(s.medians, s.lead_n, strict=True)):
        if value is None:
            axes.annotate("no changes" if n == 0 else f"only {n}", (x, 0), ha="center",
                          va="bottom", fontsize=7, color=GAP_COLOUR)


def _deploys(axes: Axes, s: Series) -> None:
    positions = list(range(len(s.labels)))
    axes.bar(positions, s.ok, color=OK_COLOUR, label="deploys without a failure")
    axes.bar(positions, s.failed, bottom=s.ok, color=FAILED_COLOUR,
             label="deploys that caused a failure")
    totals = [ok + failed for ok, failed in zip(s.ok, s.failed, strict=True)]
    axes.set_xticks(positions, s.labels, fontsize=8,
                    rotation=0 if len(s.labels) <= ROOMY else 90)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([1, *totals]) * 1.2)
    axes.set_ylabel("deploys per week", fontsize=9)
    rate_axes = axes.twinx()
    rate_axes.plot(positions, _nan(s.rates), color=RATE_COLOUR, marker="o",
                   label=f"change failure rate (weeks with ≥ {s.minimum} deploys)")
    rate_axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    rate_axes.set_ylim(0, max([0.25, *(r for r in s.rates if r is not None)]) * 1.15)
    rate_axes.set_ylabel("change failure rate", fontsize=9)


def _lead(axes: Axes, s: Series) -> None:
    positions = list(range(len(s.labels)))
    axes.plot(positions, _nan(s.medians), color=LEAD_COLOUR, marker="o",
              label="lead time, median")
    axes.plot(positions, _nan(s.p90s), color=LEAD_COLOUR, linestyle="--", marker="^",
              alpha=0.6, label="lead time, p90")
    axes.set_ylabel(f"lead time ({s.lead_unit})", fontsize=9)
    axes.set_ylim(0, max([1.0, *(v for v in s.p90s if v is not None)]) * 1.2)
    _gaps(axes, s)
    deploys = "" if len(s.labels) <= ROOMY else " · deploys"
    axes.set_xlabel(f"week starting{deploys} · lead time has one value per change; a week with"
                    f" fewer than {s.minimum} is a gap", fontsize=8)
    axes.tick_params(axis="x", labelsize=8, labelrotation=0 if len(s.labels) <= ROOMY else 90)
