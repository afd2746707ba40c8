"""Incident buttons are pointers: each press reads the incident, deploy, follow-up or reminder
back by id and checks the presser against the incident; forged values change nothing."""

from __future__ import annotations

import json

import pytest
from shipbell.bot.deploys.demo import DEMO_CONFIG as DEPLOY_DEMO
from shipbell.bot.local import merge
from shipbell.bot.slackdouble.cast import ANA, BOB, GENERAL
from shipbell.handlers.incident.ids import Action, snooze_action
from test_incident_support import declare, responses, row, run, seed_deploy, start, timeline

ONLY_ANA = merge(DEPLOY_DEMO, {"services": {"api": {"environments": {
    "production": {"deployers": [ANA]}}}}})
OUTSIDER = "U0ZED0001"  # no role in any incident, in no incident channel


def suspects_message(bell, inc) -> dict:
    return next(m for m in bell.double.messages(inc["channel_id"])
                if "did one of them cause" in m.get("text", ""))


def count(bell, table: str) -> int:
    return bell.core.store.one(f"SELECT COUNT(*) AS n FROM {table}")["n"]


def said_since(bell, n: int) -> list[str]:
    return responses(bell)[n:]


def nothing_went_wrong(bell) -> None:
    for said in responses(bell):
        assert "Something went wrong" not in said
    for call in bell.double.calls_to("chat.postMessage"):
        assert "<!channel>" not in str(call.args)


async def test_outsider_cannot_link_a_deploy_to_a_private_incident(make_bell):
    bell = await start(make_bell)
    deploy = seed_deploy(bell)
    inc = await declare(bell, "open Leaked key sev1 --service api --private")
    before, heard = len(timeline(bell, inc["id"])), len(responses(bell))
    ack = await bell.driver.action(f"{Action.CAUSED}.0", f"{inc['id']}|{deploy}",
                                   user=OUTSIDER, channel=GENERAL)
    assert ack.status == 200
    await bell.idle()
    assert count(bell, "incident_deploys") == 0
    assert len(timeline(bell, inc["id"])) == before
    assert said_since(bell, heard) == [
        "Only INC-1's commander, comms, reporter or people in its channel can use these buttons."]
    # the commander, pressing the real button, still can
    await bell.driver.press(suspects_message(bell, inc), f"{Action.CAUSED}.0", user=ANA)
    await bell.idle()
    assert count(bell, "incident_deploys") == 1


async def test_caused_this_takes_service_and_env_from_the_store_not_the_value(make_bell):
    bell = await start(make_bell)
    deploy = seed_deploy(bell)
    inc = await declare(bell)
    forged = json.dumps({"i": inc["id"], "d": deploy, "s": "<!channel> pwned",
                         "e": "<!here>"})  # the JSON older messages carried
    await bell.driver.action(f"{Action.CAUSED}.0", forged, user=ANA,
                             channel=inc["channel_id"])
    await bell.idle()
    assert count(bell, "incident_deploys") == 1
    broadcast = [c.args for c in bell.double.calls_to("chat.postMessage")
                 if "marked as the cause" in str(c.args)]
    assert broadcast and all("api to production" in str(a) for a in broadcast)
    assert "pwned" not in str(bell.double.calls) and "<!here>" not in str(bell.double.calls)


async def test_refused_rollback_records_nothing_and_the_commander_still_can(make_bell):
    bell = await start(make_bell, other={"deploy": ONLY_ANA})
    seed_deploy(bell, version="v41", minutes_ago=120)
    seed_deploy(bell, version="v42", minutes_ago=30)
    inc = await declare(bell)  # ana declares: commander
    assert BOB in bell.double.state.channels[inc["channel_id"]].members  # a responder
    before = timeline(bell, inc["id"])
    keys, heard = count(bell, "idempotency_keys"), len(responses(bell))
    message = suspects_message(bell, inc)

    await bell.driver.press(message, f"{Action.ROLLBACK}.0", user=BOB)
    await bell.idle()
    assert said_since(bell, heard) == [f"Only <@{ANA}> may deploy api production; ask one of them."]
    assert timeline(bell, inc["id"]) == before
    assert count(bell, "idempotency_keys") == keys
    assert bell.core.store.all("SELECT id FROM deploys WHERE is_rollback = 1") == []

    await bell.driver.press(message, f"{Action.ROLLBACK}.0", user=ANA)
    await bell.idle()
    [rollback] = bell.core.store.all("SELECT * FROM deploys WHERE is_rollback = 1")
    assert rollback["requester"] == ANA and rollback["incident_id"] == inc["id"]
    assert "already requested" not in " ".join(responses(bell))
    assert any("Rollback of api in production requested" in (e["text"] or "")
               for e in timeline(bell, inc["id"]))


async def test_rollback_value_cannot_name_another_service(make_bell):
    bell = await start(make_bell, other={"deploy": DEPLOY_DEMO})
    other = seed_deploy(bell, service="web", version="w1", minutes_ago=120)
    seed_deploy(bell, service="web", version="w2", minutes_ago=30)
    inc = await declare(bell)  # an api incident
    await bell.driver.action(f"{Action.ROLLBACK}.0",
                             json.dumps({"i": inc["id"], "d": other, "s": "web",
                                         "e": "production"}),
                             user=ANA, channel=inc["channel_id"])
    await bell.idle()
    assert bell.core.store.all("SELECT id FROM deploys WHERE is_rollback = 1") == []
    assert responses(bell)[-1].startswith(f"Deploy #{other} isn't a deploy of INC-1's service")


async def test_outsider_cannot_close_a_followup(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    await run(bell, f"followup Add pool alarm <@{BOB}> due 2026-11-03", inc)
    for value in ("1", f"{inc['id']}|1"):
        await bell.driver.action(Action.FOLLOWUP_DONE, value, user=OUTSIDER, channel="D0ZED0001")
    await bell.idle()
    assert bell.core.store.one("SELECT done_at FROM followups")["done_at"] is None
    assert [e["text"] for e in timeline(bell, inc["id"])].count("Follow-up #1 done") == 0
    await bell.driver.action(Action.FOLLOWUP_DONE, "1", user=BOB, channel="D0BOB0001")  # owner
    await bell.idle()
    assert bell.core.store.one("SELECT done_at FROM followups")["done_at"] is not None


async def test_snooze_minutes_come_from_config_not_the_value(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)  # SEV2: every 60 minutes; snoozes [30, 60, 120]
    clock.advance(minutes=61)
    await bell.core.scheduler.run_due()
    await bell.idle()
    slot = bell.core.store.one("SELECT slot FROM incident_reminders")["slot"]
    # an outsider first: refused, the slot stays unsnoozed
    await bell.driver.action(snooze_action(0), f"{inc['id']}|{slot}", user=OUTSIDER,
                             channel=GENERAL)
    await bell.idle()
    assert bell.core.store.one("SELECT snoozed_by FROM incident_reminders")["snoozed_by"] is None
    # a forged index and forged minutes: the index is checked, the minutes ignored
    await bell.driver.action(snooze_action(7), f"{inc['id']}|{slot}|999999", user=ANA,
                             channel=inc["channel_id"])
    await bell.idle()
    assert bell.core.store.one("SELECT snoozed_by FROM incident_reminders")["snoozed_by"] is None
    await bell.driver.action(snooze_action(0), f"{inc['id']}|{slot}|999999", user=ANA,
                             channel=inc["channel_id"])
    await bell.idle()
    now = bell.core.clock.now()
    from datetime import timedelta

    from shipbell.bot.clock import to_db
    assert row(bell)["next_reminder_at"] == to_db(now + timedelta(minutes=30))
    nothing_went_wrong(bell)


@pytest.mark.parametrize("value", ["99999999999999999999999", "²", "", "1|²", "²|1", "{]",
                                   "[1, 2]", '{"i": true, "d": 1.0}', "-1|-1"])
async def test_odd_values_get_one_sentence(make_bell, value):
    bell = await start(make_bell, other={"deploy": DEPLOY_DEMO})
    seed_deploy(bell)
    inc = await declare(bell)
    before = (count(bell, "incident_deploys"), len(timeline(bell, inc["id"])),
              count(bell, "idempotency_keys"), count(bell, "deploys"))
    heard = len(responses(bell))
    for action in (Action.JOIN, f"{Action.CAUSED}.0", f"{Action.ROLLBACK}.0",
                   Action.FOLLOWUP_DONE, snooze_action(0)):
        ack = await bell.driver.action(str(action), value, user=ANA,
                                       channel=inc["channel_id"])
        assert ack.status == 200
    await bell.idle()
    said = said_since(bell, heard)
    assert len(said) == 5, said
    for text in said:
        assert text.count(". ") + text.count("; ") <= 1 and text.endswith("."), text
    nothing_went_wrong(bell)
    assert (count(bell, "incident_deploys"), len(timeline(bell, inc["id"])),
            count(bell, "idempotency_keys"), count(bell, "deploys")) == before


@pytest.mark.parametrize("metadata", ['[1]', f'"{GENERAL}"', '{"channel": "<!channel>"}',
                                      '{"channel": ["C1"]}', "{]"])
async def test_declare_form_metadata_is_only_ever_a_channel_id(make_bell, metadata):
    from shipbell.bot.slackdouble import SlackDriver
    from shipbell.handlers.incident.ids import Block, Field

    bell = await start(make_bell)
    await bell.command("/incident", "", channel=GENERAL)
    view = (await bell.double.wait_for("views.open")).response["view"]
    ack = await bell.driver.submit_view({**view, "private_metadata": metadata}, {
        Block.TITLE: {Field.TITLE: SlackDriver.text_value("Suspicious logins")},
        Block.SEVERITY: {Field.SEVERITY: SlackDriver.select_value("3")},
    })
    assert ack.status == 200
    await bell.idle()
    assert not row(bell)["origin_channel"]
    nothing_went_wrong(bell)
