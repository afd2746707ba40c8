"""Deploy providers: the interface and capabilities (base), the shared HTTP helper (http),
one file per type, and the registry that maps `type` to a provider (registry)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from shipbell.bot.clock import Clock
from shipbell.bot.deploys.providers.base import (
    Cancels,
    Job,
    ListsChanges,
    Polls,
    Provider,
    ProviderConfig,
    ProviderContext,
    ProviderError,
    Report,
    ServiceInfo,
    Triggered,
    VerifiesCallbacks,
)
from shipbell.bot.deploys.providers.registry import REGISTRY, Registry
from shipbell.bot.http import Http

__all__ = ["REGISTRY", "Cancels", "Job", "ListsChanges", "Polls", "Provider", "ProviderConfig",
           "ProviderContext", "ProviderError", "Registry", "Report", "Triggered",
           "VerifiesCallbacks", "build"]


class _Deploy(Protocol):
    @property
    def providers(self) -> Mapping[str, ProviderConfig]: ...

    @property
    def services(self) -> Mapping[str, ServiceInfo]: ...


def build(config: _Deploy, clock: Clock, http: Http) -> dict[str, Provider]:
    """The configured providers, by name (every type comes from the registry)."""
    return REGISTRY.build(config.providers, config.services, clock, http)
