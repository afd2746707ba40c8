"""`/deploy`: wires the deploy domain to Slack, the task runner, the scheduler and HTTP."""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from typing import Any

from apscheduler.triggers.interval import IntervalTrigger
from slack_bolt.async_app import AsyncApp

from bot import logs
from bot.core import Core
from bot.deploys.runner import Runner
from bot.deploys.service import DeployService
from bot.slack import outbox
from handlers.common import SlashCommand
from handlers.deploy import actions
from handlers.deploy.commands import Router
from handlers.deploy.hooks import handler as hook_handler
from handlers.deploy.ids import COMMAND, HOOK_PATH, SWEEP_JOB, Task
from handlers.deploy.notifier import SlackNotifier
from scheduled import ScheduledJob

GROUP_REFRESH_SECONDS = 600


async def refresh_groups(core: Core, svc: DeployService) -> None:
    """Resolve configured user groups (S…) to members; permission checks read this cache."""
    groups = {p for service in svc.config.services.values()
              for env in service.environments.values()
              for p in (*env.deployers, *env.approvers, *env.break_glass) if p.startswith("S")}
    for group in sorted(groups):
        data = await outbox.call(core, "usergroups.users.list", {"usergroup": group})
        if data is not None:
            svc.group_members[group] = set(data.get("users") or [])
    svc.groups_loaded_at = core.clock.now()


def register(app: AsyncApp, core: Core) -> None:
    notifier = SlackNotifier(core)
    svc = DeployService(core, notifier)
    runner = Runner(svc)
    core.services["deploys"] = svc
    extra = core.services.setdefault("deploy_subcommands", {})
    router = Router(svc, extra)

    core.tasks.register(Task.RUN, runner.run)
    core.tasks.register(Task.PROVIDER_CANCEL, runner.provider_cancel)
    core.tasks.register(Task.NOTIFY, notifier.render)
    core.services.setdefault("http_routes", []).append(
        ("POST", HOOK_PATH, hook_handler(core, runner)))

    async def sweep(when: datetime) -> str | None:
        loaded = svc.groups_loaded_at
        if loaded is None or (core.clock.now() - loaded).total_seconds() > GROUP_REFRESH_SECONDS:
            try:
                await refresh_groups(core, svc)
            except Exception:  # Slack down must not stop timeouts and expiries
                logs.logger.warning(logs.DEPLOY_GROUPS_STALE)
        return await runner.sweep(when)

    core.scheduler.add(ScheduledJob(
        SWEEP_JOB,
        IntervalTrigger(seconds=svc.config.sweep_seconds,
                        start_date=datetime(2020, 1, 1, tzinfo=UTC), timezone=UTC),
        sweep, kind="deploy", coalesce=True,
    ))
    _start_group_refresh(core, svc)
    _warn_missing_secrets(svc)

    @app.command(COMMAND)
    async def on_command(ack: Any, body: dict[str, Any]) -> None:
        cmd = SlashCommand.from_body(body)
        words = cmd.words
        if words and words[0] in extra and words[0] not in ("help",):
            await extra[words[0]](ack, cmd)
            return
        await ack(**router.route(cmd))

    actions.register(app, core, svc)


def _warn_missing_secrets(svc: DeployService) -> None:
    """Say at start-up (by name only) which provider secrets the environment lacks."""
    for name, pc in svc.config.providers.items():
        variable = pc.secret_env if pc.type == "webhook" else pc.token_env
        if variable and not os.environ.get(variable):
            logs.logger.warning(logs.DEPLOY_SECRET_MISSING, name, variable)


def _start_group_refresh(core: Core, svc: DeployService) -> None:
    """Load group members in the background at start; the sweep keeps them fresh."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return
    has_groups = any(p.startswith("S") for s in svc.config.services.values()
                     for e in s.environments.values()
                     for p in (*e.deployers, *e.approvers, *e.break_glass))
    if not has_groups:
        return

    async def load() -> None:
        try:
            await refresh_groups(core, svc)
        except Exception:
            logs.logger.warning(logs.DEPLOY_GROUPS_PENDING)

    task = loop.create_task(load())
    core.services.setdefault("deploy_background", set()).add(task)
    task.add_done_callback(core.services["deploy_background"].discard)
