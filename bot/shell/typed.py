"""What the shell does to a typed line before it goes anywhere: comments off, mentions escaped.

Slack sends slash-command text with `should_escape` on (the manifest sets it): `@bob` arrives
as `<@U…|bob>`, `#deploys` as `<#C…|deploys>`, `@oncall` as `<!subteam^S…|@oncall>`.  The
shell does the same with the double's users, channels and groups, so people can type what
they would type in Slack.  Names the workspace doesn't know are left as typed, as Slack does.
"""

from __future__ import annotations

import re

from shipbell.bot.slackdouble.state import Workspace

# `@name` / `#name` at the start of a word; names are what Slack allows (letters, digits, . _ -).
REFERENCE = re.compile(r"(?<![^\s(\[{,;])([@#])([A-Za-z0-9][A-Za-z0-9._-]*)")
BROADCASTS = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}
TRAILING = ".,;:!?-"


def strip_comment(line: str) -> str:
    """Drop a trailing ` # comment` (a `#` with blanks on both sides, outside double quotes).

    `#deploys`, `#42` and `in #general` keep their `#`: only a `#` followed by a blank (or
    the end of the line) and preceded by one starts a comment, like the README's examples.
    """
    quoted = False
    for i, char in enumerate(line):
        if char == '"':
            quoted = not quoted
        elif (char == "#" and not quoted and (i == 0 or line[i - 1].isspace())
              and (i + 1 == len(line) or line[i + 1].isspace())):
            return line[:i].rstrip()
    return line


def escape_references(text: str, workspace: Workspace) -> str:
    """`@bob` → `<@U0BOB0001|bob>`, `#deploys` → `<#C0DEPLOYS|deploys>`, `@oncall` → subteam."""

    def lookup(sigil: str, name: str) -> str | None:
        if sigil == "#":
            channel = next((c for c in workspace.channels.values()
                            if c.name == name and not c.is_im), None)
            return f"<#{channel.id}|{channel.name}>" if channel else None
        if name in BROADCASTS:
            return BROADCASTS[name]
        for user in workspace.users.values():
            shown = (user.get("profile") or {}).get("display_name")
            if name in (user.get("name"), shown) and not user.get("deleted"):
                return f"<@{user['id']}|{user['name']}>"
        for group in workspace.usergroups.values():
            if group.get("handle") == name:
                return f"<!subteam^{group['id']}|@{name}>"
        return None

    def replace(match: re.Match[str]) -> str:
        sigil, name = match[1], match[2]
        for candidate in dict.fromkeys((name, name.rstrip(TRAILING))):
            found = lookup(sigil, candidate) if candidate else None
            if found:
                return found + name[len(candidate):]
        return match[0]

    return REFERENCE.sub(replace, text)
