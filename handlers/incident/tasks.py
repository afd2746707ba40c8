"""Background steps of an incident (persisted tasks): each one re-reads the store and is
idempotent.  What a step reads and writes runs on the store's thread (``store.run``), one run
per stretch between two Slack calls, so the event loop only ever waits on Slack."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shipbell.bot import logs
from shipbell.bot.clock import to_db
from shipbell.bot.core import Core
from shipbell.bot.incidents import followups, queries, reminders, timeline
from shipbell.bot.incidents.models import Incident
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.slack import gateway, tagged
from shipbell.handlers.common import mentions
from shipbell.handlers.incident import messages, naming, postmortem
from shipbell.handlers.incident.channels import create_channel, members_of, names_of
from shipbell.handlers.incident.ids import Task
from shipbell.handlers.incident.rollbacks import NO_DEPLOYS, Deploys

Payload = dict[str, Any]
Rows = list[dict[str, Any]]


class Posted(StrEnum):
    """Messages kept up to date, tagged with this metadata event_type and the incident id."""

    STATUS = "shipbell_incident_status"
    ANNOUNCEMENT = "shipbell_incident_announcement"


def _shown(inc: Incident) -> tuple[Any, ...]:
    """What the topic, pinned status and announcement display."""
    return (inc.severity, inc.status, inc.commander, inc.comms, inc.last_update_at, inc.summary)


class IncidentTasks:
    def __init__(self, core: Core, svc: IncidentService, deploys: Deploys) -> None:
        self.core = core
        self.svc = svc
        self.deploys = deploys  # the deploy feature's rollbacks, if this Shipbell has it
        self.settings = svc.settings

    def register(self) -> None:
        for kind, handler in (
            (Task.SETUP, self.setup), (Task.REFRESH, self.refresh),
            (Task.BROADCAST, self.broadcast), (Task.INVITE, self.invite),
            (Task.POSTMORTEM, self.postmortem),
            (Task.ARCHIVE, self.archive), (Task.ROLLBACK, self.rollback),
            (Task.REMIND, self.remind), (Task.FOLLOWUP_REMIND, self.followup_remind),
        ):
            self.core.tasks.register(kind, handler)

    def _get(self, payload: Payload) -> Incident:
        """(On the store's thread.)  The payload's incident, which must still exist."""
        inc = self.svc.get(int(payload["id"]))
        if inc is None:
            raise LookupError(f"INC-{payload['id']} vanished")
        return inc

    async def _incident(self, payload: Payload) -> Incident:
        """``_get``, read on the store's thread."""
        return await self.core.store.run(self._get, payload)

    def _set_channel(self, payload: Payload, channel_id: str, name: str) -> Incident:
        """(On the store's thread.)  Store the created channel; the incident as it is now."""
        self.svc.set_channel(int(payload["id"]), channel_id, name)
        return self._get(payload)

    def _owned(self, channel_id: str) -> bool:
        """(On the store's thread.)  Whether an incident has ``channel_id`` as its channel."""
        return self.svc.by_channel(channel_id) is not None

    # -- declaring ----------------------------------------------------------------------------
    async def setup(self, payload: Payload) -> None:
        """Channel, people, topic, bookmarks, pinned status, announcement, suspects."""
        inc, url = await self._incident(payload), payload.get("response_url")
        if inc.channel_id is None:
            name = naming.channel_name(
                self.settings.channel_template, incident_id=inc.id, title=inc.title,
                severity=inc.severity, service=inc.service, declared=inc.declared_at)
            incident_id, run = inc.id, self.core.store.run
            cid, final, error = await create_channel(
                self.core, name, private=inc.private, previous=inc.channel_name,
                record=lambda n: run(self.svc.intend_channel, incident_id, n),
                owned=lambda c: run(self._owned, c))
            if cid is None:
                await self._tell(inc, url, f"{inc.ref} is recorded, but Slack would not create"
                                 f" its channel ({error}). Check Shipbell's channels:manage"
                                 " scope and run `/incident list` to see it.")
                return
            inc = await self.core.store.run(self._set_channel, payload, cid, final)
        assert inc.channel_id is not None
        # Responders are pulled in whatever the visibility: a private incident is hidden from
        # the workspace, not from the people on call (the channel itself is private).
        people = [inc.reporter, inc.commander or "", inc.comms or "", *self.settings.responders]
        failed = (await gateway.invite(self.core, inc.channel_id,
                                       await members_of(self.core, people))).failed
        await self._topic(inc)
        await self._bookmarks(inc)
        if inc.status_message_ts is None:
            await self._post_status(inc)
        announced = unannounced = None
        if inc.announcement_channel and inc.announcement_ts is None and not inc.private:
            text, blocks = messages.announcement(inc)
            announced, unannounced = await self._post_once(inc, inc.announcement_channel,
                                                           Posted.ANNOUNCEMENT, text, blocks)
        suspects = await self.core.store.run(self._announced, inc, announced)
        if suspects and inc.channel_id:
            text, blocks = messages.suspects(inc, suspects)
            await gateway.post(self.core, inc.channel_id, text, blocks=blocks)
        note = f"{inc.ref} declared: <#{inc.channel_id}>. You lead it until you hand over with" \
               " `/incident assign commander @someone`."
        if failed:
            note += " Could not invite " + "; ".join(
                f"<@{u}>: {messages.reason(e)}" for u, e in failed.items()) + "."
        if unannounced:
            note += f" It could not be announced in <#{inc.announcement_channel}>:" \
                    f" {messages.reason(unannounced)}; check `announcements_channel`."
        await self._tell(inc, url, note)
        if _shown(await self._incident(payload)) != _shown(inc):  # changed meanwhile
            await self.refresh(payload)

    async def _post_status(self, inc: Incident) -> None:
        """Post and pin the status message, remembered once so a retry doesn't post another."""
        assert inc.channel_id is not None
        last = await self.core.store.run(self.last_update, inc.id)
        text, blocks = messages.status_message(inc, last)
        ts, _ = await self._post_once(inc, inc.channel_id, Posted.STATUS, text, blocks)
        if ts is not None and await self.core.store.run(
                self.svc.swap_message, inc.id, "status_message_ts", None, ts):
            await gateway.pin(self.core, inc.channel_id, ts)

    async def _post_once(self, inc: Incident, channel: str, kind: Posted, text: str,
                         blocks: list[dict[str, Any]]) -> tuple[str | None, str | None]:
        """(ts, error) of the incident's ``kind`` message in ``channel``, posted at most once.

        The message carries the incident's id as metadata, and each attempt is recorded
        before it posts: an attempt that finds an earlier one recorded (it may have posted,
        then stopped before its ts was stored) looks for that message first and adopts it."""
        if not await self.core.store.run(self.core.claim_key,
                                         f"incident:{inc.id}:{kind.value}:posting"):
            ts = await tagged.find(self.core, channel, kind.value, inc.declared_at,
                                   incident_id=inc.id)
            if ts is not None:
                logs.logger.warning(logs.MESSAGE_ADOPTED, inc.ref, channel, ts)
                await gateway.update(self.core, channel, ts, text=text, blocks=blocks)
                return ts, None
        posted = await gateway.post(self.core, channel, text, blocks=blocks,
                                    **tagged.tag(kind.value, incident_id=inc.id))
        return (None, posted.failed) if posted.failed else (posted.ts, None)

    async def _tell(self, inc: Incident, url: str | None, text: str) -> None:
        """The reporter hears back where they declared, else (the form was submitted from a
        channel Shipbell isn't in, or a DM) in a direct message."""
        await gateway.tell(self.core, inc.reporter, text, response_url=url,
                           channel=inc.origin_channel)

    async def _bookmarks(self, inc: Incident) -> None:
        links = self.settings.services.get(inc.service or "")
        if links is None or inc.channel_id is None:
            return
        listed = await gateway.call(self.core, "bookmarks.list", {"channel_id": inc.channel_id})
        if listed.failed:
            return
        have = {b.get("link") for b in listed.data.get("bookmarks", [])}
        for title, link in (("Runbook", links.runbook), ("Dashboard", links.dashboard)):
            if link and link not in have:
                await gateway.bookmark(self.core, inc.channel_id,
                                       f"{inc.service} {title.lower()}", link)

    def _announced(self, inc: Incident, ts: str | None) -> Rows:
        """(On the store's thread.)  Remember the announcement just posted (``ts``, if one
        was), then the deploys that may have caused the incident: the first time they are
        asked for (claimed under a key, so a retried set-up posts them once); else none."""
        if ts is not None:
            self.svc.swap_message(inc.id, "announcement_ts", None, ts)
        if not inc.service or not self.core.claim_key(f"incident:{inc.id}:suspects"):
            return []
        envs = queries.production_environments(
            self.core.settings.deploy, inc.service or "",
            self.settings.production_environments or ["production"])
        since = inc.declared_at - timedelta(hours=self.settings.suspect_deploy_hours)
        return queries.suspect_deploys(self.core.store, inc.service or "", envs,
                                       to_db(since), self.settings.suspect_deploy_limit)

    # -- running ------------------------------------------------------------------------------
    async def refresh(self, payload: Payload) -> None:
        """Topic, pinned status and announcement always show the state the store holds now.

        Refreshes of one incident take turns on its named lease (across every replica) and
        read the incident once it is their turn, so the last one shows the latest state."""
        await self._topic(await self._incident(payload))
        async with self.core.tasks.exclusive(f"incident:{payload['id']}:status"):
            await self._refresh_messages(await self._incident(payload))

    async def _refresh_messages(self, inc: Incident) -> None:
        if inc.channel_id and inc.status_message_ts:
            last = await self.core.store.run(self.last_update, inc.id)
            text, blocks = messages.status_message(inc, last)
            error = (await gateway.update(self.core, inc.channel_id, inc.status_message_ts,
                                          text=text, blocks=blocks)).failed
            if error == "message_not_found" and await self.core.store.run(
                    self.svc.swap_message, inc.id, "status_message_ts", inc.status_message_ts,
                    None):
                await self._post_status(inc)  # someone deleted it: the channel gets it back
        if inc.announcement_channel and inc.announcement_ts and not inc.private:
            text, blocks = messages.announcement(inc)
            await gateway.update(self.core, inc.announcement_channel, inc.announcement_ts,
                                 text=text, blocks=blocks)

    async def _topic(self, inc: Incident) -> None:
        """Set the topic only when it changes: each change shows a notice in the channel.

        Refreshes of one incident take turns here (on a named lease, in whichever replica
        they run) and re-read the stored topic once it is their turn, so two quick changes
        whose refreshes race set the new topic once, not once per refresh; the store then
        records it only over the topic it replaced."""
        async with self.core.tasks.exclusive(f"incident:{inc.id}:topic"):
            fresh = await self.core.store.run(self.svc.get, inc.id) or inc
            topic = messages.topic(fresh)
            if (fresh.channel_id and topic != fresh.topic
                    and (await gateway.set_topic(self.core, fresh.channel_id, topic)).ok):
                await self.core.store.run(self.svc.set_topic, inc.id, topic,
                                          replacing=fresh.topic)

    def last_update(self, incident_id: int) -> str | None:
        """(On the store's thread.)  The text of the incident's latest status update."""
        row = self.core.store.one("SELECT text FROM incident_updates WHERE incident_id = ?"
                                  " ORDER BY id DESC LIMIT 1", (incident_id,))
        return row["text"] if row else None

    async def broadcast(self, payload: Payload) -> None:
        """A status update: in the channel, and in the announcement's thread unless private."""
        inc, url = await self._incident(payload), payload.get("response_url")
        text, blocks = messages.update_post(inc, payload["text"], payload["actor"],
                                            payload.get("kind", "Update"))
        error: str | None = "no channel yet"
        if inc.channel_id:
            error = (await gateway.post(self.core, inc.channel_id, text, blocks=blocks)).failed
        if inc.announcement_channel and inc.announcement_ts and not inc.private:
            text, blocks = messages.update_post(inc, messages.quiet(payload["text"]),
                                                payload["actor"], payload.get("kind", "Update"))
            await gateway.post(self.core, inc.announcement_channel, text,
                               thread_ts=inc.announcement_ts, blocks=blocks)
        if error:
            await gateway.reply(self.core, url,
                                f"Recorded in {inc.ref}'s timeline, but its channel could not"
                                f" take the post: {messages.reason(error)}; nothing is lost.")
        await self.refresh(payload)

    async def invite(self, payload: Payload) -> None:
        inc, url = await self._incident(payload), payload.get("response_url")
        if not inc.channel_id:
            await gateway.reply(self.core, url,
                                f"{inc.ref}'s channel is still being created; try in a moment.")
            return
        invited = await gateway.invite(self.core, inc.channel_id, payload["users"])
        failed = invited.failed
        if failed:
            reasons = "; ".join(f"<@{u}>: {messages.reason(e)}" for u, e in failed.items())
            role = payload.get("role")
            after = (f" They stay {role} of {inc.ref} in its record; hand over with"
                     f" `/incident assign {role} @someone`." if role else "")
            await gateway.reply(self.core, url,
                                f"Could not add to <#{inc.channel_id}>: {reasons}.{after}")
        elif payload.get("confirm") and (invited.invited or not failed):
            await gateway.reply(self.core, url, f"You're in <#{inc.channel_id}>.")

    # -- ending -------------------------------------------------------------------------------
    async def postmortem(self, payload: Payload) -> None:
        url = payload.get("response_url")
        inc, entries, todo, deploys = await self.core.store.run(self._draft_sources, payload)
        now = self.core.clock.now()
        names = await names_of(self.core, postmortem.people(inc, entries, todo))
        markdown = await self.core.store.run(
            self._save_draft, inc, entries, todo, deploys, now=now, names=names,
            template=postmortem.load_template(self.settings.postmortem_template))
        where = ""
        if self.settings.postmortem_dir:
            try:
                path = postmortem.write(self.settings.postmortem_dir, inc, markdown)
                where = f" and written to `{path}`"
            except OSError as exc:  # the draft is in SQLite and still uploaded
                where = f" (not written to `{self.settings.postmortem_dir}`: {exc.strerror})"
        if inc.channel_id is None:
            await gateway.reply(self.core, url, f"{inc.ref}'s post-mortem draft is saved{where};"
                                " it has no channel to upload it to.")
            return
        uploaded = await gateway.upload(
            self.core, inc.channel_id, content=markdown, filename=postmortem.filename(inc),
            title=f"{inc.ref} post-mortem draft",
            initial_comment=f":memo: Post-mortem draft for {inc.ref}{where}.")
        if uploaded.failed:
            error = uploaded.failed
            await gateway.reply(self.core, url,
                                f"{inc.ref}'s post-mortem draft is saved{where}, but its"
                                f" channel could not take the file: {messages.reason(error)}.")

    def _draft_sources(self, payload: Payload) -> tuple[Incident, Rows, Rows, Rows]:
        """(On the store's thread.)  The incident and what its draft is made of: its timeline,
        its follow-ups and its linked deploys."""
        inc = self._get(payload)
        return (inc, timeline.entries(self.core.store, inc.id), followups.of(self.svc, inc.id),
                queries.linked_deploys(self.core.store, inc.id))

    def _save_draft(self, inc: Incident, entries: Rows, todo: Rows, deploys: Rows, *,
                    now: datetime, names: dict[str, str], template: str | None) -> str:
        """(On the store's thread.)  Render the draft with the timeliness of the incident's
        updates as they are now, and save it; its markdown."""
        updates = self.core.store.all("SELECT on_time FROM incident_updates"
                                      " WHERE incident_id = ?", (inc.id,))
        markdown = postmortem.render(inc, entries, todo, deploys, now=now, names=names,
                                     updates=updates, template=template)
        self.svc.save_postmortem(inc.id, markdown)
        return markdown

    async def archive(self, payload: Payload) -> None:
        inc, url = await self._incident(payload), payload.get("response_url")
        if inc.channel_id:
            await self.refresh(payload)
            error = (await gateway.call(self.core, "conversations.archive",
                                        {"channel": inc.channel_id})).failed
            if error:
                await gateway.reply(self.core, url,
                                    f"{inc.ref} is closed, but Slack would not archive"
                                    f" <#{inc.channel_id}> ({error}); archive it by hand.")

    async def rollback(self, payload: Payload) -> None:
        url = payload.get("response_url")
        deploys = self.deploys()
        if deploys is None:
            await gateway.reply(self.core, url, NO_DEPLOYS)
            return
        reply = await deploys.request_rollback(
            payload["service"], payload["env"], user=payload["user"],
            channel=payload["channel"], incident_id=int(payload["id"]))
        await gateway.reply(self.core, url, mentions(str(reply)))

    async def remind(self, payload: Payload) -> None:
        inc = await self._incident(payload)
        if not inc.channel_id:
            return
        posted = await gateway.post(self.core, inc.channel_id, payload["text"],
                                    blocks=payload["blocks"])
        if posted.gone:
            await self.core.store.run(reminders.stop, self.svc, inc.id)

    async def followup_remind(self, payload: Payload) -> None:
        text = payload["text"]
        args = {"channel": payload["owner"], "text": text}
        if payload.get("blocks"):
            args["blocks"] = payload["blocks"]
        error = (await gateway.call(self.core, "chat.postMessage", args)).failed
        inc = await self.core.store.run(self.svc.get, int(payload["id"]))
        if error and inc and inc.commander and inc.commander != payload["owner"]:
            await gateway.post(self.core, inc.commander,
                               f"{text} (its owner <@{payload['owner']}> could not be reached:"
                               f" {error})")
