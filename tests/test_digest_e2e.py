"""The digest reads what the deploy feature really writes: a dry-run deploy to production
shows up in `/deploy stats` the next day (the contract is the shared schema, not a mock)."""

from __future__ import annotations

from typing import Any

from fakes.configs import deploy_config
from fakes.waiting import tick, until
from shipbell.bot.clock import FakeClock
from test_digest_post import texts


async def test_a_deploy_made_through_slash_deploy_is_counted(
    make_bell: Any, clock: FakeClock
) -> None:
    bell = await make_bell(deploy_config())
    ack = await bell.command("/deploy", 'worker to production --reason "weekly ship"')
    assert "Deploying worker@main to production (#1)" in ack.text

    def state() -> str | None:
        row = bell.core.store.one("SELECT state FROM deploys WHERE id = 1")
        return row["state"] if row else None

    await until(lambda: state() == "running")
    await tick(clock, 31)  # the dry-run provider takes 30 s
    await until(lambda: state() == "succeeded")
    await bell.idle()
    clock.advance(days=1)
    await bell.command("/deploy", "stats worker 1d")
    call = await bell.double.wait_for("response_url", lambda c: "blocks" in c.args)
    body = texts(call.args["blocks"])
    assert "production · worker · 1 deploy" in body
    assert "*Deploys:* 1  ↑ from 0" in body


async def test_every_environment_deploy_marks_production_counts_and_staging_does_not(
    make_bell: Any, clock: FakeClock
) -> None:
    config = deploy_config()
    worker = config["deploy"]["services"]["worker"]
    worker["environments"] = {**worker["environments"], "prod-eu": {"production": True}}
    bell = await make_bell(config)
    assert bell.core.settings.digest.environments == ["prod-eu", "production"]

    def state(did: int) -> str | None:
        row = bell.core.store.one("SELECT state FROM deploys WHERE id = ?", (did,))
        return row["state"] if row else None

    for did, env in enumerate(("prod-eu", "staging"), start=1):
        ack = await bell.command("/deploy", f'worker to {env} --reason "ship it"')
        assert f"(#{did})" in ack.text, ack.text
        await until(lambda d=did: state(d) == "running")
        await tick(clock, 31)
        await until(lambda d=did: state(d) == "succeeded")
    await bell.idle()
    clock.advance(days=1)
    await bell.command("/deploy", "stats worker 1d")
    call = await bell.double.wait_for("response_url", lambda c: "blocks" in c.args)
    assert "prod-eu, production · worker · 1 deploy" in texts(call.args["blocks"])
