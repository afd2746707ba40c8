"""Block Kit for `/deploy`: the one status message per deploy, and the command replies."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from shipbell.bot.clock import humanize, slack_date
from shipbell.bot.deploys.gates import FAIL, OVERRIDE, PASS, WAIT, GateResult
from shipbell.bot.deploys.locks import Lock
from shipbell.bot.deploys.models import ACTIVE, EMOJI, WAITING, Deploy, State
from shipbell.bot.inputs import escape, inline, user_text
from shipbell.handlers.common import mentions
from shipbell.handlers.deploy.ids import Action, Block

MAX_CHANGES = 10
MARK = {PASS: ":white_check_mark:", FAIL: ":x:", WAIT: ":hourglass_flowing_sand:",
        OVERRIDE: ":rotating_light:"}


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, 75), "emoji": True}


def mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, 2900)}


def code(text: str) -> str:
    """A ref or version inside a `code span`: escaped, and no backtick to end it early."""
    return inline(text, 200)


SAFE_URL = re.compile(r"^https?://[^\s<>|]+$")  # what a CI or provider may link as the log


def log_link(url: str | None) -> str:
    """The provider's log as a link, only when it is a plain web address (no `|`, `<`, `>`
    or spaces that could relabel the link or smuggle a ping); otherwise a dash."""
    return f"<{escape(url)}|open log>" if url and SAFE_URL.match(url) else "—"


def headline(d: Deploy) -> str:
    shipped = f" → `{code(d.version)}`" if d.version and d.version != d.ref else ""
    kind = "Rollback" if d.is_rollback else ("Hotfix" if d.is_hotfix else "Deploy")
    return (f"{EMOJI[d.state]} {kind} #{d.id}: *{d.service}* `{code(d.ref)}`{shipped} to *{d.env}*"
            f" — {d.state.label}")


def duration(d: Deploy, now: datetime) -> str:
    if d.started_at is None:
        return "not started"
    end = d.finished_at or now
    return humanize(end - d.started_at) + ("" if d.finished_at else " so far")


def deploy_message(d: Deploy, approvals: list[dict[str, Any]], changes: list[dict[str, Any]],
                   now: datetime) -> dict[str, Any]:
    """Text and blocks of the deploy's status message, rebuilt from the stored row."""
    approved = [f"<@{a['approver']}>" for a in approvals if a["decision"] == "approved"]
    rejected = [f"<@{a['approver']}>" for a in approvals if a["decision"] == "rejected"]
    approvers = ", ".join(approved) or ("—" if not d.approvals_needed else "waiting")
    if d.approvals_needed:
        approvers += f" ({len(approved)}/{d.approvals_needed})"
    if rejected:
        approvers += f"; rejected by {', '.join(rejected)}"
    fields = [
        mrkdwn(f"*Requester*\n<@{d.requester}>"),
        mrkdwn(f"*State*\n{d.state.label}"),
        mrkdwn(f"*Approvers*\n{approvers}"),
        mrkdwn(f"*Duration*\n{duration(d, now)}"),
        mrkdwn(f"*Log*\n{log_link(d.log_url)}"),
    ]
    if d.incident_id:
        fields.append(mrkdwn(f"*Incident*\nINC-{d.incident_id}"))
    blocks: list[dict[str, Any]] = [
        {"type": "section", "block_id": Block.SUMMARY, "text": mrkdwn(headline(d))},
        {"type": "section", "block_id": Block.FIELDS, "fields": fields},
    ]
    if d.error and d.state != State.SUCCEEDED:
        blocks.append({"type": "section", "block_id": Block.ERROR,
                       "text": mrkdwn(f":warning: {d.error}")})  # inert on the way in
    if changes:
        lines = [f"• `{code(c['sha'][:7])}` {user_text(c.get('title') or '')}"
                 + (f" ({user_text(c['author'])})" if c.get("author") else "")
                 for c in changes[:MAX_CHANGES]]
        if len(changes) > MAX_CHANGES:
            lines.append(f"…and {len(changes) - MAX_CHANGES} more")
        blocks.append({"type": "section", "block_id": Block.CHANGES,
                       "text": mrkdwn("*Shipped since the previous deploy*\n" + "\n".join(lines))})
    buttons: list[dict[str, Any]] = []
    if d.state == State.AWAITING_APPROVAL:
        buttons += [
            {"type": "button", "action_id": Action.APPROVE, "text": plain("Approve"),
             "style": "primary", "value": str(d.id)},
            {"type": "button", "action_id": Action.REJECT, "text": plain("Reject"),
             "style": "danger", "value": str(d.id)},
        ]
    if d.state in WAITING or d.state in ACTIVE:
        buttons.append({"type": "button", "action_id": Action.CANCEL, "text": plain("Cancel"),
                        "value": str(d.id)})
    if buttons:
        blocks.append({"type": "actions", "block_id": Block.ACTIONS, "elements": buttons})
    context = f"requested {slack_date(d.requested_at)}"
    if d.reason:
        context += f" · {user_text(clip(d.reason, 300))}"
    if d.break_glass:
        context += f" · :rotating_light: break-glass: {user_text(clip(d.break_glass, 300))}"
    if d.expires_at and d.state == State.AWAITING_APPROVAL:
        context += f" · approval expires {slack_date(d.expires_at, '{time}')}"
    elif d.expires_at and d.state == State.QUEUED:
        context += f" · leaves the queue {slack_date(d.expires_at, '{time}')} if not started"
    blocks.append({"type": "context", "block_id": Block.CONTEXT, "elements": [mrkdwn(context)]})
    text = (f"Deploy #{d.id}: {d.service}@{d.ref} to {d.env} — {d.state.label}")
    return {"text": text, "blocks": blocks}


def rehomed(channel: str) -> str:
    return (f"I can't post in <#{channel}> (archived, or I'm not a member there), so this "
            "deploy's updates come here; `/invite @Shipbell` in that channel for next time.")


def worth_posting(event: dict[str, Any], now_state: State) -> bool:
    """Thread replies for what people need; the message itself shows the rest."""
    if event["state"] == State.TRIGGERED:
        return False  # the provider's "job sent" note says it better
    if event["state"] == State.QUEUED and event.get("note") == "queued":
        return now_state == State.QUEUED  # only worth saying while it actually waits
    return True


def event_text(event: dict[str, Any]) -> str:
    state = event["state"]
    note = event.get("note") or ""
    try:
        label = State(state).label
        emoji = EMOJI[State(state)]
    except ValueError:  # approvals and provider notes: the note says it all
        label, emoji = "", ":+1:" if state == "approved" else ":speech_balloon:"
    head = f"{emoji} {label}".rstrip()
    if note in ("", label, state):
        return head
    # Shown as stored: Shipbell writes these notes (with the approvers' mentions, which must
    # ping), and the text inside came in inert: reasons through grammar.quiet, provider
    # output through reports.sanitised (both bot.inputs.user_text).
    return clip(mentions(f"{head}: {note}" if label else f"{emoji} {note}"), 3000)


def takeover_offer(text: str, request_id: int, holder: str) -> dict[str, Any]:
    """The button points at the stored request; what it does (reason, expiry) is stored."""
    return _confirm_offer(text, Block.TAKE_OVER, Action.TAKE_OVER, request_id, holder,
                          "Take over the lock", "Take over?", "Take over", "Keep theirs")


def unlock_offer(text: str, request_id: int, holder: str) -> dict[str, Any]:
    return _confirm_offer(text, Block.UNLOCK, Action.UNLOCK, request_id, holder,
                          "Unlock anyway", "Unlock their lock?", "Unlock", "Leave it")


def _confirm_offer(text: str, block: str, action: str, request_id: int, holder: str,
                   label: str, title: str, yes: str, no: str) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": text, "blocks": [
        {"type": "section", "block_id": block, "text": mrkdwn(text),
         "accessory": {"type": "button", "action_id": action, "text": plain(label),
                       "style": "danger", "value": str(request_id),
                       "confirm": {"title": plain(title),
                                   "text": mrkdwn(f"<@{holder}> will be told."),
                                   "confirm": plain(yes), "deny": plain(no)}}},
    ]}


def gate_lines(results: list[GateResult]) -> str:
    return "\n".join(f"{MARK[r.outcome]} *{r.name}*: {r.detail}" for r in results)


def deploy_line(d: Deploy) -> str:
    shipped = f" → `{code(d.version)}`" if d.version and d.version != d.ref else ""
    when = d.finished_at or d.started_at or d.requested_at
    return (f"{EMOJI[d.state]} #{d.id} {d.env} `{code(d.ref)}`{shipped} {d.state.label} "
            f"by <@{d.requester}> {slack_date(when)}")


def lock_line(lock: Lock, now: datetime) -> str:
    until = f", expires in {humanize(lock.expires_at - now)}" if lock.expires_at else ""
    return (f":lock: {lock.service} {lock.env}: <@{lock.holder}> {humanize(now - lock.created_at)}"
            f" ago: {user_text(lock.reason)}{until}")
