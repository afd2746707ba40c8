"""The daily digest's listeners (`/deploy stats`); placeholder until the feature lands."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.core import Core


def register(app: AsyncApp, core: Core) -> None:
    """Nothing yet."""
