"""Read-only incident queries other features rely on (deploy gates, release notes)."""

from __future__ import annotations

from typing import Any

from bot.storage import Store

OPEN_STATUSES = ("investigating", "identified", "monitoring")


def open_incidents_on_service(
    store: Store, service: str, *, max_severity: int = 2
) -> list[dict[str, Any]]:
    """Open incidents on ``service`` at SEV ``max_severity`` or worse (1 is worst)."""
    marks = ", ".join("?" for _ in OPEN_STATUSES)
    return store.all(
        f"SELECT id, title, severity, status, private FROM incidents"
        f" WHERE service = ? AND severity <= ? AND status IN ({marks}) AND test = 0"
        f" ORDER BY severity, id",
        (service, max_severity, *OPEN_STATUSES),
    )
