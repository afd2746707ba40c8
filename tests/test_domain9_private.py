"""A private incident still brings in the people on call, privately."""

from __future__ import annotations

from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, INCIDENTS, SHIPBELL
from test_incident_support import declare, start


async def test_private_sev1_invites_the_responders_into_its_private_channel(make_bell):
    bell = await start(make_bell)
    inc = await declare(bell, "open Leaked API key sev1 --private")
    channel = bell.double.state.channels[inc["channel_id"]]
    assert channel.is_private
    # @oncall (the configured responders) expands to its members, invited like the reporter
    assert set(channel.members) == {SHIPBELL, ANA, BOB, CARL}
    invites = bell.double.calls_to("conversations.invite")
    assert invites and all(c.args["channel"] == inc["channel_id"] for c in invites)
    # nothing public names it: no announcement, no post outside its own channel or the reporter
    assert inc["announcement_channel"] is None and bell.double.messages(INCIDENTS) == []
    for call in bell.double.calls_to("chat.postMessage"):
        assert call.args["channel"] in (inc["channel_id"], ANA)
