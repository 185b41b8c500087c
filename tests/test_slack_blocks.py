"""The Slack Block Kit renderer: escaping, Slack's limits, splitting into messages and buttons."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.models.blocks import Block

from adapters.slack.blocks import (
    ACTION_PREFIX,
    SlackMessage,
    escape_mrkdwn,
    line_mrkdwn,
    render_blocks,
    render_message,
)
from core.presentation.messages import Action, Field, Line, Message, Span, Visibility

TYPED = "R&D <!here> <@U123> &amp;"
TYPED_ESCAPED = "R&amp;D &lt;!here&gt; &lt;@U123&gt; &amp;amp;"
MENTIONS = ("<!here>", "<!channel>", "<!everyone>", "<@", "<#")
# Escaped mrkdwn contains no "<" and every "&" starts one of the three entities.
ESCAPED = re.compile(r"(?:[^<>&]|&amp;|&lt;|&gt;)*")
SYLLABLES = "さくらやまだはなこたろうスズキ・ジョン&<>アイデア職人ミライ"


def message(**parts: Any) -> Message:
    return Message(Visibility.CHANNEL, "ja", **parts)


def nickname(index: int) -> str:
    """Return a member name of 2 to 30 characters, some with & < > in them."""
    length = 2 + (index * 7) % 29
    return "".join(SYLLABLES[(index + offset * 3) % len(SYLLABLES)] for offset in range(length))


def ranking_lines(count: int) -> tuple[Line, ...]:
    return tuple(
        (
            Span(f"{rank}位 "),
            Span(nickname(rank), user=True),
            Span(f" (M{rank + 100}) — {100 - rank * 0.37:.1f}点 (評価{rank % 9 + 1}件)"),
        )
        for rank in range(1, count + 1)
    )


def description(length: int) -> Line:
    words = "提出物の評価基準は次の通りです & <task> を参照してください。 "
    text = (words * (length // len(words) + 1))[:length]
    return (Span(text, user=True),)


def text_objects(block: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the text objects of a block: its text, its fields and its buttons' labels."""
    objects = [block["text"]] if "text" in block else []
    objects.extend(block.get("fields", []))
    objects.extend(element["text"] for element in block.get("elements", []))
    return objects


def mrkdwn_strings(blocks: list[dict[str, Any]]) -> Iterator[str]:
    for block in blocks:
        yield from (obj["text"] for obj in text_objects(block) if obj["type"] == "mrkdwn")


def content_strings(blocks: list[dict[str, Any]]) -> Iterator[str]:
    """Yield the header and section texts in order, the header escaped like the rest."""
    for block in blocks:
        if block["type"] == "header":
            yield escape_mrkdwn(block["text"]["text"])
        elif block["type"] == "section":
            yield from (obj["text"] for obj in text_objects(block))


def without_layout(text: str) -> str:
    """Drop whitespace and the renderer's bold marks and warning sign, which splitting may move."""
    return re.sub(r"[\s*]|⚠️", "", text)


def expected_content(source: Message) -> str:
    parts = [line_mrkdwn(source.title)] if source.title else []
    parts.extend(line_mrkdwn(line) for line in source.lines)
    for field in source.fields:
        parts.extend([escape_mrkdwn(field.label), line_mrkdwn(field.value)])
    return "".join(parts)


def assert_valid_block(block: dict[str, Any]) -> None:
    parsed = Block.parse(block)
    assert parsed is not None, block["type"]
    parsed.validate_json()
    assert parsed.to_dict() == block
    if block["type"] == "header":
        assert 1 <= len(block["text"]["text"]) <= 150
    if block["type"] == "section" and "text" in block:
        assert block["text"]["text"].strip()
        assert len(block["text"]["text"]) <= 3000
    for field in block.get("fields", []):
        assert field["text"].strip()
        assert len(field["text"]) <= 2000
    for element in block.get("elements", []):
        assert 1 <= len(element["text"]["text"]) <= 75
        assert 1 <= len(element["value"]) <= 2000
        assert len(element["action_id"]) <= 255


def assert_valid(rendered: list[SlackMessage]) -> None:
    assert rendered
    for slack_message in rendered:
        assert 1 <= len(slack_message.blocks) <= 50
        assert slack_message.text.strip()
        assert len(slack_message.text) <= 3000
        assert ESCAPED.fullmatch(slack_message.text)
        for block in slack_message.blocks:
            assert_valid_block(block)
        for text in mrkdwn_strings(slack_message.blocks):
            assert ESCAPED.fullmatch(text), text[:80]


def all_blocks(rendered: list[SlackMessage]) -> list[dict[str, Any]]:
    return [block for slack_message in rendered for block in slack_message.blocks]


def buttons(rendered: list[SlackMessage]) -> list[dict[str, Any]]:
    return [element for block in all_blocks(rendered) if block["type"] == "actions" for element in block["elements"]]


LARGE_MESSAGES = {
    "ranking": message(title=(Span("2026年5月のランキング"),), lines=ranking_lines(200)),
    "description": message(title=(Span("T3 説明"),), lines=(description(10_000),)),
    "fields": message(fields=tuple(Field(f"項目{i}", (Span(f"値 {i} & <{i}>", user=True),)) for i in range(30))),
    "actions": message(
        lines=((Span("選んでください"),),),
        actions=tuple(Action(f"T{i} に参加", f"/smarter join T{i}") for i in range(40)),
    ),
    "title": message(title=(Span("タイトル & <b> " * 25, user=True),), lines=((Span("本文"),),)),
    "everything": message(
        title=(Span("長い題名 " * 80, user=True),),
        lines=(*ranking_lines(200), description(10_000)),
        fields=tuple(Field(f"項目{i}", description(50 * i)) for i in range(30)),
        actions=tuple(Action(f"ボタン{i}", f"/smarter task show T{i}") for i in range(40)),
        error=True,
    ),
}


def test_escape_mrkdwn_once() -> None:
    assert escape_mrkdwn(TYPED) == TYPED_ESCAPED


def test_escape_mrkdwn_plain_text_unchanged() -> None:
    assert escape_mrkdwn("92.3点 *太字* _斜体_") == "92.3点 *太字* _斜体_"


def test_line_mrkdwn_escapes_bot_and_user_spans() -> None:
    line = (Span("Usage: /smarter submit <task> & "), Span(TYPED, user=True))

    assert line_mrkdwn(line) == "Usage: /smarter submit &lt;task&gt; &amp; " + TYPED_ESCAPED


@pytest.mark.parametrize("title_repeat", [1, 10])
def test_escaping_everywhere(title_repeat: int) -> None:
    """A short title becomes a plain_text header, but a long one becomes mrkdwn and must be escaped."""
    typed = (Span(TYPED, user=True),)
    source = message(
        title=typed * title_repeat,
        lines=(typed, (Span("bot text: "), Span("<!channel> <!everyone> <#C1>")), typed),
        fields=(Field("Owner <!here>", typed), Field("R&D", (Span("plain"),))),
        error=True,
    )

    rendered = render_message(source)

    assert_valid(rendered)
    strings = [*mrkdwn_strings(all_blocks(rendered)), *(slack_message.text for slack_message in rendered)]
    for text in strings:
        for mention in MENTIONS:
            assert mention not in text, (mention, text)
    joined = "\n".join(strings)
    title_in_mrkdwn = title_repeat if title_repeat > 1 else 0
    assert "".join(mrkdwn_strings(all_blocks(rendered))).count("&amp;amp;") == 3 + title_in_mrkdwn
    assert rendered[0].text.count("&amp;amp;") == 3 + title_repeat
    assert "&amp;amp;amp;" not in joined
    assert "&lt;!channel&gt; &lt;!everyone&gt; &lt;#C1&gt;" in joined
    assert "*Owner &lt;!here&gt;*" in joined
    assert rendered[0].text.startswith("⚠️ " + TYPED_ESCAPED)


def test_short_title_is_literal_header() -> None:
    rendered = render_message(message(title=(Span(TYPED, user=True),)))

    header = rendered[0].blocks[0]
    assert header["type"] == "header"
    # Shown as typed: only a zero-width space follows each "<" that would start a Slack reference.
    assert header["text"]["text"].replace("\u200b", "") == TYPED
    assert "<!" not in header["text"]["text"]
    assert "<@" not in header["text"]["text"]


def test_user_text_is_verbatim() -> None:
    rendered = render_message(message(lines=((Span("@here please", user=True),), (Span("see https://x.test"),))))

    assert rendered[0].blocks[0]["text"]["verbatim"] is True
    only_bot = render_message(message(lines=((Span("see https://x.test"),),)))
    assert "verbatim" not in only_bot[0].blocks[0]["text"]


def test_command_name_renamed_in_bot_text() -> None:
    source = message(
        title=(Span("/smarter help"),),
        lines=((Span("Run /smarter task list, not /smarterx. "), Span("/smarter typed", user=True)),),
        fields=(Field("Next: /smarter me", (Span("/smarter ranking"),)),),
        actions=(Action("Join", "/smarter join T1"),),
    )

    rendered = render_message(source, command_name="/smarter-dev")

    blocks = rendered[0].blocks
    assert blocks[0]["text"]["text"] == "/smarter-dev help"
    assert blocks[1]["text"]["text"] == "Run /smarter-dev task list, not /smarterx. /smarter typed"
    assert blocks[2]["fields"][0]["text"] == "*Next: /smarter-dev me*\n/smarter-dev ranking"
    assert blocks[3]["elements"][0]["value"] == "/smarter join T1"


@pytest.mark.parametrize("name", LARGE_MESSAGES)
def test_large_message_valid(name: str) -> None:
    rendered = render_message(LARGE_MESSAGES[name])

    assert_valid(rendered)


@pytest.mark.parametrize("name", LARGE_MESSAGES)
def test_large_message_keeps_content(name: str) -> None:
    source = LARGE_MESSAGES[name]

    rendered = render_message(source)

    output = "".join(content_strings(all_blocks(rendered)))
    assert "*" not in expected_content(source)
    assert without_layout(output) == without_layout(expected_content(source))


@pytest.mark.parametrize("name", LARGE_MESSAGES)
def test_large_message_keeps_actions(name: str) -> None:
    source = LARGE_MESSAGES[name]

    rendered = render_message(source)

    assert [button["value"] for button in buttons(rendered)] == [action.command for action in source.actions]
    assert [button["text"]["text"] for button in buttons(rendered)] == [action.label for action in source.actions]


def test_ranking_packs_lines_into_sections() -> None:
    rendered = render_message(LARGE_MESSAGES["ranking"])

    sections = [block for block in rendered[0].blocks if block["type"] == "section"]
    assert len(rendered) == 1
    assert 2 <= len(sections) <= 6
    assert sections[0]["text"]["text"].startswith("1位 ")
    assert all(len(section["text"]["text"]) > 1500 for section in sections[:-1])


def test_long_line_splits_at_spaces() -> None:
    rendered = render_message(LARGE_MESSAGES["description"])

    sections = [block["text"]["text"] for block in rendered[0].blocks if block["type"] == "section"]
    assert len(sections) >= 4
    assert all(text.endswith(" ") for text in sections[:-1])


def test_long_line_prefers_newline() -> None:
    text = "a " * 1000 + "\n" + "b " * 1500

    rendered = render_message(message(lines=((Span(text, user=True),),)))

    sections = [block["text"]["text"] for block in all_blocks(rendered)]
    assert sections[0] == "a " * 1000 + "\n"
    assert "".join(sections) == text


def test_long_line_hard_cut_keeps_entities() -> None:
    text = "&<>あ" * 3000
    rendered = render_message(message(lines=((Span(text, user=True),),)))

    assert_valid(rendered)
    sections = [block["text"]["text"] for block in all_blocks(rendered)]
    assert len(sections) >= 6
    assert "".join(sections) == escape_mrkdwn(text)


def test_long_title_becomes_bold_section() -> None:
    title = "題名 & <b> " * 40
    rendered = render_message(message(title=(Span(title, user=True),), error=True))

    first = rendered[0].blocks[0]
    assert first["type"] == "section"
    assert first["text"]["text"] == "⚠️ *" + escape_mrkdwn(title.strip()) + "*"
    assert rendered[0].text == "⚠️ " + escape_mrkdwn(title.strip())


def test_title_with_warning_fits_header() -> None:
    rendered = render_message(message(title=(Span("x" * 147),), error=True))

    assert rendered[0].blocks[0]["type"] == "header"
    assert rendered[0].blocks[0]["text"]["text"] == "⚠️ " + "x" * 147


def test_title_over_header_limit_with_warning() -> None:
    rendered = render_message(message(title=(Span("x" * 148),), error=True))

    assert rendered[0].blocks[0]["type"] == "section"


def test_error_without_title_prefixes_line() -> None:
    rendered = render_message(message(lines=((Span("T9 was not found."),),), error=True))

    assert rendered[0].blocks[0]["text"]["text"] == "⚠️ T9 was not found."
    assert rendered[0].text == "⚠️ T9 was not found."


def test_fields_ten_per_section() -> None:
    rendered = render_message(LARGE_MESSAGES["fields"])

    sections = rendered[0].blocks
    assert [len(section["fields"]) for section in sections] == [10, 10, 10]
    assert sections[1]["fields"][0]["text"] == "*項目10*\n値 10 &amp; &lt;10&gt;"
    assert sections[1]["fields"][0]["verbatim"] is True


def test_long_field_gets_own_section() -> None:
    fields = (
        Field("短い", (Span("a"),)),
        Field("長い", (Span("b" * 2500),)),
        Field("後", (Span("c"),)),
    )

    blocks = render_message(message(fields=fields))[0].blocks

    assert [block["fields"][0]["text"] for block in (blocks[0], blocks[2])] == ["*短い*\na", "*後*\nc"]
    assert blocks[1]["text"]["text"] == "*長い*\n" + "b" * 2500
    assert "fields" not in blocks[1]


def test_field_fallback_text() -> None:
    rendered = render_message(message(fields=(Field("締切", (Span("5月31日"),)), Field("", (Span("値だけ"),)))))

    assert rendered[0].text == "締切: 5月31日\n値だけ"


def test_blank_field_skipped() -> None:
    rendered = render_message(message(fields=(Field(" ", (Span(""),)), Field("a", (Span("b"),)))))

    assert rendered[0].blocks[0]["fields"] == [{"type": "mrkdwn", "text": "*a*\nb"}]


def test_buttons_ids_and_values() -> None:
    source = LARGE_MESSAGES["actions"]

    rendered = render_message(source)

    actions = [block for block in rendered[0].blocks if block["type"] == "actions"]
    assert [len(block["elements"]) for block in actions] == [25, 15]
    ids = [button["action_id"] for button in buttons(rendered)]
    assert ids == [f"{ACTION_PREFIX}.{index}" for index in range(40)]
    assert len(set(ids)) == 40


@pytest.mark.parametrize(
    ("style", "expected"),
    [("primary", "primary"), ("danger", "danger"), ("secondary", None), ("PRIMARY", None), (None, None)],
)
def test_button_style(style: str | None, expected: str | None) -> None:
    rendered = render_message(message(actions=(Action("OK", "/smarter ok", style),)))

    assert buttons(rendered)[0].get("style") == expected


def test_button_label_truncated() -> None:
    rendered = render_message(message(actions=(Action("参" * 100, "/smarter join T1"),)))

    label = buttons(rendered)[0]["text"]["text"]
    assert label == "参" * 74 + "…"


def test_button_value_kept_exactly() -> None:
    command = '/smarter submit T3 text="a & <b>" '

    rendered = render_message(message(actions=(Action("Submit", command),)))

    assert buttons(rendered)[0]["value"] == command


def test_long_command_dropped(caplog: pytest.LogCaptureFixture) -> None:
    actions = (Action("A", "/smarter a"), Action("Long", "/smarter " + "x" * 1992), Action("C", "/smarter c"))

    with caplog.at_level(logging.WARNING, logger="adapters.slack.blocks"):
        rendered = render_message(message(actions=actions))

    assert_valid(rendered)
    assert [button["action_id"] for button in buttons(rendered)] == [f"{ACTION_PREFIX}.0", f"{ACTION_PREFIX}.2"]
    assert "Dropped button 1 (Long) because" in caplog.text


def test_command_at_value_limit_kept() -> None:
    command = "/smarter " + "x" * 1991

    rendered = render_message(message(actions=(Action("Max", command),)))

    assert buttons(rendered)[0]["value"] == command


def test_many_blocks_split_into_messages() -> None:
    lines = tuple((Span(f"{index:03d} " + "文" * 2500),) for index in range(120))
    actions = (Action("Next", "/smarter next"), Action("Back", "/smarter back"))
    source = message(title=(Span("長文"),), lines=lines, actions=actions)

    rendered = render_message(source)

    assert_valid(rendered)
    assert [len(slack_message.blocks) for slack_message in rendered] == [50, 50, 22]
    headers = [[block["type"] == "header" for block in m.blocks] for m in rendered]
    assert [any(flags) for flags in headers] == [True, False, False]
    assert rendered[0].blocks[0]["type"] == "header"
    action_blocks = [[block["type"] == "actions" for block in m.blocks] for m in rendered]
    assert [any(flags) for flags in action_blocks] == [False, False, True]
    assert rendered[-1].blocks[-1]["type"] == "actions"


def test_split_messages_have_own_fallback() -> None:
    lines = tuple((Span(f"{index:03d} " + "文" * 2500),) for index in range(120))

    rendered = render_message(message(lines=lines))

    assert [m.text[:4] for m in rendered] == ["000 ", "050 ", "100 "]
    assert all(m.text.endswith("…") for m in rendered)
    assert all(len(m.text) == 3000 for m in rendered)


def test_actions_move_to_new_message_when_full() -> None:
    lines = tuple((Span("文" * 2500),) for _ in range(50))
    source = message(lines=lines, actions=(Action("Next", "/smarter next"),))

    rendered = render_message(source)

    assert [len(m.blocks) for m in rendered] == [50, 1]
    assert rendered[1].blocks[0]["type"] == "actions"
    assert rendered[1].text == "Next"


def test_fallback_truncation_keeps_entities() -> None:
    rendered = render_message(message(lines=((Span("&" * 2000, user=True),),)))

    text = rendered[0].text
    assert text.endswith("…")
    assert len(text) <= 3000
    assert ESCAPED.fullmatch(text[:-1])


def test_title_only() -> None:
    rendered = render_message(message(title=(Span("R&D 月報"),)))

    assert_valid(rendered)
    assert len(rendered) == 1
    assert [block["type"] for block in rendered[0].blocks] == ["header"]
    assert rendered[0].text == "R&amp;D 月報"


def test_empty_message() -> None:
    rendered = render_message(message())

    assert_valid(rendered)
    assert len(rendered) == 1
    assert rendered[0].text == "…"


def test_blank_title_and_lines_as_empty() -> None:
    rendered = render_message(message(title=(Span("  "),), lines=((), (Span(" "),))))

    assert_valid(rendered)
    assert rendered[0].text == "…"


def test_actions_only() -> None:
    rendered = render_message(message(actions=(Action("参加", "/smarter join T1"), Action("A&B", "/smarter b"))))

    assert_valid(rendered)
    assert [block["type"] for block in rendered[0].blocks] == ["actions"]
    assert rendered[0].text == "参加 · A&amp;B"


def test_render_blocks_modal_limit() -> None:
    lines = tuple((Span("文" * 2500),) for _ in range(150))

    pages = render_blocks(message(lines=lines), max_blocks=100)

    assert [len(page) for page in pages] == [100, 50]


def test_render_blocks_matches_message() -> None:
    source = LARGE_MESSAGES["everything"]

    assert render_blocks(source) == [m.blocks for m in render_message(source)]


def test_render_blocks_rejects_zero() -> None:
    with pytest.raises(ValueError, match="max_blocks must be at least 1"):
        render_blocks(message(), max_blocks=0)
