"""What people type in the shell: `@bob`, `#channel`, `@group` as Slack sends them, comments,
and the README's own examples pasted as they are."""

from __future__ import annotations

import io
import re
from pathlib import Path

from shipbell.bot.clock import SystemClock
from shipbell.bot.local import MakeBell, merge
from shipbell.bot.shell.repl import Shell, demo_config
from shipbell.bot.slackdouble.cast import ANA, BOB, DEPLOYS

README = Path(__file__).resolve().parents[1] / "README.md"


def readme_shell_lines() -> list[str]:
    """The lines of the README's shell example (the first ```text block of the Quickstart)."""
    text = README.read_text("utf-8")
    block = re.search(r"## Quickstart.*?```text\n(.*?)```", text, re.S)
    assert block is not None
    return [line.removeprefix("> ") for line in block[1].splitlines() if line.strip()]


async def test_mentions_work_where_a_mention_is_expected(make_bell: MakeBell) -> None:
    bell = await make_bell(demo_config())
    out = io.StringIO()
    shell = Shell(bell, ANA, DEPLOYS, out=out)
    await shell.handle("/incident open Checkout latency sev2 --service api")
    await bell.double.wait_for("pins.add")
    await shell.handle("in #inc-1-checkout-latency")
    await shell.handle("/incident assign comms @bob")
    await shell.handle("/release captain weekly @eve")
    text = out.getvalue()
    assert "@bob is now comms of INC-1." in text
    assert "@eve" in text.split("/release captain weekly")[-1]
    assert "isn't a person" not in text and "needs a person" not in text


async def test_the_readme_examples_work_when_pasted(make_bell: MakeBell) -> None:
    # the shell's own clock, with a quick stand-in deploy, so every line runs to its end
    quick = merge(demo_config(), {"deploy": {"providers": {"dry-run": {"seconds": 0.2}}}})
    bell = await make_bell(quick, clock=SystemClock())
    out = io.StringIO()
    shell = Shell(bell, ANA, DEPLOYS, out=out)
    lines = readme_shell_lines()
    assert any(" # " in line for line in lines)  # the README does use comments
    for line in lines:
        assert await shell.handle(line), line
    text = out.getvalue()
    for refusal in ("Try one of", "press takes", "No modal is open", "not a Shipbell command",
                    "is no longer on its message", "needs an incident", "Type a slash command"):
        assert refusal not in text
    assert "you are @bob in #deploys" in text
    assert "you are @bob in #inc-1-checkout-latency" in text
    assert "@bob is now comms of INC-1." in text
    assert "#inc-2-db-down" in text  # the modal declared a second incident
    assert "people: @ana, @bob" in text
    invites = [c.args.get("users") for c in bell.double.calls_to("conversations.invite")]
    assert BOB in invites  # `press 2` as bob joined the incident
