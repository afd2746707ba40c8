"""An archived channel or a departed user never loses incident data; the user is told."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, EVE, GENERAL, INCIDENTS
from shipbell.handlers.incident.ids import Action
from test_incident_support import declare, responses, row, run, start, timeline


async def test_updates_reminders_and_postmortem_after_the_channel_was_archived(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)
    bell.double.state.channels[inc["channel_id"]].is_archived = True

    ack = await bell.command("/incident", "update INC-1 still digging", channel=GENERAL)
    assert ack.text == "Update posted to INC-1."
    await bell.idle()
    assert timeline(bell, inc["id"])[-1]["text"] == "still digging"
    assert any("could not take the post: the channel is archived (is_archived); nothing is"
               " lost" in s for s in responses(bell))
    thread = [m for m in bell.double.messages(INCIDENTS)
              if m.get("thread_ts") == inc["announcement_ts"] and m["ts"] != m["thread_ts"]]
    assert [m["text"] for m in thread] == ["INC-1 update: still digging"]

    clock.advance(minutes=61)
    await bell.core.scheduler.run_due()
    await bell.idle()
    assert row(bell)["next_reminder_at"] is None  # stops nudging a channel nobody can read
    clock.advance(minutes=61)
    await bell.core.scheduler.run_due()
    await bell.idle()
    reminders = [c for c in bell.double.calls_to("chat.postMessage")
                 if "no status update" in c.args.get("text", "")]
    assert len(reminders) == 1

    announcement = bell.double.messages(INCIDENTS)[0]
    await bell.driver.press(announcement, Action.JOIN, user=DANA)
    await bell.idle()
    assert any(f"<@{DANA}>: the channel is archived (is_archived)" in s for s in responses(bell))

    ack = await bell.command("/incident", "resolve INC-1 restarted the pool",
                             channel=GENERAL)
    assert "resolved" in ack.text
    await bell.idle()
    assert row(bell)["status"] == "resolved" and row(bell)["postmortem"].startswith("# INC-1")
    assert any("post-mortem draft is saved, but its channel could not take the file: the"
               " channel is archived (is_archived)." in s for s in responses(bell))
    ack = await bell.command("/incident", "close INC-1", channel=GENERAL)
    await bell.idle()
    assert row(bell)["status"] == "closed"
    assert not [s for s in responses(bell) if "would not archive" in s]


async def test_a_refused_batch_invite_falls_back_to_one_by_one(make_bell):
    bell = await start(make_bell)
    bell.double.fail_next("conversations.invite", "user_disabled")  # one bad user in the batch
    inc = await declare(bell)
    members = bell.double.state.channels[inc["channel_id"]].members
    assert {ANA, BOB, CARL} <= set(members)
    invites = bell.double.calls_to("conversations.invite")
    assert [c.args["users"] for c in invites] == [f"{ANA},{BOB},{CARL}", ANA, BOB,
                                                  CARL]


async def test_assigning_a_departed_user_is_recorded_and_explained(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    bell.double.fail_next("conversations.invite", "user_disabled", times=2)
    assert await run(bell, f"assign commander <@{EVE}>", inc) == \
        f"<@{EVE}> is now commander of INC-1."
    assert row(bell)["commander"] == EVE
    assert any(f"<@{EVE}>: their account is deactivated (user_disabled). They stay commander"
               " of INC-1 in its record; hand over with `/incident assign commander @someone`."
               in s for s in responses(bell))


async def test_a_departed_reporter_or_responder_is_named_in_the_declare_answer(make_bell):
    bell = await start(make_bell)
    bell.double.fail_next("conversations.invite", "account_inactive", times=2)  # batch, then ANA
    await bell.command("/incident", "open Disk full sev3", user=ANA)
    await bell.idle()
    inc = row(bell)
    assert inc["channel_id"] and inc["status_message_ts"]  # the rest of the set-up went on
    assert {BOB, CARL} <= set(bell.double.state.channels[inc["channel_id"]].members)
    assert any(f"Could not invite <@{ANA}>: their account is deactivated (account_inactive)."
               in s for s in responses(bell))
    bell.double.state.users.pop(CARL)  # left the workspace
    assert "isn't anyone in this workspace" in await run(bell, f"assign comms <@{CARL}>", inc)
    assert row(bell)["comms"] is None  # refused before anything was stored: no ghost role


async def test_an_archived_announcements_channel_is_reported_and_nothing_else_stops(make_bell):
    bell = await start(make_bell)
    bell.double.state.channels[INCIDENTS].is_archived = True
    inc = await declare(bell)
    assert inc["channel_id"] and inc["status_message_ts"] and inc["announcement_ts"] is None
    assert any(f"It could not be announced in <#{INCIDENTS}>: the channel is archived"
               " (is_archived); check `announcements_channel`." in s for s in responses(bell))
    assert "update posted" in (await run(bell, "update still digging", inc)).lower()
    assert timeline(bell, inc["id"])[-1]["text"] == "still digging"


async def test_shipbell_removed_from_a_private_incident_channel_loses_nothing(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell, "open Leaked key sev1 --private")
    bell.double.state.channels[inc["channel_id"]].members.remove(bell.double.state.bot_user_id)
    assert await run(bell, "update key rotated", inc) == "Update posted to INC-1."
    assert timeline(bell, inc["id"])[-1]["text"] == "key rotated"
    said = [s for s in responses(bell) if "could not take the post" in s]
    assert said == ["Recorded in INC-1's timeline, but its channel could not take the post:"
                    " Shipbell can't see the channel (deleted, or Shipbell was removed)"
                    " (channel_not_found); nothing is lost."]
