"""What a feature is, in one record: from a list of these the app derives its wiring.

Each feature's package (``handlers/<name>/__init__.py``) defines one ``FEATURE``; the ordered
list lives in ``handlers/__init__.py``. From it come the Slack manifest's commands (and the
shell's list of commands), the registration in ``handlers.register_all``, and the shell's demo
config. The migrations and the config section are named here too; ``bot.schema`` and
``bot.settings`` sit below the handlers, so they stay explicit and a test checks that they
agree with the features.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.storage.migrations import Migration
from slack_bolt.async_app import AsyncApp


@dataclass(frozen=True)
class Command:
    """A slash command as the Slack manifest declares it."""

    command: str  # "/deploy"
    description: str  # one line, shown in Slack's command picker
    usage_hint: str  # the grey text after the command


@dataclass(frozen=True)
class Feature:
    """One feature: its commands, migrations, wiring, shell demo config and config section."""

    name: str
    register: Callable[[AsyncApp, Core], None]
    commands: tuple[Command, ...] = ()
    migrations: tuple[Migration, ...] = ()
    # The section the shell uses when it runs without a config file (`shipbell shell`).
    demo_config: Mapping[str, Any] = field(default_factory=dict)
    # The `Settings` attribute (and TOML table) this feature reads, if it has one.
    config_section: str | None = None
