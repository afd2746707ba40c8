"""The one place where Shipbell's SQL (written for SQLite, portable to PostgreSQL) is adapted.

Queries are written once, with ``?`` placeholders, in SQL both databases accept.  What can't be
written portably is translated here, for PostgreSQL only:

- placeholders: ``?`` becomes psycopg's ``%s`` (and a literal ``%`` becomes ``%%``);
  SQLite's null-safe ``x IS ?`` is ``x IS NOT DISTINCT FROM %s``;
- SQLite's planner hints mean nothing to PostgreSQL's planner and are dropped: the unary
  ``+`` that keeps SQLite off an index (``AND +service = ?``), ``CROSS JOIN … ON`` that pins
  its join order (a plain ``JOIN`` there);
- the digest's lead-time line: ``julianday(x)`` and ``group_concat(e)`` become
  ``EXTRACT(EPOCH …)`` arithmetic and ``string_agg``; ``round(x, digits)`` rounds
  ``x`` cast to numeric (PostgreSQL has no two-argument round of a double);
  ``PRAGMA table_info(t)`` reads ``information_schema.columns``;
- DDL types: ``INTEGER`` is ``BIGINT`` (SQLite's integers are 64-bit), ``REAL`` is
  ``DOUBLE PRECISION``, ``BLOB`` is ``BYTEA``, ``TEXT`` compares bytewise (``COLLATE "C"``,
  as SQLite's BINARY does, so ORDER BY and ranges agree), ``WITHOUT ROWID`` is dropped;
- ``id INTEGER PRIMARY KEY``: SQLite gives a new row max(id) + 1, so a conflict or a rolled
  back insert leaves no gap (incident numbers rely on it).  A sequence would leave gaps, so
  on PostgreSQL a trigger assigns max(id) + 1, which is race-free because every write
  transaction holds the store's write lock.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

_TOKENS = re.compile(r"'[^']*'|\"[^\"]*\"|--[^\n]*|\?|%")
_WRITE = re.compile(r"\s*(?:INSERT|UPDATE|DELETE|REPLACE|CREATE|DROP|ALTER)\b", re.IGNORECASE)


@lru_cache(maxsize=2048)
def to_pyformat(sql: str) -> str:
    """``?`` placeholders as psycopg's ``%s``; ``?`` and ``%`` inside quotes stay literal."""

    def swap(match: re.Match[str]) -> str:
        token = match.group()
        if token == "?":
            return "%s"
        return token.replace("%", "%%")

    return _TOKENS.sub(swap, sql)


_UNARY_PLUS = re.compile(
    r"(\b(?:AND|OR|BY|WHERE|ON|NOT|SELECT|WHEN|THEN|ELSE)\s+|[(,=<>]\s*)\+(?=[A-Za-z_])",
    re.IGNORECASE)
_CROSS_JOIN_ON = re.compile(r"\bCROSS\s+JOIN\s+(\w+(?:\s+(?!ON\b)\w+)?)\s+ON\b",
                            re.IGNORECASE)
_IS_PARAM = re.compile(r"\bIS\s+\?", re.IGNORECASE)
_IS_NOT_PARAM = re.compile(r"\bIS\s+NOT\s+\?", re.IGNORECASE)
_CAST_INTEGER = re.compile(r"\bAS\s+INTEGER\s*\)", re.IGNORECASE)
_JULIANDAY = re.compile(r"\bjulianday\(([\w.]+)\)", re.IGNORECASE)
_PRAGMA_COLUMNS = re.compile(r"^\s*PRAGMA\s+table_info\((\w+)\)\s*$", re.IGNORECASE)


def _replace_call(sql: str, name: str, build: Callable[[str], str]) -> str:
    """Replace each ``name(args)`` (parentheses balanced) with ``build(args)``."""
    pattern = re.compile(rf"\b{name}\(", re.IGNORECASE)
    while (match := pattern.search(sql)) is not None:
        depth, end = 1, match.end()
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        sql = sql[:match.start()] + build(sql[match.end():end - 1]) + sql[end:]
    return sql


_ROUND = re.compile(r"\bround\(", re.IGNORECASE)


def _round_digits(sql: str) -> str:
    """SQLite's ``round(x, digits)`` of a double: PostgreSQL rounds to digits a numeric only,
    so ``x`` is cast to numeric there (the result reads back as a float, as SQLite's)."""
    out, pos = [], 0
    while (match := _ROUND.search(sql, pos)) is not None:
        depth, end, commas = 1, match.end(), []
        while depth:
            char = sql[end]
            depth += {"(": 1, ")": -1}.get(char, 0)
            if char == "," and depth == 1:
                commas.append(end)
            end += 1
        args = sql[match.end():end - 1]
        if len(commas) == 1:
            cut = commas[0] - match.end()
            value, digits = _round_digits(args[:cut]), args[cut + 1:]
            out += [sql[pos:match.start()], f"round(CAST(({value}) AS numeric),{digits})"]
        else:
            out += [sql[pos:match.start()], f"round({_round_digits(args)})"]
        pos = end
    return "".join(out) + sql[pos:]


@lru_cache(maxsize=2048)
def to_postgres(sql: str, with_params: bool) -> str:
    """A statement of Shipbell's SQL as PostgreSQL runs it (see the module's list)."""
    pragma = _PRAGMA_COLUMNS.match(sql)
    if pragma:
        return ("SELECT ordinal_position - 1 AS cid, column_name AS name"
                " FROM information_schema.columns WHERE table_schema = current_schema()"
                f" AND table_name = '{pragma.group(1)}' ORDER BY ordinal_position")
    sql = _UNARY_PLUS.sub(r"\1", sql)
    sql = _CROSS_JOIN_ON.sub(r"JOIN \1 ON", sql)
    sql = _CAST_INTEGER.sub("AS BIGINT)", sql)  # SQLite's integers are 64-bit
    sql = _IS_NOT_PARAM.sub("IS DISTINCT FROM ?", sql)  # SQLite's null-safe comparisons
    sql = _IS_PARAM.sub("IS NOT DISTINCT FROM ?", sql)
    sql = _JULIANDAY.sub(
        r"(EXTRACT(EPOCH FROM CAST(\1 AS timestamptz)) / 86400.0 + 2440587.5)", sql)
    sql = _replace_call(sql, "group_concat",
                        lambda args: f"string_agg(CAST(({args}) AS TEXT), ',')")
    sql = _round_digits(sql)
    return to_pyformat(sql) if with_params else sql


@lru_cache(maxsize=2048)
def is_write(sql: str) -> bool:
    """Whether a statement changes the database (and so must hold the write lock)."""
    return _WRITE.match(sql) is not None


_CREATE_TABLE = re.compile(r"\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_ROWID_KEY = re.compile(r"\b(\w+)\s+INTEGER\s+PRIMARY\s+KEY\b")
_TYPES = (
    (re.compile(r"\bINTEGER\b"), "BIGINT"),
    (re.compile(r"\bREAL\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bBLOB\b"), "BYTEA"),
    (re.compile(r"\bTEXT\b"), 'TEXT COLLATE "C"'),
    (re.compile(r"\)\s*WITHOUT\s+ROWID\s*$"), ")"),
)


def postgres_ddl(statement: str) -> list[str]:
    """One SQLite DDL statement as the PostgreSQL statements that build the same thing.

    Types are matched in upper case only (as the migrations write them), so a column named
    ``text`` stays a column named ``text``.
    """
    table = _CREATE_TABLE.match(statement)
    key = _ROWID_KEY.search(statement)
    out = _ROWID_KEY.sub(r"\1 BIGINT PRIMARY KEY", statement)
    for pattern, replacement in _TYPES:
        out = pattern.sub(replacement, out)
    if key is None:
        return [out]
    if table is None or key.group(1) != "id":
        raise ValueError(f"INTEGER PRIMARY KEY is supported on a column named id in a CREATE"
                         f" TABLE only: {statement.strip()[:80]}")
    name = table.group(1)
    return [
        out,
        f"CREATE FUNCTION {name}_next_id() RETURNS trigger LANGUAGE plpgsql AS $$"
        f" BEGIN IF NEW.id IS NULL THEN"
        f" SELECT COALESCE(MAX(id), 0) + 1 INTO NEW.id FROM {name}; END IF;"
        f" RETURN NEW; END $$",
        f"CREATE TRIGGER {name}_next_id BEFORE INSERT ON {name}"
        f" FOR EACH ROW EXECUTE FUNCTION {name}_next_id()",
    ]
