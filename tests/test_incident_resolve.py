"""Resolve → durations and the Markdown post-mortem; close and auto-archive."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import BOB, CARL, GENERAL, INCIDENTS
from shipbell.handlers.incident.ids import Action
from test_incident_support import declare, row, run, seed_deploy, start, timeline


def uploaded(bell) -> str:
    files = [f for f in bell.double.state.files.values() if f["name"].endswith(".md")]
    assert files, "no post-mortem uploaded"
    return files[-1]["content"].decode()


async def after(bell, clock, minutes: int, text: str, inc) -> str:
    """``minutes`` later, a command in the incident's channel; its answer."""
    clock.advance(minutes=minutes)
    return await run(bell, text, inc)


async def test_resolve_records_durations_and_drafts_the_postmortem(make_bell, clock, tmp_path):
    bell = await start(make_bell, {"postmortem_dir": str(tmp_path / "postmortems")})
    deploy = seed_deploy(bell, version="v42")
    inc = await declare(bell, "open Checkout errors sev2 --service api")
    suspects = next(m for m in bell.double.messages(inc["channel_id"])
                    if "Suspect deploys" in m.get("text", "") or "did one" in m.get("text", ""))
    await bell.driver.press(suspects, f"{Action.CAUSED}.0", user=BOB)
    await bell.idle()
    await run(bell, f"followup Alert on 5xx ratio <@{CARL}> due 2026-11-20", inc)
    await after(bell, clock, 20, "status monitoring error rate back to normal", inc)
    reply = await after(bell, clock, 25, "resolve Rolled back api to v41", inc)
    assert reply == ("INC-1 resolved. Mitigated after 20 min, resolved after 45 min."
                     " Drafting the post-mortem…")
    done = row(bell)
    assert done["status"] == "resolved" and done["next_reminder_at"] is None
    assert done["mitigated_at"] == "2026-11-02T09:20:00.000000+00:00"
    assert done["resolved_at"] == "2026-11-02T09:45:00.000000+00:00"
    assert done["summary"] == "Rolled back api to v41"

    markdown = uploaded(bell)
    assert markdown == done["postmortem"]
    for heading in ("## Summary", "## Impact", "## Timeline (UTC)", "## Detection",
                    "## Root cause", "## Resolution", "## What went well",
                    "## What did not go well", "## Follow-ups", "## Metadata"):
        assert heading in markdown
    assert markdown.startswith("# INC-1: Checkout errors")
    assert f"Caused by deploy #{deploy} (api v42 to production)" in markdown
    assert "- [ ] #1 Alert on 5xx ratio — owner @carl, due 2026-11-20" in markdown
    assert "Mitigated: 2026-11-02 09:20 UTC (after 20 min)" in markdown
    assert "Resolved: 2026-11-02 09:45 UTC (after 45 min; 25 min after mitigation)" in markdown
    assert "2026-11-02 09:00 UTC · Declared · @ana" in markdown
    written = tmp_path / "postmortems" / "INC-1-checkout-errors.md"
    assert written.read_text() == markdown
    comment = bell.double.calls_to("files.completeUploadExternal")[-1].args
    assert comment["channel_id"] == inc["channel_id"]

    status = next(m for m in bell.double.messages(inc["channel_id"])
                  if m["ts"] == inc["status_message_ts"])
    assert "Rolled back api to v41" in str(status["blocks"])
    announcement = bell.double.messages(INCIDENTS)[0]
    assert "Resolved" in announcement["text"]
    assert "accessory" not in announcement["blocks"][0]  # no Join on a resolved incident
    assert "already resolved" in await run(bell, "resolve again", inc)


async def test_postmortem_can_be_redrafted_and_close_archives(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    await run(bell, "resolve fixed", inc)
    await run(bell, "note root cause: pool size 10", inc)
    assert "Drafting" in await run(bell, "postmortem", inc)
    assert "root cause: pool size 10" in uploaded(bell)
    assert await run(bell, "close", inc) == \
        "INC-1 closed; archiving its channel. The timeline stays in Shipbell."
    assert bell.double.state.channels[inc["channel_id"]].is_archived
    assert row(bell)["status"] == "closed" and row(bell)["closed_at"]
    assert timeline(bell, inc["id"])[-1]["kind"] == "closed"
    ack = await bell.command("/incident", "close INC-1", channel=GENERAL)
    assert ack.text == "INC-1 is already closed."


async def test_channel_is_archived_n_days_after_resolution(make_bell, clock):
    bell = await start(make_bell, {"archive_after_days": 2})
    inc = await declare(bell)
    await run(bell, "resolve fixed", inc)
    clock.advance(days=1, hours=23)
    await bell.core.scheduler.run_due()
    await bell.idle()
    assert not bell.double.state.channels[inc["channel_id"]].is_archived
    clock.advance(hours=2)
    await bell.core.scheduler.run_due()
    await bell.idle()
    assert bell.double.state.channels[inc["channel_id"]].is_archived
    assert row(bell)["status"] == "closed"
    assert len(bell.double.calls_to("conversations.archive")) == 1


async def test_a_resolved_incident_can_be_reopened_and_resolved_again(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell)  # SEV2: reminders every 60 minutes
    await after(bell, clock, 10, "resolve restarted the pool", inc)
    reply = await after(bell, clock, 5, "status investigating errors are back", inc)
    assert reply == ("INC-1 is reopened and investigating; update reminders are back on."
                     " Resolve it again with `/incident resolve <summary>`.")
    fields = ("status", "resolved_at", "mitigated_at", "summary", "next_reminder_at")
    assert {k: row(bell)[k] for k in fields} == {
        "status": "investigating", "resolved_at": None, "mitigated_at": None, "summary": None,
        "next_reminder_at": "2026-11-02T10:15:00.000000+00:00"}
    assert timeline(bell, inc["id"])[-1]["text"] == \
        "Reopened: resolved → investigating: errors are back"
    assert "Reopened" in bell.double.messages(inc["channel_id"])[-1]["text"]
    assert "accessory" in bell.double.messages(INCIDENTS)[0]["blocks"][0]  # Join is back
    await after(bell, clock, 15, "resolve raised the pool size", inc)
    done = row(bell)
    assert done["resolved_at"] == "2026-11-02T09:30:00.000000+00:00"
    assert done["mitigated_at"] == done["resolved_at"]
    assert len([f for f in bell.double.state.files.values() if f["name"].endswith(".md")]) == 2
    assert "raised the pool size" in uploaded(bell)
    await run(bell, "close", inc)
    assert "declare a new incident" in await run(bell, "status investigating", inc)
