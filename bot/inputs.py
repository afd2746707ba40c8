"""The one place where text from outside becomes a number, and user text becomes safe mrkdwn.

Every id, count or limit read from a command, a button value or a callback body goes through
``parse_id`` / ``parse_count``: ASCII digits only (``"²".isdigit()`` is True and ``int("²")``
raises) and within SQLite's signed 64-bit range, so a 20-digit id is "no such thing", never an
OverflowError.  Every piece of user text Shipbell echoes into Slack goes through ``escape``
(or ``user_text``, which keeps a person's mentions as mentions).
"""

from __future__ import annotations

import re

SQLITE_MAX_INT = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")

# Slack ids and mentions, defined once; every validator, parser and renderer uses these.
# An id is the kind letter and at least eight upper-case letters or digits, as Slack issues
# them (U024BE7LH, C0123ABCDEF; ids have grown longer over the years, so there is no upper
# bound): U or W a person (W on Enterprise Grid), C or G a channel, D a direct message, S a
# user group. Nothing else is an id: not `U_ANA`, not `u024be7lh`, not `U123`, not `WARNING`.
# Use ``fullmatch`` on a word; the mention patterns also work with ``finditer``/``sub``.
_ID_BODY = r"[A-Z0-9]{8,}"
USER_ID = re.compile(rf"[UW]{_ID_BODY}")
CHANNEL_ID = re.compile(rf"[CG]{_ID_BODY}")
CONVERSATION_ID = re.compile(rf"[CGD]{_ID_BODY}")  # a channel or a DM
GROUP_ID = re.compile(rf"S{_ID_BODY}")
PRINCIPAL_ID = re.compile(rf"(?:{USER_ID.pattern}|{GROUP_ID.pattern})")  # a person or a group
# `<@U024BE7LH>` or `<@U024BE7LH|ana>`: group 1 the id, group 2 the label (if any);
# likewise `<#C024BE91L|deploys>` and `<!subteam^S0614TZR7|@oncall>`.
USER_MENTION = re.compile(rf"<@({USER_ID.pattern})(?:\|([^>]*))?>")
CHANNEL_MENTION = re.compile(rf"<#({CHANNEL_ID.pattern})(?:\|([^>]*))?>")
GROUP_MENTION = re.compile(rf"<!subteam\^({GROUP_ID.pattern})(?:\|([^>]*))?>")


def is_group(principal: str) -> bool:
    """True for a user group's id (S…), false for a person's (U…/W…)."""
    return GROUP_ID.fullmatch(principal) is not None


def mentioned_user(word: str) -> str | None:
    """The user id in a mention word (``<@U024BE7LH|ana>``), or None."""
    match = USER_MENTION.fullmatch(word)
    return match.group(1) if match else None


def parse_int(text: object, *, lo: int = 0, hi: int = SQLITE_MAX_INT) -> int | None:
    """An integer in [lo, hi] written in ASCII digits (an optional leading '#'), else None.

    Only ``str`` is accepted: ``True`` and ``1e3`` are not numbers here.
    """
    if not isinstance(text, str):
        return None
    text = text.strip().removeprefix("#")
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def parse_id(text: object) -> int | None:
    """A stored row id (1 … 2**63-1), else None."""
    return parse_int(text, lo=1)


def parse_count(text: object, lo: int, hi: int) -> int | None:
    """A count or limit the user typed, within [lo, hi], else None."""
    return parse_int(text, lo=lo, hi=hi)


def strict_int(value: object, *, lo: int = 0, hi: int = SQLITE_MAX_INT) -> int | None:
    """An int from decoded JSON: a real int (not a bool, not a float) in range, else None."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if lo <= value <= hi else None


_BARE_AMP = re.compile(r"&(?!(?:amp|lt|gt);)")


def escape(text: str) -> str:
    """mrkdwn control characters, so user text can't ping a channel or forge a link.

    Escaping twice changes nothing: Slack delivers message text already escaped (``&amp;``),
    and a stored text may have been escaped before, so an entity is never escaped again.
    """
    return _BARE_AMP.sub("&amp;", text).replace("<", "&lt;").replace(">", "&gt;")


def inline(word: str, limit: int = 60) -> str:
    """A word someone typed, quoted back inside a `code span`: escaped, no backtick to end
    the span early, and cut at ``limit`` characters."""
    word = escape(word.replace("`", "'"))
    return word if len(word) <= limit else word[: limit - 1] + "…"


_REF = re.compile(r"<([^<>]*)>")
_PERSON = re.compile(rf"(@{USER_ID.pattern}|#{CHANNEL_ID.pattern})(?:\|[^<>]*)?")
_LINK = re.compile(r"(?:https?|mailto):[^\s|<>]+")
_PING = re.compile(rf"!(channel|here|everyone)(?:\|[^<>]*)?"
                   rf"|!subteam\^{GROUP_ID.pattern}(?:\|@?([^<>]*))?")


def user_text(text: str) -> str:
    """Someone's words as safe mrkdwn, to store and to echo anywhere in Slack.

    A person or channel reference (``<@U024BE7LH|ana>``, ``<#C024BE91L|ops>``) stays a
    mention, by id; ``<!here>``, ``<!channel>``, ``<!everyone>`` and group pings become plain
    words (``@here``); a bare link (``<https://x>``) stays, since it shows where it goes; anything
    else in angle brackets (a labelled link ``<https://evil|click>``, a date token) and every
    ``&``, ``<``, ``>`` is escaped. Idempotent: ``user_text(user_text(t)) == user_text(t)``.
    """
    out: list[str] = []
    at = 0
    for match in _REF.finditer(text):
        out.append(escape(text[at:match.start()]))
        out.append(_reference(match.group(1)))
        at = match.end()
    out.append(escape(text[at:]))
    return "".join(out)


def _reference(inner: str) -> str:
    if person := _PERSON.fullmatch(inner):
        return f"<{person.group(1)}>"
    if _LINK.fullmatch(inner):
        return f"<{inner}>"
    if ping := _PING.fullmatch(inner):
        return "@" + escape(ping.group(1) or ping.group(2) or "group")
    return escape(f"<{inner}>")
