"""The shell's typing rules on their own: which `@`/`#` words become Slack references, and
which `#` starts a comment."""

from __future__ import annotations

from shipbell.bot.local import MakeBell
from shipbell.bot.shell.typed import escape_references, strip_comment
from shipbell.bot.slackdouble.cast import BOB, DEPLOYS, EVE, ONCALL


async def test_mentions_become_what_slack_sends(make_bell: MakeBell) -> None:
    bell = await make_bell()
    ws = bell.double.state
    assert escape_references("assign comms @bob", ws) == f"assign comms <@{BOB}|bob>"
    assert escape_references("to #deploys, @oncall and @eve.", ws) == (
        f"to <#{DEPLOYS}|deploys>, <!subteam^{ONCALL}|@oncall> and <@{EVE}|eve>.")
    # unknown names, issue ids, emails and what is already escaped stay as typed
    assert escape_references(f"@nobody #42 #nowhere ana@example.com <@{BOB}>", ws) == (
        f"@nobody #42 #nowhere ana@example.com <@{BOB}>")


def test_comments_are_stripped_but_references_are_not() -> None:
    assert strip_comment("press 1                      # press button [1]") == "press 1"
    assert strip_comment('submit title="DB down" severity=sev1   # fill') == (
        'submit title="DB down" severity=sev1')
    assert strip_comment("in #general") == "in #general"
    assert strip_comment("/deploy api --incident #42") == "/deploy api --incident #42"
    assert strip_comment('submit title="a # b"') == 'submit title="a # b"'
    assert strip_comment("/incident update fixed #") == "/incident update fixed"
