"""`/release` subcommands: parse words, call the release domain, phrase the answer.

Each function returns the ack payload (ephemeral). Changes are stored and audited by the
domain first; the channel announcement is then handed to the persisted task runner.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from shipbell.bot.core import Core
from shipbell.bot.durations import EXAMPLE as DURATION_EXAMPLE
from shipbell.bot.durations import parse_duration
from shipbell.bot.inputs import is_group, mentioned_user
from shipbell.bot.releases.actions import Calendar, Outcome
from shipbell.bot.releases.calendar import TrainCalendar
from shipbell.bot.releases.models import Release
from shipbell.handlers.common import (
    SlashCommand,
    absent_people,
    ephemeral,
    mention,
    not_here,
    unknown_subcommand,
)
from shipbell.handlers.release import announce, messages
from shipbell.handlers.release.book import releases_of
from shipbell.handlers.release.ids import COMMAND, Sub
from shipbell.handlers.release.words import COUNT_WORD, read_day, shown

MAX_FREEZE = timedelta(days=30)
DEFAULT_COUNT = 5
MAX_COUNT = 20
HELP = "\n".join([
    f"`{COMMAND}` or `{COMMAND} next [train]`: next release, freeze, captain, what is on it",
    f"`{COMMAND} calendar [train] [N]`: the next N dates (holiday moves and skips marked)",
    f"`{COMMAND} skip <train> <YYYY-MM-DD> <reason>` / `{COMMAND} unskip <train> <YYYY-MM-DD>`",
    f"`{COMMAND} freeze <train> <duration> <reason>` / `{COMMAND} unfreeze <train>`",
    f"`{COMMAND} captain <train> @user`: swap the next release's captain",
])
NO_TRAINS = ("No release trains are configured; add one under `[release.trains.<name>]`"
             " in the config (see config.example.toml).")


async def answer(core: Core, cmd: SlashCommand) -> dict[str, Any]:
    """``dispatch``, after asking Slack whether a new captain is in the workspace.

    ``dispatch`` reads the calendar and stores a change (its audit and announcement task
    with it) in one go on the store's thread, as atomic against other requests as it was
    on the event loop."""
    words = cmd.words
    who = mentioned_user(words[2]) if len(words) > 2 and words[0].lower() == Sub.CAPTAIN else None
    if who and await absent_people(core, [who]):
        return ephemeral(not_here([who], f"{COMMAND} captain {shown(words[1])} @dana"))
    return await core.store.run(dispatch, core, cmd)



def _calendar(core: Core, cmd: SlashCommand) -> Calendar:
    """The calendar's write side, auditing changes with the channel they were asked in."""
    return Calendar(core, releases_of(core), cmd.channel)

def dispatch(core: Core, cmd: SlashCommand) -> dict[str, Any]:
    """The answer to ``cmd`` (on the store's thread: it reads and writes the calendar)."""
    words = cmd.words
    book = releases_of(core)
    sub = words[0].lower() if words else Sub.NEXT.value
    if sub == Sub.HELP:
        return ephemeral(HELP)
    known = sub in Sub.__members__.values()
    if not known and not any(name.startswith(sub) for name in book.calendars):
        known_subs = [s.value for s in Sub if s != Sub.HELP]
        return ephemeral(unknown_subcommand(COMMAND, shown(sub), known_subs))
    if not book.calendars:
        return ephemeral(NO_TRAINS)
    if not known:  # `/release web` reads as `/release next web` (`/release w`: which one?)
        return show_next(core, cmd, [sub])
    if sub in CHANGES:
        usage, change = CHANGES[Sub(sub)]
        found = _guard(core, cmd, words[1:], usage)
        if isinstance(found, dict):
            return found
        return change(core, cmd, found, words[2:], _example(found.name, usage))
    return show_next(core, cmd, words[1:]) if sub == Sub.NEXT else show_calendar(
        core, cmd, words[1:])


Change = Callable[[Core, SlashCommand, TrainCalendar, list[str], str], dict[str, Any]]
CHANGES: dict[Sub, tuple[str, Change]] = {}


def _change(sub: Sub, usage: str) -> Callable[[Change], Change]:
    """Register a calendar change: `dispatch` finds its train and checks who may change it
    first, then calls it with the words after the train and a valid example."""
    def register(fn: Change) -> Change:
        CHANGES[sub] = (usage, fn)
        return fn
    return register


def _train(core: Core, word: str | None, example: str) -> TrainCalendar | str:
    """The named train, or the one-sentence answer saying which names would work."""
    book = releases_of(core)
    names = ", ".join(f"`{n}`" for n in book.calendars)
    if word is None:
        return f"Which train? Try `{example}` (trains: {names})."
    cal = book.find(word)
    if cal is not None:
        return cal
    alike = [f"`{n}`" for n in book.calendars if word and n.startswith(word.lower())]
    if len(alike) > 1:
        return f"`{shown(word)}` could be {' or '.join(alike)}; name one, e.g. `{example}`."
    return f"No train called `{shown(word)}`; trains: {names}."


def _example(cal_or_name: str, rest: str) -> str:
    return f"{COMMAND} {rest}".replace("<train>", cal_or_name)


def _selected(core: Core, args: list[str], usage: str) -> list[str] | dict[str, Any]:
    """The train named first in ``args``, or every train (at most 10 are shown)."""
    names = list(releases_of(core).calendars)
    if not args:
        return names[:10]
    found = _train(core, args[0], _example(names[0], usage))
    return ephemeral(found) if isinstance(found, str) else [found.name]


def show_next(core: Core, cmd: SlashCommand, args: list[str]) -> dict[str, Any]:
    book = releases_of(core)
    now = core.clock.now()
    names = _selected(core, args, "next <train>")
    if isinstance(names, dict):
        return names
    blocks: list[dict[str, Any]] = []
    for name in names:
        release = book.next_release(name, now)
        since = book.previous_release(name, now)
        shipped = book.on_train(name, now, since)
        freeze = book.freeze_window(name, now)
        channel = book.calendars[name].train.channel
        blocks += messages.next_summary(name, release, freeze, shipped, since, now, channel)
    return ephemeral(f"Next release: {', '.join(names)}",
                     messages.fit(blocks, _example(names[0], "next <train>")))


def show_calendar(core: Core, cmd: SlashCommand, args: list[str]) -> dict[str, Any]:
    book = releases_of(core)
    count = DEFAULT_COUNT
    if args and COUNT_WORD.fullmatch(args[-1]):
        count = max(1, min(int(args.pop()), MAX_COUNT))
    names = _selected(core, args, "calendar <train> 5")
    if isinstance(names, dict):
        return names
    if len(args) > 1:
        return ephemeral(f"`{COMMAND} calendar` takes a train and how many dates (up to"
                         f" {MAX_COUNT}), e.g. `{_example(names[0], 'calendar <train> 5')}`.")
    blocks: list[dict[str, Any]] = []
    for name in names:
        blocks += messages.calendar(name, book.upcoming(name, core.clock.now(), count))
    return ephemeral(f"Release calendar: {', '.join(names)}",
                     messages.fit(blocks, _example(names[0], f"calendar <train> {count}")))


def _guard(core: Core, cmd: SlashCommand, args: list[str], usage: str
           ) -> TrainCalendar | dict[str, Any]:
    book = releases_of(core)
    found = _train(core, args[0] if args else None, _example(next(iter(book.calendars)), usage))
    if isinstance(found, str):
        later = next((w for w in args[1:] if w in book.calendars), None)
        if later is not None:  # `/release skip 2026-12-01 web …`: the right words, wrong order
            return ephemeral(f"Put the train first: `{_example(later, usage)}`.")
        return ephemeral(found)
    if not book.may_change(found.name, cmd.user):
        managers = book.managers(found.name)
        who = ", ".join(mention(m) for m in managers)
        unread = [m for m in managers if is_group(m) and m not in book.group_members]
        wait = (" (I couldn't read who is in the group from Slack yet; try again in a few"
                " minutes)" if unread else "")
        return ephemeral(f"Only {who} may change the `{found.name}` calendar; ask one of"
                         f" them{wait}.")
    return found


def _nearby_text(outcome: Outcome, name: str, day: date) -> str:
    dates = ", ".join(r.day for r in outcome.detail.get("nearby", []))
    return (f"`{name}` has no release on {day.isoformat()}"
            f"{f'; the next ones are {dates}' if dates else ''}.")


def _announce(core: Core, cmd: SlashCommand, cal: TrainCalendar, text: str) -> None:
    announce.submit(core, cal.train.channel, text, cmd.response_url)


def _in_freeze(core: Core, release: Release) -> bool:
    """Is now inside this release's code-freeze lead time (whether or not it is held)?"""
    now = core.clock.now()
    return (release.freeze_at is not None and release.at is not None
            and release.freeze_at <= now < release.at)




@_change(Sub.SKIP, "skip <train> 2026-12-01 waiting for the security audit")
def skip(core: Core, cmd: SlashCommand, cal: TrainCalendar, args: list[str],
         example: str) -> dict[str, Any]:
    reason = messages.quiet(" ".join(args[1:]).strip())
    if not reason:
        return ephemeral(f"Say why, so the channel knows: `{example}`.")
    release = _onread_day(cal.name, args, example, "is already skipped",
                      lambda day: _calendar(core, cmd).skip(cal.name, day, reason, cmd.user))
    if isinstance(release, dict):
        return release
    assert release.at is not None
    following = releases_of(core).next_release(cal.name, release.at)
    lifted = _in_freeze(core, release)
    _announce(core, cmd, cal, f":no_entry: <@{cmd.user}> skipped the *{cal.name}* release of"
              f" {messages.when(release.at)}: {messages.brief(reason)}."
              f"{' Its code freeze is lifted.' if lifted else ''}"
              f" {messages.next_line(following)}")
    return ephemeral(f"Skipped the `{cal.name}` release of {release.day}; announcing it in"
                     f" <#{cal.train.channel}>.")


@_change(Sub.UNSKIP, "unskip <train> 2026-12-01")
def unskip(core: Core, cmd: SlashCommand, cal: TrainCalendar, args: list[str],
           example: str) -> dict[str, Any]:
    release = _onread_day(cal.name, args, example, "isn't skipped",
                      lambda day: _calendar(core, cmd).unskip(cal.name, day, cmd.user))
    if isinstance(release, dict):
        return release
    assert release.at is not None
    frozen = _in_freeze(core, release)
    _announce(core, cmd, cal, f":white_check_mark: <@{cmd.user}> put the *{cal.name}* release"
              f" of {messages.when(release.at)} back on the calendar."
              f"{' Its code freeze is on again until then.' if frozen else ''}")
    return ephemeral(f"The `{cal.name}` release of {release.day} is back on.")


def _onread_day(name: str, args: list[str], example: str, already: str,
            act: Callable[[date], Outcome]) -> Release | dict[str, Any]:
    """Act on the release of the date first in ``args``: the release acted on, or the
    answer when there was none (bad date, no release that day, nothing to change)."""
    day = read_day(args[0] if args else None, example)
    if isinstance(day, str):
        return ephemeral(day)
    outcome = act(day)
    if outcome.code == "not_found":
        return ephemeral(_nearby_text(outcome, name, day))
    assert outcome.release is not None
    if outcome.code == "already":
        return ephemeral(f"The `{name}` release of {outcome.release.day} {already}.")
    return outcome.release


@_change(Sub.FREEZE, "freeze <train> 2h database migration in progress")
def freeze(core: Core, cmd: SlashCommand, cal: TrainCalendar, args: list[str],
           example: str) -> dict[str, Any]:
    try:
        duration = parse_duration(args[0] if args else "")
    except ValueError:
        return ephemeral(f"How long? Give a duration {DURATION_EXAMPLE}: `{example}`.")
    reason = messages.quiet(" ".join(args[1:]).strip())
    if not duration or not reason:
        return ephemeral(f"A freeze needs a duration and a reason: `{example}`.")
    if duration > MAX_FREEZE:
        return ephemeral(f"An ad-hoc freeze lasts at most 30d; for longer, skip releases"
                         f" instead: `{COMMAND} skip {cal.name} <YYYY-MM-DD> <reason>`.")
    outcome = _calendar(core, cmd).freeze(cal.name, duration, reason, cmd.user)
    detail = outcome.detail
    if outcome.code == "already":
        return ephemeral(f"`{cal.name}` is already frozen until {messages.when(detail['ends_at'])}"
                         f" by <@{detail['actor']}>: {messages.brief(detail['reason'])}."
                         f" `{COMMAND} unfreeze {cal.name}` first to change it.")
    services = ", ".join(f"`{s}`" for s in cal.train.services)
    _announce(core, cmd, cal, f":snowflake: <@{cmd.user}> froze *{cal.name}* ({services} in"
              f" {cal.train.environment}) until {messages.when(detail['ends_at'])}:"
              f" {messages.brief(reason)}."
              " Deploys need a break-glass reason until then.")
    return ephemeral(f"Froze `{cal.name}` until {messages.when(detail['ends_at'])}.")


@_change(Sub.UNFREEZE, "unfreeze <train>")
def unfreeze(core: Core, cmd: SlashCommand, cal: TrainCalendar, args: list[str],
             example: str) -> dict[str, Any]:
    outcome = _calendar(core, cmd).unfreeze(cal.name, cmd.user)
    if outcome.code == "not_frozen":
        scheduled = outcome.detail.get("scheduled")
        if scheduled is not None:
            return ephemeral(f"`{cal.name}` has no ad-hoc freeze; the {scheduled.reason} ends"
                             f" {messages.when(scheduled.ends_at)}. To lift that, skip the"
                             f" release: `{COMMAND} skip {cal.name} <date> <reason>`.")
        return ephemeral(f"`{cal.name}` isn't frozen.")
    _announce(core, cmd, cal, f":sunny: <@{cmd.user}> lifted the freeze on *{cal.name}*"
              f" ({messages.brief(outcome.detail['reason'])}).")
    return ephemeral(f"Unfroze `{cal.name}`.")


@_change(Sub.CAPTAIN, "captain <train> @dana")
def captain(core: Core, cmd: SlashCommand, cal: TrainCalendar, args: list[str],
            example: str) -> dict[str, Any]:
    who = mentioned_user(args[0]) if args else None
    if who is None:
        return ephemeral(f"Mention the new captain: `{example}`.")
    outcome = _calendar(core, cmd).set_captain(cal.name, who, cmd.user)
    if outcome.code == "not_found":
        return ephemeral(f"`{cal.name}` has no upcoming release to captain.")
    release = outcome.release
    assert release is not None and release.at is not None
    if outcome.code == "already":
        return ephemeral(f"<@{who}> is already captain of the {release.day} release.")
    previous = outcome.detail.get("previous")
    was = f" (was <@{previous}>)" if previous else ""
    _announce(core, cmd, cal, f":busts_in_silhouette: <@{cmd.user}> made <@{who}> captain of the"
              f" *{cal.name}* release of {messages.when(release.at)}{was}.")
    return ephemeral(f"<@{who}> is captain of the `{cal.name}` release of {release.day}.")
