"""Roles, follow-up owners and captains go to people in the workspace (issue 9, also found):
a mention of someone Slack doesn't know is refused before anything is stored."""

from __future__ import annotations

from typing import Any

from conftest import MakeBell
from shipbell.bot.incidents.demo import DEMO_CONFIG
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slackdouble.cast import ANA, BOB, DANA, EVE, GENERAL, RELEASES

ZED = "U0ZED0001"  # no one in this workspace

TRAIN: dict[str, Any] = {
    "channel": RELEASES, "services": ["web"], "timezone": "UTC",
    "weekday": "tue", "time": "14:00", "freeze": "24h", "captains": [ANA, BOB],
}
CONFIG = {"incident": DEMO_CONFIG, "release": {"trains": {"web": TRAIN}}}
NOT_HERE = f"`{ZED}` isn't anyone in this workspace (left, or a mistyped mention)"


async def incident_channel(bell: LocalShipbell) -> str:
    await bell.command("/incident", "open DB latency sev2 --service api", channel=GENERAL)
    await bell.idle()
    return str(bell.core.store.one("SELECT channel_id FROM incidents")["channel_id"])


async def test_a_role_for_someone_not_in_the_workspace_is_refused(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    channel = await incident_channel(bell)
    for text in (f"assign commander <@{ZED}|zed>", f"assign <@{ZED}> comms"):
        ack = await bell.command("/incident", text, channel=channel)
        assert ack.text.startswith(NOT_HERE), ack.text
        assert "e.g. `/incident assign commander @ana`" in ack.text
    await bell.idle()
    inc = bell.core.store.one("SELECT commander, comms FROM incidents")
    assert inc == {"commander": ANA, "comms": None}
    assert not bell.double.calls_to("conversations.invite")[1:]  # only the declare's invite
    ack = await bell.command("/incident", f"assign comms <@{BOB}|bob>", channel=channel)
    assert ack.text == f"<@{BOB}> is now comms of INC-1."


async def test_a_deactivated_person_is_refused_too(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    channel = await incident_channel(bell)
    bell.double.state.users[EVE]["deleted"] = True
    ack = await bell.command("/incident", f"assign commander <@{EVE}>", channel=channel)
    assert ack.text.startswith(f"`{EVE}` isn't anyone in this workspace")


async def test_a_follow_up_owner_must_be_in_the_workspace(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    channel = await incident_channel(bell)
    ack = await bell.command("/incident", f"followup Add alert on queue depth <@{ZED}>",
                             channel=channel)
    assert ack.text.startswith(NOT_HERE)
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM followups")["n"] == 0
    # a mention in the text is only words: the owner (the last mention) is who counts
    ack = await bell.command("/incident", f"followup Ask <@{ZED}> about alerts <@{BOB}>",
                             channel=channel)
    assert ack.text == f"Follow-up #1 recorded for <@{BOB}>."


async def test_a_captain_must_be_in_the_workspace(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    ack = await bell.command("/release", f"captain web <@{ZED}|zed>")
    assert ack.text.startswith(NOT_HERE), ack.text
    assert "e.g. `/release captain web @dana`" in ack.text
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM audit_log"
                               " WHERE action LIKE 'release.%'")["n"] == 0
    ack = await bell.command("/release", f"captain web <@{DANA}|dana>")
    assert ack.text.startswith(f"<@{DANA}> is captain of the `web` release")


async def test_when_slack_cannot_say_the_person_gets_the_benefit_of_the_doubt(
    make_bell: MakeBell,
) -> None:
    bell = await make_bell(CONFIG)
    channel = await incident_channel(bell)
    bell.double.fail_next("users.info", "internal_error")
    ack = await bell.command("/incident", f"assign comms <@{BOB}>", channel=channel)
    assert ack.text == f"<@{BOB}> is now comms of INC-1."


async def test_a_departed_follow_up_owner_gets_the_follow_up_example(make_bell: MakeBell) -> None:
    bell = await make_bell(CONFIG)
    channel = await incident_channel(bell)
    ack = await bell.command("/incident", f"followup INC-1 Add alert <@{ZED}>", channel=channel)
    assert ack.text.endswith("e.g. `/incident followup Add alert on queue depth @ana`.")
