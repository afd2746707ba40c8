"""The provider registry: type name → provider class (which names its config model).

`[deploy.providers.NAME]` tables are validated by the model their `type` picks here (a
discriminated union whose members are the registered types), and an unknown type is a
config error naming the file, the key and the valid types. Adding a provider is one file
with the class and its config model, plus one `REGISTRY.add` line at the bottom of this one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import ValidationError, ValidatorFunctionWrapHandler
from pydantic_core import InitErrorDetails, PydanticCustomError
from shipbell.bot.clock import Clock
from shipbell.bot.deploys.providers.base import (
    Provider,
    ProviderConfig,
    ProviderContext,
    ServiceInfo,
)
from shipbell.bot.deploys.providers.command import CommandProvider
from shipbell.bot.deploys.providers.dryrun import DryRunProvider
from shipbell.bot.deploys.providers.github import GitHubProvider
from shipbell.bot.deploys.providers.webhook import WebhookProvider
from shipbell.bot.http import Http


class ProviderClass(Protocol):
    """A provider class: built as ``cls(name, config, context)``; ``Config`` is its model."""

    @property
    def Config(self) -> type[ProviderConfig]: ...  # the class attribute naming its model

    def __call__(self, name: str, config: Any, context: ProviderContext) -> Provider: ...


class Registry:
    def __init__(self) -> None:
        self._classes: dict[str, ProviderClass] = {}

    def add(self, type_name: str, provider: ProviderClass) -> None:
        """Register a provider type (again with the same class: no-op; another: refused)."""
        known = self._classes.get(type_name)
        if known is not None and known is not provider:
            raise ValueError(f"provider type {type_name!r} is already registered")
        self._classes[type_name] = provider

    def remove(self, type_name: str) -> None:
        self._classes.pop(type_name, None)

    def types(self) -> list[str]:
        return list(self._classes)

    def simulated_type(self) -> str:
        """The registered type that deploys nothing (the shell's stand-in)."""
        return next(name for name, cls in self._classes.items() if cls.Config.simulated)

    def _refuse(self, value: object, why: str) -> ValidationError:
        error = PydanticCustomError(
            "provider_type", "{why}; valid types: {valid}",
            {"why": why, "valid": ", ".join(self._classes)})
        return ValidationError.from_exception_data(
            "ProviderConfig", [InitErrorDetails(type=error, loc=("type",), input=value)])

    def validate(self, value: Any, handler: ValidatorFunctionWrapHandler) -> ProviderConfig:
        """Validate one provider table with the model its `type` names (a pydantic wrap
        validator: errors keep their key, e.g. `deploy.providers.ci.url`)."""
        if isinstance(value, ProviderConfig):
            value = value.model_dump(by_alias=True)
        if not isinstance(value, dict):
            result: ProviderConfig = handler(value)  # "Input should be a valid dictionary"
            return result
        type_name = value.get("type")
        if type_name is None:
            raise self._refuse(None, "a provider needs a `type`")
        cls = self._classes.get(type_name) if isinstance(type_name, str) else None
        if cls is None:
            raise self._refuse(type_name, "unknown provider type")
        return cls.Config.model_validate(value)

    def build(self, providers: Mapping[str, ProviderConfig], services: Mapping[str, ServiceInfo],
              clock: Clock, http: Http) -> dict[str, Provider]:
        """Providers that speak HTTP share the process's session (``http``)."""
        context = ProviderContext(clock, http, services)
        unknown = [f"{name} ({pc.type})" for name, pc in providers.items()
                   if pc.type not in self._classes]
        if unknown:  # never a silent stand-in that "succeeds"
            raise ValueError(f"provider type not registered: {', '.join(unknown)}; valid "
                             f"types: {', '.join(self._classes)}")
        return {name: self._classes[pc.type](name, pc, context)
                for name, pc in providers.items()}


REGISTRY = Registry()
REGISTRY.add("webhook", WebhookProvider)
REGISTRY.add("github", GitHubProvider)
REGISTRY.add("command", CommandProvider)
REGISTRY.add("dry-run", DryRunProvider)
