"""The shell's read-eval-print loop: slash commands in, what Slack would show out.

It runs the real app (same handlers, request path, store and scheduler) on loopback,
with an in-process Slack double; requests are signed Slack payloads.  Reads a pipe too,
so it can be scripted: ``printf '/deploy help\\n' | shipbell shell``.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import signal
import sys
import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, TextIO

from shipbell.bot.clock import SystemClock
from shipbell.bot.local import LocalShipbell, merge
from shipbell.bot.settings import LoadedConfig
from shipbell.bot.shell.render import Screen
from shipbell.bot.shell.sandbox import Sandbox, plan_sandbox
from shipbell.bot.shell.typed import escape_references, strip_comment
from shipbell.bot.slack.manifest import COMMANDS
from shipbell.bot.slackdouble import Ack, Call
from shipbell.bot.slackdouble.cast import CHANNELS, PEOPLE
from shipbell.handlers import FEATURES

HELP = f"""Type a slash command as in Slack: {", ".join(f"{c} help" for c, _, _ in COMMANDS)}.
  @name, #channel, @group are sent the way Slack sends them; text after " # " is a comment.
  press N                 press button [N]
  submit KEY=VALUE …      submit the open modal (KEY is the field's block id)
  pin mN | react mN EMOJI pin or react to message [mN] (feeds incident timelines)
  as USER | in CHANNEL    act as someone else / somewhere else (names or ids)
  tick                    run scheduled jobs that are due now
  files | file N          list the files posted (post-mortem drafts) / print file N
  who | help | quit"""


def demo_config() -> dict[str, Any]:
    """Each feature's demo section, so a bare `shipbell shell` has something to play with."""
    config: dict[str, Any] = {}
    for feature in FEATURES:
        if feature.demo_config:
            config = merge(config, {feature.name: dict(feature.demo_config)})
    return config


class Shell:
    def __init__(self, bell: LocalShipbell, user: str, channel: str, out: Any = None) -> None:
        self.bell = bell
        self.user = user
        self.channel = channel
        self.out = out or sys.stdout
        # set while a terminal prompt waits: returns the half-typed line, to draw it again
        self.at_prompt: Callable[[], str] | None = None
        workspace = bell.double.state
        self.screen = Screen(names={**PEOPLE, **CHANNELS,
                                    **{u: d["name"] for u, d in workspace.users.items()},
                                    **{c: ch.name for c, ch in workspace.channels.items()}})
        bell.double.listeners.append(self.show_call)

    @property
    def workspace(self) -> Any:
        return self.bell.double.state

    def say(self, *lines: str) -> None:
        if self.at_prompt is not None and lines:  # output arriving while someone types
            print("\r\x1b[K", end="", file=self.out)
        for line in lines:
            print(line, file=self.out, flush=True)
        if self.at_prompt is not None and lines:
            print(f"> {self.at_prompt()}", end="", file=self.out, flush=True)

    def show_call(self, call: Call) -> None:
        if call.method == "conversations.create" and call.response.get("ok"):
            channel = call.response["channel"]
            self.screen.names[channel["id"]] = channel["name"]
        self.say(*self.screen.render(call))

    def show_ack(self, ack: Ack) -> None:
        if ack.status != 200:
            self.say(f"(HTTP {ack.status}) {ack.body[:200]}")
            return
        data = ack.json
        if data and (data.get("response_action") == "errors"):
            for block_id, error in (data.get("errors") or {}).items():
                self.say(f"│ {block_id}: {error}")
            return
        if data and (data.get("text") or data.get("blocks")):
            self.say("(only you)", *self.screen.message_lines(data, self.channel))
        elif ack.body and not data:
            self.say("(only you)", *("  " + line for line in ack.body.splitlines()))

    def resolve(self, word: str, table: dict[str, str]) -> str | None:
        word = word.lstrip("@#")
        if word in table:
            return word
        return next((ident for ident, name in table.items() if name == word), None)

    def people(self) -> dict[str, str]:
        return {uid: user["name"] for uid, user in self.workspace.users.items()
                if not user.get("is_bot") and not user.get("deleted")}

    async def handle(self, line: str) -> bool:
        """Run one input line; False means quit."""
        line = strip_comment(line.strip())
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        if word.startswith("/"):
            await self.command(word, rest.strip())
        elif word == "press":
            await self.press(rest)
        elif word == "submit":
            await self.submit(rest)
        elif word in ("pin", "react"):
            await self.feed_event(word, rest)
        elif word in ("as", "in"):
            self.switch(word, rest.strip())
        elif word == "tick":
            await self.tick()
        elif word == "who":
            self.who()
        elif word == "files" or (word == "file" and not rest.strip()):
            self.list_files()
        elif word in ("file", "show"):
            self.show_file(rest.removeprefix("file").strip() if word == "show" else rest)
        elif word in ("quit", "exit"):
            return False
        else:
            self.say(HELP)
        with contextlib.suppress(TimeoutError):
            await self.bell.idle(timeout=15)
        return True

    async def command(self, word: str, rest: str) -> None:
        known = [command for command, _, _ in COMMANDS]
        if word not in known:  # Slack itself answers this; the app never sees the request
            self.say(f"`{word}` is not a Shipbell command; try {', '.join(known)} "
                     "(each has `help`).")
            return
        text = escape_references(rest, self.workspace)
        self.show_ack(await self.bell.driver.command(word, text, user=self.user,
                                                     channel=self.channel))
        if word == "/deploy" and rest.split()[:1] == ["stats"]:
            with contextlib.suppress(TimeoutError):  # the answer comes via response_url
                await self.bell.idle(timeout=15)
            settings = self.bell.core.settings
            today = self.bell.core.clock.now().astimezone(settings.digest.zone(settings.timezone))
            yesterday = today.date() - timedelta(days=1)
            self.say(f"(shell: these periods end yesterday, {yesterday:%b} {yesterday.day}, like "
                     "the daily digest; today's deploys count from tomorrow)")

    def where(self) -> str:
        return (f"you are @{self.screen.name(self.user)} in "
                f"#{self.screen.name(self.channel)}")

    def who(self) -> None:
        ws = self.workspace
        people = ", ".join(f"@{name}" for name in self.people().values())
        groups = ", ".join(
            f"@{g['handle']} ({', '.join(self.screen.name(u) for u in g.get('users', []))})"
            for g in ws.usergroups.values())
        channels = ", ".join(f"#{c.name}" + (" (archived)" if c.is_archived else "")
                             for c in ws.channels.values() if not c.is_im)
        self.say(self.where(), f"people: {people}", f"groups: {groups or '—'}",
                 f"channels: {channels}")

    async def tick(self) -> None:
        outcomes = await self.bell.core.scheduler.run_due()
        for outcome in outcomes:
            self.say(f"· {outcome.job_id} @ {outcome.scheduled_for:%Y-%m-%d %H:%M}: "
                     f"{outcome.outcome}")
        if not outcomes:
            self.say("· tick: no scheduled job is due now")

    def switch(self, word: str, target: str) -> None:
        channels = {c.id: c.name for c in self.workspace.channels.values() if not c.is_im}
        table = self.people() if word == "as" else channels
        found = self.resolve(target, table)
        if found is None:
            known = ", ".join(sorted(table.values()))
            self.say(f"`{target}`? Try one of: {known}.")
            return
        if word == "as":
            self.user = found
        else:
            self.channel = found
        self.say(self.where())

    async def press(self, rest: str) -> None:
        number = rest.strip().lstrip("[").rstrip("]")
        if not number.isdigit() or not 1 <= int(number) <= len(self.screen.pressables):
            self.say(f"press takes a button number from 1 to {len(self.screen.pressables)}.")
            return
        item = self.screen.pressables[int(number) - 1]
        if item.gone:
            where = (item.channel or "", str(item.message.get("ts")))
            ref = (f" m{self.screen.messages.index(where) + 1}"
                   if where in self.screen.messages else "")
            self.say(f"Button [{number}] ({item.label}) is no longer on its message{ref}: it "
                     "was edited since (a closed incident or a finished deploy drops its "
                     "buttons), so there is nothing to press.")
            return
        ack = await self.bell.driver.press(item.message, item.action_id, user=self.user,
                                           channel=item.channel)
        self.show_ack(ack)

    async def submit(self, rest: str) -> None:
        view = self.screen.modal
        if view is None:
            self.say("No modal is open; `/incident` with no text opens one.")
            return
        values: dict[str, dict[str, Any]] = {}
        pairs = dict(p.split("=", 1) for p in shlex.split(rest) if "=" in p)
        for block in view.get("blocks", []):
            if block.get("type") != "input":
                continue
            element = block.get("element", {})
            raw = next((v for k, v in pairs.items() if self.names_field(block, k)), None)
            values[block["block_id"]] = {element.get("action_id", "value"):
                                         self.field_value(element, raw)}
        ack = await self.bell.driver.submit_view(view, values, user=self.user)
        self.show_ack(ack)
        if (ack.json or {}).get("response_action") != "errors":
            self.screen.modal = None

    @staticmethod
    def names_field(block: dict[str, Any], key: str) -> bool:
        """`title` names block `incident_title` or the field labelled "Title"."""
        block_id = str(block.get("block_id", "")).lower()
        label = str((block.get("label") or {}).get("text", "")).lower()
        key = key.lower()
        return key in (block_id, label) or block_id.endswith("_" + key) or label.startswith(key)

    def field_value(self, element: dict[str, Any], raw: str | None) -> dict[str, Any]:
        driver = self.bell.driver
        kind = element.get("type")
        if kind == "static_select":
            wanted = (raw or "").lower()
            options = element.get("options", [])
            match = next((o for o in options if wanted and wanted in
                          (str(o.get("value")).lower(), o.get("text", {}).get("text", "").lower())),
                         None) or next((o for o in options if wanted and o.get("text", {})
                                        .get("text", "").lower().startswith(wanted)), None)
            return {"type": kind, "selected_option": match}
        if kind == "checkboxes":
            chosen = [o for o in element.get("options", []) if raw and o.get("value") in raw]
            return {"type": kind, "selected_options": chosen}
        if kind == "users_select":
            return driver.user_value(self.resolve(raw or "", self.people()))
        if kind == "datepicker":
            return driver.date_value(raw)
        return driver.text_value(raw)

    async def feed_event(self, word: str, rest: str) -> None:
        parts = rest.split()
        ref = parts[0].lstrip("m") if parts else ""
        if not ref.isdigit() or not 1 <= int(ref) <= len(self.screen.messages):
            self.say(f"{word} takes a message number like m1 (from 1 to "
                     f"{len(self.screen.messages)}).")
            return
        channel, ts = self.screen.messages[int(ref) - 1]
        item = {"type": "message", "channel": channel, "ts": ts}
        if word == "pin":
            event = {"type": "pin_added", "user": self.user, "channel_id": channel,
                     "item": {"type": "message", "channel": channel,
                              "message": {"ts": ts}}, "event_ts": ts}
            done = f"· @{self.screen.name(self.user)} pinned m{ref} in #{self.screen.name(channel)}"
        else:
            emoji = parts[1].strip(":") if len(parts) > 1 else "pushpin"
            event = {"type": "reaction_added", "user": self.user, "reaction": emoji,
                     "item": item, "event_ts": ts}
            done = (f"· @{self.screen.name(self.user)} reacted :{emoji}: to m{ref} "
                    f"in #{self.screen.name(channel)}")
        # Event ids come from the workspace so they stay unique across shell restarts
        # (the app drops an event id it has seen before, as a Slack retry).
        ack = await self.bell.driver.event(event, event_id=self.workspace.new_id("Ev"))
        if ack.status == 200:
            self.say(done)
        self.show_ack(ack)

    def files(self) -> list[dict[str, Any]]:
        return [f for f in self.workspace.files.values() if f.get("content") is not None]

    def list_files(self) -> None:
        files = self.files()
        if not files:
            self.say("No files posted yet (a resolved incident's post-mortem draft is one).")
        for number, f in enumerate(files, 1):
            where = ", ".join(f"#{self.screen.name(c)}" for c in f.get("channels", []))
            self.say(f"[f{number}] {f.get('title') or f.get('name')} ({f.get('size')} bytes)"
                     + (f" in {where}" if where else "") + f"; `file {number}` prints it")

    def show_file(self, rest: str) -> None:
        number = rest.strip().lstrip("f")
        files = self.files()
        if not number.isdigit() or not 1 <= int(number) <= len(files):
            self.say(f"file takes a file number from 1 to {len(files)}; `files` lists them.")
            return
        f = files[int(number) - 1]
        self.say(f"┌ {f.get('title') or f.get('name')}",
                 *(f"│ {line}" for line in bytes(f["content"]).decode("utf-8", "replace")
                   .splitlines()), "└")


class Session:
    """One shell run: the sandbox plan, the local Shipbell and the Shell, started and stopped
    once; `step` runs a typed line and saves the simulated workspace after it."""

    def __init__(self, sandbox: Sandbox, user: str, channel: str, out: TextIO) -> None:
        self.sandbox = sandbox
        self.user, self.channel, self.out = user, channel, out
        self.bell: LocalShipbell | None = None
        self.shell: Shell | None = None

    async def start(self) -> None:
        self.bell = self.sandbox.bell(clock=SystemClock())
        await self.bell.start()
        self.shell = Shell(self.bell, self.user, self.channel, out=self.out)
        added = self.sandbox.seeded + self.bell.simulated
        if added:
            self.shell.say(f"  stand-in Slack also has what your config names: "
                           f"{', '.join(added)}")
        with contextlib.suppress(TimeoutError):  # what start-up posts comes before the prompt
            await self.bell.idle(timeout=15)
        self.shell.say("Type help for commands, quit (or Ctrl-D) to leave.")
        self.shell.switch("as", self.user)

    async def step(self, line: str, *, echo: bool = False) -> bool:
        assert self.shell is not None and self.bell is not None
        if echo and line.strip():
            self.shell.say(f"> {line.rstrip()}")
        keep_going = await self.shell.handle(line)
        self.sandbox.save(self.bell)
        return keep_going

    async def stop(self) -> None:
        if self.bell is None:
            return
        with contextlib.suppress(TimeoutError):
            await self.bell.idle(timeout=30)
        await self.bell.stop(grace=5)
        self.sandbox.save(self.bell)


def prepare(config: LoadedConfig, *, db: str | None, live: bool, fresh: bool,
            out: TextIO) -> Sandbox | None:
    """Plan the sandbox and print its banner; None (after saying why) if it may not start."""
    try:
        sandbox = plan_sandbox(config, db=db, live=live, fresh=fresh,
                               demo=demo_config() if config.source == "(environment)" else None)
    except ValueError as exc:
        print(f"shipbell shell: {exc}", file=sys.stderr)
        return None
    for line in sandbox.banner():
        print(line, file=out, flush=True)
    return sandbox


async def run_shell(config: LoadedConfig, *, user: str, channel: str, db: str | None,
                    live: bool = False, fresh: bool = False, stdin: TextIO | None = None,
                    out: TextIO | None = None) -> int:
    """The shell fed from a pipe (or any text stream): each line is echoed, then run."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    sandbox = prepare(config, db=db, live=live, fresh=fresh, out=out)
    if sandbox is None:
        return 2
    session = Session(sandbox, user, channel, out)
    await session.start()
    loop = asyncio.get_running_loop()
    try:
        while True:
            # a daemon thread per line, so a quit never waits on a blocked read
            line = await _read_in_thread(loop, stdin.readline)
            if not line or not await session.step(line, echo=True):
                break
    finally:
        await session.stop()
    return 0


async def _read_in_thread(loop: asyncio.AbstractEventLoop, read: Any) -> str:
    future: asyncio.Future[str] = loop.create_future()

    def reader() -> None:
        try:
            line = read()
        except (OSError, ValueError):
            line = ""
        def deliver() -> None:
            if not future.done():
                future.set_result(line)

        loop.call_soon_threadsafe(deliver)

    threading.Thread(target=reader, daemon=True).start()
    return await future


def run_terminal(config: LoadedConfig, *, user: str, channel: str, db: str | None,
                 live: bool = False, fresh: bool = False) -> int:
    """The shell on a terminal: readline editing and history in the main thread (where
    Ctrl-C belongs), the app on an event loop in a second thread."""
    out = sys.stdout
    sandbox = prepare(config, db=db, live=live, fresh=fresh, out=out)
    if sandbox is None:
        return 2
    if live:
        try:
            answer = input("Type `live` to go on with the real database and providers: ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() != "live":
            print("Not started; run `shipbell shell` without --live for the sandbox.", file=out)
            return 1
    edit = _readline(sandbox.history_path)
    loop = asyncio.new_event_loop()

    def serve() -> None:
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})  # Ctrl-C is the prompt's
        loop.run_forever()

    thread = threading.Thread(target=serve, name="shell-loop", daemon=True)
    thread.start()

    def run(coro: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        try:
            return future.result()
        except KeyboardInterrupt:  # Ctrl-C while a line runs: stop waiting for it
            future.cancel()
            print("(interrupted)", file=out, flush=True)
            return True

    session = Session(sandbox, user, channel, out)
    try:
        starting = asyncio.run_coroutine_threadsafe(session.start(), loop)
        while True:  # a half-started app can't be stopped cleanly: let it finish starting
            try:
                starting.result()
                break
            except KeyboardInterrupt:
                print("(still starting; quit or Ctrl-D leaves once it has)", file=out, flush=True)
        shell = session.shell
        assert shell is not None
        while True:
            try:
                shell.at_prompt = edit.get_line_buffer if edit is not None else str
                line = input("> ")
            except KeyboardInterrupt:
                print("^C (quit or Ctrl-D leaves)", file=out, flush=True)
                continue
            except EOFError:
                print(file=out)
                break
            finally:
                shell.at_prompt = None
            if not run(session.step(line)):
                break
    finally:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run_coroutine_threadsafe(session.stop(), loop).result()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        if edit is not None and sandbox.history_path is not None:
            with contextlib.suppress(OSError):
                edit.write_history_file(sandbox.history_path)
    return 0


def _readline(history: Path | None) -> Any:
    """GNU readline (line editing, arrow-key history), loaded with the history file."""
    try:
        import readline as edit  # absent on some platforms: plain input() then
    except ImportError:
        return None
    edit.set_history_length(2000)
    if history is not None:
        with contextlib.suppress(OSError):
            edit.read_history_file(history)
    return edit


__all__ = ["Sandbox", "Shell", "demo_config", "run_shell", "run_terminal"]
