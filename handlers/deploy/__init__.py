"""`/deploy`: wires the deploy domain to Slack, the task runner, the scheduler and HTTP."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from typing import Any

from shipbell.bot import logs
from shipbell.bot.core import Core, Route
from shipbell.bot.deploys.demo import DEMO_CONFIG
from shipbell.bot.deploys.gates import Freeze, OpenIncidents
from shipbell.bot.deploys.runner import Runner
from shipbell.bot.deploys.schema import MIGRATIONS
from shipbell.bot.deploys.service import DeployService
from shipbell.bot.incidents.service import IncidentService
from shipbell.bot.releases.freeze import active_freeze
from shipbell.bot.releases.service import ReleaseBook
from shipbell.bot.scheduling import ScheduledJob, every
from shipbell.bot.slack.groups import groups_of
from shipbell.handlers.common import SlashCommand
from shipbell.handlers.deploy import actions, messages, subscribers
from shipbell.handlers.deploy.commands import Router, Subcommands
from shipbell.handlers.deploy.hooks import handler as hook_handler
from shipbell.handlers.deploy.ids import COMMAND, HOOK_PATH, SWEEP_JOB, Task
from shipbell.handlers.deploy.notifier import SlackNotifier
from shipbell.handlers.feature import Command, Feature
from slack_bolt.async_app import AsyncApp


def calendar_freeze(releases: Callable[[], ReleaseBook | None]) -> Freeze:
    """The freeze gate's view of the release calendar: (source, reason) of a freeze, if any;
    never one when this Shipbell has no release book."""

    def freeze(service: str, env: str, at: datetime, /) -> tuple[str, str] | None:
        book = releases()
        window = active_freeze(book, service, env, at) if book is not None else None
        return (window.source, window.reason) if window else None

    return freeze


def open_incidents(incidents: Callable[[], IncidentService | None]) -> OpenIncidents:
    """The incidents gate's view: open SEV1/SEV2 incidents on a service; none when this
    Shipbell has no incident feature."""

    def find(service: str, /) -> list[dict[str, object]]:
        svc = incidents()
        return svc.open_on_service(service, max_severity=2) if svc is not None else []

    return find


def register(app: AsyncApp, core: Core) -> None:
    notifier = SlackNotifier(core)
    # The release and incident features register after this one: looked up when a gate asks.
    svc = DeployService(core, core.settings.deploy, core.events.publish,
                        freeze=calendar_freeze(core.registry.lazy(ReleaseBook)),
                        incidents=open_incidents(core.registry.lazy(IncidentService)),
                        public_url=core.settings.slack.public_url)
    runner = Runner(svc)
    core.registry.add(svc)
    extra = core.registry.ensure(Subcommands, Subcommands)
    router = Router(svc, extra)
    directory = groups_of(core)
    svc.group_members = directory.members  # permission checks read the shared cache
    directory.want(p for service in svc.config.services.values()
                   for env in service.environments.values()
                   for p in (*env.deployers, *env.approvers, *env.break_glass))

    core.tasks.register(Task.RUN, runner.run)
    core.tasks.register(Task.PROVIDER_CANCEL, runner.provider_cancel)
    core.tasks.register(Task.NOTIFY, notifier.render)
    subscribers.subscribe(core.events, notifier)
    core.routes.append(Route("POST", HOOK_PATH, hook_handler(core, runner)))

    core.scheduler.add(ScheduledJob(
        SWEEP_JOB,
        every(svc.config.sweep_seconds),
        runner.sweep, kind="deploy", coalesce=True,
    ))
    _warn_missing_secrets(svc)

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any]) -> None:
        cmd = SlashCommand.from_body(body)
        words = cmd.words
        if words and words[0] in extra and words[0] not in ("help",):
            await extra[words[0]](ack, cmd)
            return
        # The subcommand (domain code, reads and writes) runs on the store's thread in one
        # turn; the loop only awaits its reply.  Help needs no database: answered here.
        answer = router.at_once(cmd)
        if answer is None:
            answer = await core.store.run(router.route, cmd)
        await ack(**messages.mentions(answer))

    actions.register(app, core, svc)


def _warn_missing_secrets(svc: DeployService) -> None:
    """Say at start-up (by name only) which provider secrets the environment lacks."""
    for name, variable in svc.config.missing_secrets(os.environ):
        logs.logger.warning(logs.DEPLOY_SECRET_MISSING, name, variable)


FEATURE = Feature(
    name="deploy",
    register=register,
    commands=(Command(COMMAND, "Ship a service, roll back, lock, or see what runs where",
                      "api@main to production · rollback api production · status · help"),),
    migrations=tuple(MIGRATIONS),
    demo_config=DEMO_CONFIG,
    config_section="deploy",
)
