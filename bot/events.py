"""Domain events and who reacts to them: the subscriber table.

A domain service records what happened by calling ``publish(event, data)`` inside the
transaction that makes the change (``data`` holds ids and values, never Slack markup).  Each
subscriber turns the event into one persisted task (``bot.tasks``): its kind, a payload built
from the event and optionally a key, so the task is written in that same transaction and
starts after the commit.  A rollback leaves no task; a repeated key adds none.

Features subscribe when they register (the handlers layer), so a domain never learns who
listens: adding a reaction (page on-call, open a tracker issue) is one ``subscribe`` call.

Request details the domain has no business knowing (the ``response_url`` to tell the person
about a failure) travel beside the call: a handler wraps the domain call in
``bus.origin(response_url=…)`` and subscribers read them from ``data["origin"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from shipbell.bot.tasks import TaskRunner

Data = Mapping[str, Any]
Publish = Callable[[StrEnum, dict[str, Any]], None]
_origin: ContextVar[dict[str, Any] | None] = ContextVar("shipbell_event_origin", default=None)


def no_events(event: StrEnum, data: dict[str, Any]) -> None:
    """The publisher of a service built without a bus (unit tests of domain rules)."""


@dataclass(frozen=True)
class Subscriber:
    event: StrEnum
    kind: str
    payload: Callable[[Data], dict[str, Any]]
    key: Callable[[Data], str | None] | None = None
    when: Callable[[Data], bool] | None = None


class Bus:
    def __init__(self, tasks: TaskRunner) -> None:
        self.tasks = tasks
        self.subscribers: dict[StrEnum, list[Subscriber]] = {}

    def subscribe(
        self,
        event: StrEnum,
        kind: str,
        *,
        payload: Callable[[Data], dict[str, Any]],
        key: Callable[[Data], str | None] | None = None,
        when: Callable[[Data], bool] | None = None,
    ) -> None:
        """On ``event`` (when ``when(data)`` holds) submit task ``kind`` with ``payload(data)``
        under ``key(data)``; the kind must be registered with the task runner."""
        if kind not in self.tasks.handlers:
            raise KeyError(f"no handler for task kind {kind!r}; register it before subscribing")
        self.subscribers.setdefault(event, []).append(Subscriber(event, kind, payload, key, when))

    def publish(self, event: StrEnum, data: dict[str, Any]) -> None:
        """Called by domain services inside the transaction of the change."""
        full = {**data, "origin": dict(_origin.get() or {})}
        for sub in self.subscribers.get(event, ()):
            if sub.when is not None and not sub.when(full):
                continue
            self.tasks.submit(sub.kind, sub.payload(full),
                              key=sub.key(full) if sub.key else None)

    @contextmanager
    def origin(self, **details: Any) -> Iterator[None]:
        """Request details (e.g. ``response_url``) events published in this block carry."""
        token = _origin.set(details)
        try:
            yield
        finally:
            _origin.reset(token)
