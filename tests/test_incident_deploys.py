"""Suspect deploys at declaration: [Caused this] links exactly, [Roll back] goes through /deploy."""

from __future__ import annotations

from shipbell.bot.deploys.demo import DEMO_CONFIG as DEPLOY_DEMO
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.slackdouble.cast import BOB
from shipbell.handlers.incident.ids import Action
from test_incident_support import declare, responses, run, seed_deploy, start, timeline


def suspects_message(bell, inc) -> dict:
    return next(m for m in bell.double.messages(inc["channel_id"])
                if "did one of them cause" in m.get("text", ""))


async def test_only_recent_successful_production_deploys_of_the_service(make_bell):
    bell = await start(make_bell)
    recent = seed_deploy(bell, version="v42", minutes_ago=30)
    older = seed_deploy(bell, version="v41", minutes_ago=300)
    seed_deploy(bell, env="staging", version="v43")
    seed_deploy(bell, state="failed", version="v44")
    seed_deploy(bell, service="web", version="w9")
    seed_deploy(bell, version="v30", minutes_ago=60 * 30)
    inc = await declare(bell)
    message = suspects_message(bell, inc)
    listed = str(message["blocks"])
    assert f"#{recent} api `v42` to production" in listed
    assert f"#{older} api `v41` to production" in listed
    for absent in ("v43", "v44", "w9", "v30"):
        assert absent not in listed
    assert message["blocks"][2]["elements"][0]["action_id"] == f"{Action.CAUSED}.0"


async def test_no_service_no_suspects(make_bell):
    bell = await start(make_bell)
    seed_deploy(bell)
    inc = await declare(bell, "open Something odd sev3")
    assert not any("did one of them" in m.get("text", "")
                   for m in bell.double.messages(inc["channel_id"]))


async def test_caused_this_links_once_even_on_double_click(make_bell):
    bell = await start(make_bell)
    deploy = seed_deploy(bell)
    inc = await declare(bell)
    message = suspects_message(bell, inc)
    await bell.driver.press(message, f"{Action.CAUSED}.0", user=BOB)
    await bell.driver.press(message, f"{Action.CAUSED}.0", user=BOB)
    await bell.idle()
    links = bell.core.store.all("SELECT * FROM incident_deploys")
    assert [(r["deploy_id"], r["relation"], r["actor"]) for r in links] == [
        (deploy, "caused", BOB)]
    said = responses(bell)
    assert f"Linked: deploy #{deploy} caused INC-1." in said
    assert f"Deploy #{deploy} is already linked as the cause of INC-1." in said
    assert [e["kind"] for e in timeline(bell, inc["id"])].count("link") == 1


async def test_roll_back_goes_through_the_deploy_service_linked_to_the_incident(make_bell):
    bell = await start(make_bell, other={"deploy": DEPLOY_DEMO})
    seed_deploy(bell, version="v41", minutes_ago=120)
    seed_deploy(bell, version="v42", minutes_ago=30)
    inc = await declare(bell)
    message = suspects_message(bell, inc)
    await bell.driver.press(message, f"{Action.ROLLBACK}.0", user=BOB)
    await bell.idle()
    await bell.driver.press(message, f"{Action.ROLLBACK}.0", user=BOB)
    await bell.idle()
    rollbacks = bell.core.store.all("SELECT * FROM deploys WHERE is_rollback = 1")
    assert len(rollbacks) == 1
    assert rollbacks[0]["incident_id"] == inc["id"] and rollbacks[0]["requester"] == BOB
    said = responses(bell)
    assert any("awaiting approval" in s.lower() or "approv" in s for s in said), said
    assert any("already requested" in s for s in said)
    assert any("Rollback of api in production requested" in (e["text"] or "")
               for e in timeline(bell, inc["id"]))


async def test_roll_back_without_deploys_says_so(make_bell):
    bell = await start(make_bell)
    seed_deploy(bell)
    inc = await declare(bell)
    bell.core.registry.remove(DeployService)  # a Shipbell built without the deploy feature
    await bell.driver.press(suspects_message(bell, inc), f"{Action.ROLLBACK}.0")
    await bell.idle()
    assert any("Deploys aren't configured" in s for s in responses(bell))


async def test_link_command_records_fixed(make_bell):
    bell = await start(make_bell)
    fix = seed_deploy(bell, version="v43", minutes_ago=1)
    inc = await declare(bell, "open Slow api sev3")
    assert await run(bell, f"link {fix} fixed", inc) == f"Linked deploy #{fix} to INC-1: fixed."
    assert bell.core.store.one("SELECT relation FROM incident_deploys")["relation"] == "fixed"
