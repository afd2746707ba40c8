"""Update reminders on a FakeClock: cadence, snooze, escalation, restart, follow-ups."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA, LEADS
from shipbell.handlers.incident.ids import Action, snooze_action
from test_incident_support import declare, row, run, start


def nudges(bell, inc) -> list[dict]:
    """Reminders as posted (a snooze later replaces the message itself)."""
    return [{**c.args, "ts": c.response["ts"]} for c in bell.double.calls_to("chat.postMessage")
            if c.args.get("channel") == inc["channel_id"]
            and "no status update" in c.args.get("text", "") and c.response.get("ok")]


async def sweep(bell) -> None:
    await bell.core.scheduler.run_due()
    await bell.idle()


async def nudges_after(bell, clock, inc, minutes: int) -> list[dict]:
    """Let ``minutes`` pass, run the sweep, and return every reminder posted so far."""
    clock.advance(minutes=minutes)
    await sweep(bell)
    return nudges(bell, inc)


async def test_nudge_snooze_escalate_and_reset(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)  # SEV2: every 60 minutes
    assert await nudges_after(bell, clock, inc, 59) == []

    await nudges_after(bell, clock, inc, 2)
    first = await nudges_after(bell, clock, inc, 0)  # a second pass in the same minute
    assert len(first) == 1
    assert first[0]["text"].startswith(f"<@{ANA}> INC-1 has had no status update for 1 h")
    assert "subteam" not in first[0]["text"]

    ack = await bell.driver.press(first[0], snooze_action(0), user=ANA)
    assert ack.status == 200
    await bell.idle()
    await bell.driver.press(first[0], snooze_action(1), user=BOB)  # a second click
    await bell.idle()
    texts = [c.args.get("text", "") for c in bell.double.calls_to("response_url")]
    assert any("snoozed update reminders for INC-1" in t for t in texts)
    assert any("already snoozed" in t for t in texts)
    assert row(bell)["next_reminder_at"] == "2026-11-02T10:31:00.000000+00:00"

    assert len(await nudges_after(bell, clock, inc, 20)) == 1
    second = await nudges_after(bell, clock, inc, 11)
    assert len(second) == 2
    assert f"<!subteam^{LEADS}>: 2 reminders in a row" in second[-1]["text"]

    await run(bell, "update mitigation in progress", inc)
    assert row(bell)["missed_updates"] == 0
    on_time = bell.core.store.one("SELECT on_time FROM incident_updates")["on_time"]
    assert on_time == 0  # due at 10:00, went out at 10:32
    assert len(await nudges_after(bell, clock, inc, 59)) == 2
    third = await nudges_after(bell, clock, inc, 2)
    assert len(third) == 3 and "subteam" not in third[-1]["text"]


async def test_comms_is_nudged_and_sev4_never(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell, "open Slow search sev1")
    await run(bell, f"assign comms <@{DANA}>", inc)
    quiet = await declare(bell, "open Typo on status page sev4", user=BOB)
    clock.advance(minutes=31)
    await sweep(bell)
    assert nudges(bell, inc)[0]["text"].startswith(f"<@{DANA}> INC-1")
    assert nudges(bell, quiet) == []
    assert row(bell, quiet["id"])["next_reminder_at"] is None


async def test_reminders_survive_restart_and_never_repeat_a_slot(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)
    clock.advance(minutes=61)
    await bell.restart()
    await sweep(bell)
    assert len(nudges(bell, inc)) == 1
    await bell.restart()
    await sweep(bell)
    assert len(nudges(bell, inc)) == 1
    slots = bell.core.store.all("SELECT slot FROM incident_reminders")
    assert slots == [{"slot": "2026-11-02T10:00:00.000000+00:00"}]
    clock.advance(minutes=60)
    await bell.restart()
    await sweep(bell)
    assert len(nudges(bell, inc)) == 2


async def test_resolved_incidents_stop_reminding(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)
    await run(bell, "resolve restarted the pool", inc)
    clock.advance(hours=3)
    await sweep(bell)
    assert nudges(bell, inc) == []


async def test_overdue_followups_are_reminded_once_a_day(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)
    await run(bell, f"followup Add pool alarm <@{BOB}> due 2026-11-03", inc)
    await run(bell, f"followup Write runbook <@{CARL}> due 2026-11-10", inc)

    def dms() -> list[str]:
        return [c.args["text"] for c in bell.double.calls_to("chat.postMessage")
                if c.args.get("channel") == BOB]

    clock.advance(hours=24)  # 2026-11-03: due today, not overdue
    await sweep(bell)
    assert dms() == []
    clock.advance(hours=24)
    await sweep(bell)
    assert len(dms()) == 1 and "Follow-up #1 of INC-1 was due 2026-11-03" in dms()[0]
    clock.advance(hours=2)
    await sweep(bell)
    assert len(dms()) == 1
    clock.advance(hours=24)
    await sweep(bell)
    assert len(dms()) == 2
    dm = next(c for c in bell.double.calls_to("chat.postMessage")
              if c.args.get("channel") == BOB)
    _, message = bell.double.state.find_message(dm.response["ts"])
    await bell.driver.press(message, Action.FOLLOWUP_DONE, user=BOB)
    await bell.idle()
    assert bell.core.store.one("SELECT done_at FROM followups WHERE id = 1")["done_at"]
    assert f"marked done by <@{BOB}>" in bell.double.state.find_message(dm.response["ts"])[1][
        "text"]
    clock.advance(hours=24)
    await sweep(bell)
    assert len(dms()) == 2
    assert not any(c.args.get("channel") == CARL for c in
                   bell.double.calls_to("chat.postMessage"))
