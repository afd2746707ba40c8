"""What the shell shows: edits as changes with stable button numbers, confirmations, `who`,
files, and answers for buttons and commands that no longer (or never) make sense."""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta

import pytest
from shipbell.bot.clock import SystemClock
from shipbell.bot.local import LocalShipbell, MakeBell, merge
from shipbell.bot.shell.repl import Shell, demo_config
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS


async def quick_shell(make_bell: MakeBell) -> tuple[LocalShipbell, Shell, io.StringIO]:
    """The demo config on the wall clock with a quick stand-in deploy, as `shipbell shell`
    runs it, so each line runs to its end before the next."""
    config = merge(demo_config(), {"deploy": {"providers": {"dry-run": {"seconds": 0.2}}}})
    bell = await make_bell(config, clock=SystemClock())
    out = io.StringIO()
    return bell, Shell(bell, ANA, DEPLOYS, out=out), out


def after(out: io.StringIO, line: str) -> str:
    """What the shell printed since `line` was typed (a marker the test writes)."""
    return out.getvalue().rsplit(f"<<{line}>>", 1)[1]


async def run(shell: Shell, out: io.StringIO, line: str) -> str:
    out.write(f"<<{line}>>\n")
    assert await shell.handle(line)
    return after(out, line)


async def test_an_edit_shows_what_changed_and_keeps_button_numbers(make_bell: MakeBell) -> None:
    bell, shell, out = await quick_shell(make_bell)
    first = await run(shell, out, "/deploy worker to production")
    assert "[1] Approve  [2] Reject  [3] Cancel" in first
    await run(shell, out, "as bob")
    edits = await run(shell, out, "press 1")
    approved = edits.split("#deploys [m")[1]
    assert "edited" in approved and "*Approvers* @bob (1/1)" in approved
    assert "*Requester* @ana" not in approved  # unchanged lines are not printed again
    assert "[3] Cancel" in approved and "[4]" not in edits  # Cancel keeps its number
    assert "(gone) [3] Cancel" in edits  # it went away when the deploy finished
    cancelled = await run(shell, out, "press 3")
    assert "Button [3] (Cancel) is no longer on its message" in cancelled
    assert not [c for c in bell.double.calls if "cancel" in str(c.args.get("text", "")).lower()]


async def test_a_button_of_a_closed_incident_says_so(make_bell: MakeBell) -> None:
    bell, shell, out = await quick_shell(make_bell)
    await run(shell, out, "/incident open Checkout latency sev2")
    join = next(n for n, p in enumerate(shell.screen.pressables, 1) if p.label == "Join")
    await run(shell, out, "in #inc-1-checkout-latency")
    await run(shell, out, "/incident resolve rolled back")
    await run(shell, out, "as bob")
    pressed = await run(shell, out, f"press {join}")
    assert f"Button [{join}] (Join) is no longer on its message m" in pressed
    invited = [c.args.get("users") for c in bell.double.calls_to("conversations.invite")]
    assert BOB not in invited


async def test_who_lists_people_groups_and_channels(make_bell: MakeBell) -> None:
    _, shell, out = await quick_shell(make_bell)
    text = await run(shell, out, "who")
    assert "you are @ana in #deploys" in text
    assert "people: @ana, @bob, @carl, @dana, @eve" in text
    assert "groups: @oncall (carl, dana), @leads (eve)" in text
    assert "channels: #deploys, #general, #incidents, #releases, #metrics" in text


async def test_pin_react_and_tick_say_what_they_did(make_bell: MakeBell) -> None:
    bell = await make_bell(demo_config())  # the fake clock: what is due stays put
    out = io.StringIO()
    shell = Shell(bell, ANA, DEPLOYS, out=out)
    await run(shell, out, "/incident open Checkout latency sev2")
    number = next(n for n, (channel, _) in enumerate(shell.screen.messages, 1)
                  if shell.screen.name(channel) == "inc-1-checkout-latency")
    assert f"· @ana pinned m{number} in #inc-1-checkout-latency" in await run(
        shell, out, f"pin m{number}")
    assert f"· @ana reacted :eyes: to m{number} in #inc-1-checkout-latency" in await run(
        shell, out, f"react m{number} eyes")
    ran = await run(shell, out, "tick")  # each run that was due, and its outcome
    assert re.search(r"· [\w.-]+ @ \d{4}-\d\d-\d\d \d\d:\d\d: \w+", ran), ran
    assert "· tick: no scheduled job is due now" in await run(shell, out, "tick")


async def test_the_post_mortem_draft_can_be_read(make_bell: MakeBell) -> None:
    _, shell, out = await quick_shell(make_bell)
    assert "No files posted yet" in await run(shell, out, "files")
    await run(shell, out, "/incident open Checkout latency sev2")
    await run(shell, out, "in #inc-1-checkout-latency")
    await run(shell, out, "/incident resolve rolled back the cache")
    listed = await run(shell, out, "files")
    assert "[f1] INC-1 post-mortem draft" in listed and "`file 1` prints it" in listed
    draft = await run(shell, out, "file 1")
    assert "│ # INC-1: Checkout latency" in draft and "│ ## Timeline (UTC)" in draft
    assert "rolled back the cache" in draft
    assert "from 1 to 1" in await run(shell, out, "file 2")


async def test_deploy_stats_says_its_periods_end_yesterday(make_bell: MakeBell) -> None:
    bell, shell, out = await quick_shell(make_bell)
    text = await run(shell, out, "/deploy stats")
    day = bell.core.clock.now().date() - timedelta(days=1)  # the demo's zone is UTC
    assert f"these periods end yesterday, {day:%b} {day.day}" in text
    assert text.index("DELIVERY DIGEST") < text.index("periods end yesterday")


async def test_a_mistyped_command_gets_one_sentence_and_no_bolt_hint(
    make_bell: MakeBell, caplog: pytest.LogCaptureFixture,
) -> None:
    _, shell, out = await quick_shell(make_bell)
    with caplog.at_level(logging.DEBUG):
        text = await run(shell, out, "/deplyo web")
    assert "`/deplyo` is not a Shipbell command; try /deploy, /incident, /release" in text
    assert "Suggestion" not in caplog.text and "Unhandled request" not in caplog.text
    assert "HTTP 404" not in text


async def test_output_while_someone_types_redraws_the_half_typed_line(
    make_bell: MakeBell,
) -> None:
    _, shell, out = await quick_shell(make_bell)
    shell.at_prompt = lambda: "/deploy sta"  # what a terminal's readline buffer holds
    shell.say("#deploys [m9]", "  a reminder")
    assert out.getvalue().endswith("\r\x1b[K#deploys [m9]\n  a reminder\n> /deploy sta")
