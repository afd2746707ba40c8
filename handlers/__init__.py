"""Slack listeners, one package per feature; ``FEATURES`` lists them, ``register_all`` wires them.

Adding a feature: give its package a ``FEATURE = Feature(...)`` record (``handlers/feature.py``)
and add it to ``FEATURES`` below. The manifest's commands, the shell's demo config and the
registration come from this list; tests check ``bot.schema`` and ``bot.settings`` against it.
"""

from __future__ import annotations

from shipbell.bot.core import Core
from shipbell.bot.slack import gateway, tagged
from shipbell.handlers import deploy, digest, incident, release
from shipbell.handlers.feature import Command, Feature
from slack_bolt.async_app import AsyncApp

# In order: registration, the manifest's commands and the migrations follow it.
FEATURES: tuple[Feature, ...] = (deploy.FEATURE, incident.FEATURE, release.FEATURE, digest.FEATURE)


def commands() -> list[Command]:
    """Every feature's slash commands, in the features' order."""
    return [command for feature in FEATURES for command in feature.commands]


def register_all(app: AsyncApp, core: Core) -> None:
    """Register the shared tasks, then every feature's services, listeners, jobs and routes."""
    gateway.register(core, posted_before=tagged.posted_before)
    for feature in FEATURES:
        feature.register(app, core)
