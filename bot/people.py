"""People in domain texts are ids: ``person(id)`` marks one, the chat side renders it.

A domain (deploys today) writes sentences (gate refusals, thread notes, direct messages)
that name people; it names them with this marker, never with chat markup. The handlers turn
each marker into a mention when they show the text (``handlers.common.mentions``). Notes
stored before the marker existed hold Slack mentions already and are shown as stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from shipbell.bot.inputs import PRINCIPAL_ID

PERSON = re.compile(rf"<person:({PRINCIPAL_ID.pattern})>")  # a user (U…/W…) or a user group (S…)


def person(principal: str) -> str:
    return f"<person:{principal}>"


def people(principals: Iterable[str]) -> str:
    return ", ".join(person(p) for p in principals)
