"""The release book: every train's calendar joined with what people changed in SQLite.

Read side only (dates, captains, skips, freezes, what is on the train); the changes people
make are in ``actions.py``.  Nothing here knows about Slack.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shipbell.bot.clock import Clock, from_db, to_db
from shipbell.bot.inputs import is_group
from shipbell.bot.releases.calendar import Occurrence, TrainCalendar
from shipbell.bot.releases.config import ReleaseSettings
from shipbell.bot.releases.models import Cargo, FreezeWindow, Release, Shipped, Skip
from shipbell.bot.storage import Store

SHOWN = 15  # deploys listed per message; the rest are counted
GATE_REASON = 300  # characters of an ad-hoc freeze reason that other features quote
LOOKBACK_WINDOWS = (timedelta(days=35), timedelta(days=400))


class ReleaseBook:
    def __init__(self, store: Store, clock: Clock, settings: ReleaseSettings,
                 default_tz: str = "UTC") -> None:
        self.store = store
        self.clock = clock
        self.settings = settings
        self.calendars = {name: TrainCalendar(name, t, default_tz)
                          for name, t in settings.trains.items()}
        # Members of the user groups (S…) named as managers, filled from Slack off the ack
        # path by the handlers; a group not read yet has no members (nobody gets in by it).
        self.group_members: dict[str, set[str]] = {}
        self.gone_users: set[str] = set()  # deactivated accounts, read the same way

    # -- trains -------------------------------------------------------------------------------
    def find(self, word: str) -> TrainCalendar | None:
        """A train by name, or by an unambiguous prefix of its name."""
        if word in self.calendars:
            return self.calendars[word]
        matches = [c for name, c in self.calendars.items() if name.startswith(word)]
        return matches[0] if len(matches) == 1 else None

    def trains_for(self, service: str, env: str) -> list[str]:
        return [name for name, cal in self.calendars.items()
                if service in cal.train.services and env == cal.train.environment]

    def managers(self, name: str) -> list[str]:
        """Who may change this train's calendar; empty means everyone."""
        train = self.calendars[name].train
        return train.managers if train.managers is not None else self.settings.managers

    def manager_groups(self) -> list[str]:
        """Every user group named as a manager anywhere: what the handlers keep fresh."""
        named = {*self.settings.managers,
                 *(m for c in self.calendars.values() for m in c.train.managers or [])}
        return sorted(m for m in named if is_group(m))

    def captains(self) -> list[str]:
        """Every captain in a rotation or swapped in for an upcoming release."""
        swapped = [r["captain"] for r in self.store.all(
            "SELECT DISTINCT captain FROM release_captains WHERE release_date >= ?",
            (self.clock.now().date().isoformat(),))]
        rotations = [u for c in self.calendars.values() for u in c.train.captains]
        return sorted({*rotations, *swapped})

    def may_change(self, name: str, user: str) -> bool:
        managers = self.managers(name)
        return not managers or user in managers or any(
            user in self.group_members.get(m, ()) for m in managers if is_group(m))

    # -- releases -----------------------------------------------------------------------------
    def _release(self, occ: Occurrence, skips: dict[str, Skip], swaps: dict[str, str]) -> Release:
        cal = self.calendars[occ.train]
        day = occ.local_date.isoformat()
        swapped = swaps.get(day)
        lead = cal.train.freeze_lead
        captain = swapped or cal.rotation_captain(occ)
        return Release(
            occ=occ,
            captain=captain,
            captain_swapped=swapped is not None,
            captain_gone=captain in self.gone_users,
            skip=skips.get(day) if occ.at is not None else None,
            freeze_at=occ.at.astimezone(UTC) - lead if occ.at is not None and lead else None,
        )

    def _overrides(self, name: str) -> tuple[dict[str, Skip], dict[str, str]]:
        skips = {r["release_date"]: Skip(r["reason"], r["actor"]) for r in self.store.all(
            "SELECT release_date, reason, actor FROM release_skips WHERE train = ?", (name,))}
        swaps = {r["release_date"]: r["captain"] for r in self.store.all(
            "SELECT release_date, captain FROM release_captains WHERE train = ?", (name,))}
        return skips, swaps

    def upcoming(self, name: str, since: datetime, count: int) -> list[Release]:
        """The next ``count`` releases at or after ``since``, skipped ones included."""
        skips, swaps = self._overrides(name)
        occs = self.calendars[name].upcoming(since, count)
        return [self._release(o, skips, swaps) for o in occs]

    def next_release(self, name: str, after: datetime, *, strictly: bool = True) -> Release | None:
        """The next release that will be held after ``after`` (or at it, if not strictly)."""
        skips, swaps = self._overrides(name)
        for occ in self.calendars[name].occurrences(after):
            release = self._release(occ, skips, swaps)
            if release.held and release.at is not None and (release.at > after or not strictly):
                return release
        return None

    def release_at(self, name: str, when: datetime) -> Release | None:
        """The release held exactly at ``when`` (what a scheduled job stands for)."""
        release = self.next_release(name, when, strictly=False)
        return release if release is not None and release.at == when else None

    def previous_release(self, name: str, before: datetime) -> datetime | None:
        """When the last held release before ``before`` was: the start of what is on the train."""
        skips, swaps = self._overrides(name)
        for window in LOOKBACK_WINDOWS:
            held = [self._release(o, skips, swaps)
                    for o in self.calendars[name].held_between(before - window, before)]
            held = [r for r in held if r.held]
            if held:
                return held[-1].at
        return None

    # -- what is on the train ------------------------------------------------------------------
    def on_train(self, name: str, until: datetime, since: datetime | None = None,
                 *, limit: int = SHOWN) -> Cargo:
        """Production deploys of the train's services since the previous release.

        Only the first ``limit`` rows are read (a message shows no more), plus a count.
        """
        train = self.calendars[name].train
        start = since or self.previous_release(name, until) or until - timedelta(weeks=1)
        marks = ",".join("?" for _ in train.services)
        where = (f" FROM deploys WHERE env = ? AND state = 'succeeded' AND service IN ({marks})"
                 " AND finished_at > ? AND finished_at <= ?")
        params = (train.environment, *train.services, to_db(start), to_db(until))
        rows = self.store.all("SELECT service, version, ref, requester, finished_at" + where
                              + " ORDER BY finished_at LIMIT ?", (*params, limit))
        total = len(rows) if len(rows) < limit else int(
            (self.store.one("SELECT COUNT(*) AS n" + where, params) or {"n": 0})["n"])
        return Cargo([_shipped(r) for r in rows], total)

    # -- freezes -------------------------------------------------------------------------------
    def adhoc_freeze(self, name: str, at: datetime) -> dict[str, Any] | None:
        return self.store.one(
            "SELECT * FROM release_freezes WHERE train = ? AND lifted_at IS NULL"
            " AND starts_at <= ? AND ends_at > ? ORDER BY starts_at LIMIT 1",
            (name, to_db(at), to_db(at)),
        )

    def freeze_window(self, name: str, at: datetime) -> FreezeWindow | None:
        """Ad-hoc freeze first (it carries a person's reason), then the code freeze."""
        source = f"release train {name}"
        row = self.adhoc_freeze(name, at)
        if row is not None:
            reason = str(row["reason"])  # gates quote it in one line; the rest is in the audit
            if len(reason) > GATE_REASON:
                reason = reason[:GATE_REASON - 1] + "…"
            return FreezeWindow(source, reason, from_db(row["starts_at"]) or at,
                                from_db(row["ends_at"]))
        lead = self.calendars[name].train.freeze_lead
        if not lead:
            return None
        release = self.next_release(name, at)
        if release is None or release.at is None or release.freeze_at is None:
            return None
        if release.freeze_at <= at < release.at:
            reason = f"code freeze before the {release.day} release"
            return FreezeWindow(source, reason, release.freeze_at, release.at)
        return None


def _shipped(row: dict[str, Any]) -> Shipped:
    finished = from_db(row["finished_at"])
    assert finished is not None
    return Shipped(row["service"], row["version"], row["ref"], row["requester"], finished)
