"""The shell's read-eval-print loop: slash commands in, what Slack would show out.

It runs the real app (same handlers, request path, store and scheduler) on loopback,
with an in-process Slack double; requests are signed Slack payloads.  Reads a pipe too,
so it can be scripted: ``printf '/deploy help\\n' | shipbell shell``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import shlex
import sys
from pathlib import Path
from typing import Any

from bot.clock import SystemClock
from bot.local import CHANNELS, PEOPLE, LocalShipbell, merge
from bot.settings import LoadedConfig
from bot.shell.render import Screen
from bot.slackdouble import Ack, Call

DEMO_MODULES = {"bot.deploys.demo": "deploy", "bot.incidents.demo": "incident",
                "bot.releases.demo": "release", "bot.dora.demo": "digest"}
HELP = """Type a slash command as in Slack: /deploy help, /incident help, /release help.
  press N                 press button [N]
  submit KEY=VALUE …      submit the open modal (KEY is the field's block id)
  pin mN | react mN EMOJI pin or react to message [mN] (feeds incident timelines)
  as USER | in CHANNEL    act as someone else / somewhere else (names or ids)
  tick                    run scheduled jobs that are due now
  who | help | quit"""


def demo_config() -> dict[str, Any]:
    """Each feature's demo section, so a bare `shipbell shell` has something to play with."""
    config: dict[str, Any] = {}
    for name, section in DEMO_MODULES.items():
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        config = merge(config, {section: getattr(module, "DEMO_CONFIG", {})})
    return config


class Shell:
    def __init__(self, bell: LocalShipbell, user: str, channel: str, out: Any = None) -> None:
        self.bell = bell
        self.user = user
        self.channel = channel
        self.out = out or sys.stdout
        self.screen = Screen(names={**PEOPLE, **CHANNELS})
        bell.double.listeners.append(self.show_call)

    def say(self, *lines: str) -> None:
        for line in lines:
            print(line, file=self.out, flush=True)

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

    async def handle(self, line: str) -> bool:
        """Run one input line; False means quit."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        word, _, rest = line.partition(" ")
        if word.startswith("/"):
            self.show_ack(await self.bell.driver.command(word, rest, user=self.user,
                                                         channel=self.channel))
        elif word == "press":
            await self.press(rest)
        elif word == "submit":
            await self.submit(rest)
        elif word in ("pin", "react"):
            await self.feed_event(word, rest)
        elif word in ("as", "in"):
            self.switch(word, rest.strip())
        elif word == "tick":
            for outcome in await self.bell.core.scheduler.run_due():
                self.say(f"· {outcome.job_id} @ {outcome.scheduled_for:%Y-%m-%d %H:%M}: "
                         f"{outcome.outcome}")
        elif word == "who":
            self.say(f"you are @{PEOPLE.get(self.user, self.user)} in "
                     f"#{self.screen.name(self.channel)}")
        elif word in ("quit", "exit"):
            return False
        else:
            self.say(HELP)
        with contextlib.suppress(TimeoutError):
            await self.bell.idle(timeout=15)
        return True

    def switch(self, word: str, target: str) -> None:
        table = PEOPLE if word == "as" else dict(self.screen.names)
        found = self.resolve(target, table)
        if found is None:
            known = ", ".join(sorted(PEOPLE.values() if word == "as" else CHANNELS.values()))
            self.say(f"`{target}`? Try one of: {known}.")
            return
        if word == "as":
            self.user = found
        else:
            self.channel = found
        self.say(f"you are @{PEOPLE.get(self.user, self.user)} in "
                 f"#{self.screen.name(self.channel)}")

    async def press(self, rest: str) -> None:
        number = rest.strip().lstrip("[").rstrip("]")
        if not number.isdigit() or not 1 <= int(number) <= len(self.screen.pressables):
            self.say(f"press takes a button number from 1 to {len(self.screen.pressables)}.")
            return
        item = self.screen.pressables[int(number) - 1]
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
            return driver.user_value(self.resolve(raw or "", PEOPLE))
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
        else:
            emoji = parts[1].strip(":") if len(parts) > 1 else "pushpin"
            event = {"type": "reaction_added", "user": self.user, "reaction": emoji,
                     "item": item, "event_ts": ts}
        self.show_ack(await self.bell.driver.event(event))


async def run_shell(config: LoadedConfig, *, user: str, channel: str, db: str | None) -> int:
    from_file = config.source != "(environment)"
    db_path = db or (config.settings.storage.path if from_file else "shipbell-shell.db")
    bell = LocalShipbell(Path(db_path), base=config.settings, clock=SystemClock(),
                         simulate_names=True,
                         config={} if from_file else demo_config(), scheduler=True)
    await bell.start()
    shell = Shell(bell, user, channel)
    interactive = sys.stdin.isatty()
    shell.say(f"Shipbell shell — database {db_path}. Type help for commands, quit to leave.")
    shell.switch("as", user)
    loop = asyncio.get_running_loop()
    try:
        while True:
            if interactive:
                print("> ", end="", flush=True)
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            if not interactive and line.strip():
                shell.say(f"> {line.rstrip()}")
            if not await shell.handle(line):
                break
    finally:
        with contextlib.suppress(TimeoutError):
            await bell.idle(timeout=30)
        await bell.stop(grace=5)
    return 0
