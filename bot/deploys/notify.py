"""What the deploy domain needs from the chat side, without knowing it is Slack."""

from __future__ import annotations

from typing import Protocol


class Notifier(Protocol):
    def changed(self, deploy_id: int) -> None:
        """Refresh the deploy's message and post its new events to the thread."""

    def tell(self, user: str, text: str) -> None:
        """A direct message to one person (lock takeovers, reminders, rejections)."""

    def announce(self, channel: str, text: str) -> None:
        """A loud post in a channel (break-glass)."""
