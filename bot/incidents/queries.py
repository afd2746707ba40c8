"""Read-only incident queries other features rely on (deploy gates, release notes)."""

from __future__ import annotations

from typing import Any

from shipbell.bot.incidents.models import OPEN_STATUSES
from shipbell.bot.storage import Store


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


def production_environments(
    deploy_settings: Any, service: str, fallback: list[str]
) -> list[str]:
    """The service's production envs per the deploy config when it knows the service,
    else the ``[incident] production_environments`` list."""
    is_production = getattr(deploy_settings, "is_production", None)
    services = getattr(deploy_settings, "services", None)
    if callable(is_production) and isinstance(services, dict) and service in services:
        envs = getattr(services[service], "environments", {}) or {}
        return [env for env in envs if is_production(service, env)]
    return list(fallback)


def suspect_deploys(
    store: Store, service: str, envs: list[str], since: str, limit: int
) -> list[dict[str, Any]]:
    """Recent successful production deploys of ``service``, newest first."""
    if not envs:
        return []
    marks = ", ".join("?" for _ in envs)
    return store.all(
        f"SELECT id, service, env, ref, version, requester, finished_at, is_rollback"
        f" FROM deploys WHERE service = ? AND env IN ({marks}) AND state = 'succeeded'"
        f" AND finished_at >= ? ORDER BY finished_at DESC, id DESC LIMIT ?",
        (service, *envs, since, limit),
    )


def linked_deploys(store: Store, incident_id: int) -> list[dict[str, Any]]:
    return store.all(
        "SELECT l.relation, d.id, d.service, d.env, d.ref, d.version, d.finished_at"
        " FROM incident_deploys l JOIN deploys d ON d.id = l.deploy_id"
        " WHERE l.incident_id = ? ORDER BY l.linked_at",
        (incident_id,),
    )
