"""Channel names from the configured template, slugged to Slack's rules (a-z 0-9 - _, ≤ 80).

Titles are stored as typed in Slack, mentions included; a slug reads them as their names.
The post-mortem's file name is slugged here too (``handlers.incident.postmortem``).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime

MAX_NAME = 80
_NOT_ALLOWED = re.compile(r"[^a-z0-9_-]+")
_DASHES = re.compile(r"-{2,}")
_LABELLED_REF = re.compile(r"<[@#!][^>|]*\|@?([^>]*)>")  # <@U…|ana> → ana, <#C…|ops> → ops
_BARE_REF = re.compile(r"<[@#!][^>]*>")


def slugify(text: str, limit: int = MAX_NAME) -> str:
    """Lowercase ASCII words joined by dashes; accents folded, Slack mentions and channel
    refs reduced to their names, everything else dropped."""
    text = _BARE_REF.sub(" ", _LABELLED_REF.sub(r"\1", text))
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = _DASHES.sub("-", _NOT_ALLOWED.sub("-", folded.lower())).strip("-_")
    if len(slug) > limit:  # cut at a word when there is one to cut at
        head = slug[:limit]
        slug = head[: head.rindex("-")] if slug[limit] not in "-_" and "-" in head else head
    return slug.rstrip("-_")


def channel_name(
    template: str,
    *,
    incident_id: int,
    title: str,
    severity: int,
    service: str | None,
    declared: datetime,
) -> str:
    """The template filled and cleaned; the slug is cut first so `{id}` always survives."""
    fields = {"id": incident_id, "sev": severity, "service": service or "",
              "date": declared.strftime("%Y%m%d")}
    bare = _clean(template.format(slug="", **fields))
    room = max(MAX_NAME - len(bare) - 1, 0)
    name = _clean(template.format(slug=slugify(title, room), **fields))
    return name[:MAX_NAME].rstrip("-_") or f"inc-{incident_id}"


def candidates(name: str, attempts: int = 8) -> Iterator[str]:
    """The name, then `-2`, `-3`… suffixed versions still within 80 characters."""
    yield name
    for n in range(2, attempts + 2):
        suffix = f"-{n}"
        yield name[: MAX_NAME - len(suffix)].rstrip("-_") + suffix


def _clean(name: str) -> str:
    return _DASHES.sub("-", _NOT_ALLOWED.sub("-", name.lower())).strip("-_")
