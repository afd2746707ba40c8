"""`/incident`: declare, run and learn from incidents (commands, modal, buttons, events, sweep)."""

from __future__ import annotations

from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.incidents.demo import DEMO_CONFIG
from shipbell.bot.incidents.schema import MIGRATIONS
from shipbell.bot.incidents.service import IncidentService
from shipbell.handlers.common import SlashCommand
from shipbell.handlers.feature import Command, Feature
from shipbell.handlers.incident import actions, events, modal, subscribers
from shipbell.handlers.incident.commands import COMMAND, Commands
from shipbell.handlers.incident.rollbacks import Deploys
from shipbell.handlers.incident.tasks import IncidentTasks
from slack_bolt.async_app import AsyncApp


def register(app: AsyncApp, core: Core) -> None:
    svc = IncidentService(core.store, core.clock, core.settings.incident, core.audit,
                          core.events.publish)
    core.registry.add(svc)
    deploys: Deploys = core.registry.lazy(DeployService)  # DeployService satisfies Rollbacks
    IncidentTasks(core, svc, deploys).register()
    subscribers.subscribe(core.events)
    commands = Commands(core, svc)

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any]) -> None:
        cmd = SlashCommand.from_body(body)
        if not cmd.text:
            await ack()
            await core.store.run(modal.open_modal, core, cmd)
            return
        await ack(**await commands.answer(cmd))

    modal.register(app, core, commands)
    actions.register(app, core, svc, deploys)
    events.register(app, core, svc)


FEATURE = Feature(
    name="incident",
    register=register,
    commands=(Command(COMMAND, "Declare and run an incident",
                      "open <title> sev2 --service api · status · update <text> · help"),),
    migrations=tuple(MIGRATIONS),
    demo_config=DEMO_CONFIG,
    config_section="incident",
)
