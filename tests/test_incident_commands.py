"""Every `/incident` command inside (and outside) an incident channel."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import ANA, BOB, DANA, GENERAL, INCIDENTS
from test_incident_support import declare, row, run, seed_deploy, start, timeline


def status_text(bell, inc) -> str:
    msg = next(m for m in bell.double.messages(inc["channel_id"])
               if m["ts"] == inc["status_message_ts"])
    return str(msg["blocks"])


async def test_status_sev_assign_update_note_edit_in_place_and_record(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)
    cid = inc["channel_id"]
    posts_before = len(bell.double.messages(cid))

    clock.advance(minutes=5)
    assert await run(bell, "status identified bad index on orders", inc) == \
        "INC-1 is now identified."
    assert "Identified" in status_text(bell, inc)
    assert bell.double.state.channels[cid].topic.startswith("INC-1 SEV2 · Identified")
    assert await run(bell, "status identified", inc) == "INC-1 is already identified."

    assert await run(bell, "sev 1", inc) == "INC-1 is now SEV1."
    assert row(bell)["severity"] == 1
    assert "SEV1" in bell.double.state.channels[cid].topic

    assert await run(bell, f"assign comms <@{DANA}|dana>", inc) == \
        f"<@{DANA}> is now comms of INC-1."
    assert row(bell)["comms"] == DANA
    assert DANA in bell.double.state.channels[cid].members
    assert f"Comms <@{DANA}>" in bell.double.state.channels[cid].topic

    topics = len(bell.double.calls_to("conversations.setTopic"))
    clock.advance(minutes=3)
    assert await run(bell, "update Index rebuilt, error rate falling", inc) == \
        "Update posted to INC-1."
    assert len(bell.double.calls_to("conversations.setTopic")) == topics  # unchanged topic
    assert "Index rebuilt, error rate falling" in status_text(bell, inc)
    thread = [m for m in bell.double.messages(INCIDENTS)
              if m.get("thread_ts") == inc["announcement_ts"]]
    assert any("Index rebuilt" in m["text"] for m in thread)
    assert len(bell.double.messages(cid)) > posts_before

    assert await run(bell, "note restarted api-3 by hand", inc) == "Noted in INC-1's timeline."
    kinds = [e["kind"] for e in timeline(bell, inc["id"])]
    assert kinds == ["declared", "status", "severity", "role", "update", "note"]
    assert all(e["actor"] == ANA for e in timeline(bell, inc["id"]))
    updates = bell.core.store.all("SELECT status, on_time FROM incident_updates ORDER BY id")
    assert updates == [{"status": "identified", "on_time": 1}, {"status": "identified",
                                                                "on_time": 1}]
    actions = {r["action"] for r in bell.core.store.all("SELECT action FROM audit_log")}
    assert {"incident.declare", "incident.status", "incident.severity",
            "incident.assign.comms", "incident.update", "incident.note"} <= actions


async def test_bad_input_answers_with_what_works(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    assert "isn't a status" in await run(bell, "status fixed", inc)
    assert "1 (worst) to 4" in await run(bell, "sev 9", inc)
    assert "`/incident assign commander @ana`" in await run(bell, f"assign boss <@{BOB}>", inc)
    assert "Say what changed" in await run(bell, "update", inc)
    assert "deploy id" in await run(bell, "link abc", inc)
    assert "There is no deploy #999" in await run(bell, "link 999 caused", inc)
    assert "an owner" in await run(bell, "followup write docs", inc)
    assert "isn't a real date" in await run(bell, f"followup x <@{BOB}> due 2026-02-30", inc)
    assert "Say what fixed it" in await run(bell, "resolve", inc)
    assert "resolve it first" in await run(bell, "close", inc)
    assert [e["kind"] for e in timeline(bell, inc["id"])] == ["declared"]


async def test_outside_an_incident_channel_commands_say_so_and_list(make_bell):
    bell = await start(make_bell)
    await declare(bell)
    await declare(bell, "open Queue backlog sev3 --private", user=BOB)
    ack = await bell.command("/incident", "update all good", channel=GENERAL)
    assert "needs an incident" in ack.text
    assert "INC-1" in ack.text and "Queue backlog" not in ack.text
    assert "1 private incident" in ack.text
    ack = await bell.command("/incident", "update INC-1 all good now", channel=GENERAL)
    assert ack.text == "Update posted to INC-1."
    ack = await bell.command("/incident", "note INC-77 x", channel=GENERAL)
    assert "There is no INC-77" in ack.text


async def test_list_and_help(make_bell, clock):
    bell = await start(make_bell)
    ack = await bell.command("/incident", "list")
    assert "No open incidents" in ack.text
    await declare(bell)
    clock.advance(minutes=90)
    ack = await bell.command("/incident", "list")
    assert "*INC-1* SEV2 investigating" in ack.text and "1 h 30 min old" in ack.text
    assert f"lead <@{ANA}>" in ack.text
    ack = await bell.command("/incident", "help")
    assert "/incident resolve" in ack.text.replace("`resolve", "/incident resolve")
    assert "reopens a resolved incident" in ack.text


async def test_link_and_followups(make_bell):
    bell = await start(make_bell)
    deploy = seed_deploy(bell)
    inc = await declare(bell)
    assert await run(bell, f"link {deploy}", inc) == f"Linked deploy #{deploy} to INC-1: caused."
    assert "already linked" in await run(bell, f"link {deploy} caused", inc)
    assert await run(bell, f"link #{deploy} fixed", inc) == \
        f"Linked deploy #{deploy} to INC-1: fixed."
    links = bell.core.store.all("SELECT deploy_id, relation FROM incident_deploys")
    assert sorted(r["relation"] for r in links) == ["caused", "fixed"]
    reply = await run(bell, f"followup Add alert on queue depth <@{BOB}|bob> due 2026-12-01", inc)
    assert reply == f"Follow-up #1 recorded for <@{BOB}>, due 2026-12-01."
    fu = bell.core.store.one("SELECT * FROM followups")
    assert (fu["text"], fu["owner"], fu["due_date"]) == ("Add alert on queue depth", BOB,
                                                         "2026-12-01")
    assert await run(bell, "followup done 1", inc) == "Follow-up #1 is done."
    assert "no open follow-up #1" in await run(bell, "followup done 1", inc)
    entries = timeline(bell, inc["id"])
    assert [e["kind"] for e in entries][-4:] == ["link", "link", "followup", "followup"]
    assert entries[-1]["text"] == "Follow-up #1 done"


async def test_test_incidents_are_not_announced_nor_gate_deploys(make_bell):
    from shipbell.bot.incidents.queries import open_incidents_on_service

    bell = await start(make_bell)
    ack = await bell.command("/incident", "open Game day drill sev1 --service api --test")
    assert ack.text.startswith("Declared test INC-1 (SEV1)")
    await bell.idle()
    inc = row(bell)
    assert inc["test"] == 1 and inc["channel_id"]
    assert bell.double.messages(INCIDENTS) == []
    assert open_incidents_on_service(bell.core.store, "api") == []
    real = await declare(bell, "open Real outage sev1 --service api")
    assert [i["id"] for i in open_incidents_on_service(bell.core.store, "api")] == [real["id"]]
    assert await run(bell, "status", real) == \
        f"INC-2 · SEV1 · Investigating — Real outage. Commander <@{ANA}>."


async def test_a_change_during_setup_still_reaches_the_pinned_status(make_bell):
    bell = await start(make_bell)
    bell.double.rate_limit_next("chat.postMessage", retry_after=0)  # holds set-up back
    ack = await bell.command("/incident", "open Disk full sev3", channel=GENERAL)
    assert "Declared INC-1" in ack.text
    await bell.double.wait_for("chat.postMessage", lambda c: c.status == 429)
    ack = await bell.command("/incident", "sev INC-1 1", channel=GENERAL)
    assert ack.text == "INC-1 is now SEV1."
    await bell.idle()
    inc = row(bell)
    assert "SEV1" in status_text(bell, inc)
    assert "SEV1" in bell.double.state.channels[inc["channel_id"]].topic
    assert "SEV1" in bell.double.messages(INCIDENTS)[0]["text"]


async def test_a_deleted_status_message_is_posted_and_pinned_again(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    bell.double.state.delete_message(inc["channel_id"], inc["status_message_ts"])
    assert await run(bell, "sev 1", inc) == "INC-1 is now SEV1."
    now = row(bell)["status_message_ts"]
    assert now and now != inc["status_message_ts"]
    assert "SEV1" in str(bell.double.state.message(inc["channel_id"], now)["blocks"])
    pins = [c.args["timestamp"] for c in bell.double.calls_to("pins.add")]
    assert pins == [inc["status_message_ts"], now]
    await run(bell, "status identified", inc)
    assert row(bell)["status_message_ts"] == now  # edited in place again
