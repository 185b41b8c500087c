"""The command table: each command's words, arguments, options and help text."""

from __future__ import annotations

from dataclasses import dataclass

from core.domain.errors import N_

__all__ = ["COMMANDS", "Argument", "CommandSpec", "Option"]


@dataclass(frozen=True, slots=True)
class Argument:
    name: str
    help: str
    optional: bool = False
    rest: bool = False  # takes the rest of the line as typed


@dataclass(frozen=True, slots=True)
class Option:
    name: str
    help: str
    kind: str = "text"  # text, int or list (comma-separated)
    required: bool = False


@dataclass(frozen=True, slots=True)
class CommandSpec:
    words: tuple[str, ...]
    summary: str
    arguments: tuple[Argument, ...] = ()
    options: tuple[Option, ...] = ()
    free_options: str | None = None  # help for key=value options not listed (rubric criteria)

    @property
    def name(self) -> str:
        return " ".join(self.words)

    def usage(self) -> str:
        parts = [*self.words]
        for argument in self.arguments:
            parts.append(f"[{argument.name}]" if argument.optional else f"<{argument.name}>")
        if self.free_options:
            parts.append("<criterion>=<level>...")
        for option in self.options:
            parts.append(f"{option.name}=..." if option.required else f"[{option.name}=...]")
        return " ".join(parts)


TASK = Argument("task", N_("task id, like T12"))
MEMBER = Argument("member", N_("member nickname or id, like M3"))
REQUEST = Argument("request", N_("request id, like R3"))
SCHEDULE = Argument("schedule", N_("schedule name, like weekly (see /smarter admin schedules)"))

COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        ("help",),
        N_("Show the commands, or the details of one command."),
        arguments=(Argument("command", N_("command to explain, like task new"), optional=True, rest=True),),
    ),
    CommandSpec(
        ("register", "member"),
        N_("Register as a member (free)."),
        options=(
            Option("nickname", N_("the name shown in rankings, up to 30 characters"), required=True),
            Option("email", N_("e-mail address for participation requests (optional)")),
        ),
    ),
    CommandSpec(
        ("register", "partner"),
        N_("Register your company as a partner (free)."),
        options=(
            Option("company", N_("company name, up to 100 characters"), required=True),
            Option("display", N_("how members see you: company (the default) or anonymous (industry + prefecture)")),
            Option("industry", N_("industry group (JSIC major group, like 製造業 or its letter E)")),
            Option("prefecture", N_("prefecture of the head office, like 東京都")),
            Option("email", N_("contact e-mail address (optional)")),
        ),
    ),
    CommandSpec(("profile",), N_("Show your registration.")),
    CommandSpec(
        ("lang",), N_("Choose the language of replies: ja or en."), arguments=(Argument("language", N_("ja or en")),)
    ),
    CommandSpec(
        ("task", "new"),
        N_("Open a task (partners)."),
        arguments=(
            Argument("menu", N_("brainstorm (みんなでブレスト), practice (おシゴト実践) or contest (燃えろビジコン)")),
        ),
        options=(
            Option("title", N_("title, up to 100 characters"), required=True),
            Option("deadline", N_("deadline in Japan time, like 2026/12/31 18:00 or 12月31日"), required=True),
            Option("description", N_("what you ask for, up to 4000 characters")),
            Option(
                "types", N_("practice work types: research, analysis, ideas, organizing (comma-separated)"), kind="list"
            ),
            Option("eligibility", N_("who can take part: all (the default), paid or grade")),
            Option("min_grade", N_("minimum grade when eligibility=grade"), kind="int"),
            Option("capacity", N_("maximum number of participants (no limit if omitted)"), kind="int"),
            Option("copyright", N_("contests only: who holds the copyright of entries")),
            Option("rubric", N_("rubric to evaluate with (the default rubric if omitted)")),
        ),
    ),
    CommandSpec(
        ("task", "list"),
        N_("List open tasks; task list all includes closed ones."),
        arguments=(Argument("all", N_("write all to include closed tasks"), optional=True),),
    ),
    CommandSpec(("task", "show"), N_("Show one task."), arguments=(TASK,)),
    CommandSpec(
        ("task", "deadline"),
        N_("Move the deadline of an open or closed task (its partner or the secretariat)."),
        arguments=(TASK, Argument("deadline", N_("new deadline in Japan time, like 2026/12/31 18:00"), rest=True)),
    ),
    CommandSpec(
        ("task", "freeze"),
        N_(
            "Freeze a contest's public standings from a time until its results (its partner or the secretariat); "
            "off removes it."
        ),
        arguments=(TASK, Argument("time", N_("time in Japan time, like 2026/12/20 18:00, or off"), rest=True)),
    ),
    CommandSpec(("task", "close"), N_("Close a task to new work (its partner)."), arguments=(TASK,)),
    CommandSpec(("task", "reopen"), N_("Open a closed task again (its partner)."), arguments=(TASK,)),
    CommandSpec(("task", "finish"), N_("Mark a closed task as evaluated (its partner)."), arguments=(TASK,)),
    CommandSpec(("task", "archive"), N_("Archive an evaluated task and its channel (its partner)."), arguments=(TASK,)),
    CommandSpec(("join",), N_("Join a practice task or contest (members)."), arguments=(TASK,)),
    CommandSpec(("leave",), N_("Leave a task you joined (members)."), arguments=(TASK,)),
    CommandSpec(
        ("post",),
        N_("Post an idea to a brainstorm."),
        arguments=(TASK, Argument("text", N_("your idea, up to 2000 characters"), rest=True)),
    ),
    CommandSpec(("digest",), N_("Show every post of a brainstorm (its partner)."), arguments=(TASK,)),
    CommandSpec(
        ("submit",),
        N_("Submit your deliverable; submitting again adds a new version (members)."),
        arguments=(TASK,),
        options=(
            Option("text", N_("the deliverable as text, up to 10000 characters")),
            Option("links", N_("links to your work (comma-separated, https://...)"), kind="list"),
            Option("files", N_("names of files you shared (comma-separated)"), kind="list"),
        ),
    ),
    CommandSpec(
        ("submissions",), N_("List the latest submission of each member (the task's partner)."), arguments=(TASK,)
    ),
    CommandSpec(
        ("evaluate",),
        N_("Evaluate a member's latest submission against the rubric (the task's partner)."),
        arguments=(TASK, MEMBER),
        options=(Option("advice", N_("short advice to the member, up to 1000 characters"), required=True),),
        free_options=N_("one level per rubric criterion, like logic=3; remark.logic=... adds a remark"),
    ),
    CommandSpec(("evaluation",), N_("Show the evaluation of your work on a task (members)."), arguments=(TASK,)),
    CommandSpec(
        ("rubric",),
        N_("Show a rubric: its criteria, weights and levels."),
        arguments=(Argument("rubric", N_("rubric name (the default rubric if omitted)"), optional=True),),
    ),
    CommandSpec(
        ("ranking",),
        N_("Show the member ranking, or the standings of a contest."),
        arguments=(
            Argument(
                "period", N_("all (the default), month, a month like 2026-12, or a contest like T5"), optional=True
            ),
        ),
        options=(Option("top", N_("how many members to show"), kind="int"),),
    ),
    CommandSpec(
        ("me", "ranking"),
        N_("Appear in public rankings and announcements (on) or stay out of them (off); you still see your place."),
        arguments=(Argument("choice", N_("on or off")),),
    ),
    CommandSpec(
        ("me", "email"),
        N_("Turn e-mail copies of participation requests on or off, or give the address to send them to."),
        arguments=(Argument("choice", N_("on, off, or an e-mail address")),),
    ),
    CommandSpec(
        ("request",),
        N_("Ask a member to take part in your task; it is not binding (partners)."),
        arguments=(MEMBER, TASK),
        options=(Option("message", N_("a message to the member, up to 1000 characters")),),
    ),
    CommandSpec(("requests",), N_("List participation requests you received or sent.")),
    CommandSpec(("accept",), N_("Accept a participation request and join its task (members)."), arguments=(REQUEST,)),
    CommandSpec(("decline",), N_("Decline a participation request (members)."), arguments=(REQUEST,)),
    CommandSpec(
        ("admin", "membership"),
        N_("Set a member's membership: free or paid (secretariat)."),
        arguments=(MEMBER, Argument("membership", N_("free or paid"))),
    ),
    CommandSpec(("admin", "schedules"), N_("List the scheduled announcements and reminders (secretariat).")),
    CommandSpec(
        ("admin", "schedule", "cron"),
        N_("Set when a schedule runs, as a cron rule in its time zone (secretariat)."),
        arguments=(SCHEDULE, Argument("cron", N_("minute hour day month weekday, like 0 9 * * mon"), rest=True)),
    ),
    CommandSpec(
        ("admin", "schedule", "timezone"),
        N_("Set the time zone of a schedule's cron rule (secretariat)."),
        arguments=(SCHEDULE, Argument("timezone", N_("a time zone name, like Asia/Tokyo"))),
    ),
    CommandSpec(
        ("admin", "schedule", "table"),
        N_("Choose the ranking a schedule announces (secretariat)."),
        arguments=(SCHEDULE, Argument("table", N_("all, season (this month) or previous_season (last month)"))),
    ),
    CommandSpec(
        ("admin", "schedule", "channel"),
        N_("Choose the channel a schedule announces in, or default (secretariat)."),
        arguments=(SCHEDULE, Argument("channel", N_("a channel of this workspace, like #announcements, or default"))),
    ),
    CommandSpec(
        ("admin", "schedule", "pause"), N_("Stop a schedule until it is resumed (secretariat)."), arguments=(SCHEDULE,)
    ),
    CommandSpec(
        ("admin", "schedule", "reset"),
        N_("Put a schedule back to the values of the settings file (secretariat)."),
        arguments=(SCHEDULE,),
    ),
    CommandSpec(
        ("admin", "schedule", "resume"), N_("Start a paused schedule again (secretariat)."), arguments=(SCHEDULE,)
    ),
    CommandSpec(
        ("admin", "grade"),
        N_("Set a paid member's grade, or none (secretariat)."),
        arguments=(MEMBER, Argument("grade", N_("a whole number, or none"))),
    ),
)
