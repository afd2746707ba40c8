"""The domains keep ids; the handlers render Slack markup.

No string in the code of bot/deploys, bot/incidents, bot/releases or bot/dora writes or
parses a Slack mention, channel reference or special mention (``<@``, ``<#``, ``<!``, also as
a regex class such as ``<[@#!]``). A domain names a person with ``bot.people.person(id)``
and a channel with ``bot.people.channel(id)``; the handlers turn those markers into Slack
mentions (``handlers.common.mentions``) or, in the post-mortem file, into names. Docstrings
and comments may show Slack's markup to explain what a function does; code may not.
"""

from __future__ import annotations

import ast
import re
from datetime import UTC, datetime
from pathlib import Path

from shipbell.bot.incidents.models import Incident, Status
from shipbell.bot.people import channel, person
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DANA
from shipbell.handlers.common import mentions
from shipbell.handlers.incident import postmortem
from test_incident_resolve import uploaded
from test_incident_support import declare, run, start

ROOT = Path(__file__).resolve().parent.parent
DOMAINS = ("bot/deploys", "bot/incidents", "bot/releases", "bot/dora")
SLACK_MARKUP = re.compile(r"<(?:[@#!]|\[[^\]]*[@#!])")  # `<@`, `<#`, `<!`, or `<[@#!]` in a regex


def docstrings(tree: ast.Module) -> set[int]:
    """ids of the constants that are a module's, class's or function's docstring."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def markup(path: str, source: str) -> list[str]:
    """Slack markup in the strings of ``source``'s code (f-string parts included)."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    hits = [node for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
            and id(node) not in skip and SLACK_MARKUP.search(node.value)]
    return [f"{path}:{node.lineno}: {node.value!r}"
            for node in sorted(hits, key=lambda n: (n.lineno, n.col_offset))]


def test_no_domain_writes_or_parses_slack_markup() -> None:
    files = [p for d in DOMAINS for p in sorted((ROOT / d).rglob("*.py"))]
    assert len(files) > 40  # the domains really were read
    found = [hit for p in files
             for hit in markup(p.relative_to(ROOT).as_posix(), p.read_text("utf-8"))]
    assert found == []


def test_the_scan_finds_markup_in_code_and_spares_docstrings() -> None:
    code = ('"""Names people as `<@U…>`."""\n'
            'def f(user, c):\n'
            '    """Says `<#C…>`."""\n'
            '    # a comment with <!here>\n'
            '    note = f"Commander: <@{user}>"\n'
            '    where = "<#" + c + ">"\n'
            '    strip = re.compile(r"<[@#!][^>]*>")\n'
            '    fine = f"{person(user)} in {channel(c)} at <https://x|a link>"\n'
            '    ping = "<!here>"\n')
    assert markup("bot/x.py", code) == [
        "bot/x.py:5: 'Commander: <@'", "bot/x.py:6: '<#'",
        "bot/x.py:7: '<[@#!][^>]*>'", "bot/x.py:9: '<!here>'"]


def test_markers_render_as_slack_mentions() -> None:
    assert mentions(f"Deploy from {channel('C0DEPLOYS')}, ask {person(ANA)}") == \
        f"Deploy from <#C0DEPLOYS>, ask <@{ANA}>"


def test_the_post_mortem_shows_marked_and_stored_people_alike() -> None:
    """A role change recorded today (markers) and one from an older Shipbell (mentions) read
    the same in the draft."""
    at = datetime(2026, 11, 30, 9, tzinfo=UTC)
    inc = Incident(
        id=7, title=f"<@{DANA}|dana> broke it", severity=2, status=Status.RESOLVED,
        service=None, description=None, private=False, test=False, reporter=ANA,
        commander=BOB, comms=None, channel_id=None, channel_name=None, status_message_ts=None,
        announcement_channel=None, announcement_ts=None, summary=None, declared_at=at,
        mitigated_at=None, resolved_at=None, closed_at=None, last_update_at=None,
        next_reminder_at=None, missed_updates=0, origin_channel=None, postmortem=None)

    def entry(text: str) -> dict[str, object]:
        return {"at": at, "kind": "role", "actor": ANA, "text": text, "permalink": None}

    new = [entry(f"Commander: {person(BOB)} (was {person(CARL)})")]
    old = [entry(f"Commander: <@{BOB}> (was <@{CARL}>)")]
    names = {ANA: "ana", BOB: "bob", CARL: "carl"}
    assert postmortem.people(inc, new, []) == postmortem.people(inc, old, []) == [ANA, BOB, CARL]
    drafts = [postmortem.render(inc, e, [], [], now=at, names=names) for e in (new, old)]
    assert drafts[0] == drafts[1]
    assert "Commander: @bob (was @carl)" in drafts[0] and "<person:" not in drafts[0]
    assert postmortem.filename(inc) == "INC-7-dana-broke-it.md"


async def test_incident_rows_keep_ids_and_the_postmortem_names_people(make_bell) -> None:
    bell = await start(make_bell)
    inc = await declare(bell)
    for text in (f"assign commander <@{BOB}>",
                 f"followup Alert on pool usage <@{CARL}> due 2026-11-20",
                 "resolve restarted the pool"):
        await run(bell, text, inc)
    await bell.idle()
    stored = [r["text"] for r in bell.core.store.all("SELECT text FROM incident_timeline")]
    assert f"Commander: {person(BOB)} (was {person(ANA)})" in stored
    assert f"Follow-up #1: Alert on pool usage (owner {person(CARL)}, due 2026-11-20)" in stored
    assert not any("<@" in t for t in stored), stored
    markdown = uploaded(bell)
    assert "Commander: @bob (was @ana)" in markdown
    assert "Alert on pool usage (owner @carl, due 2026-11-20)" in markdown
    assert "<person:" not in markdown and "<@" not in markdown
