"""Block Kit checks for messages and views: slack_sdk's models plus the limits Slack documents beside them.

Each check returns reasons in Slack's own style, a sentence followed by `[json-pointer:/...]`; an empty list
means the payload is valid.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

__all__ = ["check_message_blocks", "check_view"]

MESSAGE_BLOCKS_MAX = 50
VIEW_BLOCKS_MAX = 100
SECTION_TEXT_MAX = 3000
SECTION_FIELD_TEXT_MAX = 2000
HEADER_TEXT_MAX = 150
VIEW_TITLE_MAX = 24
VIEW_BUTTON_MAX = 24  # submit and close labels
PRIVATE_METADATA_MAX = 3000
CALLBACK_ID_MAX = 255


def check_message_blocks(blocks: Any, *, pointer: str = "/blocks") -> list[str]:
    """Check the blocks of a message: at most 50, each valid."""
    return _check_blocks(blocks, maximum=MESSAGE_BLOCKS_MAX, pointer=pointer)


def check_view(view: Any) -> list[str]:
    """Check a modal or Home tab view: its own fields and up to 100 valid blocks."""
    if not isinstance(view, dict):
        return ["view must be a JSON object [json-pointer:/view]"]

    reasons = _check_view_fields(view)
    reasons += _check_blocks(view.get("blocks"), maximum=VIEW_BLOCKS_MAX, pointer="/view/blocks")
    if reasons:
        return reasons

    try:
        View(**view).validate_json()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as error:
        reasons.append(f"{error} [json-pointer:/view]")
    return reasons


def _check_view_fields(view: dict[str, Any]) -> list[str]:
    reasons: list[str] = []
    view_type = view.get("type")
    if view_type not in ("modal", "home"):
        reasons.append(f"type must be modal or home, not {view_type!r} [json-pointer:/view/type]")
    if view_type == "modal" and not isinstance(view.get("title"), dict):
        reasons.append("missing required field: title [json-pointer:/view/title]")
    if "blocks" not in view:
        reasons.append("missing required field: blocks [json-pointer:/view/blocks]")

    for field, maximum in (("title", VIEW_TITLE_MAX), ("submit", VIEW_BUTTON_MAX), ("close", VIEW_BUTTON_MAX)):
        length = _text_length(view.get(field))
        if length > maximum:
            reasons.append(f"{field} is longer than {maximum} characters ({length}) [json-pointer:/view/{field}]")

    for field, maximum in (("private_metadata", PRIVATE_METADATA_MAX), ("callback_id", CALLBACK_ID_MAX)):
        value = view.get(field)
        if isinstance(value, str) and len(value) > maximum:
            reasons.append(f"{field} is longer than {maximum} characters ({len(value)}) [json-pointer:/view/{field}]")

    # Slack requires a submit button on a modal that contains input blocks.
    blocks = view.get("blocks")
    has_input = isinstance(blocks, list) and any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
    if view_type == "modal" and has_input and "submit" not in view:
        reasons.append("submit is required when the modal contains input blocks [json-pointer:/view/submit]")
    return reasons


def _check_blocks(blocks: Any, *, maximum: int, pointer: str) -> list[str]:
    if blocks is None:
        return []
    if not isinstance(blocks, list):
        return [f"blocks must be a JSON array [json-pointer:{pointer}]"]

    reasons: list[str] = []
    if len(blocks) > maximum:
        reasons.append(f"no more than {maximum} items allowed, got {len(blocks)} [json-pointer:{pointer}]")

    seen_block_ids: set[str] = set()
    for index, block in enumerate(blocks):
        at = f"{pointer}/{index}"
        if not isinstance(block, dict):
            reasons.append(f"block must be a JSON object [json-pointer:{at}]")
            continue

        block_id = block.get("block_id")
        if isinstance(block_id, str):
            if block_id in seen_block_ids:
                reasons.append(f"block_id {block_id!r} is already used in this payload [json-pointer:{at}/block_id]")
            seen_block_ids.add(block_id)

        # The explicit limits come first so that a text over its limit is reported once, not again by the SDK.
        limit_reasons = _check_limits(block, at)
        reasons += limit_reasons
        reasons += _check_action_ids(block, at)
        if not limit_reasons:
            reasons += _check_with_sdk(block, at)
    return reasons


def _check_limits(block: dict[str, Any], at: str) -> list[str]:
    reasons: list[str] = []
    if block.get("type") == "section":
        length = _text_length(block.get("text"))
        if length > SECTION_TEXT_MAX:
            reasons.append(
                f"section text is longer than {SECTION_TEXT_MAX} characters ({length}) [json-pointer:{at}/text/text]"
            )
        for number, field in enumerate(block.get("fields") or []):
            length = _text_length(field)
            if length > SECTION_FIELD_TEXT_MAX:
                reasons.append(
                    f"section field is longer than {SECTION_FIELD_TEXT_MAX} characters ({length}) "
                    f"[json-pointer:{at}/fields/{number}/text]"
                )
    if block.get("type") == "header":
        length = _text_length(block.get("text"))
        if length > HEADER_TEXT_MAX:
            reasons.append(
                f"header text is longer than {HEADER_TEXT_MAX} characters ({length}) [json-pointer:{at}/text/text]"
            )
    return reasons


def _check_action_ids(block: dict[str, Any], at: str) -> list[str]:
    elements: list[tuple[str, Any]] = [("accessory", block.get("accessory")), ("element", block.get("element"))]
    elements += [(f"elements/{number}", element) for number, element in enumerate(block.get("elements") or [])]

    reasons: list[str] = []
    seen: set[str] = set()
    for place, element in elements:
        action_id = element.get("action_id") if isinstance(element, dict) else None
        if not isinstance(action_id, str):
            continue
        if action_id in seen:
            reasons.append(
                f"action_id {action_id!r} is already used in this block [json-pointer:{at}/{place}/action_id]"
            )
        seen.add(action_id)
    return reasons


def _check_with_sdk(block: dict[str, Any], at: str) -> list[str]:
    try:
        parsed = Block.parse(block)
        if parsed is None:
            return [f"unsupported type: {block.get('type')!r} [json-pointer:{at}/type]"]
        parsed.validate_json()
        # to_dict() validates the nested elements and text objects as well.
        parsed.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError, KeyError) as error:
        return [f"{error} [json-pointer:{at}]"]
    return []


def _text_length(text: Any) -> int:
    if isinstance(text, dict):
        text = text.get("text")
    return len(text) if isinstance(text, str) else 0
