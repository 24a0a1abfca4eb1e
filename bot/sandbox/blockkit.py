"""Block Kit checks the emulator applies (Slack's documented limits) and helpers to read blocks back."""

from __future__ import annotations

import copy
import secrets
from typing import Iterator, NamedTuple

MAX_MESSAGE_BLOCKS = 50
MAX_VIEW_BLOCKS = 100
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_FIELDS = 10
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_VALUE = 2000
MAX_ID = 255
MAX_OPTIONS = 100
MAX_ACTIONS_ELEMENTS = 25
MAX_CONTEXT_ELEMENTS = 10
MAX_MODAL_TITLE = 24
MAX_PRIVATE_METADATA = 3000
MAX_CONFIRM_TITLE = 100
MAX_CONFIRM_TEXT = 300
MAX_CONFIRM_BUTTON = 30

SELECT_TYPES = {"static_select", "external_select", "radio_buttons", "overflow"}
MULTI_TYPES = {"checkboxes", "multi_static_select", "multi_external_select"}


class Button(NamedTuple):
    """A button as `sandbox.buttons()` lists it; unpacks as (action_id, value, text, block_id)."""

    action_id: str
    value: str | None
    text: str
    block_id: str | None


def validate_blocks(blocks: object, *, limit: int) -> list[str]:
    """Slack-style `invalid_blocks` messages (with json-pointers) for a blocks array; empty when valid."""
    if not isinstance(blocks, list):
        return ["must be an array [json-pointer:/blocks]"]
    errors: list[str] = []
    if len(blocks) > limit:
        errors.append(f"must provide no more than {limit} items [json-pointer:/blocks]")
    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        where = f"/blocks/{index}"
        if not isinstance(block, dict) or "type" not in block:
            errors.append(f"missing required field: type [json-pointer:{where}]")
            continue
        block_id = block.get("block_id")
        if block_id is not None:
            if len(str(block_id)) > MAX_ID:
                errors.append(f"must be less than {MAX_ID + 1} characters [json-pointer:{where}/block_id]")
            if block_id in seen_block_ids:
                errors.append(f"duplicate block_id [json-pointer:{where}/block_id]")
            seen_block_ids.add(block_id)
        errors.extend(_check_block(block, where))
    return errors


def _check_block(block: dict, where: str) -> list[str]:
    kind = block["type"]
    errors: list[str] = []
    if kind == "section":
        if "text" not in block and "fields" not in block:
            errors.append(f"must provide text or fields [json-pointer:{where}]")
        if "text" in block:
            errors.extend(_check_text(block["text"], f"{where}/text", MAX_SECTION_TEXT))
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            errors.append(f"must provide no more than {MAX_FIELDS} items [json-pointer:{where}/fields]")
        for i, item in enumerate(fields):
            errors.extend(_check_text(item, f"{where}/fields/{i}", MAX_FIELD_TEXT))
        if isinstance(block.get("accessory"), dict):
            errors.extend(_check_element(block["accessory"], f"{where}/accessory"))
    elif kind == "header":
        errors.extend(_check_text(block.get("text"), f"{where}/text", MAX_HEADER_TEXT, plain_only=True))
    elif kind == "context":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
            errors.append(f"must provide 1 to {MAX_CONTEXT_ELEMENTS} items [json-pointer:{where}/elements]")
    elif kind == "actions":
        elements = block.get("elements") or []
        if not elements or len(elements) > MAX_ACTIONS_ELEMENTS:
            errors.append(f"must provide 1 to {MAX_ACTIONS_ELEMENTS} items [json-pointer:{where}/elements]")
        action_ids = [e.get("action_id") for e in elements if isinstance(e, dict) and e.get("action_id")]
        if len(action_ids) != len(set(action_ids)):
            errors.append(f"duplicate action_id [json-pointer:{where}/elements]")
        for i, element in enumerate(elements):
            errors.extend(_check_element(element, f"{where}/elements/{i}"))
    elif kind == "input":
        errors.extend(_check_text(block.get("label"), f"{where}/label", MAX_FIELD_TEXT, plain_only=True))
        if not isinstance(block.get("element"), dict):
            errors.append(f"missing required field: element [json-pointer:{where}]")
        else:
            errors.extend(_check_element(block["element"], f"{where}/element"))
    return errors


def _check_text(text: object, where: str, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(text, dict) or not isinstance(text.get("text"), str):
        return [f"must be a text object [json-pointer:{where}]"]
    allowed = ("plain_text",) if plain_only else ("plain_text", "mrkdwn")
    if text.get("type") not in allowed:
        return [f"must be one of {'/'.join(allowed)} [json-pointer:{where}/type]"]
    if len(text["text"]) > limit:
        return [f"must be less than {limit + 1} characters [json-pointer:{where}/text]"]
    if not text["text"]:
        return [f"must be more than 0 characters [json-pointer:{where}/text]"]
    return []


def _check_element(element: object, where: str) -> list[str]:
    if not isinstance(element, dict) or "type" not in element:
        return [f"missing required field: type [json-pointer:{where}]"]
    errors: list[str] = []
    if len(str(element.get("action_id", ""))) > MAX_ID:
        errors.append(f"must be less than {MAX_ID + 1} characters [json-pointer:{where}/action_id]")
    if element["type"] == "button":
        errors.extend(_check_text(element.get("text"), f"{where}/text", MAX_BUTTON_TEXT, plain_only=True))
        if len(str(element.get("value", ""))) > MAX_VALUE:
            errors.append(f"must be less than {MAX_VALUE + 1} characters [json-pointer:{where}/value]")
    if "confirm" in element:
        errors.extend(_check_confirm(element["confirm"], f"{where}/confirm"))
    options = element.get("options")
    if isinstance(options, list) and len(options) > MAX_OPTIONS:
        errors.append(f"must provide no more than {MAX_OPTIONS} items [json-pointer:{where}/options]")
    return errors


def _check_confirm(confirm: object, where: str) -> list[str]:
    """A confirmation dialog object: plain-text title, confirm and deny; a text of either type."""
    if not isinstance(confirm, dict):
        return [f"must be an object [json-pointer:{where}]"]
    errors = _check_text(confirm.get("title"), f"{where}/title", MAX_CONFIRM_TITLE, plain_only=True)
    errors += _check_text(confirm.get("text"), f"{where}/text", MAX_CONFIRM_TEXT)
    for key in ("confirm", "deny"):
        if key in confirm:
            errors += _check_text(confirm[key], f"{where}/{key}", MAX_CONFIRM_BUTTON, plain_only=True)
    if confirm.get("style") not in (None, "primary", "danger"):
        errors.append(f"must be one of primary/danger [json-pointer:{where}/style]")
    return errors


def validate_view(view: object) -> tuple[str, list[str]] | None:
    """(error code, messages) when a view payload breaks Slack's rules, else None."""
    if not isinstance(view, dict):
        return "invalid_arguments", ["view must be an object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in ("modal", "home"):
        return "invalid_arguments", ["must be one of modal/home [json-pointer:/view/type]"]
    errors: list[str] = []
    if kind == "modal":
        for key in ("title", "submit", "close"):
            if key in view or key == "title":
                errors.extend(_check_text(view.get(key), f"/view/{key}", MAX_MODAL_TITLE, plain_only=True))
        if any(b.get("type") == "input" for b in view.get("blocks") or [] if isinstance(b, dict)):
            if "submit" not in view:
                errors.append("a view with input blocks must provide submit [json-pointer:/view/submit]")
    if len(str(view.get("private_metadata", ""))) > MAX_PRIVATE_METADATA:
        errors.append(f"must be less than {MAX_PRIVATE_METADATA + 1} characters [json-pointer:/view/private_metadata]")
    for key in ("callback_id", "external_id"):
        if len(str(view.get(key, ""))) > MAX_ID:
            errors.append(f"must be less than {MAX_ID + 1} characters [json-pointer:/view/{key}]")
    errors.extend(e.replace("json-pointer:/blocks", "json-pointer:/view/blocks") for e in
                  validate_blocks(view.get("blocks", []), limit=MAX_VIEW_BLOCKS))
    return ("invalid_arguments", errors) if errors else None


def assign_ids(blocks: list[dict]) -> list[dict]:
    """A copy of blocks with a generated block_id/action_id wherever the app left one out, as Slack does."""
    blocks = copy.deepcopy(list(blocks or []))
    for block in blocks:
        if isinstance(block, dict) and not block.get("block_id"):
            block["block_id"] = secrets.token_urlsafe(4)[:5]
    for _block, element in iter_elements(blocks):
        if not element.get("action_id"):
            element["action_id"] = secrets.token_urlsafe(4)[:5]
    return blocks


def iter_elements(blocks: list[dict]) -> Iterator[tuple[dict, dict]]:
    """(block, interactive element) pairs: actions elements, section accessories and input elements."""
    for block in blocks or []:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "actions":
            for element in block.get("elements") or []:
                yield block, element
        elif block.get("type") == "section" and isinstance(block.get("accessory"), dict):
            yield block, block["accessory"]
        elif block.get("type") == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]


def find_element(blocks: list[dict], action_id: str, block_id: str | None = None) -> tuple[dict, dict] | None:
    """The (block, element) carrying `action_id` (and `block_id` when given)."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") == action_id and block_id in (None, block.get("block_id")):
            return block, element
    return None


def buttons(blocks: list[dict]) -> list[Button]:
    """Every button in a list of blocks, in display order."""
    return [
        Button(e.get("action_id", ""), e.get("value"), plain(e.get("text")), b.get("block_id"))
        for b, e in iter_elements(blocks)
        if e.get("type") == "button"
    ]


def all_options(element: dict) -> list[dict]:
    """Options of a select/radio/checkbox element, option groups flattened."""
    options = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        options.extend(group.get("options") or [])
    return options


def plain(text: object) -> str:
    """The string inside a text object (or the string itself)."""
    if isinstance(text, dict):
        return str(text.get("text", ""))
    return "" if text is None else str(text)


def flatten(blocks: list[dict]) -> list[str]:
    """Readable lines for blocks: section/header/context text, inputs as fields, buttons as `[Label]`."""
    lines: list[str] = []
    for block in blocks or []:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind in ("section", "header"):
            if block.get("text"):
                lines.append(plain(block["text"]))
            fields = [plain(f) for f in block.get("fields") or []]
            if fields:
                lines.append("  ".join(fields))
            accessory = block.get("accessory")
            if isinstance(accessory, dict) and accessory.get("type") == "button":
                lines.append(f"[{plain(accessory.get('text'))}]")
        elif kind == "context":
            lines.append(" · ".join(plain(e) for e in block.get("elements") or [] if plain(e)))
        elif kind == "actions":
            labels = [_element_label(e) for e in block.get("elements") or []]
            lines.append(" ".join(label for label in labels if label))
        elif kind == "input":
            optional = " (optional)" if block.get("optional") else ""
            shown = _initial(block.get("element")) or "____"
            lines.append(f"{plain(block.get('label'))}{optional}: {shown}")
        elif kind == "rich_text":
            lines.append(_rich_text(block))
    return [line for line in lines if line]


def _initial(element: object) -> str:
    """What an input shows before anyone types: its initial value or option."""
    if not isinstance(element, dict):
        return ""
    option = element.get("initial_option")
    if isinstance(option, dict):
        return plain(option.get("text"))
    return str(element.get("initial_value") or "")


def _shown(state: dict) -> str:
    """What a submitted input shows: the typed text, or the text of the chosen option(s)."""
    if "selected_option" in state:
        return plain((state["selected_option"] or {}).get("text"))
    if "selected_options" in state:
        return ", ".join(plain(o.get("text")) for o in state["selected_options"] or [])
    for key in ("value", "selected_date", "selected_time", "selected_user", "selected_channel",
                "selected_conversation"):
        if state.get(key):
            return str(state[key])
    return ""


def submitted_fields(blocks: list[dict], state_values: dict) -> list[list[str]]:
    """[label, what it shows] for each input of a submitted view that holds something, in display order."""
    fields = []
    for block in blocks or []:
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        for state in (state_values.get(block.get("block_id")) or {}).values():
            shown = _shown(state) if isinstance(state, dict) else ""
            if shown:
                fields.append([plain(block.get("label")), shown])
    return fields


def _element_label(element: dict) -> str:
    if element.get("type") == "button":
        return f"[{plain(element.get('text'))}]"
    chosen = element.get("initial_option")
    shown = plain(chosen.get("text")) if isinstance(chosen, dict) else ""
    placeholder = shown or plain(element.get("placeholder")) or element.get("type", "")
    return f"[{placeholder} ▾]"


def _rich_text(block: dict) -> str:
    parts: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                parts.append(str(node.get("text", "")))
            for child in node.get("elements") or []:
                walk(child)

    walk(block)
    return "".join(parts)
