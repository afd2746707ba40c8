"""What the shell may touch: by default a sandbox, whatever config it is given.

With a real config the shell runs its services, gates, trains and incident settings, but
every deploy provider is replaced by a dry-run stand-in and the database is a scratch file
beside nothing real (never `[storage] path`).  The simulated Slack workspace is saved next
to that scratch database, so a restart keeps incidents and their channels together;
`--fresh` throws both away.  `--live` is the only way to the real database and providers.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shipbell.bot.clock import Clock
from shipbell.bot.deploys.providers import REGISTRY
from shipbell.bot.inputs import CHANNEL_ID, GROUP_ID, USER_ID
from shipbell.bot.local import LocalShipbell
from shipbell.bot.settings import LoadedConfig, Settings
from shipbell.bot.slackdouble import SlackDouble
from shipbell.bot.slackdouble.cast import PEOPLE

DEMO_DB = "shipbell-shell.db"
STAND_IN = {"type": REGISTRY.simulated_type(), "seconds": 3.0}


def _same_file(a: str | Path, b: str | Path) -> bool:
    return Path(a).expanduser().resolve() == Path(b).expanduser().resolve()


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


@dataclass
class Sandbox:
    """Where the shell's database, Slack state and history live, and what it stands in for."""

    settings: Settings
    source: str
    db_path: Path
    live: bool
    demo: dict[str, Any] | None = None
    stand_ins: list[tuple[str, str, str]] = field(default_factory=list)  # name, type, where
    removed: list[Path] = field(default_factory=list)
    stale: bool = False  # a database without simulated Slack state this shell can read
    seeded: list[str] = field(default_factory=list)  # config ids added to the stand-in Slack

    @property
    def state_path(self) -> Path:
        return self.db_path.with_name(self.db_path.name + ".slack.json")

    def saved_workspace(self) -> dict[str, Any] | None:
        """The simulated Slack saved beside the scratch database, unless there is none or it
        was saved before the stand-in issued ids shaped like Slack's (``U_ANA``)."""
        if self.live or not self.state_path.is_file():
            return None
        saved: dict[str, Any] = json.loads(self.state_path.read_text("utf-8"))
        users = saved.get("users") or {}
        return saved if all(USER_ID.fullmatch(u) for u in users) else None

    @property
    def history_path(self) -> Path | None:
        """Beside the scratch database; none with --live (nothing beside the real one)."""
        return None if self.live else self.db_path.with_name(self.db_path.name + ".history")

    def banner(self) -> list[str]:
        if self.live:
            real = ", ".join(f"{n} ({t}{' → ' + w if w else ''})" for n, t, w in self.stand_ins)
            return [
                "!" * 78,
                "!! LIVE shell: the REAL database and the REAL deploy providers.",
                f"!!   database  {self.db_path}   (from {self.source})",
                f"!!   providers {real or 'none configured'}",
                "!! Deploys you start here really run, and what you do lands in the DORA data.",
                "!" * 78,
            ]
        lines = ["Shipbell shell: a sandbox. Slack is simulated; nothing here reaches a real "
                 "provider or database."]
        if self.demo is not None:
            lines.append(f"  config    demo (services web, api, worker on dry-run); "
                         f"database {self.db_path}")
        else:
            storage = self.settings.storage.path
            swapped = ", ".join(f"{n} ({t})" for n, t, _ in self.stand_ins)
            lines += [
                f"  config    {self.source}: its services, gates, trains and incident settings",
                f"  providers {swapped + ' → dry-run stand-ins' if swapped else 'dry-run only'}",
                f"  database  {self.db_path} (scratch; [storage] path {storage} is not touched)",
                "  `shell --live` uses the real database and providers (it asks first).",
            ]
        if self.removed:
            lines.append(f"  --fresh: removed {', '.join(str(p) for p in self.removed)}")
        if self.stale:
            lines.append(f"  note: {self.db_path} has no saved Slack state beside it that this"
                         " shell can read, so its incidents' channels are gone; `shell --fresh`"
                         " starts over.")
        return lines

    def bell(self, clock: Clock) -> LocalShipbell:
        bell = LocalShipbell(self.db_path, base=self.settings, clock=clock, simulate_names=True,
                             config=self.demo or {}, scheduler=True)
        saved = self.saved_workspace()
        if saved is not None:
            bell.double.state.restore(saved)
        self.seeded = seed_config_ids(bell.double, self.settings)
        return bell

    def save(self, bell: LocalShipbell) -> None:
        """Keep the simulated workspace with the scratch database (written atomically)."""
        if self.live:
            return
        temp = self.state_path.with_name(self.state_path.name + ".tmp")
        temp.write_text(json.dumps(bell.double.state.snapshot()), "utf-8")
        os.replace(temp, self.state_path)


def seed_config_ids(double: SlackDouble, settings: Settings) -> list[str]:
    """Channels, people and groups the config names by id exist in the stand-in workspace
    (named after their id), so posting to them works instead of `channel_not_found`.
    Returns what it added, as `#name` / `@name`."""
    known, added = double.state, []
    for value in _strings(settings.model_dump(by_alias=True)):
        if CHANNEL_ID.fullmatch(value) and value not in known.channels:
            double.add_channel(value.lower(), channel_id=value, members=list(PEOPLE))
            added.append(f"#{value.lower()}")
        elif USER_ID.fullmatch(value) and value not in known.users:
            double.add_user(value, value.lower())
            added.append(f"@{value.lower()}")
        elif GROUP_ID.fullmatch(value) and value not in known.usergroups:
            double.add_usergroup(value, value.lower(), [])
            added.append(f"@{value.lower()}")
    return added


def plan_sandbox(config: LoadedConfig, *, db: str | None, live: bool, fresh: bool,
                 demo: dict[str, Any] | None) -> Sandbox:
    """Decide the shell's database and providers; ValueError says why it may not start."""
    settings = config.settings
    storage = settings.storage.path
    data = settings.model_dump(by_alias=True)
    providers = data["deploy"]["providers"]
    stand_ins = [(name, pc.type, pc.where()) for name, pc in settings.deploy.providers.items()
                 if not pc.simulated]
    if live:
        if fresh:
            raise ValueError("--fresh deletes the shell's database; it never goes with --live")
        return Sandbox(settings, config.source, Path(db or storage), True, demo, stand_ins)
    if db is None:
        db = DEMO_DB if demo is not None else f"{Path(config.source).stem}.shell.db"
    if _same_file(db, storage):
        raise ValueError(f"{db} is the [storage] path of {config.source}, the real database; "
                         "pick another --db, or say --live to use it on purpose")
    for name, _, _ in stand_ins:
        providers[name] = dict(STAND_IN)
    sandbox = Sandbox(Settings(**data), config.source, Path(db), False, demo, stand_ins)
    if fresh:
        for path in (sandbox.db_path, Path(f"{db}-wal"), Path(f"{db}-shm"), sandbox.state_path):
            if path.exists():
                path.unlink()
                sandbox.removed.append(path)
    sandbox.stale = (sandbox.db_path.is_file() and sandbox.db_path.stat().st_size > 0
                     and sandbox.saved_workspace() is None)
    return sandbox
