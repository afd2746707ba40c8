"""SQL for deploys: every state change is a compare-and-set, recorded with who and when.

A transition is one ``UPDATE … WHERE id = ? AND state IN (…)`` plus an event row in the
same transaction, so a double click or a replayed callback simply finds nothing to update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shipbell.bot.clock import to_db
from shipbell.bot.deploys.models import ACTIVE, Deploy, State, sources_for
from shipbell.bot.incidents import timeline
from shipbell.bot.incidents.timeline import Entry
from shipbell.bot.storage import Store


def _marks(values: tuple[Any, ...] | list[Any]) -> str:
    return ", ".join("?" for _ in values)


@dataclass(frozen=True)
class Slot:
    """A service/env's deploy slot: who holds it, and how many wait in line (by COUNT)."""

    active_id: int | None
    active_state: State | None
    queued: int


CHANGES = ("SELECT sha, title, author, committed_at FROM deploy_changes"
           " WHERE deploy_id = ? ORDER BY committed_at DESC, id")
APPROVALS = "SELECT approver, decision, at FROM deploy_approvals WHERE deploy_id = ? ORDER BY at"


class DeployRepo:
    def __init__(self, store: Store) -> None:
        self.store = store

    # -- reads -------------------------------------------------------------------------------
    def get(self, deploy_id: int) -> Deploy | None:
        row = self.store.one("SELECT * FROM deploys WHERE id = ?", (deploy_id,))
        return Deploy.from_row(row) if row else None

    def by_key(self, key: str) -> Deploy | None:
        row = self.store.one("SELECT * FROM deploys WHERE idempotency_key = ?", (key,))
        return Deploy.from_row(row) if row else None

    def in_states(self, states: tuple[State, ...] | list[State], service: str | None = None,
                  env: str | None = None) -> list[Deploy]:
        """Deploys in these (in-flight) states, oldest first.

        Written so SQLite searches by state, never walks a service's history: with service and
        env, (service, env, state) is one search; with a service alone, ``+service`` keeps the
        planner on the state index (in-flight deploys are few); ``ORDER BY +id`` sorts the few
        rows found instead of tempting the planner into an index kept in id order.
        """
        sql = f"SELECT * FROM deploys WHERE state IN ({_marks(states)})"
        params: list[Any] = [str(s) for s in states]
        if service is not None:
            sql += " AND service = ?" if env is not None else " AND +service = ?"
            params.append(service)
        if env is not None:
            sql += " AND env = ?"
            params.append(env)
        return [Deploy.from_row(r) for r in self.store.all(sql + " ORDER BY +id", params)]

    def active(self, service: str, env: str) -> Deploy | None:
        found = self.in_states(ACTIVE, service, env)
        return found[0] if found else None

    def queue(self, service: str, env: str) -> list[Deploy]:
        return self.in_states((State.QUEUED,), service, env)

    def slot(self, service: str, env: str, upto: int | None = None) -> Slot:
        """The oldest active deploy and the queue's length (counting ids up to ``upto``: a
        queued deploy's place in line) in one statement, without loading the queue."""
        row = self.store.one(
            "SELECT q.n AS queued, a.id AS active_id, a.state AS active_state FROM"
            " (SELECT COUNT(*) AS n FROM deploys WHERE service = ? AND env = ? AND state = ?"
            "  AND +id <= ?) AS q"
            " LEFT JOIN (SELECT id, state FROM deploys WHERE service = ? AND env = ?"
            f"  AND state IN ({_marks(ACTIVE)}) ORDER BY +id LIMIT 1) AS a ON TRUE",
            (service, env, str(State.QUEUED), upto if upto is not None else 2**62,
             service, env, *(str(s) for s in ACTIVE)),
        )
        assert row is not None
        state = row["active_state"]
        return Slot(row["active_id"], State(state) if state else None, int(row["queued"]))

    def succeeded(self, service: str, env: str, limit: int = 2) -> list[Deploy]:
        rows = self.store.all(
            "SELECT * FROM deploys WHERE service = ? AND env = ? AND state = 'succeeded'"
            " ORDER BY finished_at DESC, id DESC LIMIT ?",
            (service, env, limit),
        )
        return [Deploy.from_row(r) for r in rows]

    def history(self, service: str, env: str | None, limit: int) -> list[Deploy]:
        sql, params = "SELECT * FROM deploys WHERE service = ?", [service]
        if env is not None:
            sql += " AND env = ?"
            params.append(env)
        rows = self.store.all(sql + " ORDER BY id DESC LIMIT ?", (*params, limit))
        return [Deploy.from_row(r) for r in rows]

    def events(self, deploy_id: int) -> list[dict[str, Any]]:
        return self.store.all(
            "SELECT * FROM deploy_events WHERE deploy_id = ? ORDER BY id", (deploy_id,)
        )

    def changes(self, deploy_id: int) -> list[dict[str, Any]]:
        return self.store.all(CHANGES, (deploy_id,))

    def approvals(self, deploy_id: int) -> list[dict[str, Any]]:
        return self.store.all(APPROVALS, (deploy_id,))

    def shown(self, deploy_id: int
              ) -> tuple[Deploy | None, list[dict[str, Any]], list[dict[str, Any]]]:
        """What a deploy's message shows: the deploy, its approvals and its changes, read
        together (one round trip on PostgreSQL)."""
        rows, approvals, changes = self.store.all_of(
            ("SELECT * FROM deploys WHERE id = ?", (deploy_id,)),
            (APPROVALS, (deploy_id,)), (CHANGES, (deploy_id,)))
        return (Deploy.from_row(rows[0]) if rows else None), approvals, changes

    # -- writes ------------------------------------------------------------------------------
    def insert(self, fields: dict[str, Any], actor: str, now: datetime, note: str,
               steps: tuple[tuple[State, str | None, dict[str, Any]], ...] = ()) -> int:
        """Create a deploy (state ``requested``) and its first event; returns the id.

        ``steps``: the states it moves through at once (state, note, fields), as if each were
        a transition: the row is written in the last state, with one event per step. Only for
        a row made in this transaction (nothing else can have seen it, so no compare-and-set).
        """
        fields = {**fields, "state": str(State.REQUESTED), "requested_at": to_db(now)}
        for state, _, extra in steps:
            fields.update(extra, state=str(state))
        names = ", ".join(fields)
        cursor = self.store.execute(
            f"INSERT INTO deploys ({names}) VALUES ({_marks(list(fields))}) RETURNING id",
            tuple(fields.values()),
        )
        deploy_id = int(cursor.fetchone()[0])
        events = [(State.REQUESTED, actor, note)] + [(s, None, n) for s, n, _ in steps]
        self.store.execute(
            "INSERT INTO deploy_events (deploy_id, at, state, actor, note) VALUES "
            + ", ".join("(?, ?, ?, ?, ?)" for _ in events),
            tuple(v for s, who, n in events for v in (deploy_id, to_db(now), str(s), who, n)),
        )
        return deploy_id

    def event(self, deploy_id: int, state: State | str, actor: str | None, now: datetime,
              note: str | None) -> None:
        self.store.execute(
            "INSERT INTO deploy_events (deploy_id, at, state, actor, note) VALUES (?, ?, ?, ?, ?)",
            (deploy_id, to_db(now), str(state), actor, note),
        )

    def transition(self, deploy_id: int, target: State, actor: str | None, now: datetime,
                   note: str | None = None, *, sources: tuple[State, ...] | None = None,
                   **fields: Any) -> bool:
        """Move to ``target`` only from a state allowed to reach it (or from ``sources``, for a
        correction the state machine doesn't otherwise allow); True if it happened."""
        sources_ = [str(s) for s in (sources or sources_for(target))]
        values = {"state": str(target), **fields}
        if target in (State.TRIGGERED,):
            values.setdefault("started_at", to_db(now))
        if target.final:
            values.setdefault("finished_at", to_db(now))
        assignments = ", ".join(f"{name} = ?" for name in values)
        cursor = self.store.execute(
            f"UPDATE deploys SET {assignments} WHERE id = ? AND state IN ({_marks(sources_)})",
            (*values.values(), deploy_id, *sources_),
        )
        if cursor.rowcount != 1:
            return False
        self.event(deploy_id, target, actor, now, note)
        return True

    def update(self, deploy_id: int, *, flush: bool = True, **fields: Any) -> None:
        """``flush=False``: the change records what already happened outside (see
        ``Store.execute``)."""
        assignments = ", ".join(f"{name} = ?" for name in fields)
        self.store.execute(
            f"UPDATE deploys SET {assignments} WHERE id = ?", (*fields.values(), deploy_id),
            flush=flush,
        )

    def add_changes(self, deploy_id: int, changes: list[dict[str, Any]]) -> None:
        for change in changes:
            self.store.execute(
                "INSERT INTO deploy_changes (deploy_id, sha, title, author, committed_at)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (deploy_id, change["sha"], change.get("title"), change.get("author"),
                 change.get("committed_at")),
            )

    def note_on_incident(self, incident_id: int, deploy_id: int, now: datetime,
                         actor: str | None, text: str, *, fixed: bool = False) -> None:
        """`--incident` is recorded on the incident too: its timeline, and once the deploy
        succeeds, the 'fixed' link its post-mortem and metrics read."""
        if fixed:
            self.store.execute(
                "INSERT INTO incident_deploys"
                " (incident_id, deploy_id, relation, actor, linked_at)"
                " VALUES (?, ?, 'fixed', ?, ?) ON CONFLICT DO NOTHING",
                (incident_id, deploy_id, actor, to_db(now)),
            )
        timeline.add(self.store, incident_id, now, Entry.LINK, actor, text,
                     source_key=f"deploy:{deploy_id}:{'fixed' if fixed else 'requested'}")

    def record_decision(self, deploy_id: int, user: str, decision: str, now: datetime,
                        channel: str | None) -> bool:
        cursor = self.store.execute(
            "INSERT INTO deploy_approvals (deploy_id, approver, decision, at, channel)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (deploy_id, user, decision, to_db(now), channel),
        )
        return cursor.rowcount == 1

    def unposted_events(self, deploy_id: int) -> list[dict[str, Any]]:
        return self.store.all(
            "SELECT * FROM deploy_events WHERE deploy_id = ? AND posted = 0 ORDER BY id",
            (deploy_id,),
        )

    def mark_posted(self, event_ids: list[int]) -> None:
        """Mark events as told in the thread: one statement for a render's batch.  Written
        after the reply, it awaits no flush: lost in a database crash, it is a render that
        stopped between its reply and this mark, as before (see ``Store.execute``)."""
        if event_ids:
            self.store.execute(
                f"UPDATE deploy_events SET posted = 1 WHERE id IN ({_marks(event_ids)})"
                " AND posted = 0", tuple(event_ids), flush=False,
            )
