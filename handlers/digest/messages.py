"""Block Kit for the digest: a short summary in the channel, the details in its thread.

Wording comes from ``bot.dora.format`` so Slack and the terminal say the same thing;
this module only adds mrkdwn emphasis, colour markers and the Block Kit limits (section
text ≤ 3,000 characters, ≤ 50 blocks).
"""

from __future__ import annotations

from typing import Any

from shipbell.bot.dora import format as fmt
from shipbell.bot.dora.metrics import Digest
from shipbell.bot.inputs import escape
from shipbell.handlers.digest.ids import Block

SECTION_LIMIT = 2900  # under Slack's 3,000, leaving room for a "… and N more" line
MESSAGE_BUDGET = 11_000  # all block text of one message; Slack refuses ~12k (msg_blocks_too_long)
MAX_FOLLOWUPS = 10
MAX_OPEN = 10
MARKER = {"better": ":large_green_circle:", "worse": ":red_circle:", "same": ":white_circle:"}


def _section(text: str, block_id: str) -> dict[str, Any]:
    if len(text) > SECTION_LIMIT:
        # cut at a line end, so no mention, link or &amp; is left half-written
        cut = text.rfind("\n", 0, SECTION_LIMIT - 2)
        text = text[: cut if cut > 0 else SECTION_LIMIT - 1] + "\n…"
    return {"type": "section", "block_id": block_id, "text": {"type": "mrkdwn", "text": text}}


def _context(text: str, block_id: str) -> dict[str, Any]:
    return {"type": "context", "block_id": block_id,
            "elements": [{"type": "mrkdwn", "text": text[:SECTION_LIMIT]}]}


def _key(line: fmt.KeyLine, *, with_prior: bool) -> str:
    text = f"*{line.name}:* {line.now}"
    if line.change:
        # the summary has no "before" line, so a change names what it is measured from
        since = f" from {line.was}" if line.was and not with_prior and line.verdict != "same" \
            else ""
        text += f"  {line.change}{since} {MARKER.get(line.verdict or '', '')}".rstrip()
    if with_prior:
        text += f"\n      _before:_ {line.before}"
    return text


def title(d: Digest) -> str:
    scope = f" · {d.service}" if d.service else ""
    return f"Delivery digest{scope} · {d.current.period.label}"


def summary(d: Digest) -> dict[str, Any]:
    """The channel message: header, five keys with their change, incidents, cluster."""
    keys = "\n".join(_key(k, with_prior=False) for k in fmt.key_lines(d))
    incidents = f"*Incidents:* {fmt.incident_summary(d)}"
    failing = fmt.open_failure_line(d)
    if failing:
        incidents += f"\n:warning: {failing}"
    if d.overdue:
        incidents += f"\n*Overdue follow-ups:* {d.overdue_total}"
    blocks = [
        {"type": "header", "block_id": Block.TITLE,
         "text": {"type": "plain_text", "text": title(d)[:150]}},
        _context(escape(fmt.header(d)), Block.SCOPE),
        _section(keys, Block.KEYS),
        _section(incidents, Block.INCIDENTS),
        _context(f"{fmt.cluster_line(d)} · details and per-service breakdown in the thread",
                 Block.FOOTER),
    ]
    return {"text": f"{title(d)}: {fmt.header(d)}", "blocks": blocks}


def details(d: Digest, budget: int = MESSAGE_BUDGET) -> dict[str, Any]:
    """The thread reply: both periods with n and p90, incidents, follow-ups, services."""
    blocks: list[dict[str, Any]] = [
        _section("*Both periods*\n" + "\n".join(_key(k, with_prior=True)
                                                 for k in fmt.key_lines(d)), Block.PERIODS),
    ]
    incidents = fmt.incident_lines(d, bullet="• ", bold="*", clean=escape, max_open=MAX_OPEN)
    blocks.append(_section("\n".join(incidents), Block.RECOVERY))
    if d.overdue:
        shown = [f"• {escape(fmt.followup_line(f))}" for f in d.overdue[:MAX_FOLLOWUPS]]
        shown = [_mention(line, f.owner) for line, f in zip(shown, d.overdue, strict=False)]
        if d.overdue_total > MAX_FOLLOWUPS:
            shown.append(f"… and {d.overdue_total - MAX_FOLLOWUPS} more")
        blocks.append(_section(f"*Overdue post-mortem follow-ups:* {d.overdue_total}\n"
                               + "\n".join(shown), Block.FOLLOWUPS))
    cluster = fmt.cluster_line(d, why=True) + "".join(f"\n_{note}_" for note in d.notes)
    blocks.append(_context(cluster, Block.CLUSTER))
    blocks.extend(service_blocks(d, budget - _text_length(blocks)))
    return {"text": f"Details for {title(d)}", "blocks": blocks}


def _mention(line: str, owner: str | None) -> str:
    """Owners are Slack ids: mention them (after escaping, so the mention survives)."""
    if owner and f"owner {escape(owner)}" in line:
        return line.replace(f"owner {escape(owner)}", f"owner <@{owner}>")
    return line


def _text_length(blocks: list[dict[str, Any]]) -> int:
    return sum(len(b.get("text", {}).get("text", "")) + sum(
        len(e.get("text", "")) for e in b.get("elements", [])) for b in blocks)


def service_blocks(d: Digest, budget: int = MESSAGE_BUDGET) -> list[dict[str, Any]]:
    """The breakdown in as many sections as it needs, within the message's text budget."""
    if not d.services:
        return []
    lines = [f"• {escape(fmt.service_line(r, d.min_samples))}" for r in d.services]
    chunks: list[list[str]] = [["*By service*"]]
    used, shown = len(chunks[0][0]), 0
    for line in lines:
        if used + len(line) + 1 > budget - 80:  # keep room for the "more" line
            break
        if sum(len(x) + 1 for x in chunks[-1]) + len(line) > SECTION_LIMIT - 80:
            chunks.append([])
        chunks[-1].append(line)
        used, shown = used + len(line) + 1, shown + 1
    hidden = len(lines) - shown + d.more_services
    if hidden:
        chunks[-1].append(f"… and {hidden} more services: try `/deploy stats <service>`")
    return [_section("\n".join(c), f"{Block.SERVICES}_{i}") for i, c in enumerate(chunks)]


def stats(d: Digest) -> dict[str, Any]:
    """`/deploy stats`: the summary and the details in one ephemeral answer."""
    top = summary(d)
    head = [b for b in top["blocks"] if b["block_id"] != Block.FOOTER]
    blocks = head + details(d, MESSAGE_BUDGET - _text_length(head))["blocks"]
    return {"response_type": "ephemeral", "replace_original": False,
            "text": top["text"], "blocks": blocks[:50]}


def chart_title(d: Digest) -> str:
    return f"Weekly trend to {d.current.period.last_day:%b} {d.current.period.last_day.day}"
