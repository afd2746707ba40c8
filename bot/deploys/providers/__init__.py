"""Deploy providers by type; `build` turns the `[deploy.providers]` config into instances."""

from __future__ import annotations

from bot.clock import Clock
from bot.deploys.config import DeploySettings
from bot.deploys.providers.base import Job, Provider, ProviderError, Report, Triggered
from bot.deploys.providers.command import CommandProvider
from bot.deploys.providers.dryrun import DryRunProvider
from bot.deploys.providers.github import GitHubProvider
from bot.deploys.providers.webhook import WebhookProvider
from bot.http import Http

__all__ = ["Job", "Provider", "ProviderError", "Report", "Triggered", "build"]


def build(config: DeploySettings, clock: Clock, http: Http) -> dict[str, Provider]:
    """Providers that speak HTTP share the process's session (``http``)."""
    out: dict[str, Provider] = {}
    for name, pc in config.providers.items():
        if pc.type == "webhook":
            out[name] = WebhookProvider(name, pc, clock, http)
        elif pc.type == "github":
            out[name] = GitHubProvider(name, pc, config.services, clock, http)
        elif pc.type == "command":
            out[name] = CommandProvider(name, pc)
        else:
            out[name] = DryRunProvider(name, pc, clock)
    return out
