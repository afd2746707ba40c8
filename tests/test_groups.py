"""The shared group directory: one cache, refreshed off the ack path, kept when Slack refuses."""

from __future__ import annotations

from shipbell.bot.clock import FakeClock
from shipbell.bot.local import LocalShipbell
from shipbell.bot.slack.groups import JOB_ID, groups_of
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL

SRE = "S0SRE0001"


async def test_directory_reads_wanted_groups_and_keeps_them_when_slack_refuses(
    bell: LocalShipbell, clock: FakeClock
) -> None:
    directory = groups_of(bell.core)
    assert groups_of(bell.core) is directory  # one per process, whoever asks first
    directory.want([ANA, SRE])
    assert directory.wanted == {SRE}
    bell.double.add_usergroup(SRE, "sre", [CARL])
    ran = [o for o in await bell.core.scheduler.run_due() if o.job_id == JOB_ID]
    assert [o.outcome for o in ran] == ["posted"]
    assert directory.members == {SRE: {CARL}}
    bell.double.add_usergroup(SRE, "sre", [BOB])
    bell.double.fail_next("usergroups.users.list", "no_such_subteam")
    clock.advance(minutes=11)
    await bell.core.scheduler.run_due()
    assert directory.members == {SRE: {CARL}}  # refused: last members stand
    clock.advance(minutes=11)
    await bell.core.scheduler.run_due()
    assert directory.members == {SRE: {BOB}}
    assert bell.core.store.one(
        "SELECT COUNT(*) AS n FROM scheduled_runs WHERE job_id = ?", (JOB_ID,))["n"] == 0
