"""Hostile and odd input: long texts, emoji-only titles, mass mentions, words out of order."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import BOB, CARL, DANA, INCIDENTS, LEADS
from test_incident_support import declare, row, run, seed_deploy, start, timeline

LONG = "word " * 790 + "end!"  # with the command word: near 4,000, the most Shipbell reads


async def test_near_limit_texts_never_break_block_kit(make_bell, clock):
    bell = await start(make_bell)
    inc = await declare(bell, f"open {LONG} sev1 --service api")
    assert len(inc["title"]) <= 150 and len(inc["channel_name"]) <= 80
    for text in (f"update {LONG}", f"note {LONG}", f"status identified {LONG}",
                 f"followup {LONG[:3000]} <@{BOB}> due 2026-12-01", f"assign comms <@{DANA}>",
                 f"resolve {LONG}"):
        await run(bell, text, inc)
    clock.advance(days=40)
    await bell.core.scheduler.run_due()
    await bell.idle()
    assert bell.double.problems == []


async def test_a_long_title_is_cut_at_a_word_and_kept_whole_in_the_description(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell, f"open {LONG} sev1")
    assert inc["title"] == ("word " * 29).strip() + " …"
    assert inc["description"] == LONG
    assert inc["channel_name"].startswith("inc-1-word-word") and len(inc["channel_name"]) <= 80
    assert not inc["channel_name"].endswith(("-", "_"))


async def test_titles_of_only_emoji_or_punctuation_still_get_a_valid_channel(make_bell):
    bell = await start(make_bell)
    first = await declare(bell, "open 🔥🔥🔥 sev1")
    second = await declare(bell, "open :fire: :fire: sev1", user=BOB)
    third = await declare(bell, "open ?!… «»  — sev1", user=CARL)
    fourth = await declare(bell, "open 数据库 故障 sev1", user=DANA)
    assert [r["channel_name"] for r in (first, second, third, fourth)] == [
        "inc-1", "inc-2-fire-fire", "inc-3", "inc-4"]
    assert row(bell, 1)["title"] == "🔥🔥🔥"
    header = bell.double.messages(first["channel_id"])[0]["blocks"][0]
    assert header["text"]["text"] == "INC-1: 🔥🔥🔥"


async def test_mass_mentions_in_a_title_never_ping_the_announcements_channel(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell, f"open <!channel> <!here|here> <!subteam^{LEADS}|@leads> api down")
    await run(bell, "update <!everyone> still down", inc)
    announced = str(bell.double.messages(INCIDENTS))
    for ping in ("<!channel>", "<!here", "<!subteam^", "<!everyone>"):
        assert ping not in announced
    assert "@channel @here @leads api down" in announced
    assert timeline(bell, inc["id"])[0]["text"].endswith("<!channel> <!here|here>"
                                                         f" <!subteam^{LEADS}|@leads> api down")


async def test_arguments_in_the_other_order_or_with_extra_mentions(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell)
    deploy = seed_deploy(bell)
    assert await run(bell, f"assign <@{BOB}|bob> commander", inc) == \
        f"<@{BOB}> is now commander of INC-1."
    assert await run(bell, f"link fixed {deploy}", inc) == \
        f"Linked deploy #{deploy} to INC-1: fixed."
    reply = await run(bell, f"followup Pair <@{DANA}> with carl on alerts <@{CARL}>", inc)
    assert reply == f"Follow-up #1 recorded for <@{CARL}>."
    fu = bell.core.store.one("SELECT text, owner FROM followups")
    assert fu == {"text": f"Pair <@{DANA}> with carl on alerts", "owner": CARL}
    assert await run(bell, f"followup Fix the due dates page <@{BOB}> due tomorrow", inc) == (
        "`due tomorrow`? Give the date as YYYY-MM-DD, e.g."
        " `/incident followup Add alert @ana due 2026-12-01`.")
    assert await run(bell, f"followup Fix the due date parser <@{BOB}>", inc) == \
        f"Follow-up #2 recorded for <@{BOB}>."
    assert bell.core.store.one("SELECT text FROM followups WHERE id = 2")["text"] == \
        "Fix the due date parser"


async def test_a_long_list_shows_the_worst_twenty(make_bell):
    bell = await start(make_bell)
    for n in range(23):
        await bell.command("/incident", f"open Outage number {n} {'sev1' if n == 22 else 'sev3'}",
                           user=BOB)
    await bell.idle()
    ack = await bell.command("/incident", "list")
    lines = ack.text.splitlines()
    assert lines[0] == "*Open incidents (23)*"
    assert lines[1].startswith("• *INC-23* SEV1") and len(lines) == 22
    assert lines[-1] == "• and 3 more (the least severe)"
