"""Render neutral messages as Slack Block Kit, split into as many Slack messages as Slack's limits require."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from slack_sdk.models.blocks import (
    ActionsBlock,
    ButtonElement,
    HeaderBlock,
    MarkdownTextObject,
    PlainTextObject,
    SectionBlock,
)

from core.presentation.messages import Action, Field, Line, Message

__all__ = ["ACTION_PREFIX", "SlackMessage", "escape_mrkdwn", "line_mrkdwn", "render_blocks", "render_message"]

logger = logging.getLogger(__name__)

ACTION_PREFIX = "smarter.command"
# "<" followed by the first character of a Slack reference: special mention, user, or channel.
REFERENCE_START = re.compile(r"<(?=[!@#])")
DEFAULT_COMMAND = "/smarter"
MESSAGE_BLOCKS_MAX = 50

# NOTE: these limits count Python code points, as slack_sdk's validators do. Whether Slack counts a character
# outside the Basic Multilingual Plane (most emoji) as one or two is not checked here.
HEADER_TEXT_MAX = HeaderBlock.text_max_length
SECTION_TEXT_MAX = SectionBlock.text_max_length
SECTION_FIELDS_MAX = SectionBlock.fields_max_length
FIELD_TEXT_MAX = 2000  # Slack's limit for one section field; slack_sdk does not check it.
BUTTON_TEXT_MAX = ButtonElement.text_max_length
BUTTON_VALUE_MAX = ButtonElement.value_max_length
BUTTONS_PER_BLOCK_MAX = ActionsBlock.elements_max_length
FALLBACK_TEXT_MAX = 3000

ELLIPSIS = "…"
EMPTY_TEXT = "…"
WARNING_PREFIX = "⚠️ "
BUTTON_STYLES = frozenset({"primary", "danger"})
# A text too long for one section is cut after the first of these found in the second half of the allowed length.
SPLIT_AFTER = ("\n", " ", "\u3000", "。")
COMMAND_NAME = re.compile(r"(?<![\w/])/smarter(?![\w-])")
ENTITY_LENGTH_MAX = len("&amp;")

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """One Slack message: ``text`` is the notification and fallback text, ``blocks`` the Block Kit layout."""

    text: str
    blocks: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Text:
    """Escaped mrkdwn, the same text without formatting for the fallback, and whether a person typed part of it."""

    mrkdwn: str
    plain: str
    user: bool


@dataclass(frozen=True, slots=True)
class _Part:
    """One rendered block and its share of the fallback text."""

    block: dict[str, Any]
    fallback: str


def escape_mrkdwn(text: str) -> str:
    """Replace &, < and > with entities, so that Slack shows them instead of reading a link or a mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def line_mrkdwn(line: Line, *, command_name: str = DEFAULT_COMMAND) -> str:
    """Return the line as escaped mrkdwn, with ``/smarter`` in bot text (not user text) renamed to ``command_name``."""
    return escape_mrkdwn(_plain_text(line, command_name))


def render_message(message: Message, *, command_name: str = DEFAULT_COMMAND) -> list[SlackMessage]:
    """Render the message as one Slack message, or as several when it needs more than 50 blocks."""
    pages = _paginate(message, command_name, MESSAGE_BLOCKS_MAX)
    return [SlackMessage(text=_fallback_text(page), blocks=[part.block for part in page]) for page in pages]


def render_blocks(
    message: Message, *, command_name: str = DEFAULT_COMMAND, max_blocks: int = MESSAGE_BLOCKS_MAX
) -> list[list[dict[str, Any]]]:
    """Render the message as block lists of at most ``max_blocks`` each (Slack allows 100 in a modal or App Home).

    The header, if any, opens the first list and the buttons close the last one.
    """
    return [[part.block for part in page] for page in _paginate(message, command_name, max_blocks)]


def _paginate(message: Message, command_name: str, max_blocks: int) -> list[list[_Part]]:
    if max_blocks < 1:
        raise ValueError(f"max_blocks must be at least 1, got {max_blocks}")

    content = _content_parts(message, command_name)
    actions = _action_parts(message.actions)
    if not content and not actions:
        logger.warning("Message of kind %s has no text and no buttons, so a placeholder is rendered", message.kind)
        content = [_section_part([_Text(EMPTY_TEXT, EMPTY_TEXT, False)])]

    pages = _chunks(content, max_blocks)
    if pages and len(pages[-1]) + len(actions) <= max_blocks:
        pages[-1].extend(actions)
    else:
        pages.extend(_chunks(actions, max_blocks))
    return pages


def _content_parts(message: Message, command_name: str) -> list[_Part]:
    """Render the title as a header, or as a bold section when it does not fit one, then the lines and fields."""
    prefix = WARNING_PREFIX if message.error else ""
    title_line = message.title or ()
    title = _plain_text(title_line, command_name).strip()
    texts = [_line_text(line, command_name) for line in message.lines]
    parts: list[_Part] = []

    if title and "\n" not in title and len(prefix + title) <= HEADER_TEXT_MAX:
        parts.append(_header_part(prefix + title))
    elif title:
        texts.insert(0, _title_text(title_line, command_name))
    if prefix and not parts and texts:
        texts[0] = _Text(prefix + texts[0].mrkdwn, prefix + texts[0].plain, texts[0].user)

    parts.extend(_text_sections(texts))
    parts.extend(_field_sections(message.fields, command_name))
    return parts


def _header_part(title: str) -> _Part:
    block = HeaderBlock(text=PlainTextObject(text=defuse_references(title), emoji=True))
    return _Part(block.to_dict(), escape_mrkdwn(title))


def _title_text(title: Line, command_name: str) -> _Text:
    text = _line_text(title, command_name)
    bold = _bold(text.mrkdwn.strip(), SECTION_TEXT_MAX - len(WARNING_PREFIX))
    return _Text(bold, text.plain.strip(), text.user)


def _text_sections(texts: list[_Text]) -> list[_Part]:
    """Pack consecutive texts, joined by newlines, into as few sections as the section length limit allows."""
    batches: list[list[_Text]] = []
    for chunk in _split_texts(texts):
        if batches and _joined_length(batches[-1]) + 1 + len(chunk.mrkdwn) <= SECTION_TEXT_MAX:
            batches[-1].append(chunk)
        else:
            batches.append([chunk])
    return [_section_part(batch) for batch in batches if any(text.mrkdwn.strip() for text in batch)]


def _split_texts(texts: list[_Text]) -> list[_Text]:
    chunks: list[_Text] = []
    for text in texts:
        if len(text.mrkdwn) <= SECTION_TEXT_MAX:
            chunks.append(text)
            continue
        chunks.extend(_Text(piece, piece, text.user) for piece in _split_mrkdwn(text.mrkdwn, SECTION_TEXT_MAX))
    return chunks


def _section_part(texts: list[_Text]) -> _Part:
    mrkdwn = "\n".join(text.mrkdwn for text in texts)
    block = SectionBlock(text=_mrkdwn_object(mrkdwn, user=any(text.user for text in texts)))
    return _Part(block.to_dict(), "\n".join(text.plain for text in texts))


def _field_sections(fields: tuple[Field, ...], command_name: str) -> list[_Part]:
    """Render fields ten to a section. A field too long for a section field gets sections of its own."""
    parts: list[_Part] = []
    group: list[_Text] = []
    for field in fields:
        label = _label_text(field.label, command_name)
        value = _line_text(field.value, command_name)
        combined = _field_text(label, value)
        if combined is None:
            continue
        if len(combined.mrkdwn) <= FIELD_TEXT_MAX:
            group.append(combined)
            continue

        parts.extend(_grouped_field_sections(group))
        group = []
        parts.extend(_text_sections([text for text in (label, value) if text.mrkdwn]))
    parts.extend(_grouped_field_sections(group))
    return parts


def _label_text(label: str, command_name: str) -> _Text:
    escaped = escape_mrkdwn(_rename_command(label, command_name)).strip()
    return _Text(_bold(escaped, FIELD_TEXT_MAX), escaped, False)


def _field_text(label: _Text, value: _Text) -> _Text | None:
    """Return the field as ``*label*`` over its value, or None when both are blank."""
    has_value = bool(value.mrkdwn.strip())
    if not label.mrkdwn:
        return value if has_value else None
    if not has_value:
        return label
    return _Text(f"{label.mrkdwn}\n{value.mrkdwn}", f"{label.plain}: {value.plain}", value.user)


def _grouped_field_sections(texts: list[_Text]) -> list[_Part]:
    parts: list[_Part] = []
    for group in _chunks(texts, SECTION_FIELDS_MAX):
        block = SectionBlock(fields=[_mrkdwn_object(text.mrkdwn, user=text.user) for text in group])
        parts.append(_Part(block.to_dict(), "\n".join(text.plain for text in group)))
    return parts


def _action_parts(actions: tuple[Action, ...]) -> list[_Part]:
    buttons = [button for index, action in enumerate(actions) if (button := _button(index, action)) is not None]
    parts: list[_Part] = []
    for group in _chunks(buttons, BUTTONS_PER_BLOCK_MAX):
        labels = " · ".join(escape_mrkdwn(button.text.text) for button in group if button.text is not None)
        parts.append(_Part(ActionsBlock(elements=group).to_dict(), labels))
    return parts


def _button(index: int, action: Action) -> ButtonElement | None:
    """Return the action as a button whose value is its command, or None when Slack would reject that value."""
    if not action.command.strip() or len(action.command) > BUTTON_VALUE_MAX:
        logger.warning(
            "Dropped button %d (%s) because its command has %d characters and Slack accepts 1 to %d",
            index,
            action.label,
            len(action.command),
            BUTTON_VALUE_MAX,
        )
        return None

    label = _truncate_plain(defuse_references(action.label.strip() or action.command.strip()), BUTTON_TEXT_MAX)
    return ButtonElement(
        text=PlainTextObject(text=label, emoji=True),
        action_id=f"{ACTION_PREFIX}.{index}",
        value=action.command,
        style=action.style if action.style in BUTTON_STYLES else None,
    )


def _fallback_text(page: list[_Part]) -> str:
    """Return the page's text for notifications: its content, or its button labels when it has only buttons."""
    content = [part.fallback for part in page if part.block["type"] != ActionsBlock.type]
    labels = [part.fallback for part in page if part.block["type"] == ActionsBlock.type]
    text = "\n".join(content).strip() or " · ".join(labels).strip() or EMPTY_TEXT
    return _truncate_mrkdwn(text, FALLBACK_TEXT_MAX)


def _plain_text(line: Line, command_name: str) -> str:
    return "".join(span.text if span.user else _rename_command(span.text, command_name) for span in line)


def defuse_references(text: str) -> str:
    """Put a zero-width space after each ``<`` that starts a reference (``<!here>``, ``<@U1>``, ``<#C1>``).

    Slack shows plain_text literally, so this changes nothing visible. It keeps even a client that did parse
    plain text from reading a typed ``<!here>`` as a mention.
    """
    return REFERENCE_START.sub("<\u200b", text)


def _line_text(line: Line, command_name: str) -> _Text:
    mrkdwn = line_mrkdwn(line, command_name=command_name)
    return _Text(mrkdwn, mrkdwn, any(span.user for span in line))


def _rename_command(text: str, command_name: str) -> str:
    if command_name == DEFAULT_COMMAND:
        return text
    # A function as the replacement keeps backslashes in command_name literal.
    return COMMAND_NAME.sub(lambda _match: command_name, text)


def _mrkdwn_object(text: str, *, user: bool) -> MarkdownTextObject:
    # verbatim stops Slack from turning a typed "@here" or "#channel" into a mention or link. Bot text keeps
    # the default, so that Slack still links the URLs in it.
    return MarkdownTextObject(text=text, verbatim=True if user else None)


def _bold(mrkdwn: str, limit: int) -> str:
    """Wrap escaped text in ``*`` when the result is valid bold mrkdwn within ``limit`` characters."""
    if not mrkdwn or "*" in mrkdwn or "\n" in mrkdwn or len(mrkdwn) + 2 > limit:
        return mrkdwn
    return f"*{mrkdwn}*"


def _split_mrkdwn(text: str, limit: int) -> list[str]:
    """Split escaped text into pieces of at most ``limit`` characters, preferring line and word boundaries."""
    pieces: list[str] = []
    while len(text) > limit:
        cut = _cut_index(text, limit)
        pieces.append(text[:cut])
        text = text[cut:]
    pieces.append(text)
    return pieces


def _cut_index(text: str, limit: int) -> int:
    for separator in SPLIT_AFTER:
        index = text.rfind(separator, limit // 2, limit)
        if index != -1:
            return index + 1
    return _entity_safe_index(text, limit)


def _entity_safe_index(text: str, index: int) -> int:
    """Move a cut at ``index`` back to the start of the entity (such as ``&amp;``) that it would split."""
    start = text.rfind("&", max(0, index - ENTITY_LENGTH_MAX + 1), index)
    if start > 0 and text.find(";", start) >= index:
        return start
    return index


def _truncate_plain(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - len(ELLIPSIS)] + ELLIPSIS


def _truncate_mrkdwn(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[: _entity_safe_index(text, limit - len(ELLIPSIS))] + ELLIPSIS


def _chunks(items: list[T], size: int) -> list[list[T]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _joined_length(texts: list[_Text]) -> int:
    return sum(len(text.mrkdwn) for text in texts) + len(texts) - 1
