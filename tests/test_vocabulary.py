"""Task kinds and incident statuses are enums, written as literals only where they are defined.

Every task kind the runner knows (read from a started Shipbell, so a new feature is covered
without touching this file) must be a StrEnum member, defined once. No string constant in
Shipbell's own code may equal a task kind or an incident status, or quote one inside SQL
(`status = 'resolved'`): write the enum member, and bind it (`status = ?`) in queries. The
one place a value may appear is its member's line in a StrEnum class body.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from enum import StrEnum
from functools import cache
from pathlib import Path

from shipbell.bot.incidents.models import Status
from shipbell.bot.local import LocalShipbell

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "scheduled")
SLACKS_WORDS = "bot/slackdouble/"  # the Slack double speaks Slack's vocabulary (a view "closed")
# The same words meaning something else, each checked by hand.
ELSEWHERE = {
    ("bot/checks.py", "resolved"): "a config name as resolved to an id, in `shipbell check`",
    ("handlers/incident/actions.py", "incident.rollback"): "the audit action of a rollback",
}


@cache
def sources(root: Path = ROOT) -> tuple[tuple[str, ast.Module], ...]:
    found = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            name = path.relative_to(root).as_posix()
            if not name.startswith(SLACKS_WORDS):
                found.append((name, ast.parse(path.read_text("utf-8"))))
    return tuple(found)


def is_str_enum(node: ast.ClassDef) -> bool:
    return any((isinstance(b, ast.Name) and b.id == "StrEnum")
               or (isinstance(b, ast.Attribute) and b.attr == "StrEnum") for b in node.bases)


@cache
def member_values(tree: ast.Module) -> frozenset[int]:
    """ids of the constants that are a StrEnum member's value (`NAME = "value"`)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and is_str_enum(node):
            for stmt in node.body:
                if isinstance(stmt, ast.Assign) and isinstance(stmt.value, ast.Constant):
                    found.add(id(stmt.value))
    return frozenset(found)


def literals(words: set[str], files: Iterable[tuple[str, ast.Module]]) -> list[str]:
    quoted = re.compile("'(" + "|".join(re.escape(w) for w in sorted(words)) + ")'")
    hits = []
    for path, tree in files:
        allowed = member_values(tree)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Constant) and isinstance(node.value, str)):
                continue
            if node.value in words and id(node) not in allowed \
                    and (path, node.value) not in ELSEWHERE:
                hits.append(f"{path}:{node.lineno}: {node.value!r}")
            elif (sql := quoted.search(node.value)) and node.value not in words:
                hits.append(f"{path}:{node.lineno}: {sql.group(0)} inside {node.value[:60]!r}")
    return hits


def definitions(value: str) -> list[str]:
    return [f"{path}:{node.lineno}" for path, tree in sources() for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and node.value == value
            and id(node) in member_values(tree)]


async def test_every_task_kind_is_an_enum_member_defined_once(bell: LocalShipbell) -> None:
    kinds = list(bell.core.tasks.handlers)
    assert len(kinds) >= 15  # the runner really was read
    assert [k for k in kinds if not isinstance(k, StrEnum)] == []
    assert {k: definitions(k) for k in kinds if len(definitions(k)) != 1} == {}


async def test_no_task_kind_or_incident_status_is_written_as_a_literal(
        bell: LocalShipbell) -> None:
    words = {str(k) for k in bell.core.tasks.handlers} | {str(s) for s in Status}
    assert literals(words, sources()) == []


def test_the_scan_finds_literals_and_spares_members() -> None:
    code = ('class Task(StrEnum):\n    CALL = "slack.call"\n\n\n'
            'submit("slack.call", {})\n'
            'db.execute("UPDATE incidents SET status = \'resolved\' WHERE id = ?")\n'
            'db.execute("UPDATE incidents SET status = ? WHERE id = ?", (Status.RESOLVED,))\n')
    found = literals({"slack.call", "resolved"}, [("bot/x.py", ast.parse(code))])
    assert found == ["bot/x.py:5: 'slack.call'",
                     "bot/x.py:6: 'resolved' inside \"UPDATE incidents SET status = 'resolved' "
                     "WHERE id = ?\""]
