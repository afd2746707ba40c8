"""The trend chart: weekly deploys (failed ones in red) with the change failure rate, and,
when the trend was read, the weekly median and p90 lead time, as a PNG.

Rendered headless with matplotlib's Agg backend through the object API (no pyplot, no
global state), so it is safe in a worker thread and needs no display.  Weeks whose lead
time sample is below the digest's minimum are gaps, not misleading points.
"""

from __future__ import annotations

import io
import math

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.dora.metrics import Digest

OK_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"
RATE_COLOUR = "#37474f"
LEAD_COLOUR = "#1565c0"
NAN = math.nan


def render_chart(d: Digest) -> bytes:
    """PNG bytes of the last weeks' trend; readable at Slack's preview size."""
    with_lead = any(w.lead is not None for w in d.weeks)
    figure = Figure(figsize=(8, 5.4 if with_lead else 3.6), dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2 if with_lead else 1, 1, height_ratios=[3, 2][: 1 + with_lead])
    top = figure.add_subplot(grid[0])
    _deploys(top, d)
    if with_lead:
        _lead(figure.add_subplot(grid[1], sharex=top), d)
    scope = ", ".join(d.envs) + (f" · {d.service}" if d.service else "")
    top.set_title(f"Weekly delivery trend · {scope}", fontsize=10)
    handles, labels = [], []
    for axes in figure.axes:
        h, lab = axes.get_legend_handles_labels()
        handles += h
        labels += lab
    figure.legend(handles, labels, loc="lower center", ncol=5, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.06 if with_lead else 0.08, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _labels(d: Digest) -> list[str]:
    return [f"{w.period.first_day:%b} {w.period.first_day.day}" for w in d.weeks]


def _deploys(axes: Axes, d: Digest) -> None:
    positions = list(range(len(d.weeks)))
    ok = [w.deploys - w.failed for w in d.weeks]
    failed = [w.failed for w in d.weeks]
    rates = [w.failed / w.deploys if w.deploys else NAN for w in d.weeks]
    axes.bar(positions, ok, color=OK_COLOUR, label="deploys")
    axes.bar(positions, failed, bottom=ok, color=FAILED_COLOUR, label="failed deploys")
    axes.set_xticks(positions, _labels(d), fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([1, *(w.deploys for w in d.weeks)]) * 1.1)
    axes.set_ylabel("deploys per week")
    rate_axes = axes.twinx()
    rate_axes.plot(positions, rates, color=RATE_COLOUR, marker="o", label="change failure rate")
    rate_axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    rate_axes.set_ylim(0, max([0.25, *(r for r in rates if r == r)]) * 1.15)
    rate_axes.set_ylabel("change failure rate")


def _lead(axes: Axes, d: Digest) -> None:
    positions = list(range(len(d.weeks)))
    medians, p90s = [], []
    for w in d.weeks:
        ok = w.lead is not None and w.lead.enough(d.min_samples)
        medians.append(w.lead.median / 3600 if ok and w.lead and w.lead.median else NAN)
        p90s.append(w.lead.p90 / 3600 if ok and w.lead and w.lead.p90 else NAN)
    axes.plot(positions, medians, color=LEAD_COLOUR, marker="o", label="lead time median")
    axes.plot(positions, p90s, color=LEAD_COLOUR, linestyle="--", alpha=0.6,
              label="lead time p90")
    axes.set_ylabel("lead time (hours)")
    axes.set_ylim(bottom=0)
    axes.set_xlabel("week starting", fontsize=8)
    axes.tick_params(axis="x", labelsize=8)
