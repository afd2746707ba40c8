"""Slack listeners, one module per feature; ``register_all`` wires them to the app."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.core import Core
from bot.slack import gateway
from handlers import deploy, digest, incident, release

FEATURES = (deploy, incident, release, digest)


def register_all(app: AsyncApp, core: Core) -> None:
    """Register the shared tasks, then every feature's services, listeners, jobs and routes."""
    gateway.register(core)
    for feature in FEATURES:
        feature.register(app, core)
