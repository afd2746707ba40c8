"""The deploy domain keeps people as ids; the handlers render mentions when they show text.

What a deploy stores (its events' notes, its error) names people by id; Slack sees mentions.
Rows stored by an older Shipbell hold mentions already and are shown exactly as stored.
"""

from __future__ import annotations

from datetime import UTC, datetime

from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.incidents.models import Incident
from shipbell.bot.local import LocalShipbell
from shipbell.bot.people import person
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, DEPLOYS, EVE
from shipbell.handlers.common import mentions
from shipbell.handlers.deploy import messages
from shipbell.handlers.deploy.ids import Action
from shipbell.handlers.incident import postmortem

pytest_plugins = ("fakes.fixtures",)


def stored_texts(bell: LocalShipbell) -> list[str]:
    notes = [r["note"] or "" for r in bell.core.store.all("SELECT note FROM deploy_events")]
    errors = [r["error"] or "" for r in bell.core.store.all("SELECT error FROM deploys")]
    return notes + errors


async def test_stored_notes_keep_ids_and_slack_sees_mentions(make_bell: MakeBell,
                                                             ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=2, approvers=[BOB, CARL]))
    await bell.command("/deploy", "api@v2 to production")
    await bell.idle()
    message = next(m for m in bell.double.messages(DEPLOYS) if m.get("blocks"))
    await bell.driver.press(message, Action.APPROVE, user=BOB)
    await bell.driver.press(message, Action.REJECT, user=CARL)
    await bell.idle()
    stored = stored_texts(bell)
    assert not any("<@" in t or "subteam" in t for t in stored), stored
    assert f"approved by <person:{BOB}> (1/2)" in stored
    assert f"rejected by <person:{CARL}>" in stored  # the deploy's error, too
    thread = " ".join(m["text"] for m in bell.double.messages(DEPLOYS))
    assert f"approved by <@{BOB}> (1/2)" in thread
    assert f"rejected by <@{CARL}>" in thread
    assert "<person:" not in thread
    told = [c.args["text"] for c in bell.double.calls_to("chat.postMessage")
            if c.args.get("channel") == ANA]
    assert told and all(f"<@{CARL}> rejected deploy #1" in t for t in told), told


def test_rendering_turns_ids_into_mentions_and_leaves_old_rows_as_stored() -> None:
    assert mentions(f"Only {person('U0ANA0001')}, {person('S0SRE0001')} may deploy") == \
        f"Only <@{ANA}>, <!subteam^S0SRE0001> may deploy"
    old = {"state": "cancelled", "note": f"cancelled by <@{ANA}>"}  # a row from before
    new = {"state": "cancelled", "note": f"cancelled by {person('U0ANA0001')}"}
    assert messages.event_text(old) == messages.event_text(new)
    assert messages.event_text(new).endswith(f"cancelled by <@{ANA}>")
    assert mentions({"blocks": [{"text": person(BOB)}]}) == {"blocks": [{"text": f"<@{BOB}>"}]}


def test_the_post_mortem_names_people_from_ids_without_writing_mentions() -> None:
    at = datetime(2026, 11, 30, 9, tzinfo=UTC)
    inc = Incident(
        id=7, title="Disk full", severity=2, status="resolved", service=None, description=None,
        private=False, test=False, reporter=ANA, commander=BOB, comms=None,
        channel_id=None, channel_name=None, status_message_ts=None, announcement_channel=None,
        announcement_ts=None, summary=None, declared_at=at, mitigated_at=None, resolved_at=None,
        closed_at=None, last_update_at=None, next_reminder_at=None, missed_updates=0,
        origin_channel=None, postmortem=None)
    entries = [{"at": at, "kind": "note", "actor": CARL, "text": f"paged <@{DANA}>",
                "permalink": None}]
    todo = [{"id": 1, "text": "alerts", "owner": EVE, "done_at": None, "due_date": None}]
    assert postmortem.people(inc, entries, todo) == [ANA, BOB, CARL, DANA,
                                                     EVE]
    names = {ANA: "ana", BOB: "bob", CARL: "carl", DANA: "dana"}
    draft = postmortem.render(inc, entries, todo, [], now=at, names=names)
    assert "Declared by @ana" in draft and "@carl: paged @dana" in draft
    assert f"owner @{EVE}" in draft  # no name from Slack: the id, never a mention
    assert "<@" not in draft
