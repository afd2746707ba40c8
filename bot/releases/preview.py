"""The next few release dates as `shipbell check` prints them, from configuration alone.

So whoever edits a train sees, before deploying the config, where weekends and holidays
move or skip its releases and whose turn each one is. Manual skips and captain swaps live
in the database; `/release calendar` shows those too.
"""

from __future__ import annotations

from datetime import datetime

from shipbell.bot.releases.calendar import TrainCalendar
from shipbell.bot.releases.config import ReleaseSettings

SHOWN = 4


def upcoming_lines(settings: ReleaseSettings, default_tz: str, now: datetime,
                   count: int = SHOWN) -> list[str]:
    """One heading per train, then one line per date in the train's own time zone."""
    lines: list[str] = []
    for name, train in settings.trains.items():
        cal = TrainCalendar(name, train, default_tz)
        lines.append(f"Release train {name} ({cal.zone}): next {count} dates")
        for occ in cal.upcoming(now, count):
            if occ.at is None:
                lines.append(f"  {occ.nominal:%a %Y-%m-%d %H:%M %Z}  {occ.note}")
                continue
            captain = cal.rotation_captain(occ)
            who = f"  captain {captain}" if captain else ""
            note = f"  ({occ.note})" if occ.note else ""
            lines.append(f"  {occ.at:%a %Y-%m-%d %H:%M %Z}{who}{note}")
    return lines
