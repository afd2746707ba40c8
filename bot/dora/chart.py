"""The trend chart: weekly deploys (failed ones in red) and change failure rate, as a PNG.

Rendered headless with matplotlib's Agg backend through the object API (no pyplot, no
global state), so it is safe in a worker thread and needs no display.
"""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator, PercentFormatter

from bot.dora.metrics import Digest

OK_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"
RATE_COLOUR = "#37474f"


def render_chart(d: Digest) -> bytes:
    """PNG bytes of the last weeks' trend; readable at Slack's preview size."""
    labels = [f"{w.period.first_day:%b} {w.period.first_day.day}" for w in d.weeks]
    ok = [w.deploys - w.failed for w in d.weeks]
    failed = [w.failed for w in d.weeks]
    rates = [w.failed / w.deploys if w.deploys else float("nan") for w in d.weeks]

    figure = Figure(figsize=(8, 3.6), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(labels)))
    axes.bar(positions, ok, color=OK_COLOUR, label="deploys")
    axes.bar(positions, failed, bottom=ok, color=FAILED_COLOUR, label="failed deploys")
    axes.set_xticks(positions, labels, fontsize=8)
    axes.set_xlabel("week starting", fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_ylim(0, max([1, *(w.deploys for w in d.weeks)]) * 1.1)
    axes.set_ylabel("deploys per week")
    rate_axes = axes.twinx()
    rate_axes.plot(positions, rates, color=RATE_COLOUR, marker="o", label="change failure rate")
    rate_axes.yaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    rate_axes.set_ylim(0, max([0.25, *(r for r in rates if r == r)]) * 1.15)
    rate_axes.set_ylabel("change failure rate")
    scope = ", ".join(d.envs) + (f" · {d.service}" if d.service else "")
    axes.set_title(f"Weekly deploys and change failure rate · {scope}", fontsize=10)
    handles = axes.get_legend_handles_labels()
    rate_handles = rate_axes.get_legend_handles_labels()
    figure.legend(handles[0] + rate_handles[0], handles[1] + rate_handles[1],
                  loc="lower center", ncol=3, fontsize=8, frameon=False)
    figure.tight_layout(rect=(0, 0.07, 1, 1))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
