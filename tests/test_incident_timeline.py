"""Pins and :pushpin: reactions join the timeline once, at the message's own time."""

from __future__ import annotations

from datetime import timedelta

from fakes.slow import answered
from fakes.waiting import until
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, GENERAL
from test_incident_support import declare, start, timeline


def seed(bell, channel: str, text: str, minutes_ago: int, user: str = BOB) -> str:
    when = bell.core.clock.now() - timedelta(minutes=minutes_ago)
    return bell.double.add_message(channel, text, user=user, ts=f"{when.timestamp():.6f}")


def pin_event(channel: str, ts: str, text: str, user: str = ANA) -> dict:
    return {"type": "pin_added", "user": user, "channel_id": channel,
            "item": {"type": "message", "channel": channel, "created_by": user,
                     "message": {"type": "message", "user": BOB, "text": text, "ts": ts}}}


def reaction_event(channel: str, ts: str, reaction: str = "pushpin", user: str = CARL):
    return {"type": "reaction_added", "user": user, "reaction": reaction, "item_user": BOB,
            "item": {"type": "message", "channel": channel, "ts": ts}}


async def test_pin_is_captured_once_at_its_original_time_despite_retries(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    cid = inc["channel_id"]
    ts = seed(bell, cid, "p99 jumped to 4 s right after the 09:00 deploy", minutes_ago=20)
    event = pin_event(cid, ts, "p99 jumped to 4 s right after the 09:00 deploy")
    bell.double.hold("chat.getPermalink")  # Slack is slow to give the message's link
    first = await answered(bell.driver.event(event, event_id="EvPIN1"))
    retry = await answered(bell.driver.event(event, event_id="EvPIN1", retry_num=1))
    assert first.status == retry.status == 200
    # Both acked while the capture still waits on Slack: the ack did not wait for it.
    await until(lambda: bell.double.waiting.get("chat.getPermalink") == 1)
    assert [e["kind"] for e in timeline(bell, inc["id"])] == ["declared"]
    bell.double.release("chat.getPermalink")
    await bell.idle()
    again = await bell.driver.event(event, event_id="EvPIN2")  # unpinned and pinned again
    react = await bell.driver.event(reaction_event(cid, ts), event_id="EvREACT1")
    assert again.status == react.status == 200
    await bell.idle()
    pins = [e for e in timeline(bell, inc["id"]) if e["kind"] in ("pin", "reaction")]
    assert len(pins) == 1
    entry = pins[0]
    assert entry["kind"] == "pin" and entry["actor"] == BOB
    assert entry["text"].startswith("p99 jumped to 4 s")
    assert f"(added by <@{ANA}>)" in entry["text"]
    assert entry["at"] == "2026-11-02T08:40:00.000000+00:00"
    assert entry["permalink"].endswith(f"/archives/{cid}/p{ts.replace('.', '')}")
    kinds = [e["kind"] for e in timeline(bell, inc["id"])]
    assert kinds == ["pin", "declared"]  # the pinned message predates the declaration


async def test_pushpin_reaction_fetches_the_message(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    cid = inc["channel_id"]
    parent = seed(bell, cid, "looking at the db", minutes_ago=5)
    reply = bell.double.add_message(cid, "found it: a missing index", user=CARL,
                                    thread_ts=parent)
    await bell.driver.event(reaction_event(cid, reply), event_id="EvR1")
    await bell.driver.event(reaction_event(cid, reply), event_id="EvR1", retry_num=2)
    await bell.driver.event(reaction_event(cid, parent, reaction="eyes"), event_id="EvR2")
    await bell.idle()
    captured = [e for e in timeline(bell, inc["id"]) if e["kind"] == "reaction"]
    assert len(captured) == 1
    assert captured[0]["actor"] == CARL
    assert captured[0]["text"].startswith("found it: a missing index")
    assert len(bell.double.calls_to("conversations.replies")) == 1


async def test_pins_outside_incident_channels_and_of_the_status_message_are_ignored(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    ts = seed(bell, GENERAL, "unrelated", minutes_ago=1)
    await bell.driver.event(pin_event(GENERAL, ts, "unrelated"))
    status_ts = inc["status_message_ts"]
    await bell.driver.event(pin_event(inc["channel_id"], status_ts, "INC-1 status"))
    await bell.idle()
    assert [e["kind"] for e in timeline(bell, inc["id"])] == ["declared"]
