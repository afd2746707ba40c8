"""The list of features is the one place a feature is declared; what is derived from it agrees.

The manifest's commands, the shell's demo config and the registration are built from
``handlers.FEATURES``; ``bot.schema`` and ``bot.settings`` sit below the handlers, so they stay
explicit and these tests hold them to the list.
"""

from __future__ import annotations

import dataclasses

import pytest
from shipbell.bot.local import LocalShipbell
from shipbell.bot.schema import all_migrations
from shipbell.bot.settings import Settings
from shipbell.bot.shell.repl import HELP, demo_config
from shipbell.bot.slack.manifest import build_manifest
from shipbell.bot.storage.migrations import FOUNDATION
from shipbell.handlers import FEATURES
from shipbell.handlers.feature import Feature

# Settings sections that belong to the foundation, not to a feature.
FOUNDATION_SECTIONS = {"timezone", "log_level", "slack", "server", "storage"}


def test_features_have_unique_names_and_commands() -> None:
    names = [feature.name for feature in FEATURES]
    commands = [c.command for feature in FEATURES for c in feature.commands]
    assert len(set(names)) == len(names) == 4
    assert all(isinstance(feature, Feature) for feature in FEATURES)
    assert len(set(commands)) == len(commands)
    assert all(command.startswith("/") for command in commands)
    with pytest.raises(dataclasses.FrozenInstanceError):
        FEATURES[0].name = "other"  # type: ignore[misc]


def test_every_features_migrations_are_applied_once_and_in_order() -> None:
    """all_migrations() is the foundation's, then each feature's in the features' order."""
    applied = [m.id for m in all_migrations()]
    assert len(set(applied)) == len(applied)
    expected = [m.id for m in FOUNDATION]
    expected += [m.id for feature in FEATURES for m in feature.migrations]
    assert applied == expected


def test_every_features_config_section_is_in_settings() -> None:
    fields = set(Settings.model_fields)
    sections = {f.config_section for f in FEATURES if f.config_section is not None}
    assert sections <= fields, sections - fields
    # ...and every section of Settings is either the foundation's or some feature's.
    assert fields - FOUNDATION_SECTIONS == sections


def test_manifest_commands_come_from_the_features() -> None:
    manifest = build_manifest(Settings())
    listed = [(c["command"], c["description"], c["usage_hint"])
              for c in manifest["features"]["slash_commands"]]
    assert listed == [(c.command, c.description, c.usage_hint)
                      for feature in FEATURES for c in feature.commands]
    assert [c for c, _, _ in listed] == ["/deploy", "/incident", "/release"]
    assert all(c.command + " help" in HELP for f in FEATURES for c in f.commands)


def test_shell_demo_config_is_each_features_demo_section() -> None:
    """Every feature with a demo section contributes it under its name; nothing else appears
    (the old list named a module that did not exist and skipped it silently)."""
    demo = demo_config()
    assert demo == {f.name: dict(f.demo_config) for f in FEATURES if f.demo_config}
    assert set(demo) == {"deploy", "incident", "release"}
    Settings(**demo)  # the demo config is a valid config


async def test_every_features_commands_are_wired(bell: LocalShipbell) -> None:
    """register_all registers each feature: each declared command answers its `help`."""
    for feature in FEATURES:
        for command in feature.commands:
            ack = await bell.command(command.command, "help")
            assert ack.status == 200, (command.command, ack.body)
            assert command.command in ack.text, (command.command, ack.body)

