"""Block Kit limit checks, so tests fail the way real Slack would reject a message or modal.

Only the limits Shipbell can plausibly hit are modelled; problems are human-readable strings.
"""

from __future__ import annotations

from typing import Any

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_MESSAGE_BLOCK_TEXT = 12_000
BLOCK_TYPES = frozenset(
    {"section", "header", "divider", "context", "actions", "input", "image", "rich_text", "file"}
)
SELECT_TYPES = frozenset(
    {"static_select", "multi_static_select", "overflow", "radio_buttons", "checkboxes"}
)
OPTION_LIMITS = {"overflow": 5, "radio_buttons": 10, "checkboxes": 10}


def _text(obj: Any, where: str, limit: int, out: list[str], *, plain: bool = False) -> None:
    """A text object: right type, non-empty string, within `limit` characters."""
    if not isinstance(obj, dict):
        out.append(f"{where}: must be a text object, got {type(obj).__name__}")
        return
    kinds = ("plain_text",) if plain else ("plain_text", "mrkdwn")
    if obj.get("type") not in kinds:
        out.append(f"{where}: type must be {' or '.join(kinds)}, got {obj.get('type')!r}")
    text = obj.get("text")
    if not isinstance(text, str) or not text:
        out.append(f"{where}: text must be a non-empty string")
    elif len(text) > limit:
        out.append(f"{where}: text is {len(text)} chars, max {limit}")


def _max(value: Any, where: str, limit: int, out: list[str]) -> None:
    if value is not None and len(str(value)) > limit:
        out.append(f"{where}: {len(str(value))} chars, max {limit}")


def _unique_id(value: Any, name: str, where: str, seen: set[str], out: list[str]) -> None:
    """block_id / action_id: at most 255 chars, and unique within the message or view."""
    if value is None:
        return
    _max(value, f"{where}.{name}", 255, out)
    if value in seen:
        out.append(f"{where}.{name}: duplicate {name} {value!r}")
    seen.add(value)


def _element(el: Any, where: str, action_ids: set[str], out: list[str]) -> None:
    """Interactive elements: ids, button limits, option lists, placeholders."""
    if not isinstance(el, dict) or "type" not in el:
        out.append(f"{where}: element must be an object with a type")
        return
    kind = el["type"]
    _unique_id(el.get("action_id"), "action_id", where, action_ids, out)
    if kind == "button":
        _text(el.get("text"), f"{where}.text", 75, out, plain=True)
        _max(el.get("value"), f"{where}.value", 2000, out)
        _max(el.get("url"), f"{where}.url", 3000, out)
        if el.get("style") not in (None, "primary", "danger"):
            out.append(f"{where}.style: must be primary or danger")
    elif kind == "image":
        _max(el.get("image_url"), f"{where}.image_url", 3000, out)
        if not el.get("alt_text"):
            out.append(f"{where}.alt_text: required")
    if "placeholder" in el:
        _text(el["placeholder"], f"{where}.placeholder", 150, out, plain=True)
    if kind in SELECT_TYPES or "options" in el:
        options = el.get("options") or []
        limit = OPTION_LIMITS.get(kind, 100)
        if len(options) > limit:
            out.append(f"{where}.options: {len(options)} options, max {limit}")
        for i, opt in enumerate(options):
            plain = kind not in ("radio_buttons", "checkboxes")
            _text((opt or {}).get("text"), f"{where}.options[{i}].text", 75, out, plain=plain)
            _max((opt or {}).get("value"), f"{where}.options[{i}].value", 150, out)
    if kind == "plain_text_input" and int(el.get("max_length") or 0) > 3000:
        out.append(f"{where}.max_length: max 3000")


def _block(block: Any, where: str, ids: tuple[set[str], set[str]], out: list[str]) -> None:
    block_ids, action_ids = ids
    if not isinstance(block, dict):
        out.append(f"{where}: block must be an object")
        return
    kind = block.get("type")
    if kind not in BLOCK_TYPES:
        out.append(f"{where}: unknown block type {kind!r}")
        return
    _unique_id(block.get("block_id"), "block_id", where, block_ids, out)
    if kind == "section":
        if "text" not in block and "fields" not in block:
            out.append(f"{where}: section needs text or fields")
        if "text" in block:
            _text(block["text"], f"{where}.text", 3000, out)
        fields = block.get("fields") or []
        if len(fields) > 10:
            out.append(f"{where}.fields: {len(fields)} fields, max 10")
        for i, f in enumerate(fields):
            _text(f, f"{where}.fields[{i}]", 2000, out)
        if "accessory" in block:
            _element(block["accessory"], f"{where}.accessory", action_ids, out)
    elif kind == "header":
        _text(block.get("text"), f"{where}.text", 150, out, plain=True)
    elif kind in ("context", "actions"):
        limit = 10 if kind == "context" else 25
        elements = block.get("elements") or []
        if not elements or len(elements) > limit:
            out.append(f"{where}.elements: {len(elements)} elements, need 1..{limit}")
        for i, el in enumerate(elements):
            sub = f"{where}.elements[{i}]"
            if kind == "context" and isinstance(el, dict) and el.get("type") != "image":
                _text(el, sub, 3000, out)
            else:
                _element(el, sub, action_ids, out)
    elif kind == "input":
        _text(block.get("label"), f"{where}.label", 2000, out, plain=True)
        if "hint" in block:
            _text(block["hint"], f"{where}.hint", 2000, out, plain=True)
        _element(block.get("element"), f"{where}.element", action_ids, out)
    elif kind == "image":
        if not block.get("image_url") and not block.get("slack_file"):
            out.append(f"{where}: image needs image_url or slack_file")
        _max(block.get("image_url"), f"{where}.image_url", 3000, out)
        if not block.get("alt_text"):
            out.append(f"{where}.alt_text: required")
        if "title" in block:
            _text(block["title"], f"{where}.title", 2000, out, plain=True)
    elif kind == "rich_text" and not isinstance(block.get("elements"), list):
        out.append(f"{where}.elements: required list")


def total_text_length(node: Any) -> int:
    """Characters in all text objects of a block tree (Slack's whole-message budget)."""
    if isinstance(node, list):
        return sum(total_text_length(n) for n in node)
    if not isinstance(node, dict):
        return 0
    own = len(node["text"]) if isinstance(node.get("text"), str) else 0
    return own + sum(total_text_length(v) for v in node.values() if isinstance(v, dict | list))


def _blocks(blocks: Any, limit: int) -> list[str]:
    if not isinstance(blocks, list):
        return ["blocks: must be a list"]
    out: list[str] = []
    if len(blocks) > limit:
        out.append(f"blocks: {len(blocks)} blocks, max {limit}")
    ids: tuple[set[str], set[str]] = (set(), set())
    for i, block in enumerate(blocks):
        _block(block, f"blocks[{i}]", ids, out)
    return out


def validate_blocks(blocks: Any) -> list[str]:
    """Problems with a message's blocks; empty list means Slack would accept them."""
    out = _blocks(blocks, MAX_MESSAGE_BLOCKS)
    total = total_text_length(blocks)
    if total > MAX_MESSAGE_BLOCK_TEXT:
        out.insert(0, f"msg_blocks_too_long: {total} chars of block text, max 12000")
    return out


def validate_view(view: Any) -> list[str]:
    """Problems with a modal or Home tab view (`invalid_arguments` on the wire)."""
    if not isinstance(view, dict):
        return ["view: must be an object"]
    out: list[str] = []
    kind = view.get("type")
    if kind not in ("modal", "home"):
        out.append(f"view.type: must be modal or home, got {kind!r}")
    if kind == "modal":
        _text(view.get("title"), "view.title", 24, out, plain=True)
    for key in ("submit", "close"):
        if key in view:
            _text(view[key], f"view.{key}", 24, out, plain=True)
    _max(view.get("private_metadata"), "view.private_metadata", 3000, out)
    _max(view.get("callback_id"), "view.callback_id", 255, out)
    _max(view.get("external_id"), "view.external_id", 255, out)
    blocks = view.get("blocks")
    out.extend(_blocks(blocks, MAX_VIEW_BLOCKS))
    has_input = isinstance(blocks, list) and any(
        isinstance(b, dict) and b.get("type") == "input" for b in blocks
    )
    if kind == "modal" and has_input and "submit" not in view:
        out.append("view.submit: required when the modal has input blocks")
    return out
