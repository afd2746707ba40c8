"""`shipbell digest`: print the digest (and write its chart) without Slack.

For previews, cron users and tests.  It never creates or migrates a database: a missing
file or one without Shipbell's tables is read as an empty history, and an existing one is
opened read-only, so a preview can't disturb the running bot.  On PostgreSQL it reads the
configured database (``[storage] url``) in a worker thread, as the running bot does; one
without Shipbell's tables is a one-line error naming the url.
"""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

from shipbell.bot.dora.chart import render_chart
from shipbell.bot.dora.digest import build_digest
from shipbell.bot.dora.text import to_text
from shipbell.bot.schema import all_migrations
from shipbell.bot.settings import Settings
from shipbell.bot.storage import Backend, Store, open_store
from shipbell.bot.storage.db import explain


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-of {text!r}: use a date like 2026-11-25") from None


def open_history(path: str) -> sqlite3.Connection:
    """The bot's database read-only, or an empty in-memory one with the same schema."""
    if path != ":memory:" and Path(path).is_file():
        conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:  # not SQLite: a config error, one line
            raise explain(path, exc) from None
        if {"deploys", "incidents", "followups"} <= tables:
            return conn
        conn.close()
    store = Store(":memory:")
    store.migrate(all_migrations())
    return store.conn


def run_preview(
    settings: Settings, *, as_of: str | None, chart: str | None, now: datetime
) -> int:
    cfg = settings.digest
    tz = cfg.zone(settings.timezone)
    try:
        at = now if as_of is None else datetime.combine(
            parse_day(as_of), cfg.post_time, tzinfo=tz
        )
    except ValueError as exc:
        print(f"shipbell: {exc}", file=sys.stderr)
        return 2
    location = settings.storage.location
    if location.backend is Backend.POSTGRESQL:
        password = settings.storage.password
        store = open_store(location, pool_size=1,
                           password=password.get_secret_value() if password else None)
        try:
            found = store.one("SELECT to_regclass('deploys') IS NOT NULL AS ready")
            if not (found and found["ready"]):
                print(f"shipbell: {location} holds no Shipbell tables yet; start Shipbell once"
                      " against it (or check [storage] url)", file=sys.stderr)
                return 2

            def compute(conn: Any) -> Any:
                return build_digest(conn, cfg, tz, at, trend=chart is not None)

            digest = asyncio.run(store.read(compute))
        finally:
            store.close()
    else:
        conn = open_history(settings.storage.path)
        try:
            digest = build_digest(conn, cfg, tz, at, trend=chart is not None)
        finally:
            conn.close()
    sys.stdout.write(to_text(digest))
    if chart:
        try:
            Path(chart).write_bytes(render_chart(digest))
        except OSError as exc:
            print(f"shipbell: can't write the chart to {chart} ({exc.strerror}); "
                  "pick a writable file, e.g. --chart /tmp/trend.png", file=sys.stderr)
            return 2
        print(f"chart written to {chart}")
    return 0
