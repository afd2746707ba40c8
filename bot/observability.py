"""Prometheus metrics, one registry per running app (tests build many apps in one process)."""

from __future__ import annotations

import re
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

OTHER = "other"
"""The metric label of every name no listener was registered for."""


class KnownNames:
    """Commands, action ids, callback ids and event types listeners are registered for.

    Metric labels come from here, never from a request: a name nobody registered is `other`,
    so no request can add a time series.  A regex constraint is one label (its readable form).
    """

    def __init__(self) -> None:
        self.exact: dict[str, set[str]] = {}
        self.patterns: dict[str, list[tuple[re.Pattern[str], str]]] = {}

    def add(self, kind: str, constraint: Any) -> None:
        if isinstance(constraint, dict):
            key = {"block_actions": "action_id", "view_submission": "callback_id",
                   "event_callback": "type"}.get(kind, "")
            constraint = constraint.get(key)
        if isinstance(constraint, str):
            self.exact.setdefault(kind, set()).add(constraint)
        elif isinstance(constraint, re.Pattern):
            readable = re.sub(r"\\d[+*]", "N", constraint.pattern).strip("^$").replace("\\", "")
            self.patterns.setdefault(kind, []).append((constraint, readable))

    def label(self, kind: str, name: str) -> str:
        if name in self.exact.get(kind, ()):
            return name
        for pattern, readable in self.patterns.get(kind, []):
            if pattern.search(name):
                return readable
        return OTHER


ACK_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 3.0)


class Metrics:
    """Everything /metrics exposes."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "shipbell_requests",
            "Slack requests by kind, command or action, and outcome.",
            ["kind", "name", "outcome"],
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "shipbell_ack_latency_seconds",
            "Time from receiving a Slack request to sending its ack.",
            ["kind"],
            buckets=ACK_BUCKETS,
            registry=self.registry,
        )
        self.task_failures = Counter(
            "shipbell_background_task_failures",
            "Background tasks that raised.",
            ["kind"],
            registry=self.registry,
        )
        self.background_tasks = Gauge(
            "shipbell_background_tasks",
            "Background tasks in flight by lane (request: handed over by a request, started at"
            " once; backlog: scheduled, catch-up or resumed work, a bounded number at a time)"
            " and state (waiting for a slot, running).",
            ["lane", "state"],
            registry=self.registry,
        )
        self.leases_taken_over = Counter(
            "shipbell_task_leases_taken_over",
            "Background tasks this replica took over from another whose lease ran out (it"
            " died or stalled), by task kind.",
            ["kind"],
            registry=self.registry,
        )
        self.claims_lost = Counter(
            "shipbell_task_claims_lost",
            "Background tasks this replica went to claim (or held) that another replica held"
            " first, by task kind: the other one runs them.",
            ["kind"],
            registry=self.registry,
        )
        self.catching_up = Gauge(
            "shipbell_catching_up",
            "1 while the start-up catch-up (runs missed while down, interrupted runs) is going.",
            registry=self.registry,
        )
        self.scheduled_runs = Counter(
            "shipbell_scheduled_runs",
            "Scheduled runs by job kind and outcome (posted, duplicate, missed, failed).",
            ["job", "outcome"],
            registry=self.registry,
        )
        self.slack_errors = Counter(
            "shipbell_slack_api_errors",
            "Slack Web API calls that answered ok:false, by method and error.",
            ["method", "error"],
            registry=self.registry,
        )

        self.store_pool = Gauge(
            "shipbell_store_pool_connections",
            "PostgreSQL read pool: connections in use by worker threads (in_use) and the most"
            " it opens ([storage] pool_size, size); absent on SQLite, which has no pool.",
            ["state"],
            registry=self.registry,
        )
        self.store_queue = Gauge(
            "shipbell_store_calls_in_flight",
            "Database work handed to the store's thread and not finished yet (the event loop"
            " never runs a statement itself); a number that stays high means the database is slow"
            " or another replica holds the write lock long.",
            registry=self.registry,
        )

    def observe_pool(self, use: tuple[int, int] | None, in_flight: int = 0) -> None:
        """The store's pool as /metrics is read: (in use, size), or None (no pool); and the
        calls on the store's thread."""
        self.store_queue.set(in_flight)
        if use is not None:
            self.store_pool.labels("in_use").set(use[0])
            self.store_pool.labels("size").set(use[1])

    def render(self) -> bytes:
        return generate_latest(self.registry)
