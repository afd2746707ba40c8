"""The post-mortem Markdown of an incident that saw every kind of timeline entry."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import ANA, BOB, CARL
from test_incident_resolve import uploaded
from test_incident_support import declare, row, run, seed_deploy, start
from test_incident_timeline import pin_event, reaction_event, seed


async def test_every_kind_of_entry_reaches_the_postmortem(make_bell, clock):
    bell = await start(make_bell)
    caused = seed_deploy(bell, version="v42")
    inc = await declare(bell, "open Checkout errors sev3 --service api")
    cid = inc["channel_id"]
    early = seed(bell, cid, "5xx alarm fired", minutes_ago=10)
    await bell.driver.event(pin_event(cid, early, "5xx alarm fired"), event_id="EvP")
    clock.advance(minutes=1)
    later = seed(bell, cid, "found it:\nthe pool is at 10", minutes_ago=0, user=CARL)
    await bell.driver.event(reaction_event(cid, later), event_id="EvR")
    await bell.idle()
    for text in ("sev 2", f"assign commander <@{BOB}>", "status identified pool exhausted",
                 "update Rolling back\nETA 10 min", "note restarted api-3 by hand",
                 f"link {caused} caused", f"followup Alert on pool usage <@{CARL}> due 2026-11-20",
                 "status monitoring"):
        clock.advance(minutes=1)
        await run(bell, text, inc)
    fixed = seed_deploy(bell, version="v41", minutes_ago=0)
    await run(bell, f"link {fixed} fixed", inc)
    clock.advance(minutes=5)
    await run(bell, "resolve Rolled back to v41", inc)
    markdown = uploaded(bell)
    entries = markdown.split("## Timeline (UTC)\n")[1].split("\n\n## ")[0].split("\n- ")
    assert [e.split(" · ")[1] for e in entries] == [
        "Pinned", "Declared", "Pinned (:pushpin:)", "Severity", "Role", "Status", "Update",
        "Note", "Deploy", "Follow-up", "Status", "Deploy", "Resolved"]
    assert entries[0].startswith("- 2026-11-02 08:50 UTC · Pinned · @bob: 5xx alarm fired"
                                 " (added by @ana) ([link](https://")
    assert "· @carl: found it:\n  the pool is at 10 (added by @carl)" in entries[2]
    assert entries[4].endswith("Commander: @bob (was @ana)")
    assert entries[6].endswith("Rolling back\n  ETA 10 min")  # stays inside its list item
    assert "<@" not in markdown  # people read as names, not Slack ids
    for part in ("## Detection\nDeclared by @ana at 2026-11-02 09:00 UTC. Earliest captured"
                 " signal: 2026-11-02 08:50 UTC.",
                 f"## Root cause\nCaused by deploy #{caused} (api v42 to production).",
                 f"## Resolution\nRolled back to v41\n\nFixed by deploy #{fixed} (api v41 to"
                 " production).",
                 "## Follow-ups\n- [ ] #1 Alert on pool usage — owner @carl, due 2026-11-20",
                 "## What went well\n- Every status update went out on time (4).\n- _to fill",
                 "## What did not go well\n- _to fill in_",
                 "- Commander: @bob · Comms: — · Reporter: @ana",
                 "- Mitigated: 2026-11-02 09:09 UTC (after 9 min)",
                 "- Resolved: 2026-11-02 09:14 UTC (after 14 min; 5 min after mitigation)"):
        assert part in markdown, part


def test_slack_references_read_as_plain_markdown():
    from shipbell.handlers.incident.postmortem import readable

    text = (f"<@{ANA}> and <@U0GONE001|old-name> in <#C0OPS0001|ops> told <!subteam^S0SRE0001|@sre>"
            " <!here>: see <https://status.example.com|the status page> or <https://x.io>")
    assert readable(text, {ANA: "ana"}) == (
        "@ana and @old-name in #ops told @sre @here: see"
        " the status page (https://status.example.com) or https://x.io")


def test_a_labelled_link_keeps_its_address_in_sight_and_escapes_are_undone():
    from shipbell.handlers.incident.postmortem import readable

    text = "<https://evil.example|the runbook> &amp; <!here|@here> &lt;b&gt;"
    assert readable(text, {}) == "the runbook (https://evil.example) & @here <b>"


async def test_an_unwritable_postmortem_dir_still_uploads_the_draft(make_bell, tmp_path):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    bell = await start(make_bell, {"postmortem_dir": str(blocker / "postmortems")})
    inc = await declare(bell)
    await run(bell, "resolve restarted the pool", inc)
    assert "restarted the pool" in uploaded(bell)
    assert row(bell)["postmortem"].startswith("# INC-1")
    comment = bell.double.calls_to("files.completeUploadExternal")[-1].args["initial_comment"]
    assert comment == (f":memo: Post-mortem draft for INC-1 (not written to"
                       f" `{blocker / 'postmortems'}`: Not a directory).")


async def test_late_status_updates_are_named_in_what_did_not_go_well(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell, "open Login down sev1")  # an update every 30 minutes
    clock.advance(minutes=10)
    await run(bell, "update looking at the IdP", inc)
    clock.advance(minutes=45)
    await run(bell, "resolve IdP certificate renewed", inc)
    markdown = uploaded(bell)
    assert "## What went well\n- _to fill in_" in markdown
    assert "## What did not go well\n- 1 of 2 status updates came later than the severity's" \
           " update cadence.\n- _to fill in_" in markdown
