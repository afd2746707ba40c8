"""Turn what reached the Slack double into terminal text, numbering what can be pressed."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from typing import Any

from shipbell.bot.inputs import CHANNEL_MENTION, GROUP_MENTION, USER_MENTION
from shipbell.bot.slackdouble import Call

INTERACTIVE = ("button", "static_select", "overflow", "users_select", "datepicker")
QUIET = frozenset({"auth.test", "users.info", "usergroups.users.list", "conversations.info",
                   "conversations.members", "chat.getPermalink", "file_upload",
                   "files.getUploadURLExternal", "bookmarks.list", "conversations.history",
                   "conversations.replies", "pins.list"})


@dataclass
class Pressable:
    """A button (or select) the user can press by number."""

    message: dict[str, Any]
    action_id: str
    label: str
    channel: str | None
    view: dict[str, Any] | None = None
    gone: bool = False  # the message was edited and this button is no longer on it


@dataclass
class Screen:
    """Numbers pressables and messages across the session, and formats Slack text."""

    names: dict[str, str] = field(default_factory=dict)  # ids → names for display
    pressables: list[Pressable] = field(default_factory=list)
    messages: list[tuple[str, str]] = field(default_factory=list)  # (channel, ts)
    modal: dict[str, Any] | None = None
    # (channel, ts, action_id, value) → button number, so an edited message keeps its numbers
    numbers: dict[tuple[str | None, str, str, str], int] = field(default_factory=dict)
    shown: dict[tuple[str, str], list[str]] = field(default_factory=dict)  # last render
    fresh: set[int] = field(default_factory=set)  # buttons the current render showed

    def name(self, ref: str) -> str:
        return self.names.get(ref, ref)

    def mrkdwn(self, text: str) -> str:
        """Resolve mentions and dates the way the Slack client would show them."""
        text = USER_MENTION.sub(lambda m: "@" + self.name(m[1]), text)
        text = CHANNEL_MENTION.sub(lambda m: "#" + self.name(m[1]), text)
        text = GROUP_MENTION.sub(lambda m: m[2] if m[2] is not None else m[0], text)
        text = re.sub(r"<!date\^\d+\^[^|>]*\|([^>]*)>", r"\1", text)
        text = re.sub(r"<(https?://[^|>]+)\|([^>]*)>", r"\2 (\1)", text)
        return text

    def render(self, call: Call) -> list[str]:
        if call.method in QUIET or not call.response.get("ok", call.status == 200):
            return self._failure(call)
        args, where = call.args, self.name(str(call.args.get("channel", "")))
        if call.method in ("chat.postMessage", "chat.update"):
            ts = call.response.get("ts") or args.get("ts")
            channel = str(call.response.get("channel") or args.get("channel"))
            number = self._remember(channel, str(ts))
            thread = " (thread)" if args.get("thread_ts") else ""
            head = f"#{where}{thread} [m{number}]"
            before = self.shown.get((channel, str(ts)))
            self.fresh = set()
            lines = self.message_lines({**args, "ts": ts}, channel)
            self.shown[(channel, str(ts))] = lines
            for key, button in self.numbers.items():
                if key[:2] == (channel, str(ts)):
                    self.pressables[button - 1].gone = button not in self.fresh
            if call.method == "chat.update" and before is not None:
                changed = self._changes(before, lines)
                return [f"{head} edited", *changed] if changed else []
            return [f"{head} edited" if call.method == "chat.update" else head, *lines]
        if call.method == "chat.postEphemeral":
            return [f"#{where} (only @{self.name(str(args.get('user')))} sees this)",
                    *self.message_lines(args, str(args.get("channel")))]
        if call.method == "response_url":
            return ["(only you)", *self.message_lines(args, None)]
        if call.method in ("views.open", "views.push", "views.update"):
            return self._modal(call)
        return [f"· {call.method} {self._summary(args)}"]

    @staticmethod
    def _changes(before: list[str], after: list[str]) -> list[str]:
        """An edit shows the lines that changed or appeared, and names what disappeared."""
        out: list[str] = []
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for tag, a0, a1, b0, b1 in matcher.get_opcodes():
            if tag in ("replace", "insert"):
                out.extend(after[b0:b1])
            elif tag == "delete":
                out.extend(f"  (gone) {line.strip()}" for line in before[a0:a1] if line.strip())
        return out

    def _failure(self, call: Call) -> list[str]:
        if call.method in QUIET or call.response.get("ok", True):
            return []
        return [f"· {call.method} → {call.response.get('error', call.status)}"]

    def _remember(self, channel: str, ts: str) -> int:
        key = (channel, ts)
        if key not in self.messages:
            self.messages.append(key)
        return self.messages.index(key) + 1

    def _summary(self, args: dict[str, Any]) -> str:
        shown = []
        for key in ("name", "channel", "channel_id", "users", "topic", "title", "timestamp",
                    "name", "initial_comment", "filename"):
            if key in args and args[key] not in (None, ""):
                value = ",".join(self.name(part) for part in str(args[key]).split(","))
                shown.append(f"{key}={self.mrkdwn(self.name(value))[:80]}")
        return " ".join(dict.fromkeys(shown))

    def message_lines(self, args: dict[str, Any], channel: str | None) -> list[str]:
        blocks = args.get("blocks") or []
        if not blocks:
            return ["  " + line for line in self.mrkdwn(str(args.get("text", ""))).splitlines()]
        lines: list[str] = []
        for block in blocks:
            lines.extend(self._block(block, args, channel))
        return ["  " + line for line in lines]

    def _text(self, obj: dict[str, Any] | None) -> str:
        return self.mrkdwn((obj or {}).get("text", "")) if obj else ""

    def _block(self, block: dict[str, Any], msg: dict[str, Any], channel: str | None) -> list[str]:
        kind = block.get("type")
        if kind == "header":
            return [self._text(block.get("text")).upper()]
        if kind == "divider":
            return ["-" * 40]
        if kind == "section":
            lines = self._text(block.get("text")).splitlines()
            lines += [" ".join(self._text(f).splitlines()) for f in block.get("fields") or []]
            if block.get("accessory"):
                lines += self._elements([block["accessory"]], msg, channel)
            return lines
        if kind == "context":
            return ["  " + " · ".join(self._text(e) for e in block.get("elements", [])
                                       if e.get("type") != "image")]
        if kind == "actions":
            return self._elements(block.get("elements", []), msg, channel)
        if kind == "image":
            return [f"[image: {block.get('alt_text', '')}]"]
        return [f"[{kind} block]"]

    def _elements(self, elements: list[dict[str, Any]], msg: dict[str, Any],
                  channel: str | None) -> list[str]:
        labels = []
        for element in elements:
            if element.get("type") not in INTERACTIVE or "action_id" not in element:
                continue
            label = self._text(element.get("text")) or element.get("type", "")
            message = {"ts": msg.get("ts"), "blocks": msg.get("blocks")}
            number = self._number(Pressable(message, element["action_id"], label, channel),
                                  str(element.get("value", "")))
            if element.get("url"):
                label += f" ({element['url']})"
            labels.append(f"[{number}] {label}")
        return ["  ".join(labels)] if labels else []

    def _number(self, item: Pressable, value: str) -> int:
        """The same button on the same message keeps its number across edits."""
        ts = item.message.get("ts")
        if not ts:  # ephemerals and modals: every rendering is a new message
            self.pressables.append(item)
            return len(self.pressables)
        key = (item.channel, str(ts), item.action_id, value)
        if key not in self.numbers:
            self.pressables.append(item)
            self.numbers[key] = len(self.pressables)
        else:
            self.pressables[self.numbers[key] - 1] = item
        self.fresh.add(self.numbers[key])
        return self.numbers[key]

    def _modal(self, call: Call) -> list[str]:
        view = dict(call.args.get("view") or {})
        view["id"] = (call.response.get("view") or {}).get("id")
        self.modal = view
        lines = [f"┌ modal: {self._text(view.get('title'))}"]
        for block in view.get("blocks", []):
            if block.get("type") == "input":
                element = block.get("element", {})
                optional = " (optional)" if block.get("optional") else ""
                options = [o.get("value") for o in element.get("options", [])]
                choice = f" one of {', '.join(map(str, options))}" if options else ""
                lines.append(f"│ {block.get('block_id')}: {self._text(block.get('label'))}"
                             f"{optional} [{element.get('type')}]{choice}")
            else:
                lines += ["│ " + line for line in self._block(block, {}, None)]
        submit = self._text(view.get("submit")) or "Submit"
        lines.append(f"└ type: submit <field>=<value> …  ({submit}), e.g. submit title=\"…\"")
        return lines
