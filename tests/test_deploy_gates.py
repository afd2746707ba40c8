"""The six gates, in order: permission/channel, lock, queue, freeze, incidents, approvals."""

from __future__ import annotations

import pytest
from conftest import MakeBell
from fakes.ci import FakeCI
from fakes.configs import deploy_config
from shipbell.bot.clock import FakeClock, to_db
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.people import person
from shipbell.bot.slack.groups import groups_of
from shipbell.bot.slackdouble.cast import ANA, BOB, CARL, DEPLOYS, EVE, GENERAL, INCIDENTS, RELEASES

SRE = "S0SRE0001"

pytest_plugins = ("fakes.fixtures",)


def count(bell: LocalShipbell, where: str = "TRUE") -> int:
    return int(bell.core.store.one(f"SELECT COUNT(*) AS n FROM deploys WHERE {where}")["n"])  # type: ignore[index]


def open_incident(bell: LocalShipbell, service: str, severity: int, *, private: bool = False
                  ) -> int:
    cursor = bell.core.store.execute(
        "INSERT INTO incidents (title, severity, status, service, private, reporter, declared_at)"
        f" VALUES (?, ?, 'investigating', ?, ?, '{EVE}', ?) RETURNING id",
        ("db on fire", severity, service, int(private), to_db(bell.core.clock.now())),
    )
    return int(cursor.fetchone()[0])


async def test_permission_by_user_group_and_channel(make_bell: MakeBell, ci: FakeCI,
                                                    clock: FakeClock) -> None:
    config = deploy_config(ci.url, deployers=[ANA, SRE], channels=[DEPLOYS])
    bell = await make_bell(config)
    bell.double.add_usergroup(SRE, "sre", [CARL])
    await groups_of(bell.core).refresh()
    denied = await bell.command("/deploy", "api to production", user=BOB)
    assert denied.text == (f"Only <@{ANA}>, <!subteam^{SRE}> may deploy api production; "
                           "ask one of them.")
    wrong_place = await bell.command("/deploy", "api to production", channel=GENERAL)
    assert wrong_place.text == f"Deploy api production from <#{DEPLOYS}>."
    via_group = await bell.command("/deploy", "api to production", user=CARL)
    assert "Deploying api@main to production" in via_group.text
    assert count(bell) == 1
    denied_audit = bell.core.store.all("SELECT actor, channel FROM audit_log"
                                       " WHERE action = 'deploy.denied'")
    assert denied_audit == [{"actor": BOB, "channel": DEPLOYS},
                            {"actor": ANA, "channel": GENERAL}]
    await ci.wait_jobs(1)
    await bell.idle()
    bell.double.add_usergroup(SRE, "sre", [CARL, BOB])  # bob joins the group
    clock.advance(minutes=11)
    await bell.core.scheduler.run_due()  # the sweep refreshes group members
    now_allowed = await bell.command("/deploy", "api to production", user=BOB)
    assert now_allowed.text.startswith("Deploy #2 of api@main to production is queued")
    await bell.idle()


async def test_lock_blocks_others_not_the_holder_and_expires(make_bell: MakeBell, ci: FakeCI,
                                                           clock: FakeClock) -> None:
    bell = await make_bell(deploy_config(ci.url))
    ack = await bell.command("/deploy", "lock api production db migration --for 1h")
    assert ack.text.startswith("Locked api production for 1 h: db migration.")
    clock.advance(minutes=59)
    blocked = await bell.command("/deploy", "api to production", user=BOB)
    assert blocked.text == f"production is locked by <@{ANA}> 59 min ago: db migration."
    mine = await bell.command("/deploy", "api to production")
    assert "Deploying" in mine.text
    clock.advance(minutes=2)
    await bell.core.scheduler.run_due()
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM locks")["n"] == 0  # type: ignore[index]
    await bell.idle()
    dm = [c for c in bell.double.calls_to("chat.postMessage") if c.args.get("channel") == ANA]
    assert dm and "expired" in dm[-1].args["text"]


async def test_busy_env_queues_and_starts_when_free(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    await bell.command("/deploy", "api@v1 to production")
    second = await bell.command("/deploy", "api@v2 to production", user=BOB)
    assert second.text.startswith("Deploy #2 of api@v2 to production is queued, 1st in line "
                                  "behind #1")
    third = await bell.command("/deploy", "api@v3 to production", user=CARL)
    assert "2nd in line" in third.text
    other_env = await bell.command("/deploy", "api@v9 to staging")
    assert "Deploying" in other_env.text
    await ci.wait_jobs(2)
    status, _ = await ci.callback(bell.runtime.url, 1, "succeeded", version="v1")
    assert status == 200
    jobs = await ci.wait_jobs(3)
    assert [j["ref"] for j in jobs] == ["v1", "v9", "v2"]
    assert count(bell, "state = 'queued'") == 1
    await bell.idle()


async def test_freeze_window_needs_break_glass(make_bell: MakeBell, ci: FakeCI,
                                               clock: FakeClock) -> None:
    # The FakeClock starts Monday 2026-11-02 09:00 UTC = 10:00 in Paris.
    freezes = [{"name": "Monday calm", "timezone": "Europe/Paris", "days": ["mon"],
                "from": "09:30", "to": "12:00"},
               {"name": "Holidays", "timezone": "America/New_York",
                "start": "2026-12-24T00:00:00", "end": "2026-12-27T00:00:00"}]
    bell = await make_bell(deploy_config(ci.url, freezes=freezes))
    frozen = await bell.command("/deploy", "api to production")
    assert frozen.text == ("production is frozen (Monday calm, until Mon 2 Nov 12:00 CET);"
                           " deploy anyway with `--break-glass \"why it can't wait\"`.")
    staging = await bell.command("/deploy", "api to staging")
    assert "Deploying" in staging.text
    forced = await bell.command("/deploy", 'api to production --break-glass "payments down"')
    assert "Deploying" in forced.text
    await bell.idle()
    loud = [c.args["text"] for c in bell.double.calls_to("chat.postMessage")
            if "Break-glass" in c.args.get("text", "")]
    assert loud and "payments down" in loud[0] and "skips freeze" in loud[0]
    glass = bell.core.store.one("SELECT actor, detail FROM audit_log"
                                " WHERE action = 'deploy.break_glass'")
    assert glass is not None and "payments down" in glass["detail"]
    # New York: 23 Dec 23:30 is outside; 24 Dec 00:30 (05:30 UTC) is inside.
    from datetime import UTC, datetime
    clock.set(datetime(2026, 12, 24, 4, 30, tzinfo=UTC))
    assert "would start now" in (await bell.command("/deploy", "explain web to production")).text
    clock.set(datetime(2026, 12, 24, 5, 30, tzinfo=UTC))
    assert "Holidays, until Sun 27 Dec 00:00 EST" in (
        await bell.command("/deploy", "explain web to production")).text


async def test_weekly_freeze_over_midnight_ends_next_morning(make_bell: MakeBell,
                                                             ci: FakeCI) -> None:
    # Monday 10:00 in Paris: a Monday window from 08:00 to 07:00 spans midnight, so it
    # closes on Tuesday morning.
    freezes = [{"name": "Night batch", "timezone": "Europe/Paris", "days": ["mon"],
                "from": "08:00", "to": "07:00"}]
    bell = await make_bell(deploy_config(ci.url, freezes=freezes))
    frozen = await bell.command("/deploy", "api to production")
    assert "(Night batch, until Tue 3 Nov 07:00 CET)" in frozen.text


async def test_open_incident_needs_naming_or_break_glass(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    inc = open_incident(bell, "api", 2)
    open_incident(bell, "web", 3)  # SEV3 does not gate
    blocked = await bell.command("/deploy", "api to production")
    assert blocked.text == (f"api has an open incident INC-{inc} (SEV2, db on fire): name it "
                            f"with `--incident INC-{inc}` or give `--break-glass \"reason\"`.")
    assert "Deploying" in (await bell.command("/deploy", "web to production")).text
    fix = await bell.command("/deploy", f"api to production --incident INC-{inc}")
    assert "Deploying" in fix.text
    row = bell.core.store.one("SELECT incident_id, is_hotfix FROM deploys WHERE service = 'api'")
    assert row == {"incident_id": inc, "is_hotfix": 1}
    audit = bell.core.store.one("SELECT detail FROM audit_log WHERE action = 'deploy.request'"
                                " AND detail LIKE '%incident_id\": " + str(inc) + "%'")
    assert audit is not None
    await bell.idle()


async def test_private_incident_title_is_not_shown(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    inc = open_incident(bell, "api", 1, private=True)
    blocked = await bell.command("/deploy", "api to production")
    assert f"INC-{inc} (SEV1, private incident)" in blocked.text
    assert "db on fire" not in blocked.text


async def test_explain_verdicts(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, approvals=1, approvers=[BOB]))
    text = (await bell.command("/deploy", "explain api@v2 to production")).text
    assert text.startswith("Dry run of api@v2 to production: would wait for approval.")
    assert (f":hourglass_flowing_sand: *approvals*: needs 1 approval from <@{BOB}>, never the "
            "requester") in text
    assert "would start now" in (await bell.command("/deploy", "explain api to staging")).text
    await bell.command("/deploy", "api to staging")
    queued = (await bell.command("/deploy", "explain api to staging", user=BOB)).text
    assert "would queue" in queued and "#1 is triggered; you would be #1 in the queue" in queued
    assert bell.core.store.one("SELECT COUNT(*) AS n FROM deploys")["n"] == 1  # type: ignore[index]
    await ci.wait_jobs(1)
    await bell.idle()


async def test_only_allowed_people_cancel_or_unlock(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url, deployers=[ANA, BOB]))
    await bell.command("/deploy", "api to production", user=BOB)
    await bell.command("/deploy", "lock api production careful", user=BOB)
    denied = await bell.command("/deploy", "cancel 1", user=EVE)
    assert denied.text == (f"Only <@{BOB}> or someone who may deploy api production can cancel "
                           "#1.")
    refused = await bell.command("/deploy", "unlock api production", user=EVE)
    assert refused.text.startswith(f"Only <@{ANA}>, <@{BOB}> may deploy api production")
    assert (await bell.command("/deploy", "cancel 1", user=ANA)).text == \
        "Cancelled deploy #1."
    offer = await bell.command("/deploy", "unlock api production", user=ANA)
    await bell.driver.press({"blocks": (offer.json or {})["blocks"]}, "deploy.lock_unlock",
                            user=ANA)
    reply = await bell.double.wait_for("response_url")
    assert reply.args["text"] == "Unlocked api production."
    await bell.idle()


async def test_callback_signed_for_another_provider_is_refused(
        make_bell: MakeBell, ci: FakeCI, clock: FakeClock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    other = await FakeCI("other-secret", clock.now).start()
    config = deploy_config(ci.url)
    config["deploy"]["providers"]["other"] = {"type": "webhook", "url": other.url,
                                              "secret_env": "SHIPBELL_TEST_OTHER"}
    config["deploy"]["services"]["web"]["provider"] = "other"
    monkeypatch.setenv("SHIPBELL_TEST_OTHER", "other-secret")
    bell = await make_bell(config)
    await bell.command("/deploy", "web to production")
    await other.wait_jobs(1)
    status, body = await ci.callback(bell.runtime.url, 1, "succeeded")  # signed with ci's
    assert (status, body["error"]) == (401, "signed for another provider")
    status, body = await ci.callback(bell.runtime.url, 1, "succeeded", secret="other-secret")
    assert (status, body["state"]) == (200, "succeeded")
    await bell.idle()
    await other.stop()


async def test_release_calendar_freeze_gates_deploys(make_bell: MakeBell, ci: FakeCI) -> None:
    config = merge(deploy_config(ci.url), {"release": {"trains": {"api-weekly": {
        "channel": RELEASES, "services": ["api"], "environment": "production",
        "weekday": "thu", "time": "14:00"}}}})
    bell = await make_bell(config)
    ack = await bell.command("/release", "freeze api-weekly 2h db migration")
    assert ack.status == 200
    blocked = await bell.command("/deploy", "api to production")
    assert blocked.text.startswith("production is frozen (")
    assert "db migration" in blocked.text and "--break-glass" in blocked.text
    assert "Deploying" in (await bell.command("/deploy", "api to staging")).text
    forced = await bell.command("/deploy", 'api to production --break-glass "fix ready"')
    assert "queued" in forced.text or "Deploying" in forced.text
    await ci.wait_jobs(2)
    await bell.idle()


async def test_declared_incident_gates_deploys(make_bell: MakeBell, ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    declared = await bell.command("/incident", "open checkout errors sev2 --service api",
                                  channel=INCIDENTS)
    assert declared.status == 200
    await bell.idle()
    incident = bell.core.store.one("SELECT id FROM incidents")
    assert incident is not None
    inc = incident["id"]
    blocked = await bell.command("/deploy", "api to production")
    assert blocked.text.startswith(f"api has an open incident INC-{inc} (SEV2")
    fix = await bell.command("/deploy", f"api@fix to production --incident {inc}")
    assert "Deploying" in fix.text
    await ci.wait_jobs(1)
    timeline = "SELECT kind, text FROM incident_timeline WHERE kind = 'link' ORDER BY id"
    assert bell.core.store.all(timeline) == [{
        "kind": "link", "text": f"Deploy #1 of api@fix to production requested by {person(ANA)}"
                                " to fix this"}]  # stored by id; the post-mortem names them
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v7")
    await ci.callback(bell.runtime.url, 1, "succeeded", version="v7")  # a repeat links once
    links = bell.core.store.all("SELECT incident_id, deploy_id, relation FROM incident_deploys")
    assert links == [{"incident_id": inc, "deploy_id": 1, "relation": "fixed"}]
    assert bell.core.store.all(timeline)[-1]["text"] == "Fixed by deploy #1 (api v7 to production)"
    await bell.idle()


async def test_lock_holder_goes_ahead_of_older_queued_deploys(make_bell: MakeBell,
                                                              ci: FakeCI) -> None:
    bell = await make_bell(deploy_config(ci.url))
    await bell.command("/deploy", "api@v1 to production")
    await bell.command("/deploy", "api@v2 to production", user=BOB)  # queued, 1st
    await bell.command("/deploy", "lock api production hotfix first", user=CARL)
    mine = await bell.command("/deploy", "api@hotfix to production", user=CARL)
    assert "queued, 2nd in line" in mine.text
    await ci.wait_jobs(1)
    await ci.callback(bell.runtime.url, 1, "succeeded")
    jobs = await ci.wait_jobs(2)
    assert jobs[1]["ref"] == "hotfix", "the lock holder's deploy starts; bob's waits"
    await ci.callback(bell.runtime.url, 3, "succeeded")
    await bell.command("/deploy", "unlock api production", user=CARL)
    jobs = await ci.wait_jobs(3)
    assert jobs[2]["ref"] == "v2"
    await bell.idle()
