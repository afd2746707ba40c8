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
from dataclasses import dataclass, field
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


@dataclass(frozen=True)
class News:
    """What the deploy's thread hasn't heard yet: the events (marked told once the reply is
    out; at once when none is worth a reply) and the reply's lines."""

    ids: list[int]
    lines: list[str]


@dataclass(frozen=True)
class Opening:
    """A render's first turn on the store's thread: the deploy, its message (tagged) and the
    message's digest; when Slack already shows exactly that message, the thread's news too
    (``current``; ``news`` None while the job is being sent)."""

    deploy: Deploy | None
    body: dict[str, Any] = field(default_factory=dict)
    digest: str = ""
    current: bool = False
    news: News | None = None


class SlackNotifier:
    """Renders deploy messages.  Two pieces of memory, each with one owner:

    - ``pending`` belongs to the store's thread: it is claimed inside the transaction that
      publishes a change (``claim``, from the event bus), let go by that transaction's
      rollback hook and by a render's first turn (``_open``), and read in a turn after a
      render (``_refreshing``), so it changes in step with the rows it stands for;
    - ``shown`` belongs to the loop: only the render coroutine reads and writes it, and hands
      a turn on the store's thread the one digest it needs as a value.
    """

    def __init__(self, core: Core) -> None:
        self.core = core
        self.repo = DeployRepo(core.store)
        self.pending: set[int] = set()  # deploys with a refresh submitted but not started
        self.shown: dict[int, str] = {}  # digest of the body this process last showed

    # -- the subscriber's condition -----------------------------------------------------------
    def claim(self, data: Data) -> bool:
        """Whether this change needs a refresh of its own: not while one waits to start (it
        will render this change too). The claim holds from here; a rollback releases it.
        (On the store's thread, in the transaction of the change.)"""
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
            final = await self._render(deploy_id)
        if (final and not await self.core.store.run(self._refreshing, deploy_id)
                and not self.core.tasks.contended(turn)):
            self.shown.pop(deploy_id, None)  # keep long-running processes small

    def _refreshing(self, deploy_id: int) -> bool:
        """(On the store's thread.)  Whether a change claimed another refresh meanwhile."""
        return deploy_id in self.pending

    async def _render(self, deploy_id: int) -> bool:
        """Post or update the message and its thread; True once the deploy is final."""
        opening = await self.core.store.run(self._open, deploy_id, self.shown.get(deploy_id))
        d = opening.deploy
        if d is None or not d.channel:
            return True
        if opening.current and d.message_ts is not None:  # Slack already shows exactly this
            channel, ts, news = d.message_channel or d.channel, d.message_ts, opening.news
        else:
            home = await self._home(d, opening.body, opening.digest)
            if home is None:
                return d.state.final  # nowhere to post, not even a DM: logged by the gateway
            channel, ts, news = home
        if news is None:
            return False  # the job is being sent: its outcome brings the thread up to date
        if news.lines:
            # One reply for everything new (Slack allows ~1 post/s per channel). Post, then
            # mark: a failed post is retried with the task; renders of a deploy never overlap.
            await gateway.call(self.core, "chat.postMessage", {
                "channel": channel, "thread_ts": ts,
                "text": messages.clip("\n".join(news.lines), 3900), "unfurl_links": False,
            })
            await self.core.store.run(self.repo.mark_posted, news.ids)
        return d.state.final

    def _open(self, deploy_id: int, showing: str | None) -> Opening:
        """(On the store's thread.)  A render's first turn: let go of the pending refresh
        (from here on, a change needs another one), read the deploy and build its message;
        when ``showing`` (the digest this process last showed) says Slack already shows
        exactly that, read the thread's news in the same turn."""
        self.pending.discard(deploy_id)
        d, approvals, changes = self.repo.shown(deploy_id)
        if d is None or not d.channel:
            return Opening(d)
        body = {**messages.mentions(messages.deploy_message(
                    d, approvals, changes, self.core.clock.now())),
                **tagged.tag(MESSAGE_EVENT, deploy_id=d.id)}
        digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        if d.message_ts is not None and showing == digest:
            return Opening(d, body, digest, current=True, news=self._news(d))
        return Opening(d, body, digest)

    def _news(self, d: Deploy) -> News | None:
        """(On the store's thread.)  The events the thread hasn't heard and the lines worth
        a reply; None while the job is being sent (triggered, no provider reference, no
        provider note yet). With no line worth a reply, the events are marked told here."""
        events = self.repo.unposted_events(d.id)
        if (d.state == State.TRIGGERED and d.provider_ref is None
                and all(e["state"] != NOTE for e in events)):
            return None
        ids = [event["id"] for event in events]
        lines = [messages.event_text(e) for e in events if messages.worth_posting(e, d.state)]
        if not lines:
            self.repo.mark_posted(ids)
        return News(ids, lines)

    async def _home(self, d: Deploy, body: dict[str, Any], digest: str
                    ) -> tuple[str, str, News | None] | None:
        """Where the deploy's message lives, updated in place, else posted afresh; and the
        thread's news, read once it is there (``_news``).

        A message deleted by someone is posted again in its channel; a channel that was
        archived, or that Shipbell can't post in (a private channel it isn't in, a DM between
        people), sends the message to the requester's DM instead, saying why in its thread.

        One deploy, one message: the message carries the deploy's id as metadata, and the
        channel it is about to be posted in is stored first (``message_channel`` without a
        ts). A render that finds such an intent (the last one stopped between posting and
        storing the ts) adopts the message already in that channel instead of posting again.
        """
        store = self.core.store
        if d.message_ts is not None:
            channel = d.message_channel or d.channel or ""
            updated = await gateway.update(self.core, channel, d.message_ts, **body)
            if updated.ok:
                self.shown[d.id] = digest
                return channel, d.message_ts, await store.run(self._news, d)
        for target in (d.channel or "", d.requester):
            if d.message_ts is None and d.message_channel == target:
                adopted = await self._adopt(d, target, body)
                if adopted is not None:
                    return adopted
            await store.run(self._intent, d.id, target)
            sent = await gateway.call(self.core, "chat.postMessage",
                                      {"channel": target, **body, "unfurl_links": False})
            if not sent.ok:
                continue
            channel, ts = str(sent.data["channel"]), str(sent.data["ts"])
            rehomed = target == d.requester and target != d.channel
            if rehomed:
                logs.logger.warning(logs.DEPLOY_REHOMED, d.id, d.channel)
            news = await store.run(self._posted, d, channel, ts, rehomed)
            self.shown[d.id] = digest
            return channel, ts, news
        return None

    def _intent(self, deploy_id: int, target: str) -> None:
        """(On the store's thread.)  The channel the message is about to be posted in."""
        self.repo.update(deploy_id, message_channel=target, message_ts=None)

    def _posted(self, d: Deploy, channel: str, ts: str, rehomed: bool) -> News | None:
        """(On the store's thread.)  Where the message now is (and, ``rehomed`` to the
        requester's DM, why, in its thread); then the thread's news."""
        # Lost in a database crash, the intent stays and the next render adopts the
        # message, as after a render that stopped right here: no flush awaited.
        self.repo.update(d.id, message_channel=channel, message_ts=ts, flush=False)
        if rehomed:
            self.repo.event(d.id, NOTE, None, self.core.clock.now(),
                            messages.rehomed(d.channel or ""))
        return self._news(d)

    async def _adopt(self, d: Deploy, channel: str, body: dict[str, Any]
                     ) -> tuple[str, str, News | None] | None:
        """The message an interrupted render posted in ``channel``, brought up to date."""
        ts = await tagged.find(self.core, channel, MESSAGE_EVENT, d.requested_at, deploy_id=d.id)
        if ts is None:
            return None
        logs.logger.warning(logs.MESSAGE_ADOPTED, f"deploy #{d.id}", channel, ts)
        await self.core.store.run(self.repo.update, d.id, message_channel=channel,
                                  message_ts=ts)
        updated = await gateway.update(self.core, channel, ts, **body)
        if not updated.ok:
            return None
        return channel, ts, await self.core.store.run(self._news, d)
