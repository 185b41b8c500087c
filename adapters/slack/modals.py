"""Slack modals for the commands with long values: build each form, and read a submission back as the command."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from slack_sdk.models.blocks import (
    Block,
    CheckboxesElement,
    ContextBlock,
    DatePickerElement,
    EmailInputElement,
    InputBlock,
    InputInteractiveElement,
    NumberInputElement,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    RadioButtonsElement,
    SectionBlock,
    StaticSelectElement,
    TimePickerElement,
)
from slack_sdk.models.views import View

from core.commands.grammar import COMMANDS, CommandSpec
from core.domain.enums import TaskMenu, WorkType
from core.domain.errors import N_, T_, Term, UserError
from core.domain.japan import PREFECTURES
from core.domain.rubric import Criterion, Rubric
from core.domain.text import UserText
from core.presentation.cards import menu_label
from core.presentation.i18n import Localizer
from core.services import brainstorms, evaluations, registration, submissions, tasks
from core.services.context import ServiceContext
from core.services.lookup import load_member, load_task, parse_task_id
from core.storage.models import Task

__all__ = [
    "CALLBACK_PREFIX",
    "FORM_COMMANDS",
    "FormSubmission",
    "field_errors",
    "form_values",
    "form_view",
    "loading_view",
]

FORM_COMMANDS: frozenset[str] = frozenset(
    {"register member", "register partner", "task new", "submit", "evaluate", "post"}
)
CALLBACK_PREFIX = "smarter.form."

# Every input element has this action_id, and the block_id names the field.
ACTION_ID = "value"
DEADLINE_DATE = "deadline_date"
DEADLINE_TIME = "deadline_time"
LEVEL_PREFIX = "level."
REMARK_PREFIX = "remark."
# Fields where a person may write one value per line. The parser's list options take commas instead.
LIST_FIELDS = frozenset({"links", "files"})
LIST_SEPARATORS = re.compile(r"[\n,、，]")

DEFAULT_DEADLINE_TIME = "18:00"
JAPAN_TIME_ZONE = "Asia/Tokyo"

TITLE_MAX = View.title_max_length
BUTTON_TEXT_MAX = View.submit_max_length
BLOCKS_MAX = View.blocks_max_length
PRIVATE_METADATA_MAX = View.private_metadata_max_length
APP_METADATA_MAX = 2000
OPTION_TEXT_MAX = Option.label_max_length
OPTIONS_MAX = StaticSelectElement.options_max_length
PLACEHOLDER_MAX = InputInteractiveElement.placeholder_max_length
# Slack accepts max_length from 1 to 3000 on a plain_text_input (Block Kit reference, plain-text input element).
TEXT_INPUT_MAX = 3000
# NOTE: Slack documents 3000 characters for a section's text, and context text is assumed to allow the same.
CONTEXT_TEXT_MAX = SectionBlock.text_max_length
ERROR_MAX = 2000
ELLIPSIS = "…"


@dataclass(frozen=True, slots=True)
class FormSubmission:
    """A submitted form as the command it stands for, ready for ``CommandRunner.run_form``."""

    command: str
    arguments: dict[str, str]
    options: dict[str, str]  # option name -> text as it would be typed; list options comma-joined
    metadata: str  # the app's own string, as given to form_view


FormBuilder = Callable[[ServiceContext, Localizer, dict[str, str]], list[Block]]


def loading_view(loc: Localizer) -> dict[str, Any]:
    """Return a modal with a loading message, to open within the 3 seconds a Slack trigger_id stays valid."""
    view = View(
        type="modal",
        title=_clip(loc(N_("Loading")), TITLE_MAX),
        close=_clip(loc(N_("Cancel")), BUTTON_TEXT_MAX),
        blocks=[SectionBlock(text=PlainTextObject(text=loc(N_("Loading the form…"))))],
    )
    return view.to_dict()


def form_view(
    ctx: ServiceContext, loc: Localizer, name: str, *, arguments: dict[str, str], metadata: str
) -> dict[str, Any]:
    """Build the modal for the command ``name``, one of FORM_COMMANDS.

    ``arguments`` are the command's arguments already known, such as the task of ``submit``. They travel
    with ``metadata`` in ``private_metadata`` and come back from form_values. Raises UserError when a known argument
    names nothing (an unknown task or member) or the form cannot be shown, and ValueError for a name
    outside FORM_COMMANDS or metadata longer than 2000 characters.
    """
    if name not in FORM_COMMANDS:
        raise ValueError(f"no form for the command {name!r}")
    if len(metadata) > APP_METADATA_MAX:
        raise ValueError(f"form metadata has {len(metadata)} characters, the maximum is {APP_METADATA_MAX}")
    title, form_arguments, build = FORMS[name]
    _check_arguments(_spec(name), arguments, form_arguments)

    blocks = build(ctx, loc, arguments)
    private_metadata = json.dumps(
        {"command": name, "arguments": arguments, "app": metadata}, ensure_ascii=False, separators=(",", ":")
    )
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError(
            f"private_metadata of the {name} form has {len(private_metadata)} characters, "
            f"the maximum is {PRIVATE_METADATA_MAX}"
        )
    view = View(
        type="modal",
        callback_id=CALLBACK_PREFIX + name.replace(" ", "_"),
        title=_clip(loc(title), TITLE_MAX),
        submit=_clip(loc(N_("Send")), BUTTON_TEXT_MAX),
        close=_clip(loc(N_("Cancel")), BUTTON_TEXT_MAX),
        blocks=blocks,
        private_metadata=private_metadata,
    )
    return view.to_dict()


def form_values(view: dict[str, Any]) -> FormSubmission:
    """Read a submitted form (the ``view`` of a view_submission payload) as its command's arguments and options.

    Raises ValueError when the view was not built by form_view.
    """
    try:
        stored = json.loads(view.get("private_metadata") or "null")
    except json.JSONDecodeError as error:
        raise ValueError("the view's private_metadata is not JSON, so it is not a form of this app") from error
    if not isinstance(stored, dict) or stored.get("command") not in FORM_COMMANDS:
        raise ValueError("the view's private_metadata names no form command")

    command = str(stored["command"])
    argument_names = {argument.name for argument in _spec(command).arguments}
    arguments = {str(key): str(value) for key, value in dict(stored.get("arguments") or {}).items()}
    options: dict[str, str] = {}
    for block_id, raw in _field_texts(view).items():
        name = block_id.removeprefix(LEVEL_PREFIX)
        if name in argument_names:
            arguments[name] = raw
        else:
            options[name] = raw
    return FormSubmission(command, arguments, options, str(stored.get("app") or ""))


def field_errors(view: dict[str, Any], message: str, option: str | None, error_key: str = "") -> dict[str, str]:
    """Return the ``errors`` of a view_submission response: ``message`` on the block of ``option``.

    Without ``option``, the field is guessed from the words of the error's English text ``error_key`` (a
    message about "capacity" goes under the capacity input). The message goes on the first input block when
    neither finds a block in the view, and the result is empty for a view without input blocks.
    """
    input_ids = [
        str(block["block_id"])
        for block in view.get("blocks") or ()
        if block.get("type") == "input" and "block_id" in block
    ]
    if not input_ids:
        return {}
    block = _error_block(input_ids, option) or _error_block(input_ids, _field_named_in(error_key, input_ids))
    return {block or input_ids[0]: _clip(message, ERROR_MAX)}


# Words of error messages that name a form field, per block id. The first field whose words appear wins, so
# the more specific entries come first ("minimum grade" before "eligibility").
FIELD_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("min_grade", ("min_grade", "grade")),
    ("types", ("types=", "work type")),
    ("capacity", ("capacity", "participants")),
    ("copyright", ("copyright",)),
    ("rubric", ("rubric",)),
    ("deadline", ("deadline",)),
    ("email", ("e-mail", "email")),
    ("nickname", ("nickname",)),
    ("company", ("company name",)),
    ("industry", ("industry",)),
    ("prefecture", ("prefecture",)),
    ("eligibility", ("eligibility",)),
    ("advice", ("advice",)),
    ("links", ("link",)),
    ("files", ("file",)),
    ("title", ("title",)),
    ("description", ("description",)),
)


def _field_named_in(error_key: str, input_ids: list[str]) -> str | None:
    text = error_key.casefold()
    present = {block_id.casefold() for block_id in input_ids} | ({"deadline"} if DEADLINE_DATE in input_ids else set())
    for field, words in FIELD_WORDS:
        if field in present and any(word in text for word in words):
            return field
    return None


# --- reading a submission


def _field_texts(view: dict[str, Any]) -> dict[str, str]:
    """Return each filled input of the view as text, keyed by block_id. The two deadline pickers become one deadline."""
    texts: dict[str, str] = {}
    for block_id, actions in ((view.get("state") or {}).get("values") or {}).items():
        state = (actions or {}).get(ACTION_ID)
        text = _state_text(state) if isinstance(state, dict) else None
        if text is None or not text.strip():
            continue
        if block_id in LIST_FIELDS:
            text = ",".join(part.strip() for part in LIST_SEPARATORS.split(text) if part.strip())
        texts[str(block_id)] = text

    date = texts.pop(DEADLINE_DATE, None)
    time = texts.pop(DEADLINE_TIME, None)
    if date is not None:
        # Slack sends YYYY-MM-DD and HH:mm. The service reads them in Japan time, as the time input's label states.
        texts["deadline"] = date.replace("-", "/") + (f" {time}" if time else "")
    return texts


def _state_text(state: dict[str, Any]) -> str | None:
    """Return the value of one input as Slack sends it in ``view.state.values``, or None if it is empty."""
    kind = state.get("type")
    if kind in ("static_select", "radio_buttons"):
        selected = state.get("selected_option")
        return str(selected["value"]) if selected else None
    if kind == "checkboxes":
        return ",".join(str(option["value"]) for option in state.get("selected_options") or ())
    if kind == "datepicker":
        return _optional_text(state.get("selected_date"))
    if kind == "timepicker":
        return _optional_text(state.get("selected_time"))
    # plain_text_input, email_text_input and number_input send their text as "value".
    return _optional_text(state.get("value"))


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _error_block(input_ids: list[str], option: str | None) -> str | None:
    if option is None:
        return None
    target = option.casefold()
    candidates = {target, LEVEL_PREFIX + target}
    if target == "deadline":
        candidates.add(DEADLINE_DATE)
    return next((block_id for block_id in input_ids if block_id.casefold() in candidates), None)


# --- arguments


def _spec(name: str) -> CommandSpec:
    return next(spec for spec in COMMANDS if spec.name == name)


def _check_arguments(spec: CommandSpec, arguments: dict[str, str], form_arguments: frozenset[str]) -> None:
    """Raise ValueError for an argument the command lacks, and UserError for a missing one that no input fills."""
    known = {argument.name for argument in spec.arguments}
    unknown = sorted(set(arguments) - known)
    if unknown:
        raise ValueError(f"{spec.name} has no argument {unknown[0]!r}")
    for argument in spec.arguments:
        value = arguments.get(argument.name, "").strip()
        if not argument.optional and not value and argument.name not in form_arguments:
            raise UserError(
                N_("{missing} is missing: {help}. Usage: {usage}"),
                missing=f"<{argument.name}>",
                help=Term(argument.help),
                usage=f"/smarter {spec.usage()}",
            )


# --- block builders


def _clip(text: str, maximum: int) -> str:
    """Return ``text`` cut to ``maximum`` characters, ending in "…" when it was cut."""
    if len(text) <= maximum:
        return text
    return text[: maximum - len(ELLIPSIS)].rstrip() + ELLIPSIS


def _sentence(text: str) -> str:
    """Capitalize a help text of the command table (written in lower case) for use as a hint."""
    return text[:1].upper() + text[1:]


def _input(
    block_id: str,
    label: str,
    element: InputInteractiveElement,
    *,
    hint: str | None = None,
    optional: bool = False,
) -> InputBlock:
    return InputBlock(
        block_id=block_id,
        label=_clip(label, InputBlock.label_max_length),
        element=element,
        hint=_clip(hint, InputBlock.hint_max_length) if hint else None,
        optional=optional or None,
    )


def _text_input(maximum: int, *, multiline: bool = False, placeholder: str | None = None) -> PlainTextInputElement:
    return PlainTextInputElement(
        action_id=ACTION_ID,
        max_length=min(maximum, TEXT_INPUT_MAX),
        multiline=multiline or None,
        placeholder=_clip(placeholder, PLACEHOLDER_MAX) if placeholder else None,
    )


def _option(text: str, value: str) -> Option:
    return Option(text=PlainTextObject(text=_clip(text, OPTION_TEXT_MAX)), value=value)


def _select(loc: Localizer, options: Sequence[Option], initial: Option | None = None) -> StaticSelectElement:
    return StaticSelectElement(
        action_id=ACTION_ID,
        placeholder=_clip(loc(N_("Choose one")), PLACEHOLDER_MAX),
        options=list(options),
        initial_option=initial,
    )


def _context(*texts: str) -> ContextBlock:
    return ContextBlock(elements=[PlainTextObject(text=_clip(text, CONTEXT_TEXT_MAX)) for text in texts])


# --- forms


def _member_form(ctx: ServiceContext, loc: Localizer, arguments: dict[str, str]) -> list[Block]:
    return [
        _input(
            "nickname",
            loc(N_("Nickname")),
            _text_input(registration.NICKNAME_MAX),
            hint=_sentence(loc(N_("the name shown in rankings, up to 30 characters"))),
        ),
        _email_input(loc, loc(N_("e-mail address for participation requests (optional)"))),
    ]


def _email_input(loc: Localizer, hint: str) -> InputBlock:
    return _input(
        "email", loc(N_("E-mail")), EmailInputElement(action_id=ACTION_ID), hint=_sentence(hint), optional=True
    )


def _partner_form(ctx: ServiceContext, loc: Localizer, arguments: dict[str, str]) -> list[Block]:
    company = _option(loc(N_("Company name")), "company")
    anonymous = _option(loc(N_("Industry + prefecture (anonymous)")), "anonymous")
    prefectures = [_option(prefecture, prefecture) for prefecture in PREFECTURES]
    return [
        _input(
            "company",
            loc(N_("Company name")),
            _text_input(registration.COMPANY_MAX),
            hint=_sentence(loc(N_("company name, up to 100 characters"))),
        ),
        _input(
            "display",
            loc(N_("Shown to members as")),
            RadioButtonsElement(action_id=ACTION_ID, options=[company, anonymous], initial_option=company),
            hint=loc(N_("To be shown as industry + prefecture, fill in both fields below.")),
        ),
        _input(
            "industry",
            loc(N_("Industry")),
            _text_input(TEXT_INPUT_MAX),
            hint=_sentence(loc(N_("industry group (JSIC major group, like 製造業 or its letter E)"))),
            optional=True,
        ),
        _input(
            "prefecture",
            loc(N_("Prefecture")),
            _select(loc, prefectures),
            hint=_sentence(loc(N_("prefecture of the head office, like 東京都"))),
            optional=True,
        ),
        _email_input(loc, loc(N_("contact e-mail address (optional)"))),
    ]


def _task_form(ctx: ServiceContext, loc: Localizer, arguments: dict[str, str]) -> list[Block]:
    menu_text = arguments.get("menu", "").strip()
    chosen = tasks.parse_menu(menu_text) if menu_text else None
    menus = {menu: _option(menu_label(loc, menu), str(menu)) for menu in TaskMenu}
    # NOTE: a plain_text_input takes at most 3000 characters, so the form allows less than the 4000 of description=.
    return [
        _input("menu", loc(N_("Menu")), _select(loc, list(menus.values()), menus.get(chosen) if chosen else None)),
        _input(
            "title",
            loc(N_("Title")),
            _text_input(tasks.TITLE_MAX),
            hint=_sentence(loc(N_("title, up to 100 characters"))),
        ),
        _input(
            "description",
            loc(N_("Description")),
            _text_input(tasks.DESCRIPTION_MAX, multiline=True),
            hint=loc(
                N_("What you ask members to do, up to {maximum} characters."),
                maximum=min(tasks.DESCRIPTION_MAX, TEXT_INPUT_MAX),
            ),
            optional=True,
        ),
        _input(
            "types",
            loc(N_("Work types")),
            CheckboxesElement(
                action_id=ACTION_ID, options=[_option(loc.gettext(T_(str(kind))), str(kind)) for kind in WorkType]
            ),
            hint=loc(N_("Practical work (おシゴト実践) only: choose at least one.")),
            optional=True,
        ),
        _input(DEADLINE_DATE, loc(N_("Deadline date")), DatePickerElement(action_id=ACTION_ID)),
        _input(
            DEADLINE_TIME,
            loc(N_("Deadline time (Japan time)")),
            TimePickerElement(action_id=ACTION_ID, initial_time=DEFAULT_DEADLINE_TIME, timezone=JAPAN_TIME_ZONE),
        ),
        *_eligibility_blocks(ctx, loc),
        _input(
            "capacity",
            loc(N_("Maximum participants")),
            NumberInputElement(
                action_id=ACTION_ID, is_decimal_allowed=False, min_value=1, max_value=tasks.CAPACITY_MAX
            ),
            hint=_sentence(loc(N_("maximum number of participants (no limit if omitted)"))),
            optional=True,
        ),
        _input(
            "copyright",
            loc(N_("Copyright of entries")),
            _text_input(tasks.COPYRIGHT_MAX, multiline=True),
            hint=_sentence(loc(N_("contests only: who holds the copyright of entries"))),
            optional=True,
        ),
        *_rubric_blocks(ctx, loc),
    ]


def _eligibility_blocks(ctx: ServiceContext, loc: Localizer) -> list[Block]:
    everyone = _option(loc(N_("All members")), "all")
    paid = _option(loc(N_("Paid members only")), "paid")
    graded = _option(loc(N_("Paid members of a minimum grade")), "grade")
    low, high = ctx.policy.min_grade, ctx.policy.max_grade
    return [
        _input(
            "eligibility",
            loc(N_("Eligibility")),
            RadioButtonsElement(action_id=ACTION_ID, options=[everyone, paid, graded], initial_option=everyone),
        ),
        _input(
            "min_grade",
            loc(N_("Minimum grade")),
            NumberInputElement(action_id=ACTION_ID, is_decimal_allowed=False, min_value=low, max_value=high),
            hint=loc(
                N_("Needed only for paid members of a minimum grade: a grade from {low} to {high}."), low=low, high=high
            ),
            optional=True,
        ),
    ]


def _rubric_blocks(ctx: ServiceContext, loc: Localizer) -> list[Block]:
    if not ctx.rubrics:
        return []
    rubrics = sorted(ctx.rubrics.items())[:OPTIONS_MAX]
    options = [_option(f"{rubric.name(loc.locale)} ({key})", key) for key, rubric in rubrics]
    initial = next((option for option in options if option.value == ctx.policy.default_rubric), None)
    return [
        _input(
            "rubric",
            loc(N_("Rubric")),
            _select(loc, options, initial),
            hint=_sentence(loc(N_("rubric to evaluate with (the default rubric if omitted)"))),
            optional=True,
        )
    ]


@dataclass(frozen=True, slots=True)
class _TaskSummary:
    id: int
    title: str
    menu: TaskMenu
    copyright: str | None
    rubric_key: str


def _summary(task: Task) -> _TaskSummary:
    return _TaskSummary(task.id, task.title, TaskMenu(task.menu), task.copyright, task.rubric_key)


def _load_summary(ctx: ServiceContext, reference: str) -> _TaskSummary:
    task_id = parse_task_id(reference)
    with ctx.transaction() as session:
        return _summary(load_task(session, task_id))


def _task_line(loc: Localizer, task: _TaskSummary) -> str:
    return loc(N_("Task: T{task_id} {title}"), task_id=task.id, title=UserText(task.title))


def _submit_form(ctx: ServiceContext, loc: Localizer, arguments: dict[str, str]) -> list[Block]:
    task = _load_summary(ctx, arguments["task"])
    if task.menu == TaskMenu.CONTEST and task.copyright:
        rights = loc(
            N_("Before you submit, please note who holds the copyright of entries: {text}"),
            text=UserText(task.copyright),
        )
    else:
        rights = loc(N_("Deliverables you submit belong to the partner."))
    one_per_line = loc(N_("One per line or separated by commas."))
    # NOTE: a plain_text_input takes at most 3000 characters, so the form allows less than the 10000 of text=.
    return [
        _context(
            _task_line(loc, task), rights, loc(N_("Fill in at least one of the text, the links and the file names."))
        ),
        _input(
            "text",
            loc(N_("Deliverable (text)")),
            _text_input(submissions.TEXT_MAX, multiline=True),
            hint=loc(
                N_("Up to {maximum} characters. Share longer work as links or files."),
                maximum=min(submissions.TEXT_MAX, TEXT_INPUT_MAX),
            ),
            optional=True,
        ),
        _input(
            "links", loc(N_("Links")), _text_input(TEXT_INPUT_MAX, multiline=True), hint=one_per_line, optional=True
        ),
        _input(
            "files",
            loc(N_("File names")),
            _text_input(TEXT_INPUT_MAX, multiline=True),
            hint=one_per_line,
            optional=True,
        ),
    ]


def _post_form(ctx: ServiceContext, loc: Localizer, arguments: dict[str, str]) -> list[Block]:
    task = _load_summary(ctx, arguments["task"])
    return [
        _context(_task_line(loc, task)),
        _input(
            "text",
            loc(N_("Your idea")),
            _text_input(brainstorms.POST_MAX, multiline=True),
            hint=_sentence(loc(N_("your idea, up to 2000 characters"))),
        ),
    ]


def _evaluate_form(ctx: ServiceContext, loc: Localizer, arguments: dict[str, str]) -> list[Block]:
    task_id = parse_task_id(arguments["task"])
    with ctx.transaction() as session:
        task = _summary(load_task(session, task_id))
        member = load_member(session, arguments["member"])
        member_name, member_id = member.display_name, member.id
    rubric = _evaluation_rubric(ctx, task, arguments["member"])

    blocks: list[Block] = [
        _context(
            _task_line(loc, task),
            loc(N_("Member: {member} (M{member_id})"), member=UserText(member_name), member_id=member_id),
            loc(N_("Your evaluation and advice are the member's reward for this work.")),
        )
    ]
    for criterion in rubric.criteria:
        blocks.extend(_criterion_blocks(loc, criterion))
    blocks.append(
        _input(
            "advice",
            loc(N_("Advice")),
            _text_input(
                evaluations.ADVICE_MAX, multiline=True, placeholder=loc(N_("What went well, and what to try next"))
            ),
            hint=_sentence(loc(N_("short advice to the member, up to 1000 characters"))),
        )
    )
    return blocks


def _evaluation_rubric(ctx: ServiceContext, task: _TaskSummary, member: str) -> Rubric:
    """Return the task's rubric, raising UserError when the task cannot be evaluated in a form."""
    if task.menu == TaskMenu.BRAINSTORM:
        raise UserError(
            N_("Brainstorm T{task_id} has no submissions to evaluate; /smarter digest T{task_id} shows its posts."),
            task_id=task.id,
        )
    rubric = ctx.rubrics.get(task.rubric_key)
    if rubric is None:
        raise UserError(
            N_("The rubric {value} of task T{task_id} is no longer configured. Please contact the secretariat."),
            value=task.rubric_key,
            task_id=task.id,
        )
    # Each criterion takes three blocks, and the context above and the advice below take two more.
    too_many_levels = any(len(criterion.levels) > OPTIONS_MAX for criterion in rubric.criteria)
    if 3 * len(rubric.criteria) + 2 > BLOCKS_MAX or too_many_levels:
        raise UserError(
            N_(
                "The rubric {rubric} has more criteria or levels than a Slack form can show. "
                "Please evaluate with /smarter evaluate T{task_id} {member} instead."
            ),
            rubric=rubric.key,
            task_id=task.id,
            member=UserText(member),
        )
    return rubric


def _criterion_blocks(loc: Localizer, criterion: Criterion) -> list[Block]:
    """Return the level select, the full level descriptors and the remark input of one criterion."""
    descriptors = [(level.value, level.name_ja if loc.locale == "ja" else level.name_en) for level in criterion.levels]
    options = [_option(f"{value}: {descriptor}", str(value)) for value, descriptor in descriptors]
    label = loc(
        N_("{name} ({key}), weight {weight}"),
        name=criterion.name(loc.locale),
        key=criterion.key,
        weight=f"{criterion.weight:g}",
    )
    # An option text is cut at 75 characters, so a context block under the select lists every level in full.
    return [
        _input(LEVEL_PREFIX + criterion.key, label, _select(loc, options)),
        _context("\n".join(f"{value}: {descriptor}" for value, descriptor in descriptors)),
        _input(
            REMARK_PREFIX + criterion.key,
            loc(N_("Remark on {criterion}"), criterion=criterion.name(loc.locale)),
            _text_input(evaluations.REMARK_MAX),
            optional=True,
        ),
    ]


# Each form: its title, the arguments its own inputs fill, and the function that builds its blocks.
FORMS: dict[str, tuple[str, frozenset[str], FormBuilder]] = {
    "register member": (N_("Register as a member"), frozenset(), _member_form),
    "register partner": (N_("Register as a partner"), frozenset(), _partner_form),
    "task new": (N_("Open a task"), frozenset({"menu"}), _task_form),
    "submit": (N_("Submit your work"), frozenset(), _submit_form),
    "post": (N_("Post an idea"), frozenset({"text"}), _post_form),
    "evaluate": (N_("Evaluate a submission"), frozenset(), _evaluate_form),
}
