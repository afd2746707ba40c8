"""What providers and CIs report, made safe to store and to echo into Slack.

Their text (errors, versions, commit titles, output) is quoted in channels, so it may not
ping anyone or break a link; commit times become stored UTC text for lead time.
"""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from shipbell.bot.clock import to_db
from shipbell.bot.deploys import grammar
from shipbell.bot.deploys.models import ReportState, State
from shipbell.bot.deploys.providers import Report

LINK = re.compile(r"^https?://[^\s<>|]{1,2000}$")
REPORT_STATES = {ReportState.RUNNING: State.RUNNING, ReportState.SUCCEEDED: State.SUCCEEDED,
                 ReportState.FAILED: State.FAILED, ReportState.CANCELLED: State.CANCELLED}


def link(url: str | None) -> str | None:
    """A log link we can put inside Slack's `<url|text>`: http(s), nothing that ends it early."""
    return url if url and LINK.match(url) else None


def sanitised(report: Report) -> Report:
    """Provider text is echoed into the channel: it may not ping anyone or break a link."""
    def calm(text: str | None) -> str | None:
        return grammar.quiet(text) if text else text
    return replace(report, log_url=link(report.log_url), version=calm(report.version),
                   error=calm(report.error), output=calm(report.output),
                   changes=normalise_changes(report.changes))


def normalise_changes(raw: Any) -> list[dict[str, Any]]:
    """Keep well-formed changes; commit times become stored UTC text (or None)."""
    out: list[dict[str, Any]] = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("sha"), str) or not item["sha"]:
            continue
        committed = item.get("committed_at")
        try:
            when = datetime.fromisoformat(str(committed).replace("Z", "+00:00"))
            committed = to_db(when if when.tzinfo else when.replace(tzinfo=UTC))
        except ValueError:
            committed = None
        out.append({"sha": item["sha"][:64],
                    "title": grammar.quiet(str(item.get("title") or ""))[:200],
                    "author": grammar.quiet(str(item.get("author") or ""))[:100] or None,
                    "committed_at": committed})
    return out[:500]
