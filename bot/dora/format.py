"""Words for the figures, shared by the Slack messages and the terminal.

Every rate carries its numerator and denominator, every median its n; a figure on too
small a sample reads "insufficient data" and a figure with no sample at all says so,
never 0.  Changes are direction-aware: for failure rate, rework and durations, down is
better.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from shipbell.bot.clock import humanize
from shipbell.bot.dora.clusters import REPORT_YEAR
from shipbell.bot.dora.metrics import Digest, PeriodMetrics, ServiceRow
from shipbell.bot.dora.queries import FollowupRow
from shipbell.bot.dora.stats import Ratio, Spread, change

SAME_RELATIVE = 0.05  # counts and medians within 5% read as unchanged
SAME_POINTS = 1.0  # rates within one percentage point read as unchanged
TITLE_LIMIT = 150  # a title or follow-up may run to 4,000 characters: one line stays a line


def clip(text: str, limit: int = TITLE_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


@dataclass(frozen=True)
class KeyLine:
    name: str
    now: str
    before: str
    change: str | None  # "↑ 20%", "↓ 3.1 pp", "→ same"; None when not comparable
    verdict: str | None  # "better" | "worse" | "same" | None
    was: str | None = None  # the prior value in a word or two ("4", "2 h", "25.0%")


def duration(seconds: float) -> str:
    return humanize(timedelta(seconds=seconds))


def spread_text(s: Spread, minimum: int, *, what: str = "") -> str:
    n = f"n={s.n}{' ' + what if what else ''}"
    if s.n == 0 or s.median is None or s.p90 is None:
        return f"no data ({n})"
    if s.n < minimum:
        return f"insufficient data ({n})"
    return f"median {duration(s.median)} · p90 {duration(s.p90)} ({n})"


def ratio_text(r: Ratio, minimum: int) -> str:
    if r.den == 0:
        return "no deploys"
    if r.den < minimum:
        return f"insufficient data ({r.num} of {r.den} deploys)"
    return f"{100 * r.num / r.den:.1f}% ({r.num} of {r.den})"


def frequency_text(m: PeriodMetrics) -> str:
    days = m.period.days
    if days == 1:
        return f"{m.deploys}"
    return f"{m.deploys} ({m.per_day:.1f}/day, on {m.deploy_days} of {days} days)"


def _relative(now: float, before: float, lower_is_better: bool) -> tuple[str, str]:
    rel = change(now, before)
    if rel is None or abs(rel) < SAME_RELATIVE:
        return "→ same", "same"
    arrow = "↑" if rel > 0 else "↓"
    better = (rel < 0) if lower_is_better else (rel > 0)
    return f"{arrow} {abs(rel):.0%}", "better" if better else "worse"


def _points(now: Ratio, before: Ratio) -> tuple[str, str]:
    assert now.value is not None and before.value is not None
    diff = 100 * (now.value - before.value)
    if abs(diff) < SAME_POINTS:
        return "→ same", "same"
    arrow = "↑" if diff > 0 else "↓"
    return f"{arrow} {abs(diff):.1f} pp", "worse" if diff > 0 else "better"


def key_lines(d: Digest) -> list[KeyLine]:
    """The five keys, each with both periods and a comparison when both sides are sound."""
    c, p, n = d.current, d.prior, d.min_samples
    lines = []
    was: str | None = str(p.deploys)
    change: str | None
    verdict: str | None
    if p.deploys:
        arrow, verdict = _relative(c.deploys, p.deploys, lower_is_better=False)
    elif c.deploys:
        arrow, verdict, was = "↑ from 0", "better", None
    else:
        arrow, verdict = "→ same", "same"
    lines.append(KeyLine("Deploys", frequency_text(c), frequency_text(p), arrow, verdict, was))
    for name, now, before in (
        ("Lead time", c.lead, p.lead),
        ("Failed deployment recovery", c.recovery, p.recovery),
    ):
        what = "changes" if name == "Lead time" else ""
        cmp: tuple[str, str] | None = None
        was = None
        if now.enough(n) and before.enough(n):
            assert now.median is not None and before.median is not None
            cmp = _relative(now.median, before.median, lower_is_better=True)
            was = duration(before.median)
        change, verdict = cmp if cmp else (None, None)
        lines.append(KeyLine(name, spread_text(now, n, what=what), spread_text(before, n),
                             change, verdict, was))
    for name, now_r, before_r in (
        ("Change failure rate", c.failure, p.failure),
        ("Rework rate", c.rework, p.rework),
    ):
        cmp = _points(now_r, before_r) if now_r.enough(n) and before_r.enough(n) else None
        was = f"{100 * before_r.num / before_r.den:.1f}%" if cmp else None
        change, verdict = cmp if cmp else (None, None)
        lines.append(KeyLine(name, ratio_text(now_r, n), ratio_text(before_r, n),
                             change, verdict, was))
    order = ["Deploys", "Lead time", "Change failure rate", "Failed deployment recovery",
             "Rework rate"]
    return sorted(lines, key=lambda k: order.index(k.name))


def header(d: Digest) -> str:
    scope = ", ".join(d.envs) + (f" · {d.service}" if d.service else "")
    deploys = d.current.deploys
    return (f"{d.current.period.label} vs {d.prior.period.label} · {scope} · "
            f"{deploys} deploy{'' if deploys == 1 else 's'}")


def incident_summary(d: Digest) -> str:
    c = d.current
    text = f"{c.opened} opened, {c.resolved} resolved"
    if d.open_incidents:
        oldest = d.at - d.open_incidents[0].declared
        text += f" · {len(d.open_incidents)} open, oldest {duration(oldest.total_seconds())}"
    else:
        text += " · none open"
    return text


def incident_name(incident_id: int, title: str, private: bool, severity: int) -> str:
    """Private incidents count everywhere but are never named: no id, no title."""
    if private:
        return f"a private SEV{severity} incident"
    return f"#{incident_id} {clip(title)} (SEV{severity})"


def open_incident_lines(d: Digest) -> list[str]:
    return [
        f"{incident_name(i.id, i.title, i.private, i.severity)}: open "
        f"{duration((d.at - i.declared).total_seconds())}"
        for i in d.open_incidents
    ]


def open_failure_line(d: Digest) -> str | None:
    if not d.open_failures:
        return None
    oldest = (d.at - d.open_failures[0].started).total_seconds()
    count = len(d.open_failures)
    return (f"{count} failed deploy{'' if count == 1 else 's'} not yet recovered, "
            f"oldest {duration(oldest)}")


def severity_lines(d: Digest) -> list[str]:
    lines = []
    for sev, now in d.current.incident_recovery.items():
        before = d.prior.incident_recovery[sev]
        if now.n or before.n:
            lines.append(f"SEV{sev}: {spread_text(now, d.min_samples)}"
                         f" · before: {spread_text(before, d.min_samples)}")
    return lines


def updates_line(d: Digest) -> str | None:
    u = d.current.updates
    if u is None:
        return None
    if u.den == 0:
        return "Status updates: none were due"
    return f"Status updates on time: {u.num} of {u.den} ({100 * u.num / u.den:.0f}%)"


def incident_lines(
    d: Digest, *, bullet: str, bold: str = "", clean: Callable[[str], str] = str,
    max_open: int | None = None,
) -> list[str]:
    """Incidents opened/resolved, the open ones with their age, recovery by severity and
    update punctuality; ``bold`` wraps headings ("*" for mrkdwn), ``clean`` escapes titles."""
    lines = [f"{bold}Incidents:{bold} {incident_summary(d)}"]
    open_lines = open_incident_lines(d)
    shown = open_lines[:max_open]
    lines += [f"{bullet}{clean(line)}" for line in shown]
    if len(open_lines) > len(shown):
        lines.append(f"… and {len(open_lines) - len(shown)} more open")
    severities = severity_lines(d)
    if severities:
        lines.append(f"{bold}Incident recovery time{bold} (declared → resolved)")
        lines += [f"{bullet}{line}" for line in severities]
    updates = updates_line(d)
    if updates:
        lines.append(updates)
    return lines


def cluster_line(d: Digest, *, why: bool = False) -> str:
    if d.cluster is None:
        n = d.min_samples
        return (f"{REPORT_YEAR} DORA cluster: not placed; it needs at least {n} deploys "
                f"and {n} changes with a lead time in the period")
    line = f"{REPORT_YEAR} DORA cluster: {d.cluster.label}"
    return f"{line}; per key: {d.cluster.why}" if why else line


def followup_line(f: FollowupRow) -> str:
    """The owner is named by id; the digest's handler mentions them in Slack."""
    due = f"due {f.due}"
    if f.private:
        return f"a follow-up on a private incident, {due}"
    owner = f", owner {f.owner}" if f.owner else ""
    return f"“{clip(f.text)}” on #{f.incident_id} {clip(f.incident_title)}, {due}{owner}"


def service_line(r: ServiceRow, minimum: int) -> str:
    parts = [f"{r.deploys} deploy{'' if r.deploys == 1 else 's'}"]
    if r.deploys:
        parts.append(f"failure {ratio_text(r.failure, minimum)}")
        parts.append(f"rework {ratio_text(r.rework, minimum)}")
        parts.append(f"lead {spread_text(r.lead, minimum)}")
    if r.opened or r.open_now:
        parts.append(f"incidents: {r.opened} opened, {r.open_now} open")
    return f"{r.service}: " + " · ".join(parts)
