"""Task kinds of the Slack gateway's persisted calls (``bot.slack.gateway``): a Web API call
and a response_url post, retried by the task runner. Defined once here; the stored
``tasks.kind`` is the value."""

from __future__ import annotations

from enum import StrEnum


class SlackTask(StrEnum):
    CALL = "slack.call"
    RESPOND = "slack.respond"
