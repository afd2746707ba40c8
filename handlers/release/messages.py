"""Block Kit for release trains: reminders, freeze and release announcements, `/release`.

Every time goes through ``slack_date`` so each reader sees their own local time, with a
UTC fallback for clients that cannot render it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shipbell.bot.clock import humanize, slack_date
from shipbell.bot.inputs import escape, user_text
from shipbell.bot.releases.models import Cargo, FreezeWindow, Release
from shipbell.handlers.release.ids import Block

MAX_SECTION = 2900


def _section(text: str, block: Block | None = None, train: str | None = None
             ) -> dict[str, Any]:
    """A section; ``train`` makes its block_id unique when one message shows several trains
    (Slack refuses a message whose block_ids repeat)."""
    out: dict[str, Any] = {"type": "section",
                           "text": {"type": "mrkdwn", "text": text[:MAX_SECTION]}}
    if block is not None:
        out["block_id"] = block.value if train is None else f"{block.value}:{train}"
    return out


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "block_id": Block.CONTEXT.value,
            "elements": [{"type": "mrkdwn", "text": text[:MAX_SECTION]}]}


def quiet(text: str) -> str:
    """People's reasons are echoed to a channel: never let them ping @channel or a group,
    nor disguise a link; `&<>` escaped, mentions of people kept (``bot.inputs.user_text``)."""
    return user_text(text)


REASON_SHOWN = 500  # the full reason is stored and audited; messages show this much


def brief(reason: str) -> str:
    """A person's reason as messages show it: no pings, and short enough that a reason near
    the 4,000-character command limit never pushes a date or the next release out."""
    reason = quiet(reason)
    if len(reason) <= REASON_SHOWN:
        return reason
    cut = reason[:REASON_SHOWN - 1]
    if cut.rfind("<") > cut.rfind(">"):  # never half a <@U…> or <#C…> reference
        cut = cut[:cut.rfind("<")]
    if cut.rfind("&") > cut.rfind(";"):  # nor half an `&amp;`
        cut = cut[:cut.rfind("&")]
    return cut + "…"


def captain(release: Release) -> str:
    """The captain, mentioned; a deactivated one is flagged so someone swaps in."""
    text = mention(release.captain)
    if release.captain_gone:
        text += (f" (deactivated in Slack: swap in someone with"
                 f" `/release captain {release.train} @user`)")
    return text


def mention(user: str | None) -> str:
    return f"<@{user}>" if user else "nobody (no captains configured)"


def when(at: datetime) -> str:
    return slack_date(at, "{date_short_pretty} {time}")


def moved(release: Release) -> str:
    """The holiday/weekend move, said wherever the date is, so nobody is surprised."""
    return f" (_{release.occ.note}_)" if release.occ.note else ""


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


def shipped_lines(shipped: Cargo, since: datetime | None) -> str:
    """What is on the train, or that nothing changed."""
    since_text = f" since {when(since)}" if since else ""
    if not shipped:
        return f"Nothing has changed{since_text}."
    lines = [f"*On the train* ({len(shipped)} production deploy"
             f"{'s' if len(shipped) != 1 else ''}{since_text}):"]
    for item in shipped.items:
        version = _clip(escape(item.version or item.ref), 60)
        lines.append(f"• `{_clip(item.service, 80)}` {version} by <@{item.requester}>,"
                     f" {slack_date(item.finished_at, '{date_short} {time}')}")
    if len(shipped) > len(shipped.items):
        lines.append(f"…and {len(shipped) - len(shipped.items)} more.")
    return "\n".join(lines)


def reminder(name: str, release: Release, now: datetime, shipped: Cargo,
             since: datetime | None, skip_when_empty: bool) -> dict[str, Any]:
    """A T-minus reminder: what is coming, when, who, and what rides along."""
    assert release.at is not None
    left = humanize(release.at - now)
    lines = [f":calendar: *{name}* releases in {left}, {when(release.at)}{moved(release)}."
             f" Captain: {captain(release)}."]
    if release.freeze_at is not None:
        verb = "started" if release.freeze_at <= now else "starts"
        lines.append(f"Code freeze {verb} {when(release.freeze_at)}.")
    body = shipped_lines(shipped, since)
    if not shipped and skip_when_empty:
        body += " If that is still true at release time, this release will be skipped."
    text = " ".join(lines)
    return {"text": f"{name} release in {left}",
            "blocks": [_section(text, Block.SUMMARY), _section(body, Block.TRAIN)]}


def freeze_started(name: str, release: Release, services: list[str], env: str,
                   shipped: Cargo, since: datetime | None) -> dict[str, Any]:
    assert release.at is not None
    text = (f":snowflake: *Code freeze for {name}* until the release at {when(release.at)}"
            f"{moved(release)}."
            f" Deploys of {', '.join(f'`{s}`' for s in services)} to {env} need a break-glass"
            f" reason until then. Captain: {captain(release)}.")
    return {"text": f"Code freeze for {name} has started",
            "blocks": [_section(text, Block.SUMMARY), _section(shipped_lines(shipped, since),
                                                              Block.TRAIN)]}


def release_day(name: str, release: Release, shipped: Cargo, since: datetime | None,
                following: Release | None, *, thawed: bool = True) -> dict[str, Any]:
    """``thawed``: a code freeze ended with this release (a train without one has none)."""
    assert release.at is not None
    text = (f":ship: *{name}* release is go, {when(release.at)}{moved(release)}."
            f" Captain: {captain(release)}.{' The freeze is over.' if thawed else ''}")
    return {"text": f"{name} release day",
            "blocks": [_section(text, Block.SUMMARY), _section(shipped_lines(shipped, since),
                                                              Block.TRAIN),
                       _section(next_line(following), Block.NEXT)]}


def release_skipped_empty(name: str, release: Release, since: datetime | None,
                          following: Release | None) -> dict[str, Any]:
    assert release.at is not None
    since_text = f" since {when(since)}" if since else ""
    text = (f":zzz: *{name}* release of {when(release.at)} is skipped:"
            f" nothing has changed{since_text}.")
    return {"text": f"{name} release skipped: nothing changed",
            "blocks": [_section(text, Block.SUMMARY), _section(next_line(following), Block.NEXT)]}


def next_line(following: Release | None) -> str:
    if following is None or following.at is None:
        return "No further release is scheduled."
    return (f"Next release: {when(following.at)}{moved(following)},"
            f" captain {captain(following)}.")


def state_line(freeze: FreezeWindow | None, now: datetime) -> str:
    if freeze is None:
        return "State: *open*."
    until = f" until {when(freeze.ends_at)}" if freeze.ends_at else ""
    left = f" ({humanize(freeze.ends_at - now)} left)" if freeze.ends_at else ""
    return f"State: *frozen*{until}{left}: {brief(freeze.reason)}."


def next_summary(name: str, release: Release | None, freeze: FreezeWindow | None,
                 shipped: Cargo, since: datetime | None, now: datetime,
                 channel: str) -> list[dict[str, Any]]:
    """One train's block group for `/release next`."""
    if release is None or release.at is None:
        head = f"*{name}* (<#{channel}>): no release scheduled."
    else:
        freeze_text = (f" Freeze {when(release.freeze_at)}." if release.freeze_at else "")
        head = (f"*{name}* (<#{channel}>): next release {when(release.at)}"
                f" ({humanize(release.at - now)} from now).{freeze_text}"
                f" Captain: {captain(release)}.")
    return [_section(f"{head}\n{state_line(freeze, now)}", Block.SUMMARY, name),
            _section(shipped_lines(shipped, since), Block.TRAIN, name)]


def calendar_line(release: Release) -> str:
    if release.at is None:
        return f"~{slack_date(release.occ.nominal, '{date_short_pretty}')}~ {release.occ.note}"
    line = f"{when(release.at)}: captain {captain(release)}"
    if release.captain_swapped:
        line += " (swapped)"
    if release.occ.note:
        line += f", _{release.occ.note}_"
    if release.skip is not None:
        line = f"~{line}~ *skipped* by <@{release.skip.actor}>: {brief(release.skip.reason)}"
    return f"• {line}"


def calendar(name: str, releases: list[Release]) -> list[dict[str, Any]]:
    """One section per ~2,900 characters, never cutting a line (or a <!date> token) in half."""
    lines = [calendar_line(r) if r.at is not None else f"• {calendar_line(r)}"
             for r in releases]
    chunks = [f"*{name}*: the next {len(releases)} dates"]
    for line in lines:
        if len(chunks[-1]) + len(line) + 1 > MAX_SECTION:
            chunks.append(line)
        else:
            chunks[-1] += "\n" + line
    blocks = [_section(chunk) for chunk in chunks]
    blocks[0]["block_id"] = f"{Block.CALENDAR.value}:{name}"
    return blocks


MAX_BLOCKS = 50  # Slack's limits per message: blocks, and text across all of them
MAX_TEXT = 11_500  # of 12,000, leaving room for the closing note


def fit(blocks: list[dict[str, Any]], narrower: str) -> list[dict[str, Any]]:
    """As many whole blocks as one message takes; when cut, a note says how to ask for less."""
    kept: list[dict[str, Any]] = []
    total = 0
    for block in blocks:
        total += len(block["text"]["text"])
        if len(kept) == MAX_BLOCKS - 1 or total > MAX_TEXT:
            note = f"That is more than one message can show; ask for one train: `{narrower}`."
            return [*kept, _context(note)]
        kept.append(block)
    return kept


MISSED_SHOWN = 5


def missed_notice(name: str, missed: list[tuple[str, datetime]], freeze: FreezeWindow | None,
                  following: Release | None, now: datetime) -> dict[str, Any]:
    """Said once after a downtime: what the channel did not hear, and where things stand."""
    items = [f"the {label} of {when(at)}" for label, at in missed[:MISSED_SHOWN]]
    if len(missed) > MISSED_SHOWN:
        items.append(f"{len(missed) - MISSED_SHOWN} more")
    count = f"{len(missed)} scheduled post{'s' if len(missed) != 1 else ''}"
    text = (f":warning: Shipbell was down and missed {count} for *{name}*:"
            f" {', '.join(items)}. They are too late to post now.")
    return {"text": f"{name}: {count} missed while Shipbell was down",
            "blocks": [_section(text, Block.SUMMARY),
                       _section(f"{state_line(freeze, now)} {next_line(following)}",
                                Block.NEXT)]}


def not_announced(channel: str) -> str:
    return (f"The change is saved, but I couldn't announce it in <#{channel}>: invite me there"
            f" (`/invite @Shipbell`) or, if the channel is archived, point the train at another"
            f" channel in the config.")


def announcement(text: str) -> dict[str, Any]:
    """A calendar change announced in the train's channel."""
    return {"text": text, "blocks": [_section(text, Block.SUMMARY)]}
