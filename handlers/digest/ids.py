"""Block ids and task kinds of the digest; named once here, never repeated as literals."""

from __future__ import annotations

from enum import StrEnum


class Block(StrEnum):
    TITLE = "digest_title"
    SCOPE = "digest_scope"
    KEYS = "digest_keys"
    INCIDENTS = "digest_incidents"
    FOOTER = "digest_footer"
    PERIODS = "digest_periods"
    RECOVERY = "digest_recovery"
    FOLLOWUPS = "digest_followups"
    CLUSTER = "digest_cluster"
    SERVICES = "digest_services"  # suffixed _0, _1 … when the breakdown needs several


class Task(StrEnum):
    POST = "digest.post"  # post a stored digest: summary, thread, chart
    STATS = "digest.stats"  # answer `/deploy stats` through the response_url


SUBCOMMAND = "stats"
