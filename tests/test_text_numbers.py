"""Numbers people type in commands: ASCII digits within SQLite's range, else one sentence
saying what would work (issue 9, item 7). Each of these reached "Something went wrong"."""

from __future__ import annotations

import pytest
from conftest import MakeBell
from fakes.configs import deploy_config
from shipbell.bot.incidents.demo import DEMO_CONFIG
from shipbell.bot.local import merge
from shipbell.bot.slackdouble.cast import BOB, GENERAL

CONFIG = merge(deploy_config(), {"incident": DEMO_CONFIG})
HUGE = "99999999999999999999999"


@pytest.mark.parametrize(("command", "text", "expected"), [
    ("/deploy", f"cancel {HUGE}",
     "Cancel which deploy? Give its number, e.g. `/deploy cancel 12`."),
    ("/deploy", "cancel ²", "Cancel which deploy? Give its number, e.g. `/deploy cancel 12`."),
    ("/deploy", f"cancel #{HUGE}", "Cancel which deploy? Give its number"),
    ("/deploy", f"history web --limit {HUGE}",
     f"`--limit {HUGE}`: give a number from 1 to 50, e.g. `--limit 20`."),
    ("/deploy", "history web --limit ²", "`--limit ²`: give a number from 1 to 50"),
    ("/deploy", "history web --limit ٣", "`--limit ٣`: give a number from 1 to 50"),
    ("/deploy", f"web to staging --incident INC-{HUGE}",
     f"`INC-{HUGE}` isn't an incident; name one like `INC-42` or `42`."),
    ("/deploy", f"lock web production db work --for {HUGE}d",
     "isn't a duration; try `30m`, `2h` or `1d`."),
    ("/deploy", "lock web production db work --for 99999d",
     "`99999d` is out of range; locks last from `1m` to `14d`."),
    ("/deploy", "stats ²", "`²` isn't a service name."),
    ("/incident", f"update INC-{HUGE} still down",
     f"There is no INC-{HUGE}; name an incident like `INC-3`."),
])
async def test_out_of_range_and_non_ascii_numbers_get_a_sentence(
    make_bell: MakeBell, command: str, text: str, expected: str
) -> None:
    bell = await make_bell(CONFIG)
    ack = await bell.command(command, text)
    assert ack.status == 200, ack.body
    assert expected in ack.text, ack.text
    assert "Something went wrong" not in ack.text


@pytest.mark.parametrize(("text", "expected"), [
    (f"link {HUGE}", "Give a deploy id and how it relates, e.g. `/incident link 1234 caused`"),
    ("link ² caused", "Give a deploy id and how it relates"),
    (f"followup done {HUGE}", "Say which follow-up is done by its number, e.g."
                              " `/incident followup done 3`."),
    ("followup done ²", "Say which follow-up is done by its number"),
    (f"followup Add alert <@{BOB}> due ٢٠٢٦-١٢-٠١", "Give the date as YYYY-MM-DD"),
])
async def test_numbers_inside_an_incident_get_a_sentence(
    make_bell: MakeBell, text: str, expected: str
) -> None:
    bell = await make_bell(CONFIG)
    await bell.command("/incident", "open DB latency sev2 --service api", channel=GENERAL)
    await bell.idle()
    channel = bell.core.store.one("SELECT channel_id FROM incidents")["channel_id"]
    ack = await bell.command("/incident", text, channel=channel)
    assert ack.status == 200, ack.body
    assert expected in ack.text, ack.text
    await bell.idle()
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM incident_deploys")["n"] == 0
