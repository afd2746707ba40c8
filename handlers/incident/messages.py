"""Block Kit for incidents: the pinned status, the announcement, suspects, reminders, modal."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from shipbell.bot.clock import humanize, slack_date
from shipbell.bot.incidents.models import Incident, Status
from shipbell.bot.inputs import escape, user_text
from shipbell.handlers.common import mention
from shipbell.handlers.incident.ids import (
    PRIVATE_VALUE,
    Action,
    Block,
    Callback,
    Field,
    snooze_action,
)

Blocks = list[dict[str, Any]]
STATUS_EMOJI = {Status.INVESTIGATING: ":mag:", Status.IDENTIFIED: ":dart:",
                Status.MONITORING: ":eyes:", Status.RESOLVED: ":white_check_mark:",
                Status.CLOSED: ":lock:"}

HELP = "\n".join([
    "*/incident* — declare and run incidents.",
    "• `/incident` opens the declare form; `/incident open <title> [sev1-4] [--service api]"
    " [--private] [--test]` skips it (test incidents stay out of metrics and announcements).",
    "In an incident channel (or name one first, e.g. `/incident update INC-3 …`):",
    "• `status <investigating|identified|monitoring|resolved> [message]` (an open status"
    " reopens a resolved incident) · `sev <1-4>`",
    "• `assign <commander|comms> @user` · `update <text>` · `note <text>`",
    "• `link <deploy-id> [caused|fixed]` · `followup <text> @owner [due YYYY-MM-DD]`"
    " · `followup done <n>`",
    "• `resolve <summary>` · `postmortem` · `close`",
    "Anywhere: `/incident list` · `/incident help`.",
])


def quiet(text: str) -> str:
    """Someone's words as safe mrkdwn: `<!channel>`, `<!here>`, `<!everyone>` and group
    mentions as plain words (a title or update reaching the announcements channel must not
    page everyone there), no disguised links, `&<>` escaped; mentions of people stay."""
    return user_text(text)


_REASONS = {
    "account_inactive": "their account is deactivated",
    "user_disabled": "their account is deactivated",
    "user_is_inactive": "their account is deactivated",
    "user_not_found": "they are no longer in this workspace",
    "user_is_restricted": "guest accounts can't be added",
    "user_is_ultra_restricted": "guest accounts can't be added",
    "is_archived": "the channel is archived",
    "channel_not_found": "Shipbell can't see the channel (deleted, or Shipbell was removed)",
    "not_in_channel": "Shipbell was removed from the channel",
}


def reason(error: str) -> str:
    """A Slack error as a person reads it, the code kept for whoever debugs it."""
    return f"{_REASONS[error]} ({error})" if error in _REASONS else error


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def who(user: str | None) -> str:
    return f"<@{user}>" if user else "_unassigned_"


def plain(text: str, limit: int = 75) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, limit), "emoji": True}


def md(text: str, limit: int = 3000) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": clip(text, limit)}


def button(text: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    el: dict[str, Any] = {"type": "button", "text": plain(text), "action_id": action_id,
                          "value": value}
    if style:
        el["style"] = style
    return el


def topic(inc: Incident) -> str:
    lead = f"<@{inc.commander}>" if inc.commander else "no commander"
    text = f"SEV{inc.severity} · {inc.status.capitalize()} · Commander {lead}"
    if inc.comms:
        text += f" · Comms <@{inc.comms}>"
    return clip(f"{inc.ref} {text} · {quiet(inc.title)}", 250)  # a cut `&lt;` pings nobody


def headline(inc: Incident) -> str:
    return f"{inc.ref} · SEV{inc.severity} · {inc.status.capitalize()} — {quiet(inc.title)}"


def status_message(inc: Incident, last_update: str | None) -> tuple[str, Blocks]:
    """The pinned message edited in place, so the channel always shows the current state."""
    fields = [
        md(f"*Status*\n{STATUS_EMOJI.get(inc.status, '')} {inc.status.capitalize()}"),
        md(f"*Severity*\nSEV{inc.severity}"),
        md(f"*Commander*\n{who(inc.commander)}"),
        md(f"*Comms*\n{who(inc.comms)}"),
        md(f"*Service*\n{escape(inc.service or '—')}"),
        md(f"*Declared*\n{slack_date(inc.declared_at)} by {who(inc.reporter)}"),
    ]
    blocks: Blocks = [
        {"type": "header", "text": plain(f"{inc.ref}: {quiet(inc.title)}", 150)},
        {"type": "section", "block_id": Block.STATUS, "fields": fields},
    ]
    if inc.description:
        blocks.append({"type": "section",
                       "text": md(f"*Description*\n{quiet(inc.description)}", 2000)})
    if last_update:
        when = slack_date(inc.last_update_at) if inc.last_update_at else ""
        blocks.append({"type": "section",
                       "text": md(f"*Latest update* ({when})\n{quiet(last_update)}")})
    if inc.summary:
        blocks.append({"type": "section", "text": md(f"*Resolution*\n{quiet(inc.summary)}")})
    return clip(headline(inc), 3000), blocks


def announcement(inc: Incident) -> tuple[str, Blocks]:
    text = f":rotating_light: {headline(inc)}"
    lines = [f"*{clip(quiet(inc.title), 200)}*",
             f"SEV{inc.severity} · {inc.status.capitalize()} · Commander {who(inc.commander)}"]
    if inc.service:
        lines.append(f"Service: `{escape(inc.service)}`")
    if inc.channel_id:
        lines.append(f"Channel: <#{inc.channel_id}>")
    section: dict[str, Any] = {"type": "section", "block_id": Block.ANNOUNCE,
                               "text": md(f":rotating_light: {inc.ref}\n" + "\n".join(lines))}
    blocks: Blocks = [section]
    if inc.is_open and inc.channel_id:
        section["accessory"] = button("Join", Action.JOIN, str(inc.id), "primary")
    return text, blocks


def suspects(inc: Incident, deploys: list[dict[str, Any]]) -> tuple[str, Blocks]:
    text = (f"Recent production deploys of {escape(inc.service or '')}: did one of them cause"
            f" {inc.ref}?")
    blocks: Blocks = [{"type": "section", "text": md(f":mag: *Suspect deploys* — {text}")}]
    for n, d in enumerate(deploys):
        finished = datetime.fromisoformat(d["finished_at"])
        label = (f"#{d['id']} {d['service']} `{escape(d['version'] or d['ref'])}`"
                 f" to {d['env']}")
        kind = " (rollback)" if d["is_rollback"] else ""
        blocks.append({"type": "section", "text": md(
            f"{label}{kind} · by <@{d['requester']}> · finished {slack_date(finished)}")})
        value = f"{inc.id}|{d['id']}"  # pointers only: the press reads the deploy back
        blocks.append({"type": "actions", "block_id": f"{Block.SUSPECTS}.{n}", "elements": [
            button("Caused this", f"{Action.CAUSED}.{n}", value, "danger"),
            button("Roll back", f"{Action.ROLLBACK}.{n}", value),
        ]})
    return text, blocks


def reminder(
    inc: Incident, slot: str, missed: int, escalate_to: str | None, snoozes: list[int],
    since: datetime | None, now: datetime,
) -> tuple[str, Blocks]:
    target = inc.lead
    quiet = humanize(now - since) if since else "a while"
    text = (f"{who(target)} {inc.ref} has had no status update for {quiet}."
            " Post one with `/incident update <text>`.")
    if escalate_to:
        text += f" {mention(escalate_to)}: {missed} reminders in a row without an update."
    buttons = [
        button(f"Snooze {m} min" if m < 60 or m % 60 else f"Snooze {m // 60} h",
               snooze_action(i), f"{inc.id}|{slot}")  # minutes: the i-th configured
        for i, m in enumerate(snoozes)
    ]
    return text, [
        {"type": "section", "text": md(f":alarm_clock: {text}")},
        {"type": "actions", "block_id": Block.REMINDER, "elements": buttons},
    ]


def followup_reminder(row: dict[str, Any]) -> tuple[str, Blocks]:
    """The DM an owner gets for an overdue follow-up, with a one-click way out."""
    ref = f"INC-{row['incident_id']}"
    text = (f":hourglass: Follow-up #{row['id']} of {ref} was due {row['due_date']}:"
            f" {quiet(clip(row['text'], 500))}")
    done = button("Mark done", Action.FOLLOWUP_DONE, str(row["id"]),
                  "primary")
    return text, [{"type": "section", "block_id": Block.FOLLOWUP, "text": md(text),
                   "accessory": done}]


def update_post(inc: Incident, text: str, actor: str, kind: str = "Update") -> tuple[str, Blocks]:
    text = quiet(text)  # already safe when a command built it: quiet() changes it no more
    body = f"*{kind}* from {who(actor)} — {inc.ref} · SEV{inc.severity} · " \
           f"{inc.status.capitalize()}\n{text}"
    return clip(f"{inc.ref} {kind.lower()}: {text}", 3000), [
        {"type": "section", "text": md(body)}]


def incident_line(inc: Incident, now: datetime) -> str:
    where = f"<#{inc.channel_id}>" if inc.channel_id else "(channel pending)"
    test = " (test)" if inc.test else ""
    return (f"• *{inc.ref}*{test} SEV{inc.severity} {inc.status} · {quiet(clip(inc.title, 80))} · "
            f"{humanize(now - inc.declared_at)} old · lead {who(inc.commander)} · {where}")


LIST_MOST = 20  # worst first; a reply of 20 lines is still read, one of 200 isn't


def incident_list(incidents: list[Incident], hidden: int, now: datetime) -> str:
    if not incidents and not hidden:
        return "No open incidents. Declare one with `/incident`."
    lines = [incident_line(i, now) for i in incidents[:LIST_MOST]]
    if len(incidents) > LIST_MOST:
        lines.append(f"• and {len(incidents) - LIST_MOST} more (the least severe)")
    if hidden:
        lines.append(f"• and {hidden} private incident{'s' if hidden > 1 else ''}")
    return f"*Open incidents ({len(incidents) + hidden})*\n" + "\n".join(lines)


def declare_modal(
    origin_channel: str, severity: int, services: list[str], *, title: str = ""
) -> dict[str, Any]:
    sev_options = [{"text": plain(f"SEV{n}"), "value": str(n)} for n in range(1, 5)]
    title_el: dict[str, Any] = {"type": "plain_text_input", "action_id": Field.TITLE,
                                "max_length": 150}
    if title:
        title_el["initial_value"] = title
    return {
        "type": "modal",
        "callback_id": Callback.DECLARE,
        "title": plain("Declare an incident", 24),
        "submit": plain("Declare", 24),
        "close": plain("Cancel", 24),
        "private_metadata": json.dumps({"channel": origin_channel}),
        "blocks": [
            {"type": "input", "block_id": Block.TITLE, "label": plain("Title"),
             "element": title_el},
            {"type": "input", "block_id": Block.SEVERITY, "label": plain("Severity"),
             "element": {"type": "static_select", "action_id": Field.SEVERITY,
                         "options": sev_options,
                         "initial_option": sev_options[severity - 1]}},
            {"type": "input", "block_id": Block.SERVICE, "label": plain("Affected service"),
             "optional": True, "hint": plain(
                 "Known: " + ", ".join(services) if services else "e.g. api", 2000),
             "element": {"type": "plain_text_input", "action_id": Field.SERVICE,
                         "max_length": 80}},
            {"type": "input", "block_id": Block.DESCRIPTION, "label": plain("Description"),
             "optional": True,
             "element": {"type": "plain_text_input", "action_id": Field.DESCRIPTION,
                         "multiline": True, "max_length": 2000}},
            {"type": "input", "block_id": Block.PRIVATE, "label": plain("Visibility"),
             "optional": True,
             "element": {"type": "checkboxes", "action_id": Field.PRIVATE, "options": [
                 {"text": md("*Private* — private channel, not announced"),
                  "value": PRIVATE_VALUE}]}},
        ],
    }
