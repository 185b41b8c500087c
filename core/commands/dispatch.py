"""Run one command line for one actor: parse, call the use case, present the result or the error."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.commands.grammar import COMMANDS, CommandSpec
from core.commands.parser import ParsedCommand, build, find_spec, parse, tokenize
from core.domain.enums import NameDisplay, TaskStatus
from core.domain.errors import N_, T_, UserError
from core.domain.text import UserText, normalize
from core.presentation.i18n import Localizer
from core.presentation.messages import Field, Message, Visibility
from core.presentation.replies import present, present_error
from core.services import (
    brainstorms,
    evaluations,
    participation,
    preferences,
    rankings,
    registration,
    requests,
    schedules,
    secretariat,
    standings,
    submissions,
    tasks,
)
from core.services.context import Actor, ServiceContext
from core.services.lookup import find_person, parse_task_id

__all__ = ["CommandRunner", "Outcome", "resolve_locale"]

logger = logging.getLogger(__name__)

TASK_ID = re.compile(r"[Tt]\d{1,9}")
UNEXPECTED = N_(
    "An unexpected error stopped this command. Please try again in a moment; if it happens again, "
    "contact the secretariat."
)

Handler = Callable[[ServiceContext, Actor, ParsedCommand], Any]


def _register_partner(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
    display = normalize(cmd.options.get("display", "company")).lower()
    choices = {
        "company": NameDisplay.COMPANY,
        "anonymous": NameDisplay.INDUSTRY_PREFECTURE,
        "industry": NameDisplay.INDUSTRY_PREFECTURE,
        "匿名": NameDisplay.INDUSTRY_PREFECTURE,
        "社名": NameDisplay.COMPANY,
    }
    if display not in choices:
        raise UserError(N_("display= must be company or anonymous; you gave {value}."), value=UserText(display))
    return registration.register_partner(
        ctx,
        actor,
        company=cmd.options["company"],
        display=choices[display],
        industry=cmd.options.get("industry"),
        prefecture=cmd.options.get("prefecture"),
        email=cmd.options.get("email"),
    )


def _new_task(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
    o = cmd.options
    spec = tasks.NewTask(
        menu=cmd.arguments["menu"],
        title=o["title"],
        deadline=o["deadline"],
        description=o.get("description", ""),
        work_types=o.get("types", ()),
        eligibility=o.get("eligibility", "all"),
        min_grade=o.get("min_grade"),
        capacity=o.get("capacity"),
        copyright=o.get("copyright"),
        rubric=o.get("rubric"),
    )
    return tasks.create_task(ctx, actor, spec)


def _list_tasks(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
    scope = cmd.arguments.get("all")
    if scope is not None and normalize(scope).lower() not in ("all", "全部", "すべて"):
        raise UserError(
            N_("task list takes only the word all (to include closed tasks); you gave {value}."),
            value=UserText(scope),
        )
    return tasks.list_tasks(ctx, actor, include_closed=scope is not None)


def _status(target: TaskStatus) -> Handler:
    return lambda ctx, actor, cmd: tasks.change_task_status(ctx, actor, _task(cmd), target)


def _task(cmd: ParsedCommand) -> int:
    return parse_task_id(cmd.arguments["task"])


def _evaluate(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
    levels = {k: v for k, v in cmd.extra.items() if not k.startswith(("remark.", "note."))}
    remarks = {k.split(".", 1)[1]: v for k, v in cmd.extra.items() if k.startswith(("remark.", "note."))}
    return evaluations.evaluate(
        ctx, actor, _task(cmd), cmd.arguments["member"], levels=levels, advice=cmd.options["advice"], remarks=remarks
    )


def _grade(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
    raw = normalize(cmd.arguments["grade"]).lower()
    if raw not in ("none", "なし") and not raw.isdigit():
        raise UserError(
            N_("{value} is not a grade. Give a whole number, or none to clear it."),
            value=UserText(cmd.arguments["grade"]),
        )
    return secretariat.set_grade(ctx, actor, cmd.arguments["member"], None if not raw.isdigit() else int(raw))


def _ranking_size(ctx: ServiceContext, cmd: ParsedCommand) -> int | None:
    top: int | None = cmd.options.get("top")
    if top is not None and not 1 <= top <= ctx.policy.ranking_max_size:
        raise UserError(
            N_("The ranking size must be from 1 to {maximum}; you gave {value}."),
            maximum=ctx.policy.ranking_max_size,
            value=top,
        )
    return top


def _ranking(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
    period = cmd.arguments.get("period")
    if period is not None and TASK_ID.fullmatch(normalize(period)):
        return standings.contest_standings(ctx, actor, parse_task_id(period), top=_ranking_size(ctx, cmd))
    return rankings.show_ranking(ctx, actor, period=period, top=cmd.options.get("top"))


def _schedule(field: str, value: bool | None = None) -> Handler:
    """Return the handler of one ``admin schedule`` command: the argument named ``field``, or ``value`` if given."""

    def handler(ctx: ServiceContext, actor: Actor, cmd: ParsedCommand) -> Any:
        change: dict[str, Any] = {field: cmd.arguments[field] if value is None else value}
        return schedules.change_schedule(ctx, actor, cmd.arguments["schedule"], **change)

    return handler


HANDLERS: dict[str, Handler] = {
    "register member": lambda ctx, actor, cmd: registration.register_member(
        ctx, actor, nickname=cmd.options["nickname"], email=cmd.options.get("email")
    ),
    "register partner": _register_partner,
    "profile": lambda ctx, actor, cmd: registration.show_profile(ctx, actor),
    "task new": _new_task,
    "task list": _list_tasks,
    "task show": lambda ctx, actor, cmd: tasks.show_task(ctx, actor, _task(cmd)),
    "task deadline": lambda ctx, actor, cmd: tasks.change_deadline(ctx, actor, _task(cmd), cmd.arguments["deadline"]),
    "task close": _status(TaskStatus.CLOSED),
    "task reopen": _status(TaskStatus.OPEN),
    "task finish": _status(TaskStatus.EVALUATED),
    "task archive": _status(TaskStatus.ARCHIVED),
    "join": lambda ctx, actor, cmd: participation.join_task(ctx, actor, _task(cmd)),
    "leave": lambda ctx, actor, cmd: participation.leave_task(ctx, actor, _task(cmd)),
    "post": lambda ctx, actor, cmd: brainstorms.post_idea(ctx, actor, _task(cmd), cmd.arguments.get("text", "")),
    "digest": lambda ctx, actor, cmd: brainstorms.brainstorm_digest(ctx, actor, _task(cmd)),
    "submit": lambda ctx, actor, cmd: submissions.submit(
        ctx,
        actor,
        _task(cmd),
        text=cmd.options.get("text", ""),
        links=cmd.options.get("links", ()),
        files=cmd.options.get("files", ()),
    ),
    "submissions": lambda ctx, actor, cmd: submissions.list_submissions(ctx, actor, _task(cmd)),
    "evaluate": _evaluate,
    "evaluation": lambda ctx, actor, cmd: evaluations.show_evaluation(ctx, actor, _task(cmd)),
    "ranking": _ranking,
    "me ranking": lambda ctx, actor, cmd: preferences.set_ranking_visibility(ctx, actor, cmd.arguments["choice"]),
    "me email": lambda ctx, actor, cmd: preferences.set_email(ctx, actor, cmd.arguments["choice"]),
    "task freeze": lambda ctx, actor, cmd: standings.set_freeze(ctx, actor, _task(cmd), cmd.arguments["time"]),
    "request": lambda ctx, actor, cmd: requests.send_request(
        ctx, actor, cmd.arguments["member"], _task(cmd), message=cmd.options.get("message", "")
    ),
    "requests": lambda ctx, actor, cmd: requests.list_requests(ctx, actor),
    "accept": lambda ctx, actor, cmd: requests.answer_request(
        ctx, actor, requests.parse_request_id(cmd.arguments["request"]), accept=True
    ),
    "decline": lambda ctx, actor, cmd: requests.answer_request(
        ctx, actor, requests.parse_request_id(cmd.arguments["request"]), accept=False
    ),
    "admin membership": lambda ctx, actor, cmd: secretariat.set_membership(
        ctx, actor, cmd.arguments["member"], cmd.arguments["membership"]
    ),
    "admin grade": _grade,
    "admin schedules": lambda ctx, actor, cmd: schedules.list_schedules(ctx, actor),
    "admin schedule cron": _schedule("cron"),
    "admin schedule timezone": _schedule("timezone"),
    "admin schedule table": _schedule("table"),
    "admin schedule channel": _schedule("channel"),
    "admin schedule pause": _schedule("enabled", False),
    "admin schedule resume": _schedule("enabled", True),
    "admin schedule reset": lambda ctx, actor, cmd: schedules.reset_schedule(ctx, actor, cmd.arguments["schedule"]),
}


def resolve_locale(ctx: ServiceContext, actor: Actor) -> str:
    """Pick the reply language: the person's own setting, then the platform's, then the default (ja)."""
    with ctx.transaction() as session:
        person = find_person(session, actor)
        stored = person.locale if person is not None else None
    return stored or actor.locale or ctx.policy.default_locale


@dataclass(frozen=True, slots=True)
class Outcome:
    """The messages a command produced, and the error that stopped it, if one did."""

    messages: list[Message]
    error: UserError | None = None

    def failed_field(self) -> str | None:
        """Name the option or argument the error is about (``title``, ``task``), when the error names it."""
        if self.error is None:
            return None
        # A length check (check_length) names its field, such as title, under "field".
        for key in ("option", "missing", "field"):
            value = self.error.values.get(key)
            if value is not None:
                return str(value).strip("<>=")
        return None


class CommandRunner:
    """Parse and run command lines; every adapter calls this and only renders the messages it returns."""

    def __init__(self, ctx: ServiceContext, *, command_names: tuple[str, ...] = ("/smarter",)) -> None:
        self.ctx = ctx
        self.command_names = command_names

    def run(self, actor: Actor, line: str) -> list[Message]:
        return self._run(actor, lambda: parse(line, command_names=self.command_names)).messages

    def run_form(
        self, actor: Actor, name: str, *, arguments: dict[str, str] | None = None, options: dict[str, str] | None = None
    ) -> Outcome:
        """Run the command ``name`` with values from a form, checked exactly as the typed command would be."""
        return self._run(actor, lambda: build(name, arguments or {}, options or {}))

    def _run(self, actor: Actor, read: Callable[[], ParsedCommand]) -> Outcome:
        loc = Localizer(resolve_locale(self.ctx, actor))
        try:
            command = read()
            if command.spec.name == "help":
                return Outcome([self.help(loc, command.arguments.get("command"))])
            if command.spec.name == "lang":
                locale = registration.set_locale(self.ctx, actor, command.arguments["language"])
                loc = Localizer(locale)
                language = T_("Japanese") if locale == "ja" else T_("English")
                confirmation = loc.line(N_("Replies will now be in {language}."), language=language)
                return Outcome([Message(Visibility.EPHEMERAL, loc.locale, lines=(confirmation,))])
            if command.spec.name == "rubric":
                return Outcome([self.rubric(loc, command.arguments.get("rubric"))])
            result = HANDLERS[command.spec.name](self.ctx, actor, command)
        except UserError as error:
            logger.debug("command rejected for %s: %s", actor.ref, error.key)
            return Outcome([present_error(error, loc)], error)
        except Exception:
            # A bug or a database failure must not stop the adapter; the person gets a plain apology.
            logger.exception("command failed for %s", actor.ref)
            return Outcome([present_error(UserError(UNEXPECTED), loc)], UserError(UNEXPECTED))
        return Outcome(present(result, loc))

    def help(self, loc: Localizer, topic: str | None) -> Message:
        """List every command, or the commands that start with ``topic``, or explain one command in full."""
        name = self.command_names[0]
        specs = COMMANDS
        if topic:
            words = [normalize(token.text).lower() for token in tokenize(topic)]
            spec, used = find_spec(words)
            if spec is not None and used == len(words):
                return self._command_help(loc, spec)
            specs = tuple(s for s in COMMANDS if list(s.words[: len(words)]) == words)
            if not specs:
                raise UserError(
                    N_("{value} is not a command. /smarter help lists the commands."), value=UserText(topic)
                )
        lines = tuple(
            loc.line(N_("{usage} — {summary}"), usage=f"{name} {spec.usage()}", summary=loc(spec.summary))
            for spec in specs
        )
        return Message(
            Visibility.EPHEMERAL,
            loc.locale,
            title=loc.line(N_("smarter-bot commands")),
            lines=(*lines, loc.line(N_("{name} help <command> explains one command."), name=name)),
            kind="help",
        )

    def _command_help(self, loc: Localizer, spec: CommandSpec) -> Message:
        fields = [Field(f"<{a.name}>", loc.of(loc(a.help))) for a in spec.arguments]
        fields += [
            Field(f"{o.name}=", loc.of(loc(o.help) + (loc(N_(" (required)")) if o.required else "")))
            for o in spec.options
        ]
        if spec.free_options:
            fields.append(Field("<criterion>=<level>", loc.of(loc(spec.free_options))))
        return Message(
            Visibility.EPHEMERAL,
            loc.locale,
            title=loc.of(f"{self.command_names[0]} {spec.usage()}"),
            lines=(loc.of(loc(spec.summary)),),
            fields=tuple(fields),
            kind="help",
        )

    def rubric(self, loc: Localizer, key: str | None) -> Message:
        rubric_key = normalize(key) if key else self.ctx.policy.default_rubric
        rubric = self.ctx.rubrics.get(rubric_key)
        if rubric is None:
            raise UserError(
                N_("There is no rubric named {value}. Available: {allowed}."),
                value=UserText(rubric_key),
                allowed=", ".join(sorted(self.ctx.rubrics)),
            )
        lines = []
        for criterion in rubric.criteria:
            lines.append(
                loc.line(
                    N_("{name} ({key}), weight {weight}"),
                    name=criterion.name(loc.locale),
                    key=criterion.key,
                    weight=f"{criterion.weight:g}",
                )
            )
            lines.extend(
                loc.of(f"  {level.value}: {level.name_ja if loc.locale == 'ja' else level.name_en}")
                for level in criterion.levels
            )
        return Message(
            Visibility.EPHEMERAL,
            loc.locale,
            title=loc.of(f"{rubric.name(loc.locale)} ({rubric.key})"),
            lines=tuple(lines),
            kind="rubric",
        )
