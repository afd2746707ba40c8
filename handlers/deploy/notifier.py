"""The Slack side of deploy notifications: one message per deploy, events in its thread.

Every event about a deploy (``bot.deploys.models.DEPLOY_EVENTS``) is subscribed to a refresh
(``handlers/deploy/subscribers.py``): a task written in the transaction of the change, which
re-renders the message from SQLite, so whatever order the tasks run in, the last one shows
the latest state. Updates are coalesced, so a deploy costs few Slack calls (about six on the
happy path: post, thread, and an update plus a thread reply for running and for the outcome):

- one pending refresh per deploy (``claim``): a change while a refresh is waiting to start
  (it waits ``COALESCE_SECONDS``) adds nothing, as that refresh reads the state when it
  starts; a change during a render queues one more refresh, which waits for the render to
  end; a transaction that rolls back lets go of the refresh it claimed;
- renders of one deploy never overlap, in any of the replicas sharing the database: each
  runs inside the deploy's named lease (``TaskRunner.exclusive``), so callbacks that reach
  different processes post each note once, and the last render reads the latest state;
- a `chat.update` identical to what this process last showed is skipped;
- thread replies wait while the job is being sent (triggered, no provider reference, no
  provider note yet): the run task's next change ("job sent", a retry, a failure) brings
  them in one reply.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

from shipbell.bot import logs
from shipbell.bot.core import Core
from shipbell.bot.deploys.models import Deploy, State
from shipbell.bot.deploys.repo import DeployRepo
from shipbell.bot.events import Data
from shipbell.bot.slack import gateway, tagged
from shipbell.handlers.deploy import messages

MESSAGE_EVENT = "shipbell_deploy"  # metadata event_type of each deploy's one message
NOTE = "note"  # deploy_events.state of a provider's or Shipbell's remark
# A refresh waits this long before it reads the deploy: changes meanwhile join it, and the
# ack of the request that asked for it goes out first (asyncio runs ready work first come
# first served; a task a listener starts would otherwise run before anyone sharing the loop
# reads the ack, and before requests that arrived meanwhile are handled).
COALESCE_SECONDS = 0.001


def message_lease(deploy_id: int) -> str:
    """The named lease a render of this deploy's message and thread holds."""
    return f"deploy:{deploy_id}:message"


class SlackNotifier:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.repo = DeployRepo(core.store)
        self.pending: set[int] = set()  # deploys with a refresh submitted but not started
        self.shown: dict[int, str] = {}  # digest of the body this process last showed

    # -- the subscriber's condition -----------------------------------------------------------
    def claim(self, data: Data) -> bool:
        """Whether this change needs a refresh of its own: not while one waits to start (it
        will render this change too). The claim holds from here; a rollback releases it."""
        deploy_id = int(data["id"])
        if deploy_id in self.pending:
            return False
        self.pending.add(deploy_id)
        self.core.store.after_rollback(lambda: self.pending.discard(deploy_id))
        return True

    # -- the task ----------------------------------------------------------------------------
    async def render(self, payload: dict[str, Any]) -> None:
        deploy_id = int(payload["deploy_id"])
        await asyncio.sleep(COALESCE_SECONDS)
        turn = message_lease(deploy_id)
        async with self.core.tasks.exclusive(turn):
            self.pending.discard(deploy_id)  # from here on, a change needs another refresh
            final = await self._render(deploy_id)
        if final and deploy_id not in self.pending and not self.core.tasks.contended(turn):
            self.shown.pop(deploy_id, None)  # keep long-running processes small

    async def _render(self, deploy_id: int) -> bool:
        """Post or update the message and its thread; True once the deploy is final."""
        d, approvals, changes = self.repo.shown(deploy_id)
        if d is None or not d.channel:
            return True
        body = messages.mentions(messages.deploy_message(
            d, approvals, changes, self.core.clock.now()))
        home = await self._home(d, body)
        if home is None:
            return d.state.final  # nowhere to post, not even a DM: logged by the gateway
        channel, ts = home
        events = self.repo.unposted_events(d.id)
        if (d.state == State.TRIGGERED and d.provider_ref is None
                and all(e["state"] != NOTE for e in events)):
            return False  # the job is being sent: its outcome brings the thread up to date
        lines = [messages.event_text(e) for e in events if messages.worth_posting(e, d.state)]
        if lines:
            # One reply for everything new (Slack allows ~1 post/s per channel). Post, then
            # mark: a failed post is retried with the task; renders of a deploy never overlap.
            await gateway.call(self.core, "chat.postMessage", {
                "channel": channel, "thread_ts": ts, "text": messages.clip("\n".join(lines), 3900),
                "unfurl_links": False,
            })
        self.repo.mark_posted([event["id"] for event in events])
        return d.state.final

    async def _home(self, d: Deploy, body: dict[str, Any]) -> tuple[str, str] | None:
        """Where the deploy's message lives: updated in place, else posted afresh.

        A message deleted by someone is posted again in its channel; a channel that was
        archived, or that Shipbell can't post in (a private channel it isn't in, a DM between
        people), sends the message to the requester's DM instead, saying why in its thread.

        One deploy, one message: the message carries the deploy's id as metadata, and the
        channel it is about to be posted in is stored first (``message_channel`` without a
        ts). A render that finds such an intent (the last one stopped between posting and
        storing the ts) adopts the message already in that channel instead of posting again.
        """
        body = {**body, **tagged.tag(MESSAGE_EVENT, deploy_id=d.id)}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if d.message_ts is not None:
            channel = d.message_channel or d.channel or ""
            if self.shown.get(d.id) == digest:
                return channel, d.message_ts  # Slack already shows exactly this
            updated = await gateway.update(self.core, channel, d.message_ts, **body)
            if updated.ok:
                self.shown[d.id] = digest
                return channel, d.message_ts
        for target in (d.channel or "", d.requester):
            if d.message_ts is None and d.message_channel == target:
                adopted = await self._adopt(d, target, body)
                if adopted is not None:
                    return adopted
            self.repo.update(d.id, message_channel=target, message_ts=None)  # the intent
            sent = await gateway.call(self.core, "chat.postMessage",
                                      {"channel": target, **body, "unfurl_links": False})
            if not sent.ok:
                continue
            channel, ts = str(sent.data["channel"]), str(sent.data["ts"])
            # Lost in a database crash, the intent stays and the next render adopts the
            # message, as after a render that stopped right here: no flush awaited.
            self.repo.update(d.id, message_channel=channel, message_ts=ts, flush=False)
            self.shown[d.id] = digest
            if target == d.requester and target != d.channel:
                logs.logger.warning(logs.DEPLOY_REHOMED, d.id, d.channel)
                self.repo.event(d.id, NOTE, None, self.core.clock.now(),
                                messages.rehomed(d.channel or ""))
            return channel, ts
        return None

    async def _adopt(self, d: Deploy, channel: str, body: dict[str, Any]) -> tuple[str, str] | None:
        """The message an interrupted render posted in ``channel``, brought up to date."""
        ts = await tagged.find(self.core, channel, MESSAGE_EVENT, d.requested_at, deploy_id=d.id)
        if ts is None:
            return None
        logs.logger.warning(logs.MESSAGE_ADOPTED, f"deploy #{d.id}", channel, ts)
        self.repo.update(d.id, message_channel=channel, message_ts=ts)
        updated = await gateway.update(self.core, channel, ts, **body)
        return (channel, ts) if updated.ok else None
