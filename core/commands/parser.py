"""Parse one line of the command grammar (``/smarter task new practice title="..."``) into a command."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, NoReturn

from core.commands.grammar import COMMANDS, CommandSpec
from core.domain.errors import N_, Term, UserError
from core.domain.text import UserText, normalize

__all__ = ["ParsedCommand", "Token", "build", "find_spec", "parse", "tokenize"]

QUOTES = {'"': '"', "'": "'", "“": "”", "”": "”"}
SPACES = " \t\u3000"
# "・" (U+30FB) joins words in Japanese criterion names such as 根拠・データ, and is not a \w character.
OPTION_KEY = re.compile(r"[^\W\d][\w.\-・]*")


@dataclass(frozen=True, slots=True)
class Token:
    text: str
    start: int  # offset of the token in the line, to take "the rest of the line" as typed
    quoted: bool


@dataclass(slots=True)
class ParsedCommand:
    spec: CommandSpec
    arguments: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, str] = field(default_factory=dict)


def tokenize(line: str) -> list[Token]:
    """Split on spaces (U+3000 included) and keep quoted parts ("...", '...', “...”) together.

    A quotation mark opens a quoted part only at the start of a token or right after ``=`` / ``＝``.
    Elsewhere it is an ordinary character, so an apostrophe as in ``it's`` needs no closing mark.
    """
    tokens: list[Token] = []
    index, length = 0, len(line)
    while index < length:
        if line[index] in SPACES:
            index += 1
            continue
        start, parts, quoted = index, [], False
        while index < length and line[index] not in SPACES:
            char = line[index]
            if char in QUOTES and (index == start or line[index - 1] in "=＝"):
                closing = line.find(QUOTES[char], index + 1)
                if closing < 0:
                    raise UserError(
                        N_("A quotation mark is not closed: {value}. Close it or remove it."),
                        value=UserText(line[index:]),
                    )
                parts.append(line[index + 1 : closing])
                index, quoted = closing + 1, True
            else:
                parts.append(char)
                index += 1
        tokens.append(Token("".join(parts), start, quoted))
    return tokens


def find_spec(words: list[str]) -> tuple[CommandSpec | None, int]:
    """Return the command whose words start ``words`` (the longest match) and how many words it used."""
    lowered = [normalize(word).lower() for word in words]
    best: tuple[CommandSpec | None, int] = (None, 0)
    for spec in COMMANDS:
        size = len(spec.words)
        if tuple(lowered[:size]) == spec.words and size > best[1]:
            best = (spec, size)
    return best


def _convert(spec: CommandSpec, name: str, raw: str) -> Any:
    option = next(o for o in spec.options if o.name == name)
    if option.kind == "int":
        value = normalize(raw)
        if not re.fullmatch(r"-?\d{1,18}", value):
            raise UserError(
                N_("{option}= needs a whole number; you gave {value}."), option=UserText(name), value=UserText(raw)
            )
        return int(value)
    if option.kind == "list":
        return tuple(part.strip() for part in re.split(r"[,、，]", raw) if part.strip())
    return raw


def parse(line: str, *, command_names: tuple[str, ...] = ("/smarter",)) -> ParsedCommand:
    """Parse a command line; the leading command name (``/smarter``) is optional."""
    tokens = tokenize(line)
    if tokens and normalize(tokens[0].text).lower() in command_names:
        tokens = tokens[1:]
    if not tokens:
        tokens = [Token("help", 0, False)]

    spec, used = find_spec([token.text for token in tokens])
    if spec is None:
        _raise_unknown(tokens)

    parsed = ParsedCommand(spec)
    arguments = list(spec.arguments)
    for token in tokens[used:]:
        if arguments and arguments[0].rest:
            parsed.arguments[arguments[0].name] = _rest_of_line(line, token, tokens[-1])
            break
        option = _split_option(line, token)
        if option is not None:
            _add_option(parsed, *option)
        elif arguments:
            parsed.arguments[arguments.pop(0).name] = token.text
        else:
            raise UserError(
                N_('{value} was not expected here. A value with spaces needs quotes, like title="...". Usage: {usage}'),
                value=UserText(token.text),
                usage=f"/smarter {spec.usage()}",
            )

    _check_complete(parsed)
    return parsed


def build(name: str, arguments: dict[str, str], options: dict[str, str]) -> ParsedCommand:
    """Build the command ``name`` from form fields as if it had been typed, with the same checks as ``parse``.

    Forms (Slack modals, Discord modals) use this, so a value never has to be quoted into a command line.
    Empty values count as not given.
    """
    spec = next((candidate for candidate in COMMANDS if candidate.name == name), None)
    if spec is None:
        raise ValueError(f"no command named {name!r}")
    parsed = ParsedCommand(spec)
    known = {argument.name for argument in spec.arguments}
    for key, value in arguments.items():
        if key not in known:
            raise ValueError(f"{name} has no argument {key!r}")
        if value.strip():
            parsed.arguments[key] = value
    for key, value in options.items():
        if value.strip():
            _add_option(parsed, normalize(key).lower(), value)
    _check_complete(parsed)
    return parsed


def _rest_of_line(line: str, first: Token, last: Token) -> str:
    """Return the line from ``first`` on as typed, without the quotes when it is one quoted value."""
    if first is last and first.quoted and line[first.start] in QUOTES:
        return first.text
    return line[first.start :].strip()


def _raise_unknown(tokens: list[Token]) -> NoReturn:
    """Raise for words that name no command, listing the commands when they start a command group."""
    first = normalize(tokens[0].text).lower()
    group = [spec.name for spec in COMMANDS if len(spec.words) > 1 and spec.words[0] == first]
    if group:
        raise UserError(
            N_("{value} needs one more word: {choices}. /smarter help {value} explains them."),
            value=UserText(tokens[0].text),
            choices=", ".join(group),
        )
    raise UserError(N_("{value} is not a command. /smarter help lists the commands."), value=UserText(tokens[0].text))


def _check_complete(parsed: ParsedCommand) -> None:
    """Raise for the first required argument or option that is missing, with its help and the usage."""
    spec = parsed.spec
    missing = [(f"<{a.name}>", a.help) for a in spec.arguments if not a.optional and a.name not in parsed.arguments]
    missing += [(f"{o.name}=", o.help) for o in spec.options if o.required and o.name not in parsed.options]
    if missing:
        name, help_text = missing[0]
        raise UserError(
            N_("{missing} is missing: {help}. Usage: {usage}"),
            missing=name,
            help=Term(help_text),
            usage=f"/smarter {spec.usage()}",
        )


def _split_option(line: str, token: Token) -> tuple[str, str] | None:
    """Return (key, value) if the token is ``key=value`` (``＝`` too) and does not start with a quote."""
    if line[token.start] in QUOTES:
        return None
    match = re.match(r"^([^=＝]+)[=＝](.*)$", token.text, re.DOTALL)
    if match is None:
        return None
    key = normalize(match.group(1)).lower()
    if not OPTION_KEY.fullmatch(key):
        return None
    return key, match.group(2)


def _add_option(parsed: ParsedCommand, name: str, raw: str) -> None:
    spec = parsed.spec
    if name in parsed.options or name in parsed.extra:
        raise UserError(N_("{option}= is given twice. Give each option once."), option=UserText(name))
    if any(option.name == name for option in spec.options):
        parsed.options[name] = _convert(spec, name, raw)
    elif spec.free_options:
        parsed.extra[name] = raw
    else:
        allowed = ", ".join(f"{option.name}=" for option in spec.options) or "-"
        raise UserError(
            N_("{option}= is not an option of {command}. Options: {allowed}"),
            option=UserText(name),
            command=spec.name,
            allowed=allowed,
        )
