"""The digest as plain text, for `shipbell digest` (previews, cron mail, tests)."""

from __future__ import annotations

from shipbell.bot.dora import format as fmt
from shipbell.bot.dora.metrics import Digest

MARK = {"better": "(better)", "worse": "(worse)", "same": "", None: ""}


def key_text(line: fmt.KeyLine) -> str:
    change = f"  {line.change} {MARK[line.verdict]}".rstrip() if line.change else ""
    return f"  {line.name}: {line.now}{change}\n      before: {line.before}"


def to_text(d: Digest) -> str:
    out = [f"Shipbell delivery digest · {fmt.header(d)}", ""]
    out += [key_text(k) for k in fmt.key_lines(d)]
    failing = fmt.open_failure_line(d)
    if failing:
        out.append(f"  {failing}")
    out += ["", *fmt.incident_lines(d, bullet="  ")]
    if d.overdue:
        out.append(f"Overdue post-mortem follow-ups: {d.overdue_total}")
        out += [f"  {fmt.followup_line(f)}" for f in d.overdue]
        if d.overdue_total > len(d.overdue):
            out.append(f"  … and {d.overdue_total - len(d.overdue)} more")
    else:
        out.append("Overdue post-mortem follow-ups: none")
    out += ["", fmt.cluster_line(d, why=True)]
    if d.services:
        out += ["", "By service:"]
        out += [f"  {fmt.service_line(r, d.min_samples)}" for r in d.services]
        if d.more_services:
            out.append(f"  … and {d.more_services} more")
    if d.notes:
        out += ["", *d.notes]
    return "\n".join(out) + "\n"
