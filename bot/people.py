"""People and channels in domain texts are ids: ``person(id)`` / ``channel(id)`` mark one, the
chat side renders it.

A domain writes sentences (gate refusals, thread notes, direct messages, incident timeline
entries) that name people or channels; it names them with these markers, never with chat
markup. The handlers turn each marker into a mention when they show the text
(``handlers.common.mentions``), or into a name where the text leaves Slack (the post-mortem
file). Texts stored before the markers existed hold Slack mentions already and are shown as
stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shipbell.bot.inputs import CHANNEL_ID, PRINCIPAL_ID

PERSON = re.compile(rf"<person:({PRINCIPAL_ID.pattern})>")  # a user (U…/W…) or a user group (S…)
CHANNEL = re.compile(rf"<channel:({CHANNEL_ID.pattern})>")


def person(principal: str) -> str:
    return f"<person:{principal}>"


def people(principals: Iterable[str]) -> str:
    return ", ".join(person(p) for p in principals)


def channel(channel_id: str) -> str:
    return f"<channel:{channel_id}>"
