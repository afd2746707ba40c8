"""`/incident` subcommands: parse, store, hand Slack work to tasks, answer in one sentence.

Everything here runs on the ack path, so it only touches the store and submits tasks;
nothing awaits Slack.  ``answer`` is the async boundary: it asks Slack about people first,
then runs ``handle`` (synchronous, all of it) in one ``store.run`` on the store's thread.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from shipbell.bot.clock import humanize
from shipbell.bot.core import Core
from shipbell.bot.incidents import followups
from shipbell.bot.incidents.models import (
    RELATIONS,
    ROLES,
    SETTABLE_STATUSES,
    Incident,
    Status,
    cut_title,
    parse_ref,
    parse_severity,
)
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.inputs import inline as shown
from shipbell.bot.inputs import mentioned_user as user_id
from shipbell.bot.inputs import parse_id, user_text
from shipbell.handlers.common import (
    SlashCommand,
    absent_people,
    ephemeral,
    not_here,
    unknown_subcommand,
)
from shipbell.handlers.incident import messages
from shipbell.handlers.incident.ids import Task

COMMAND = "/incident"
IN_INCIDENT = ("status", "sev", "assign", "update", "note", "link", "followup", "resolve",
               "postmortem", "close")
KNOWN = ["open", "list", *IN_INCIDENT, "help"]
SEV_TOKEN = re.compile(r"^sev([0-9]+)$", re.IGNORECASE)
SEVERITIES = range(1, 5)  # SEV1 (worst) … SEV4, as `[incident.update_minutes]` configures them
INC_LIKE = re.compile(r"^INC-?[0-9]+$", re.IGNORECASE)  # a ref, though maybe out of range
SERVICE_SLUG = re.compile(r"^[a-z0-9][a-z0-9._-]{0,39}$")
DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
OPEN_USAGE = "`/incident open API errors on checkout sev2 --service api`"
ASSIGN_EXAMPLE = "/incident assign commander @ana"
FOLLOWUP_EXAMPLE = "/incident followup Add alert on queue depth @ana"


def known_services(core: Core) -> list[str]:
    """Services an incident may name: those with runbooks under `[incident.services]` and
    those `/deploy` ships (`[deploy.services]`)."""
    return sorted({*core.settings.incident.services, *core.settings.deploy.services})


def service_problem(core: Core, name: str, example: str) -> str | None:
    """Why ``name`` can't be an incident's service, in one sentence; None when it can.

    With services configured, only those; with none configured, any short slug (letters,
    digits, `.`, `_`, `-`), so nothing a person types can become a mention or a link.
    """
    known = known_services(core)
    if name in known:
        return None
    if known:
        return (f"`{shown(name)}` isn't a configured service; use one of"
                f" {', '.join(f'`{k}`' for k in known)}, e.g. {example}.")
    if SERVICE_SLUG.match(name):
        return None
    return (f"`{shown(name)}` isn't a service name; use lower-case letters, digits, `.`, `_`"
            f" or `-` (up to 40), e.g. {example}.")


def rest_of(text: str, skip: int) -> str:
    """The raw text after ``skip`` leading words, formatting and quotes untouched."""
    parts = text.strip().split(None, skip)
    return parts[skip].strip() if len(parts) > skip else ""


class Commands:
    def __init__(self, core: Core, svc: IncidentService) -> None:
        self.core = core
        self.svc = svc

    def submit(self, kind: str, payload: dict[str, Any], key: str | None = None) -> None:
        self.core.tasks.submit(kind, payload, key=key)

    async def answer(self, cmd: SlashCommand) -> dict[str, Any]:
        """``handle``, after asking Slack whether the people it would assign exist (help,
        which needs no database, at once)."""
        if not cmd.words or cmd.words[0].lower() == "help":
            return ephemeral(messages.HELP)
        named = self.assignees(cmd.words)
        if named and (gone := await absent_people(self.core, named)):
            example = FOLLOWUP_EXAMPLE if cmd.words[0].lower() == "followup" else ASSIGN_EXAMPLE
            return ephemeral(not_here(gone, example))
        # One run: a subcommand reads, decides and writes without another coroutine between.
        return await self.core.store.run(self.handle, cmd)

    def assignees(self, words: list[str]) -> list[str]:
        """The people `assign` or `followup` would give a role or a follow-up to."""
        sub = words[0].lower() if words else ""
        if sub not in ("assign", "followup"):
            return []
        args = words[2:] if len(words) > 1 and parse_ref(words[1]) is not None else words[1:]
        if sub == "followup" and args and args[0].lower() == "done":
            return []
        people = [u for u in (user_id(w) for w in args) if u]
        return people[-1:] if sub == "followup" else people[:1]

    def handle(self, cmd: SlashCommand) -> dict[str, Any]:
        """The answer to ``cmd`` (on the store's thread: it reads and writes the store)."""
        words = cmd.words
        sub = words[0].lower() if words else "help"
        if sub == "help":
            return ephemeral(messages.HELP)
        if sub == "list":
            return ephemeral(self.listing(cmd.channel))
        if sub == "open":
            return ephemeral(self.open(cmd, words[1:]))
        if sub not in IN_INCIDENT:
            return ephemeral(unknown_subcommand(COMMAND, words[0], KNOWN))
        skip = 1
        inc = self.svc.by_channel(cmd.channel)
        if len(words) > 1 and (ref := parse_ref(words[1])) is not None:
            inc, skip = self.svc.get(ref), 2
            if inc is None:
                return ephemeral(f"There is no INC-{ref}. " + self.listing(cmd.channel))
        elif len(words) > 1 and INC_LIKE.match(words[1]):
            return ephemeral(f"There is no {shown(words[1])}; name an incident like `INC-3`.\n"
                             + self.listing(cmd.channel))
        if inc is None:
            return ephemeral(
                f"`/incident {sub}` needs an incident: run it in the incident's channel or name"
                f" it, e.g. `/incident {sub} INC-3 …`.\n" + self.listing(cmd.channel))
        if inc.private and cmd.channel != inc.channel_id and \
                cmd.user not in (inc.reporter, inc.commander, inc.comms):
            return ephemeral(f"{inc.ref} is private: run `/incident {sub}` in its channel.")
        args = words[skip:]
        text = rest_of(cmd.text, skip)
        handler = getattr(self, f"do_{sub}")
        return ephemeral(handler(inc, cmd, args, text))

    # -- anywhere -----------------------------------------------------------------------------
    def listing(self, channel: str) -> str:
        incidents = self.svc.open_incidents()
        shown = [i for i in incidents if not i.private or i.channel_id == channel]
        return messages.incident_list(shown, len(incidents) - len(shown), self.core.clock.now())

    def open(self, cmd: SlashCommand, words: list[str]) -> str:
        severity, service, title = self.svc.settings.default_severity, None, []
        private = test = False
        i = 0
        while i < len(words):
            word = words[i]
            flag = word.lower() if word.startswith("--") else ""
            if (m := SEV_TOKEN.match(word)) is not None:
                wanted = parse_id(m.group(1))
                if wanted is None or wanted not in SEVERITIES:
                    return (f"`{shown(word)}` isn't a severity; use sev1 (worst) to sev4,"
                            f" e.g. {OPEN_USAGE}.")
                severity = wanted
            elif flag == "--private":
                private = True
            elif flag == "--test":
                test = True
            elif flag == "--service" or flag.startswith("--service="):
                value = word.partition("=")[2] or (words[i + 1] if i + 1 < len(words) else "")
                i += 0 if "=" in word else 1
                if not value or value.startswith("--"):
                    return f"`--service` needs a name, e.g. {OPEN_USAGE}."
                service = value.lower()
                if problem := service_problem(self.core, service, OPEN_USAGE):
                    return problem
            elif flag:
                return f"`{shown(word)}`? `/incident open` takes a severity word (`sev1`–`sev4`)," \
                    f" `--service <name>`, `--private` and `--test`, e.g. {OPEN_USAGE}."
            else:
                title.append(word)
            i += 1
        if not title:
            return f"Give the incident a title, e.g. {OPEN_USAGE}."
        whole = " ".join(title)
        short = cut_title(whole)
        twin = self.svc.recent_twin(cmd.user, short, f"cmd:{cmd.trigger_id}")
        if twin is not None:
            where = f"<#{twin.channel_id}>" if twin.channel_id else "its channel is on the way"
            return (f"You declared {twin.ref} with this title"
                    f" {humanize(self.core.clock.now() - twin.declared_at)} ago ({where});"
                    " nothing new was declared. Retitle it to declare another.")
        return self.declare(cmd, short, severity, service, None if short == whole else whole,
                            private,
                            key=f"cmd:{cmd.trigger_id}", response_url=cmd.response_url,
                            test=test)

    def declare(
        self, cmd: SlashCommand | None, title: str, severity: int, service: str | None,
        description: str | None, private: bool, *, key: str, response_url: str | None,
        user: str = "", channel: str = "", test: bool = False,
    ) -> str:
        with self.core.events.origin(response_url=response_url):  # set-up: a subscriber
            declared = self.svc.declare(
                title=title, severity=severity, service=service, description=description,
                private=private, test=test, reporter=cmd.user if cmd else user, key=key,
                origin_channel=cmd.channel if cmd else channel)
        inc = declared.incident
        kind = ("private " if private else "") + ("test " if test else "")
        return (f"Declared {kind}{inc.ref} (SEV{inc.severity}): {user_text(inc.title)}."
                " Creating its channel…")

    # -- inside an incident -------------------------------------------------------------------
    def _changed(self, inc: Incident, cmd: SlashCommand, broadcast: str | None = None,
                 kind: str = "Update") -> None:
        if broadcast is not None:
            self.submit(Task.BROADCAST, {"id": inc.id, "text": broadcast, "kind": kind,
                        "actor": cmd.user, "response_url": cmd.response_url})
        else:
            self.submit(Task.REFRESH, {"id": inc.id})

    def do_status(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if not args:
            return f"{messages.headline(inc)}. Commander {messages.who(inc.commander)}."
        if args[0].lower() not in SETTABLE_STATUSES:
            return (f"`{shown(args[0])}` isn't a status; use one of {', '.join(SETTABLE_STATUSES)},"
                    " e.g. `/incident status identified bad config in api`.")
        status, message = Status(args[0].lower()), rest_of(text, 1)
        if status == Status.RESOLVED:
            return self.do_resolve(inc, cmd, args[1:], message or "Resolved")
        if inc.status == Status.CLOSED:
            return (f"{inc.ref} is closed and its channel archived; if it is back, declare a new"
                    f" incident (`/incident open <title>`) and mention {inc.ref} in it.")
        with self.core.events.origin(response_url=cmd.response_url):  # broadcast: a subscriber
            changed = self.svc.change_status(inc, status, cmd.user, message or None)
        if inc.status == Status.RESOLVED:
            if not changed:
                return f"{inc.ref} changed meanwhile; run `/incident status` to see it."
            return (f"{inc.ref} is reopened and {status}; update reminders are back on."
                    " Resolve it again with `/incident resolve <summary>`.")
        if not changed:
            return f"{inc.ref} is already {status}."
        return f"{inc.ref} is now {status}."

    def do_sev(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        severity = parse_severity(args[0]) if args else None
        if severity is None:
            return "Severity goes from 1 (worst) to 4, e.g. `/incident sev 2`."
        with self.core.events.origin(response_url=cmd.response_url):  # broadcast: a subscriber
            if not self.svc.set_severity(inc, severity, cmd.user):
                return f"{inc.ref} is already SEV{severity}."
        return f"{inc.ref} is now SEV{severity}."

    def do_assign(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if len(args) > 1 and user_id(args[0]):  # `assign @ana commander` reads the same
            args = [args[1], args[0], *args[2:]]
        role = args[0].lower() if args else ""
        user = user_id(args[1]) if len(args) > 1 else None
        if role not in ROLES or user is None:
            return "Name a role and a person, e.g. `/incident assign commander @ana`" \
                   " (roles: commander, comms)."
        with self.core.events.origin(response_url=cmd.response_url):  # invite: a subscriber
            if not self.svc.assign(inc, role, user, cmd.user):
                return f"<@{user}> is already {role} of {inc.ref}."
        return f"<@{user}> is now {role} of {inc.ref}."

    def do_update(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if not text:
            return "Say what changed, e.g. `/incident update Error rate back under 1%`."
        self.svc.post_update(inc, text, cmd.user)
        self._changed(inc, cmd, user_text(text))
        return f"Update posted to {inc.ref}."

    def do_note(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if not text:
            return "Add the note's text, e.g. `/incident note restarted api-3 by hand`."
        self.svc.note(inc, text, cmd.user)
        return f"Noted in {inc.ref}'s timeline."

    def do_link(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if len(args) > 1 and args[0].lower() in RELATIONS:  # `link fixed 12` reads the same
            args = [args[1], args[0], *args[2:]]
        deploy = parse_id(args[0]) if args else None
        relation = args[1].lower() if len(args) > 1 else "caused"
        if deploy is None or relation not in RELATIONS:
            return "Give a deploy id and how it relates, e.g. `/incident link 1234 caused`" \
                   " (or `fixed`)."
        outcome = self.svc.link_deploy(inc, deploy, relation, cmd.user)
        if outcome == "missing":
            return f"There is no deploy #{deploy}; `/deploy status` shows recent ones."
        if outcome == "duplicate":
            return f"Deploy #{deploy} is already linked to {inc.ref} as {relation}."
        self._changed(inc, cmd)
        return f"Linked deploy #{deploy} to {inc.ref}: {relation}."

    def do_followup(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if args and args[0].lower() == "done":
            fid = parse_id(args[1]) if len(args) > 1 else None
            if fid is None:
                return "Say which follow-up is done by its number, e.g." \
                       " `/incident followup done 3`."
            if followups.done(self.svc, inc, fid, cmd.user):
                return f"Follow-up #{fid} is done."
            return f"{inc.ref} has no open follow-up #{fid}."
        mentions = [n for n, w in enumerate(args) if user_id(w)]
        owner = user_id(args[mentions[-1]]) if mentions else None  # the last one owns it
        due, words, i = None, [], 0
        while i < len(args):
            tail = range(i + 2, len(args))
            if args[i].lower() == "due" and i + 1 < len(args) and (
                    DATE.match(args[i + 1]) or all(k in mentions for k in tail)):
                if not DATE.match(args[i + 1]):
                    return f"`due {shown(args[i + 1])}`? Give the date as YYYY-MM-DD, e.g." \
                           " `/incident followup Add alert @ana due 2026-12-01`."
                try:
                    due = date.fromisoformat(args[i + 1]).isoformat()
                except ValueError:
                    return f"`{shown(args[i + 1])}` isn't a real date; use YYYY-MM-DD."
                i += 2
                continue
            if not (mentions and i == mentions[-1]):
                words.append(args[i])
            i += 1
        if not words or owner is None:
            return "Give the follow-up, an owner and optionally a date, e.g." \
                   " `/incident followup Add alert on queue depth @ana due 2026-12-01`."
        fid = followups.add(self.svc, inc, " ".join(words), owner, due, cmd.user)
        return f"Follow-up #{fid} recorded for <@{owner}>" + (f", due {due}." if due else ".")

    def do_resolve(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if not text:
            return "Say what fixed it, e.g. `/incident resolve rolled back api to v41`."
        # The broadcast and the post-mortem draft are subscribers of Event.RESOLVED.
        with self.core.events.origin(response_url=cmd.response_url):
            if not self.svc.resolve(inc, text, cmd.user):
                return f"{inc.ref} is already {inc.status}."
        done = self.svc.get(inc.id) or inc
        took = ""
        if done.resolved_at and done.mitigated_at:
            took = (f"Mitigated after {humanize(done.mitigated_at - done.declared_at)},"
                    f" resolved after {humanize(done.resolved_at - done.declared_at)}.")
        return f"{inc.ref} resolved. {took} Drafting the post-mortem…".replace("  ", " ")

    def do_postmortem(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        self.submit(Task.POSTMORTEM, {"id": inc.id, "response_url": cmd.response_url})
        return f"Drafting {inc.ref}'s post-mortem from its timeline…"

    def do_close(self, inc: Incident, cmd: SlashCommand, args: list[str], text: str) -> str:
        if inc.status == Status.CLOSED:
            return f"{inc.ref} is already closed."
        if not self.svc.close(inc, cmd.user):
            return f"{inc.ref} is still {inc.status}; resolve it first with" \
                   " `/incident resolve <summary>`."
        self.submit(Task.ARCHIVE, {"id": inc.id, "response_url": cmd.response_url},
                    key=f"{Task.ARCHIVE}:{inc.id}")
        return f"{inc.ref} closed; archiving its channel. The timeline stays in Shipbell."
