"""The post-mortem as people read it, outside Slack: the domain's draft
(``bot.incidents.postmortem``) with its people named and Slack's stored references
(mentions, channels, links, escapes) in stored texts made plain Markdown; its file name and file.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

from shipbell.bot.incidents import postmortem
from shipbell.bot.incidents.models import Incident
from shipbell.bot.inputs import CHANNEL_MENTION, GROUP_MENTION, USER_MENTION
from shipbell.bot.people import PERSON
from shipbell.handlers.incident.naming import slugify

LINK_REF = re.compile(r"<(https?://[^>|]+)(?:\|([^>]*))?>")
BROADCAST_REF = re.compile(r"<!(channel|here|everyone)(?:\|[^>]*)?>")
ENTITIES = {"&lt;": "<", "&gt;": ">", "&amp;": "&"}


def user_ids(*texts: str | None) -> list[str]:
    """Every user named in ``texts`` (a marker, or a mention stored before markers), in
    order, once."""
    found = (m.group(1) for t in texts if t
             for m in sorted([*PERSON.finditer(t), *USER_MENTION.finditer(t)],
                             key=lambda m: m.start()))
    return list(dict.fromkeys(found))


def people(inc: Incident, entries: list[dict[str, Any]],
           followups: list[dict[str, Any]]) -> list[str]:
    """Whose names the draft needs, in order, once: the roles, each entry's actor and the
    people named in what they wrote, the follow-ups' owners. Ids, not mentions."""
    found = [u for u in (inc.reporter, inc.commander, inc.comms) if u]
    for e in entries:
        if e["actor"]:
            found += [e["actor"], *user_ids(e["text"])]
    found += [f["owner"] for f in followups if f["owner"]]
    return list(dict.fromkeys(found))


def _labelled(ref: re.Match[str]) -> str:
    """`<#C…|ops>` → `#ops`, `<!subteam^S…|@sre>` → `@sre`; without a label, as it is."""
    label = ref.group(2)
    if label is None:
        return ref.group(0)
    return label if label.startswith(("@", "#")) else f"#{label}"


def readable(text: str, names: dict[str, str]) -> str:
    """People named by id (``bot.people``) and Slack's stored references as a reader of the
    file sees them: `@ana`, `#ops`, links.

    A labelled link keeps its address in sight (``click (https://…)``), so text someone typed
    can't become a disguised link in the draft; Slack's `&amp;`-style escapes become the
    characters they stand for (the file is Markdown, not Slack mrkdwn)."""
    text = PERSON.sub(lambda m: "@" + names.get(m.group(1), m.group(1)), text)
    text = BROADCAST_REF.sub(r"@\1", text)
    text = USER_MENTION.sub(lambda m: "@" + names.get(m.group(1), m.group(2) or m.group(1)), text)
    text = CHANNEL_MENTION.sub(_labelled, text)
    text = GROUP_MENTION.sub(_labelled, text)
    text = LINK_REF.sub(lambda m: f"{m.group(2)} ({m.group(1)})"
                        if m.group(2) and m.group(2) != m.group(1) else m.group(1), text)
    return re.sub("&(?:lt|gt|amp);", lambda m: ENTITIES[m.group(0)], text)


def render(
    inc: Incident,
    entries: list[dict[str, Any]],
    followups: list[dict[str, Any]],
    deploys: list[dict[str, Any]],
    *,
    now: datetime,
    template: str | None = None,
    names: dict[str, str] | None = None,
    updates: list[dict[str, Any]] | None = None,
) -> str:
    """The draft (``bot.incidents.postmortem.draft``) made readable; ``names`` (user id →
    name) names the people it refers to by id and turns Slack mentions inside stored texts
    into readable `@name`s."""
    markdown = postmortem.draft(inc, entries, followups, deploys, now=now, template=template,
                                updates=updates)
    return readable(markdown, names or {})


def filename(inc: Incident) -> str:
    return f"{inc.ref}-{slugify(inc.title, 50) or 'incident'}.md"


def write(directory: str, inc: Incident, markdown: str) -> Path:
    """Write (or overwrite) the draft under ``postmortem_dir``; a re-run replaces it."""
    path = Path(directory) / filename(inc)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(markdown, encoding="utf-8")
    tmp.replace(path)
    return path


def load_template(path: str | None) -> str | None:
    return Path(path).read_text(encoding="utf-8") if path else None
