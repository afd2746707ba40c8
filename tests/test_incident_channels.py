"""Channel names: Slack's rules, the template, collisions (existing, name_taken, concurrent)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, INCIDENTS
from shipbell.bot.storage import Backend, Store
from shipbell.handlers.incident.naming import candidates, channel_name, slugify
from test_incident_support import declare, row, start

WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


def test_slug_follows_slack_rules():
    assert slugify("DB latency: p99 > 4s (EU)!") == "db-latency-p99-4s-eu"
    assert slugify("Café — déjà vu") == "cafe-deja-vu"
    assert slugify("---") == ""
    assert slugify(f"<@{BOB}|bob> broke <#C0OPS0001|ops> <!here> <@{ANA}>") == "bob-broke-ops"


def test_name_keeps_the_id_and_stays_within_80_chars():
    name = channel_name("inc-{id}-{slug}", incident_id=12345, title="words " * 40,
                        severity=1, service="api", declared=WHEN)
    assert len(name) <= 80 and name.startswith("inc-12345-words-")
    assert set(name.split("-")[2:]) == {"words"}  # cut between words, never inside one
    assert slugify("Database connection pool exhausted", 22) == "database-connection"
    assert slugify("Supercalifragilistic", 10) == "supercalif"  # one long word: cut hard
    assert channel_name("{date}-{service}-sev{sev}-{id}-{slug}", incident_id=7,
                        title="Disk full", severity=2, service="db",
                        declared=WHEN) == "20261102-db-sev2-7-disk-full"
    assert channel_name("inc-{id}-{slug}", incident_id=3, title="!!!", severity=2,
                        service=None, declared=WHEN) == "inc-3"
    names = list(candidates("x" * 80, 3))
    assert names[1] == "x" * 78 + "-2" and all(len(n) <= 80 for n in names)


async def test_taken_name_gets_a_suffix(make_bell):
    bell = await start(make_bell)
    bell.double.add_channel("inc-1-db-latency")
    inc = await declare(bell)
    assert inc["channel_name"] == "inc-1-db-latency-2"
    assert bell.double.state.channels[inc["channel_id"]].name == "inc-1-db-latency-2"


async def test_name_taken_from_slack_is_retried_with_a_suffix(make_bell):
    bell = await start(make_bell)
    bell.double.fail_next("conversations.create", "name_taken", times=2)
    inc = await declare(bell)
    assert inc["channel_name"] == "inc-1-db-latency-3"
    assert [c.response.get("error") for c in bell.double.calls_to("conversations.create")] == [
        "name_taken", "name_taken", None]


async def test_custom_template(make_bell):
    bell = await start(make_bell, {"channel_template": "incident-{id}-sev{sev}-{slug}"})
    inc = await declare(bell, "open Login broken sev1")
    assert inc["channel_name"] == "incident-1-sev1-login-broken"


async def test_concurrent_declares_get_two_incidents_and_two_channels(make_bell):
    bell = await start(make_bell)
    acks = await asyncio.gather(*(
        bell.command("/incident", "open Checkout down sev1 --service api", user=u)
        for u in (ANA, BOB, CARL)))
    assert all(a.status == 200 and "Declared" in a.text for a in acks)
    await bell.idle()
    rows = bell.core.store.all("SELECT id, channel_id, channel_name FROM incidents ORDER BY id")
    assert len(rows) == 3
    assert len({r["channel_id"] for r in rows}) == 3
    assert {r["channel_name"] for r in rows} == {
        "inc-1-checkout-down", "inc-2-checkout-down", "inc-3-checkout-down"}
    assert row(bell, 2)["reporter"] in (ANA, BOB, CARL)


async def test_channel_creation_refused_tells_the_reporter(make_bell):
    bell = await start(make_bell)
    bell.double.fail_next("conversations.create", "restricted_action")
    await bell.command("/incident", "open Disk full sev3")
    await bell.idle()
    inc = row(bell)
    assert inc["channel_id"] is None and inc["status"] == "investigating"
    told = [c.args.get("text", "") for c in bell.double.calls_to("response_url")]
    assert any("would not create its channel (restricted_action)" in t for t in told)


async def test_setup_outlasting_a_slack_outage_is_retried_by_the_sweep(make_bell, clock):
    bell = await start(make_bell)
    bell.double.fail_next("conversations.create", "internal_error", times=3)
    ack = await bell.command("/incident", "open Everything is down sev1")
    assert "Declared INC-1" in ack.text
    for attempt in (1, 2):
        await bell.double.wait_for_count("conversations.create", attempt)
        await clock.until_sleeping()  # the runner backs off on the fake clock
        clock.advance(seconds=30)
    await bell.idle()
    assert row(bell)["channel_id"] is None
    assert bell.core.store.one("SELECT status FROM tasks WHERE kind = 'incident.setup'")[
        "status"] == "failed"
    clock.advance(minutes=3)
    await bell.core.scheduler.run_due()
    await bell.idle()
    inc = row(bell)
    assert inc["channel_name"] == "inc-1-everything-is-down"
    await bell.core.scheduler.run_due()
    await bell.idle()
    assert len(bell.double.calls_to("conversations.create")) == 4


def test_config_errors_say_what_would_work():
    import pytest
    from pydantic import ValidationError
    from shipbell.bot.incidents.config import IncidentSettings

    with pytest.raises(ValidationError, match=r"must contain \{id\}"):
        IncidentSettings(channel_template="inc-{slug}")
    with pytest.raises(ValidationError, match=r"keep it under 60 characters"):
        IncidentSettings(channel_template="production-incident-war-room-" * 2 + "{id}-{slug}")
    with pytest.raises(ValidationError, match=r"use only the fields \{id\}"):
        IncidentSettings(channel_template="inc-{id}-{team}")
    with pytest.raises(ValidationError, match="ids such as U0123ABCD or S0123ABCD"):
        IncidentSettings(responders=["oncall"])
    with pytest.raises(ValidationError, match="one to five positive"):
        IncidentSettings(snooze_minutes=[])
    assert IncidentSettings().update_minutes.minutes(1) == 30
    assert IncidentSettings().update_minutes.minutes(4) == 0


# Storing the new channel's id fails as a crash would, by a trigger in the database (each
# backend's trigger language; on PostgreSQL the error is a constraint violation, as SQLite's
# RAISE(ABORT) is).
CRASH_ON_STORE = {
    Backend.SQLITE: ["""
CREATE TRIGGER crash_on_store BEFORE UPDATE OF channel_id ON incidents
WHEN NEW.channel_id IS NOT NULL BEGIN SELECT RAISE(ABORT, 'simulated crash'); END
"""],
    Backend.POSTGRESQL: ["""
CREATE FUNCTION crash_on_store() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'simulated crash' USING ERRCODE = '23000'; END $$
""", """
CREATE TRIGGER crash_on_store BEFORE UPDATE OF channel_id ON incidents FOR EACH ROW
WHEN (NEW.channel_id IS NOT NULL) EXECUTE FUNCTION crash_on_store()
"""],
}
STOP_CRASHING = {
    Backend.SQLITE: ["DROP TRIGGER crash_on_store"],
    Backend.POSTGRESQL: ["DROP TRIGGER crash_on_store ON incidents",
                         "DROP FUNCTION crash_on_store()"],
}


def crash_on_store(store: Store, on: bool = True) -> None:
    for statement in (CRASH_ON_STORE if on else STOP_CRASHING)[store.backend]:
        store.execute(statement)


async def test_crash_after_create_adopts_the_channel_instead_of_orphaning_it(make_bell, clock):
    bell = await start(make_bell)
    crash_on_store(bell.core.store)  # Slack creates the channel; storing its id dies
    await bell.command("/incident", "open DB latency sev2 --service api")
    await bell.double.wait_for_count("conversations.create", 1)
    await clock.until_sleeping()  # the set-up failed and waits to be retried
    crash_on_store(bell.core.store, on=False)
    await bell.restart()  # the process dies; the pending set-up resumes in the new one
    await bell.idle()
    inc = row(bell)
    named = [c for c in bell.double.state.channels.values() if c.name.startswith("inc-1")]
    assert [c.name for c in named] == ["inc-1-db-latency"]
    assert inc["channel_id"] == named[0].id and inc["channel_name"] == "inc-1-db-latency"
    assert [c.response.get("error") for c in bell.double.calls_to("conversations.create")] == [
        None, "name_taken"]
    assert bell.double.state.channels[inc["channel_id"]].topic.startswith("INC-1 SEV2")


async def test_a_taken_name_someone_else_created_is_never_adopted(make_bell, clock):
    bell = await start(make_bell)
    crash_on_store(bell.core.store)
    bell.double.add_channel("inc-1-db-latency")  # a person's channel, not Shipbell's
    await bell.command("/incident", "open DB latency sev2 --service api")
    await bell.double.wait_for_count("conversations.create", 2)
    await clock.until_sleeping()
    crash_on_store(bell.core.store, on=False)
    clock.advance(seconds=30)
    await bell.idle()
    inc = row(bell)
    assert inc["channel_name"] == "inc-1-db-latency-2"  # Shipbell's own, created before the crash
    theirs = [c for c in bell.double.state.channels.values() if c.name == "inc-1-db-latency"]
    assert inc["channel_id"] != theirs[0].id
    assert sorted(c.name for c in bell.double.state.channels.values()
                  if c.name.startswith("inc-1")) == ["inc-1-db-latency", "inc-1-db-latency-2"]


async def test_a_rate_limited_create_is_waited_out_and_makes_one_channel(make_bell):
    bell = await start(make_bell)
    bell.double.rate_limit_next("conversations.create", retry_after=0)  # the SDK sleeps ≤ 1 s
    inc = await declare(bell)
    assert inc["channel_name"] == "inc-1-db-latency" and inc["status_message_ts"]
    assert len([c for c in bell.double.state.channels.values()
                if c.name.startswith("inc-1")]) == 1
    assert len(bell.double.messages(INCIDENTS)) == 1
    assert bell.double.state.channels[inc["channel_id"]].topic.startswith("INC-1 SEV2")
