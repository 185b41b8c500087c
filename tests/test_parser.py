"""The command grammar: tokenizing, parsing, help, and the handler table (core.commands)."""

from __future__ import annotations

import pytest

from core.commands.dispatch import HANDLERS, CommandRunner
from core.commands.grammar import COMMANDS
from core.commands.parser import parse, tokenize
from core.domain.errors import UserError
from core.presentation.i18n import Localizer
from core.presentation.messages import plain
from core.services.context import ServiceContext
from tests.conftest import actor

# Commands that CommandRunner.run handles itself instead of through HANDLERS.
SPECIAL_COMMANDS = {"help", "lang", "rubric"}

DEADLINE = "deadline=2026/12/31"


def texts(line: str) -> list[str]:
    return [token.text for token in tokenize(line)]


def test_tokenize_splits_on_spaces() -> None:
    assert texts("task  show\tT1") == ["task", "show", "T1"]


def test_tokenize_splits_on_ideographic_space() -> None:
    assert texts("task\u3000show\u3000T1") == ["task", "show", "T1"]


def test_tokenize_keeps_double_quoted_text() -> None:
    assert texts('title="市場 調査"') == ["title=市場 調査"]


def test_tokenize_keeps_curly_quoted_text() -> None:
    assert texts("title=“市場\u3000調査” x") == ["title=市場\u3000調査", "x"]


def test_tokenize_marks_quoted_token() -> None:
    token = tokenize('"a b"')[0]

    assert token.quoted
    assert token.text == "a b"


def test_tokenize_records_token_offsets() -> None:
    assert [token.start for token in tokenize("post T1  idea")] == [0, 5, 9]


def test_tokenize_apostrophe_inside_word() -> None:
    assert texts("it's fine") == ["it's", "fine"]


def test_tokenize_unclosed_quote_rejected() -> None:
    with pytest.raises(UserError) as raised:
        tokenize('title="市場調査')

    assert "not closed" in raised.value.key
    assert raised.value.values["value"] == '"市場調査'


def test_parse_without_prefix() -> None:
    assert parse("task show T1").spec.name == "task show"


def test_parse_with_prefix() -> None:
    assert parse("/smarter task show T1").arguments == {"task": "T1"}


def test_parse_fullwidth_prefix() -> None:
    assert parse("／ｓｍａｒｔｅｒ task show T1").spec.name == "task show"


def test_parse_empty_line_is_help() -> None:
    assert parse("/smarter").spec.name == "help"


def test_parse_longest_command_match() -> None:
    parsed = parse(f"task new practice title=x {DEADLINE} types=research")

    assert parsed.spec.name == "task new"
    assert parsed.arguments == {"menu": "practice"}


def test_parse_command_words_case_insensitive() -> None:
    assert parse("TASK SHOW T1").spec.name == "task show"


def test_parse_unknown_command_rejected() -> None:
    with pytest.raises(UserError) as raised:
        parse("tsak show T1")

    assert raised.value.values["value"] == "tsak"


def test_parse_incomplete_command_rejected() -> None:
    # "task" alone is only the first word of several commands.
    with pytest.raises(UserError) as raised:
        parse("task")

    assert "needs one more word" in raised.value.key
    assert "task new" in raised.value.values["choices"]


def test_parse_unknown_word_rejected() -> None:
    with pytest.raises(UserError) as raised:
        parse("dance")

    assert "not a command" in raised.value.key


def test_parse_rest_argument_drops_enclosing_quotes() -> None:
    parsed = parse('task deadline T1 "2026/12/20 18:00"')

    assert parsed.arguments["deadline"] == "2026/12/20 18:00"


def test_parse_option_with_equals() -> None:
    assert parse(f"task new practice title=市場調査 {DEADLINE}").options["title"] == "市場調査"


def test_parse_option_with_fullwidth_equals() -> None:
    assert parse(f"task new practice title＝市場調査 {DEADLINE}").options["title"] == "市場調査"


def test_parse_option_key_normalised() -> None:
    assert parse(f"task new practice ＴＩＴＬＥ=x {DEADLINE}").options["title"] == "x"


def test_parse_option_value_keeps_equals() -> None:
    assert parse(f"task new practice title=a=b {DEADLINE}").options["title"] == "a=b"


def test_parse_quoted_argument_is_not_option() -> None:
    parsed = parse('help "a=b"')

    assert parsed.options == {}
    assert parsed.arguments == {"command": "a=b"}


@pytest.mark.parametrize("separator", [",", "、", "，"])
def test_parse_list_option_separators(separator: str) -> None:
    parsed = parse(f"task new practice title=x {DEADLINE} types=research{separator}analysis")

    assert parsed.options["types"] == ("research", "analysis")


def test_parse_list_option_drops_empty_items() -> None:
    parsed = parse(f"task new practice title=x {DEADLINE} types=research,,analysis,")

    assert parsed.options["types"] == ("research", "analysis")


def test_parse_int_option() -> None:
    assert parse(f"task new practice title=x {DEADLINE} capacity=5").options["capacity"] == 5


def test_parse_int_option_fullwidth_digits() -> None:
    assert parse(f"task new practice title=x {DEADLINE} capacity=１２").options["capacity"] == 12


@pytest.mark.parametrize("value", ["five", "1.5", "3人", ""])
def test_parse_int_option_rejects_non_numbers(value: str) -> None:
    with pytest.raises(UserError) as raised:
        parse(f"task new practice title=x {DEADLINE} capacity={value}")

    assert raised.value.values["option"] == "capacity"
    assert raised.value.values["value"] == value


def test_parse_unknown_option_lists_allowed() -> None:
    with pytest.raises(UserError) as raised:
        parse("join T1 colour=red")

    assert raised.value.values["option"] == "colour"
    assert raised.value.values["command"] == "join"
    assert raised.value.values["allowed"] == "-"


def test_parse_unknown_option_lists_options() -> None:
    with pytest.raises(UserError) as raised:
        parse("submit T1 body=x")

    assert raised.value.values["allowed"] == "text=, links=, files="


def test_parse_duplicate_option_rejected() -> None:
    with pytest.raises(UserError) as raised:
        parse(f"task new practice title=a title=b {DEADLINE}")

    assert raised.value.values["option"] == "title"
    assert "twice" in raised.value.key


def test_parse_missing_argument_shows_usage() -> None:
    with pytest.raises(UserError) as raised:
        parse("task show")

    assert raised.value.values["missing"] == "<task>"
    assert raised.value.values["help"] == "task id, like T12"
    assert raised.value.values["usage"] == "/smarter task show <task>"


def test_parse_missing_required_option_shows_usage() -> None:
    with pytest.raises(UserError) as raised:
        parse("task new practice title=x")

    assert raised.value.values["missing"] == "deadline="
    assert raised.value.values["usage"].startswith("/smarter task new <menu> title=... deadline=...")


def test_parse_unexpected_argument_rejected() -> None:
    with pytest.raises(UserError) as raised:
        parse("join T1 T2")

    assert raised.value.values["value"] == "T2"
    assert raised.value.values["usage"] == "/smarter join <task>"


def test_parse_post_keeps_text_as_typed() -> None:
    parsed = parse('/smarter post T1  価格=500円 で  "試す" it\'s worth it')

    assert parsed.arguments["text"] == '価格=500円 で  "試す" it\'s worth it'
    assert parsed.options == {}


def test_parse_post_text_with_option_syntax() -> None:
    assert parse("post T1 advice=x").arguments["text"] == "advice=x"


def test_parse_help_topic_is_rest_of_line() -> None:
    assert parse("help task new").arguments["command"] == "task new"


def test_parse_evaluate_criterion_keys() -> None:
    parsed = parse("evaluate T1 M2 logic=3 Evidence=2 advice=good")

    assert parsed.extra == {"logic": "3", "evidence": "2"}
    assert parsed.options == {"advice": "good"}


def test_parse_evaluate_japanese_criterion_names() -> None:
    parsed = parse("evaluate T1 M2 論理性=3 根拠・データ＝２ advice=x")

    assert parsed.extra == {"論理性": "3", "根拠・データ": "２"}


def test_parse_evaluate_remark_keys() -> None:
    parsed = parse('evaluate T1 M2 logic=3 remark.logic="筋は通っている" advice=x')

    assert parsed.extra["remark.logic"] == "筋は通っている"


def test_parse_evaluate_duplicate_criterion_rejected() -> None:
    with pytest.raises(UserError) as raised:
        parse("evaluate T1 M2 logic=3 logic=4 advice=x")

    assert raised.value.values["option"] == "logic"


def test_help_topic_describes_command(ctx: ServiceContext) -> None:
    message = CommandRunner(ctx).help(Localizer("en"), "task new")

    assert message.title is not None
    assert plain(message.title).startswith("/smarter task new <menu>")
    assert "title=" in [field.label for field in message.fields]


def test_help_topic_marks_required_options(ctx: ServiceContext) -> None:
    message = CommandRunner(ctx).help(Localizer("en"), "task new")
    values = {field.label: plain(field.value) for field in message.fields}

    assert "(required)" in values["deadline="]
    assert "(required)" not in values["capacity="]


def test_help_topic_unknown_rejected(ctx: ServiceContext) -> None:
    with pytest.raises(UserError) as raised:
        CommandRunner(ctx).help(Localizer("en"), "frobnicate")

    assert raised.value.values["value"] == "frobnicate"


def test_help_unknown_topic_through_run(ctx: ServiceContext) -> None:
    messages = CommandRunner(ctx).run(actor("guest", "en"), "/smarter help frobnicate")

    assert messages[0].error
    assert "frobnicate" in messages[0].text()


def test_help_lists_every_command(ctx: ServiceContext) -> None:
    message = CommandRunner(ctx).help(Localizer("en"), None)
    text = message.text()

    for spec in COMMANDS:
        assert f"/smarter {spec.usage()}" in text


def test_every_command_has_handler() -> None:
    names = {spec.name for spec in COMMANDS}

    assert names - SPECIAL_COMMANDS - set(HANDLERS) == set()


def test_every_handler_has_command() -> None:
    names = {spec.name for spec in COMMANDS}

    assert set(HANDLERS) - names == set()
