"""This feature's migrations, appended after the foundation's; ids must never change."""

from bot.storage.migrations import Migration

MIGRATIONS: list[Migration] = []
