"""Incident channel topics: set once per real change, however many refreshes race."""

from __future__ import annotations

import asyncio

from shipbell.bot.slackdouble.cast import BOB, DANA
from test_incident_support import declare, row, start


async def test_two_quick_role_changes_set_the_topic_once(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    cid = inc["channel_id"]
    before = len(bell.double.calls_to("conversations.setTopic"))
    acks = await asyncio.gather(  # both land before either refresh has run
        bell.command("/incident", f"assign comms <@{DANA}>", channel=cid),
        bell.command("/incident", f"assign commander <@{BOB}>", channel=cid),
    )
    assert [a.status for a in acks] == [200, 200]
    await bell.idle()
    topics = [c.args["topic"] for c in bell.double.calls_to("conversations.setTopic")[before:]]
    assert len(topics) == len(set(topics)), f"the same topic set twice: {topics}"
    shown = bell.double.state.channels[cid].topic
    assert f"Commander <@{BOB}>" in shown and f"Comms <@{DANA}>" in shown
    assert row(bell)["topic"] == shown  # what was last set is stored

    await bell.command("/incident", "note nothing shown changes", channel=cid)
    await bell.idle()
    assert len(bell.double.calls_to("conversations.setTopic")) == before + len(topics)
