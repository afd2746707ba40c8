"""Locks on service+env: a reason is required, they expire, and takeovers are explicit.

Expired locks are treated as absent everywhere (and removed by the sweep), so a
forgotten lock can never block a deploy past its TTL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shipbell.bot.clock import from_db, to_db
from shipbell.bot.deploys.models import stamp
from shipbell.bot.storage import Store

ROLLBACK_REASON = "rolled back: fix before the next deploy"
MAX_REASON = 500  # a lock reason is quoted in refusals, reminders and takeover offers
REQUEST_TTL = timedelta(minutes=15)  # a take-over or unlock offer left this long is stale


class RequestKind(StrEnum):
    """What a confirm button on someone else's lock does once pressed."""

    TAKEOVER = "takeover"
    UNLOCK = "unlock"


@dataclass(frozen=True)
class Lock:
    service: str
    env: str
    holder: str
    reason: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    reminded_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Lock:
        return cls(row["service"], row["env"], row["holder"], row["reason"], row["kind"],
                   stamp(row, "created_at"), from_db(row["expires_at"]),
                   from_db(row.get("reminded_at")))

    def live(self, now: datetime) -> bool:
        return self.expires_at is None or self.expires_at > now


@dataclass(frozen=True)
class LockRequest:
    """A confirmation waiting for its button: everything the press will do is stored here,
    so the button carries only ``id`` (a pointer, never the reason, channel or expiry)."""

    id: int
    kind: RequestKind
    service: str
    env: str
    requester: str
    holder: str
    lock_created_at: datetime
    reason: str | None
    ttl: timedelta | None
    channel: str | None
    created_at: datetime
    used_at: datetime | None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> LockRequest:
        minutes = row["ttl_minutes"]
        return cls(row["id"], RequestKind(row["kind"]), row["service"], row["env"],
                   row["requester"], row["holder"], stamp(row, "lock_created_at"),
                   row["reason"], timedelta(minutes=minutes) if minutes else None,
                   row["channel"], stamp(row, "created_at"), from_db(row["used_at"]))


class Locks:
    def __init__(self, store: Store) -> None:
        self.store = store

    def get(self, service: str, env: str, now: datetime) -> Lock | None:
        row = self.store.one("SELECT * FROM locks WHERE service = ? AND env = ?", (service, env))
        lock = Lock.from_row(row) if row else None
        return lock if lock and lock.live(now) else None

    def all(self, now: datetime) -> list[Lock]:
        rows = self.store.all("SELECT * FROM locks ORDER BY service, env")
        return [lock for lock in map(Lock.from_row, rows) if lock.live(now)]

    def take(self, service: str, env: str, holder: str, reason: str, now: datetime,
             ttl: timedelta | None, *, kind: str = "manual", channel: str | None = None,
             expected_holder: str | None = None) -> bool:
        """Take a free (or expired) lock, or take over from ``expected_holder`` exactly."""
        with self.store.transaction():
            return self.take_in_transaction(service, env, holder, reason, now, ttl, kind=kind,
                                            channel=channel, expected_holder=expected_holder)

    def take_in_transaction(self, service: str, env: str, holder: str, reason: str,
                            now: datetime, ttl: timedelta | None, *, kind: str = "manual",
                            channel: str | None = None,
                            expected_holder: str | None = None) -> bool:
        """``take`` inside the caller's open transaction (with the event it records)."""
        expires = to_db(now + ttl) if ttl is not None else None
        current = self.store.one(
            "SELECT holder, expires_at FROM locks WHERE service = ? AND env = ?",
            (service, env),
        )
        if current is not None:
            live = current["expires_at"] is None or current["expires_at"] > to_db(now)
            if live and current["holder"] not in (holder, expected_holder):
                return False
        self.store.execute(
            "INSERT INTO locks"
            " (service, env, holder, reason, kind, created_at, expires_at, channel)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (service, env) DO UPDATE SET"
            " holder = excluded.holder, reason = excluded.reason, kind = excluded.kind,"
            " created_at = excluded.created_at, expires_at = excluded.expires_at,"
            " channel = excluded.channel, reminded_at = NULL",  # a new lock, whole
            (service, env, holder, reason, kind, to_db(now), expires, channel),
        )
        return True

    def release(self, service: str, env: str, *, lock: Lock | None = None) -> Lock | None:
        """Release the current lock, or exactly ``lock`` (None if it is no longer the one)."""
        row = self.store.one("SELECT * FROM locks WHERE service = ? AND env = ?", (service, env))
        if row is None:
            return None
        if lock is not None and (row["holder"], row["created_at"]) != (
                lock.holder, to_db(lock.created_at)):
            return None
        cursor = self.store.execute(
            "DELETE FROM locks WHERE service = ? AND env = ? AND created_at = ?",
            (service, env, row["created_at"]),
        )
        return Lock.from_row(row) if cursor.rowcount == 1 else None

    def expired(self, now: datetime) -> list[Lock]:
        rows = self.store.all(
            "SELECT * FROM locks WHERE expires_at IS NOT NULL AND expires_at <= ?", (to_db(now),)
        )
        return [Lock.from_row(r) for r in rows]

    def due_reminders(self, now: datetime, every: timedelta) -> list[Lock]:
        cutoff = to_db(now - every)
        rows = self.store.all(
            "SELECT * FROM locks WHERE kind = 'manual' AND COALESCE(reminded_at, created_at) <= ?"
            " AND (expires_at IS NULL OR expires_at > ?)",
            (cutoff, to_db(now)),
        )
        return [Lock.from_row(r) for r in rows]

    def mark_reminded(self, lock: Lock, now: datetime) -> bool:
        cursor = self.store.execute(
            "UPDATE locks SET reminded_at = ? WHERE service = ? AND env = ? AND created_at = ?"
            " AND COALESCE(reminded_at, '') = ?",
            (to_db(now), lock.service, lock.env, to_db(lock.created_at),
             to_db(lock.reminded_at) if lock.reminded_at else ""),
        )
        return cursor.rowcount == 1

    # -- confirmations for someone else's lock ----------------------------------------------
    def ask(self, kind: RequestKind, lock: Lock, requester: str, now: datetime, *,
            reason: str | None = None, ttl: timedelta | None = None,
            channel: str | None = None) -> int:
        """Store what a confirm button would do; its id is all the button carries."""
        cursor = self.store.execute(
            "INSERT INTO lock_requests (kind, service, env, requester, holder, lock_created_at,"
            " reason, ttl_minutes, channel, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
            " RETURNING id",
            (str(kind), lock.service, lock.env, requester, lock.holder, to_db(lock.created_at),
             reason, int(ttl.total_seconds() // 60) if ttl else None, channel, to_db(now)),
        )
        return int(cursor.fetchone()[0])

    def request(self, request_id: int) -> LockRequest | None:
        row = self.store.one("SELECT * FROM lock_requests WHERE id = ?", (request_id,))
        return LockRequest.from_row(row) if row else None

    def use(self, request: LockRequest, now: datetime) -> bool:
        """Mark a confirmation spent (compare-and-set: a double click spends it once)."""
        cursor = self.store.execute(
            "UPDATE lock_requests SET used_at = ? WHERE id = ? AND used_at IS NULL",
            (to_db(now), request.id),
        )
        return cursor.rowcount == 1

