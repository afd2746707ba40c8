"""Drawing the trend chart with matplotlib; imported by ``bot.dora.chart`` on first use only."""

from __future__ import annotations

import io

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter
from shipbell.bot.dora.chart import (
    FAILED_COLOUR,
    GAP_COLOUR,
    LEAD_COLOUR,
    NAN,
    OK_COLOUR,
    RATE_COLOUR,
    ROOMY,
    Series,
)


def render(s: Series, heading: str) -> bytes:
    """PNG bytes of the series, drawn with the Agg backend through the object API."""
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
    top.set_title(heading, fontsize=10)
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
