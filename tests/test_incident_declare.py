"""Declaring: the text path, the modal path, the Join button, and never two incidents."""

from __future__ import annotations

import asyncio

from fakes.slow import answered
from fakes.waiting import until
from shipbell.bot.slackdouble import SlackDriver
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, GENERAL, INCIDENTS
from shipbell.handlers.incident.ids import Action, Block, Callback, Field
from test_incident_support import declare, responses, row, start, timeline


async def test_text_path_sets_up_the_whole_incident(make_bell):
    bell = await start(make_bell)
    bell.double.hold("conversations.create")  # Slack is slow to make the channel
    ack = await answered(bell.command("/incident", "open DB latency on checkout sev2"
                                      " --service api", channel=GENERAL))
    assert ack.status == 200
    assert "Declared INC-1 (SEV2)" in ack.text
    # Declared and acked while the set-up still waits on Slack for its channel.
    await until(lambda: bell.double.waiting.get("conversations.create") == 1)
    assert row(bell)["channel_id"] is None
    bell.double.release("conversations.create")
    await bell.idle()
    inc = row(bell)
    assert (inc["severity"], inc["status"], inc["service"]) == (2, "investigating", "api")
    assert inc["commander"] == ANA and inc["reporter"] == ANA
    channel = bell.double.state.channels[inc["channel_id"]]
    assert channel.name == "inc-1-db-latency-on-checkout" == inc["channel_name"]
    assert not channel.is_private
    assert {ANA, BOB, CARL} <= set(channel.members)
    assert channel.topic.startswith(f"INC-1 SEV2 · Investigating · Commander <@{ANA}>")
    links = {b["link"] for b in bell.double.state.bookmarks[channel.id]}
    assert links == {"https://runbooks.example.com/api",
                     "https://grafana.example.com/d/api-overview"}
    assert bell.double.state.pins[channel.id] == [inc["status_message_ts"]]
    status = next(m for m in bell.double.messages(channel.id)
                  if m["ts"] == inc["status_message_ts"])
    assert "INC-1: DB latency on checkout" in status["blocks"][0]["text"]["text"]
    announced = bell.double.messages(INCIDENTS)
    assert len(announced) == 1 and announced[0]["ts"] == inc["announcement_ts"]
    assert announced[0]["blocks"][0]["accessory"]["action_id"] == Action.JOIN
    assert [e["kind"] for e in timeline(bell, inc["id"])] == ["declared"]
    assert any(f"<#{channel.id}>" in text for text in responses(bell))


async def test_join_button_invites_the_clicker_once(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    announcement = bell.double.messages(INCIDENTS)[0]
    await bell.driver.press(announcement, Action.JOIN, user=DANA)
    await bell.idle()
    assert DANA in bell.double.state.channels[inc["channel_id"]].members
    await bell.driver.press(announcement, Action.JOIN, user=DANA)
    await bell.idle()
    members = bell.double.state.channels[inc["channel_id"]].members
    assert members.count(DANA) == 1


async def test_bad_open_input_gets_a_sentence_that_works(make_bell):
    bell = await start(make_bell)
    ack = await bell.command("/incident", "open sev2 --service api")
    assert "Give the incident a title" in ack.text
    ack = await bell.command("/incident", "open outage --servce api")
    assert "`--servce`?" in ack.text
    ack = await bell.command("/incident", "open outage --sev 1")
    assert ack.text == ("`--sev`? `/incident open` takes a severity word (`sev1`–`sev4`),"
                        " `--service <name>`, `--private` and `--test`, e.g."
                        " `/incident open API errors on checkout sev2 --service api`.")
    ack = await bell.command("/incident", "open Login broken SEV1 --Service=API --PRIVATE")
    assert ack.text.startswith("Declared private INC-1 (SEV1): Login broken")
    await bell.idle()
    assert bell.core.store.one("SELECT service FROM incidents")["service"] == "api"
    ack = await bell.command("/incident", "frobnicate")
    assert "I don't know that one" in ack.text
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM incidents")["n"] == 1


async def test_modal_path_field_error_then_one_incident_despite_double_submit(make_bell):
    bell = await start(make_bell)
    ack = await bell.command("/incident", "", channel=GENERAL)
    assert ack.status == 200 and ack.body == ""
    call = await bell.double.wait_for("views.open")
    assert call.response["ok"], call.response
    view = call.response["view"]
    assert view["callback_id"] == Callback.DECLARE
    values = {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("  ")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("1", "SEV1")},
        Block.SERVICE: {Field.SERVICE: SlackDriver.text_value("api")},
        Block.DESCRIPTION: {Field.DESCRIPTION: SlackDriver.text_value("p99 at 4 s")},
        Block.PRIVATE: {Field.PRIVATE: SlackDriver.checkbox_values([])},
    }
    ack = await bell.driver.submit_view(view, values)
    assert ack.json["response_action"] == "errors"
    assert Block.TITLE in ack.json["errors"]
    values[Block.TITLE] = {Field.TITLE: SlackDriver.text_value("Checkout is down")}
    first, second = await asyncio.gather(bell.driver.submit_view(view, values),
                                         bell.driver.submit_view(view, values))
    assert first.status == second.status == 200
    await bell.idle()
    rows = bell.core.store.all("SELECT * FROM incidents")
    assert len(rows) == 1
    inc = rows[0]
    assert (inc["title"], inc["severity"], inc["service"]) == ("Checkout is down", 1, "api")
    assert inc["description"] == "p99 at 4 s"
    assert len(bell.double.calls_to("conversations.create")) == 1
    assert len(bell.double.messages(INCIDENTS)) == 1
    told = [e for e in bell.double.state.ephemerals if e["user"] == ANA]
    assert any("INC-1 declared" in e.get("text", "") for e in told)


async def test_rate_limited_calls_are_retried_without_duplicates(make_bell):
    bell = await start(make_bell)
    bell.double.rate_limit_next("chat.postMessage", retry_after=0)  # the SDK sleeps ≤ 1 s
    inc = await declare(bell)
    assert inc["channel_id"] and inc["status_message_ts"] and inc["announcement_ts"]
    assert len(bell.double.messages(INCIDENTS)) == 1
    assert len([c for c in bell.double.calls_to("conversations.create")
                if c.response.get("ok")]) == 1


async def test_a_form_that_cannot_open_says_how_to_declare_with_text(make_bell):
    bell = await start(make_bell)
    bell.double.rate_limit_next("views.open", retry_after=0)
    await bell.command("/incident", "", channel=GENERAL)
    await bell.idle()
    opened = bell.double.calls_to("views.open")
    assert opened[-1].response["ok"]  # a rate limit is waited out
    bell.double.fail_next("views.open", "expired_trigger_id")
    await bell.command("/incident", "", channel=GENERAL)
    await bell.idle()
    told = [c.args.get("text", "") for c in bell.double.calls_to("response_url")]
    assert told == ["The declare form could not open (expired_trigger_id); declare with text"
                    " instead, e.g. `/incident open API errors on checkout sev2 --service api`."]


async def test_the_same_command_sent_twice_declares_once(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)
    clock.advance(seconds=40)
    again = await bell.command("/incident", "open db LATENCY sev2 --service api")
    assert again.text == (f"You declared INC-1 with this title 40 s ago (<#{inc['channel_id']}>);"
                          " nothing new was declared. Retitle it to declare another.")
    other = await bell.command("/incident", "open DB latency sev2", user=BOB)
    assert other.text.startswith("Declared INC-2")  # someone else's report is their own
    clock.advance(minutes=2)
    later = await bell.command("/incident", "open DB latency sev2 --service api")
    assert later.text.startswith("Declared INC-3")
