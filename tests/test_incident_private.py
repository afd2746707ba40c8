"""Private incidents: a private channel, no announcement, named nowhere public."""

from __future__ import annotations

from shipbell.bot.slackdouble import SlackDriver
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, GENERAL, INCIDENTS, SHIPBELL
from shipbell.handlers.incident.ids import PRIVATE_VALUE, Block, Field
from test_incident_support import declare, row, run, seed_deploy, start


async def test_private_incident_stays_out_of_public_places(make_bell):
    bell = await start(make_bell)
    seed_deploy(bell)
    inc = await declare(bell, "open Leaked API key sev1 --service api --private")
    channel = bell.double.state.channels[inc["channel_id"]]
    suspects = [c for c in bell.double.calls_to("chat.postMessage")
                if "Suspect deploys" in str(c.args.get("blocks"))]
    assert [c.args["channel"] for c in suspects] == [inc["channel_id"]]  # only in its channel
    assert channel.is_private and channel.id.startswith("G")
    assert inc["private"] == 1 and inc["announcement_channel"] is None
    assert set(channel.members) == {SHIPBELL, ANA, BOB, CARL}  # privately
    assert bell.double.messages(INCIDENTS) == []

    await run(bell, "update key rotated", inc)
    await run(bell, f"assign comms <@{DANA}>", inc)
    assert bell.double.messages(INCIDENTS) == []
    assert DANA in channel.members

    elsewhere = await bell.command("/incident", "list", channel=GENERAL, user=BOB)
    assert "Leaked" not in elsewhere.text and "1 private incident" in elsewhere.text
    inside = await bell.command("/incident", "list", channel=inc["channel_id"])
    assert "Leaked API key" in inside.text
    for text in ("status INC-1", "update INC-1 rotated", "note INC-1 x", "resolve INC-1 done"):
        ack = await bell.command("/incident", text, channel=GENERAL, user=BOB)
        assert ack.text == f"INC-1 is private: run `/incident {text.split()[0]}` in its channel."
    led = await bell.command("/incident", "status INC-1", channel=GENERAL, user=DANA)
    assert "Leaked API key" in led.text  # comms may ask from anywhere
    await bell.idle()
    assert row(bell)["status"] == "investigating"
    for call in bell.double.calls:
        if call.args.get("channel") in (INCIDENTS, GENERAL):
            assert "Leaked" not in str(call.args)


async def test_private_from_the_modal(make_bell):
    bell = await start(make_bell)
    await bell.command("/incident", "", channel=GENERAL)
    view = (await bell.double.wait_for("views.open")).response["view"]
    ack = await bell.driver.submit_view(view, {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("Suspicious logins")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("2")},
        Block.PRIVATE: {Field.PRIVATE: SlackDriver.checkbox_values([PRIVATE_VALUE])},
    })
    assert ack.status == 200
    await bell.idle()
    inc = row(bell)
    assert inc["private"] == 1 and inc["service"] is None
    assert bell.double.state.channels[inc["channel_id"]].is_private
    assert bell.double.messages(INCIDENTS) == []


async def test_a_form_sent_from_a_channel_shipbell_is_not_in_is_answered_by_dm(make_bell):
    bell = await start(make_bell)
    await bell.command("/incident", "", channel=GENERAL)
    view = (await bell.double.wait_for("views.open")).response["view"]
    bell.double.fail_next("chat.postEphemeral", "channel_not_found")
    await bell.driver.submit_view(view, {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("Suspicious logins")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("2")},
        Block.PRIVATE: {Field.PRIVATE: SlackDriver.checkbox_values([PRIVATE_VALUE])},
    })
    await bell.idle()
    dm = [c.args["text"] for c in bell.double.calls_to("chat.postMessage")
          if c.args.get("channel") == ANA]
    assert len(dm) == 1 and dm[0].startswith(f"INC-1 declared: <#{row(bell)['channel_id']}>")
