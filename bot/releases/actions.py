"""What people change on the calendar: skips, ad-hoc freezes, captain swaps.

Each change is stored (with who and when) and audited in one transaction before anyone
announces it, and each is idempotent: a repeated skip or a second freeze reports what is
already there instead of acting twice (primary keys and a one-open-freeze-per-train unique
index decide).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from shipbell.bot.clock import from_db, to_db
from shipbell.bot.infra import Infra
from shipbell.bot.releases.models import Release
from shipbell.bot.releases.service import ReleaseBook
from shipbell.bot.storage import IntegrityError

HORIZON = 60  # how many upcoming releases a date given to skip/unskip may be


@dataclass(frozen=True)
class Outcome:
    """``code`` says what happened (done, already, not_found, not_frozen); handlers phrase it."""

    code: str
    release: Release | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.code == "done"


class Calendar:
    def __init__(self, core: Infra, book: ReleaseBook, channel: str | None = None) -> None:
        self.core = core
        self.book = book
        self.channel = channel  # where the change was asked for

    def _audit(self, actor: str, action: str, name: str, **detail: Any) -> None:
        self.core.audit(actor, action, name, channel=self.channel, **detail)

    def _now(self) -> datetime:
        return self.core.clock.now()

    def _find_day(self, name: str, day: date) -> tuple[Release | None, list[Release]]:
        """The release held on ``day``, or moved away from it (people name Christmas, not the
        Monday after), plus the next few dates for an answer when there is none."""
        upcoming = [r for r in self.book.upcoming(name, self._now(), HORIZON) if r.at is not None]
        match = next((r for r in upcoming if r.occ.local_date == day), None) or next(
            (r for r in upcoming if r.occ.nominal.date() == day), None)
        return match, [r for r in upcoming if r.held][:3]

    def skip(self, name: str, day: date, reason: str, actor: str) -> Outcome:
        release, nearby = self._find_day(name, day)
        if release is None:
            return Outcome("not_found", detail={"nearby": nearby})
        with self.core.store.transaction() as conn:  # the change and its audit row, or neither
            cursor = conn.execute(
                "INSERT INTO release_skips"
                " (train, release_date, reason, actor, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT DO NOTHING",
                (name, release.day, reason, actor, to_db(self._now())),
            )
            if cursor.rowcount == 0:
                return Outcome("already", release)
            self._audit(actor, "release.skip", name, day=release.day, reason=reason)
        return Outcome("done", release)

    def unskip(self, name: str, day: date, actor: str) -> Outcome:
        release, nearby = self._find_day(name, day)
        if release is None:
            return Outcome("not_found", detail={"nearby": nearby})
        with self.core.store.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM release_skips WHERE train = ? AND release_date = ?",
                (name, release.day),
            )
            if cursor.rowcount == 0:
                return Outcome("already", release)
            self._audit(actor, "release.unskip", name, day=release.day)
        return Outcome("done", release)

    def freeze(self, name: str, duration: timedelta, reason: str, actor: str) -> Outcome:
        now = self._now()
        try:
            with self.core.store.transaction() as conn:
                conn.execute(
                    "UPDATE release_freezes SET lifted_at = ends_at, lifted_by = 'expired'"
                    " WHERE train = ? AND lifted_at IS NULL AND ends_at <= ?",
                    (name, to_db(now)),
                )
                conn.execute(
                    "INSERT INTO release_freezes"
                    " (train, starts_at, ends_at, reason, actor, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    (name, to_db(now), to_db(now + duration), reason, actor, to_db(now)),
                )
                self._audit(actor, "release.freeze", name, until=to_db(now + duration),
                            reason=reason)
        except IntegrityError:
            return Outcome("already", detail=self._open_freeze(name) or {})
        return Outcome("done", detail={"starts_at": now, "ends_at": now + duration,
                                       "reason": reason})

    def _open_freeze(self, name: str) -> dict[str, Any] | None:
        row = self.book.adhoc_freeze(name, self._now())
        if row is None:
            return None
        return {"starts_at": from_db(row["starts_at"]), "ends_at": from_db(row["ends_at"]),
                "reason": row["reason"], "actor": row["actor"]}

    def unfreeze(self, name: str, actor: str) -> Outcome:
        now = to_db(self._now())
        with self.core.store.transaction() as conn:
            row = conn.execute(
                "UPDATE release_freezes SET lifted_at = ?, lifted_by = ?"
                " WHERE train = ? AND lifted_at IS NULL AND ends_at > ? RETURNING reason",
                (now, actor, name, now),
            ).fetchone()
            if row is not None:
                self._audit(actor, "release.unfreeze", name, reason=row["reason"])
        if row is None:
            scheduled = self.book.freeze_window(name, self._now())
            return Outcome("not_frozen", detail={"scheduled": scheduled})
        return Outcome("done", detail={"reason": row["reason"]})

    def set_captain(self, name: str, captain: str, actor: str) -> Outcome:
        release = self.book.next_release(name, self._now())
        if release is None:
            return Outcome("not_found", detail={"nearby": []})
        if release.captain == captain:
            return Outcome("already", release)
        with self.core.store.transaction() as conn:
            conn.execute(
                "INSERT INTO release_captains (train, release_date, captain, actor, created_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (train, release_date) DO UPDATE SET"
                " captain = excluded.captain, actor = excluded.actor,"
                " created_at = excluded.created_at",
                (name, release.day, captain, actor, to_db(self._now())),
            )
            self._audit(actor, "release.captain", name, day=release.day, captain=captain,
                        previous=release.captain)
        return Outcome("done", release, detail={"previous": release.captain})
