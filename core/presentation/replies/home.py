"""The home view as direct messages: a welcome, a member's or a partner's overview, and the secretariat's tools."""

from __future__ import annotations

from core.commands.grammar import COMMANDS
from core.domain.enums import NameDisplay, Role, TaskMenu
from core.domain.errors import N_, T_
from core.presentation.cards import requester_line, task_title
from core.presentation.i18n import Localizer
from core.presentation.messages import Action, Field, Line, Message, Visibility
from core.presentation.replies.base import present
from core.presentation.replies.work import ranking_line
from core.services.home import HomeRole, HomeView, MemberHome, OwnRanking, PartnerHome, PartnerTask
from core.services.registration import Profile
from core.services.views import TaskView

__all__ = ["home_messages"]

DIRECT = Visibility.DIRECT
# Maximum buttons per message, which keeps each message's actions to one short row.
ACTIONS_MAX = 5
COMMAND = "/smarter"
SECRETARIAT_COMMANDS = (("admin", "membership"), ("admin", "grade"), ("admin", "schedules"), ("task", "list"))
REGISTER_COMMANDS = (("register", "member"), ("register", "partner"))


def _message(
    loc: Localizer, title: Line, *lines: Line, fields: tuple[Field, ...] = (), actions: tuple[Action, ...] = ()
) -> Message:
    return Message(DIRECT, loc.locale, title=title, lines=lines, fields=fields, actions=actions, kind="home")


def _command_lines(loc: Localizer, names: tuple[tuple[str, ...], ...]) -> list[Line]:
    """List commands as the help does: their usage and their summary."""
    specs = [spec for name in names for spec in COMMANDS if spec.words == name]
    return [
        loc.line(N_("{usage} — {summary}"), usage=f"{COMMAND} {spec.usage()}", summary=loc(spec.summary))
        for spec in specs
    ]


def _welcome(loc: Localizer, view: HomeView) -> Message:
    lines = [
        loc.line(
            N_(
                "SMARTER×SMARTER is a community where members train their business-planning skills on real tasks "
                "from partner companies, and the partners evaluate their work."
            )
        ),
        loc.line(N_("Registration is free. Register with one of these commands:")),
        *_command_lines(loc, REGISTER_COMMANDS),
        loc.line(N_("As of {time}"), time=view.as_of),
    ]
    actions = (
        Action(loc(N_("Register as a member")), f"{COMMAND} register member nickname="),
        Action(loc(N_("Register as a partner")), f"{COMMAND} register partner company="),
    )
    return _message(loc, loc.line(N_("Welcome to SMARTER×SMARTER")), *lines, actions=actions)


def _shown_as(loc: Localizer, profile: Profile) -> Line:
    if profile.name_display == NameDisplay.INDUSTRY_PREFECTURE:
        return loc.line(
            N_("Industry + prefecture: {industry}, {prefecture}"),
            industry=profile.industry or "-",
            prefecture=profile.prefecture or "-",
        )
    return loc.line(N_("Company name"))


def _profile(loc: Localizer, profile: Profile, view: HomeView) -> Message:
    prefix = "M" if profile.role == Role.MEMBER else "P"
    fields = [
        Field(loc(N_("Role")), loc.of(T_(profile.role))),
        Field(loc(N_("Name")), loc.of(profile.display_name)),
        Field(loc(N_("ID")), loc.of(f"{prefix}{profile.person_id}")),
    ]
    if profile.role == Role.MEMBER:
        fields.append(Field(loc(N_("Membership")), loc.of(T_(profile.membership or "free"))))
        fields.append(Field(loc(N_("Grade")), loc.of(profile.grade if profile.grade is not None else T_("none"))))
    else:
        fields.append(Field(loc(N_("Shown to members as")), _shown_as(loc, profile)))
    fields.append(Field(loc(N_("E-mail")), loc.of(profile.email if profile.email else T_("not set"))))
    title = loc.line(N_("Home: {name}"), name=profile.display_name)
    return _message(loc, title, loc.line(N_("As of {time}"), time=view.as_of), fields=tuple(fields))


def _own_rank_value(loc: Localizer, ranking: OwnRanking) -> Line:
    if ranking.row is None:
        return loc.line(N_("Not ranked yet"))
    return ranking_line(loc, ranking.row)


def _ranking(loc: Localizer, member: MemberHome) -> Message:
    year, month = int(member.season.period[:4]), int(member.season.period[5:])
    fields = (
        Field(loc(N_("Ranking for {year}-{month:02d}"), year=year, month=month), _own_rank_value(loc, member.season)),
        Field(loc(N_("All-time ranking")), _own_rank_value(loc, member.all_time)),
    )
    lines: list[Line] = []
    if member.season.hidden or member.all_time.hidden:
        lines.append(
            loc.line(
                N_(
                    "You are not shown in public rankings (/smarter me ranking on shows you again). Your place "
                    "is where you would stand among the members shown."
                )
            )
        )
    actions = (
        Action(loc(N_("Ranking for {year}-{month:02d}"), year=year, month=month), f"{COMMAND} ranking month"),
        Action(loc(N_("All-time ranking")), f"{COMMAND} ranking"),
    )
    return _message(loc, loc.line(N_("Your ranking")), *lines, fields=fields, actions=actions)


def _task_line(loc: Localizer, task: TaskView) -> Line:
    return task_title(loc, task) + loc.line(
        N_(" (deadline {deadline}, {requester})"), deadline=task.deadline, requester=requester_line(loc, task.requester)
    )


def _take_part_action(loc: Localizer, task: TaskView) -> Action:
    if task.menu == TaskMenu.BRAINSTORM:
        return Action(loc(N_("Post to T{task_id}"), task_id=task.id), f"{COMMAND} post T{task.id} ")
    return Action(loc(N_("Join T{task_id}"), task_id=task.id), f"{COMMAND} join T{task.id}", "primary")


def _open_tasks(loc: Localizer, member: MemberHome) -> Message:
    title = loc.line(N_("Tasks you can take part in now"))
    if not member.open_tasks:
        line = loc.line(
            N_("No open task is available to you right now. New tasks are announced when partners open them.")
        )
        return _message(loc, title, line)
    lines = [_task_line(loc, task) for task in member.open_tasks]
    actions = tuple(_take_part_action(loc, task) for task in member.open_tasks[:ACTIONS_MAX])
    return _message(loc, title, *lines, actions=actions)


def _joined_tasks(loc: Localizer, member: MemberHome) -> Message:
    lines = [_task_line(loc, task) for task in member.joined_tasks]
    actions = tuple(
        Action(loc(N_("Submit to T{task_id}"), task_id=task.id), f"{COMMAND} submit T{task.id} ")
        for task in member.joined_tasks[:ACTIONS_MAX]
    )
    return _message(loc, loc.line(N_("Joined tasks waiting for your submission")), *lines, actions=actions)


def _evaluations(loc: Localizer, member: MemberHome) -> Message:
    title = loc.line(N_("Your latest evaluations"))
    if not member.evaluations:
        return _message(
            loc, title, loc.line(N_("No evaluations yet. They appear here once a partner evaluates your work."))
        )
    lines: list[Line] = []
    for summary in member.evaluations:
        lines.append(
            loc.line(
                N_("T{task_id} {title}: {score} points ({evaluated_at})"),
                task_id=summary.task.id,
                title=summary.task.title,
                score=f"{summary.score:.2f}",
                evaluated_at=summary.evaluated_at,
            )
        )
        lines.append(loc.line(N_("Advice: {advice}"), advice=summary.advice))
    actions = tuple(
        Action(loc(N_("Evaluation of T{task_id}"), task_id=summary.task.id), f"{COMMAND} evaluation T{summary.task.id}")
        for summary in member.evaluations[:ACTIONS_MAX]
    )
    return _message(loc, title, *lines, actions=actions)


def _member_messages(loc: Localizer, member: MemberHome) -> list[Message]:
    messages = [_ranking(loc, member), _open_tasks(loc, member)]
    if member.joined_tasks:
        messages.append(_joined_tasks(loc, member))
    messages.append(_evaluations(loc, member))
    return messages


def _partner_task_line(loc: Localizer, row: PartnerTask) -> Line:
    task = row.task
    if task.menu == TaskMenu.BRAINSTORM:
        details = loc.line(
            N_(" — {status}, deadline {deadline}, posts: {posts}"),
            status=T_(task.status),
            deadline=task.deadline,
            posts=row.posts,
        )
        return task_title(loc, task) + details
    participants = (
        loc.line(N_("{count} / {capacity}"), count=task.participant_count, capacity=task.capacity)
        if task.capacity is not None
        else loc.line(N_("{count} (no limit)"), count=task.participant_count)
    )
    details = loc.line(
        N_(
            " — {status}, deadline {deadline}, participants: {participants}, submitted: {submitted}, "
            "evaluated: {evaluated}"
        ),
        status=T_(task.status),
        deadline=task.deadline,
        participants=participants,
        submitted=row.submitters,
        evaluated=row.evaluated,
    )
    return task_title(loc, task) + details


def _partner_tasks(loc: Localizer, partner: PartnerHome) -> Message:
    title = loc.line(N_("Your tasks"))
    open_task = Action(loc(N_("Open a task")), f"{COMMAND} task new ", "primary")
    if not partner.tasks:
        return _message(loc, title, loc.line(N_("You have no tasks yet.")), actions=(open_task,))
    lines = [_partner_task_line(loc, row) for row in partner.tasks]
    if partner.task_total > len(partner.tasks):
        lines.append(
            loc.line(
                N_("Showing {shown} of your {total} tasks that are not archived."),
                shown=len(partner.tasks),
                total=partner.task_total,
            )
        )
    reviewable = [row.task for row in partner.tasks if row.task.menu != TaskMenu.BRAINSTORM and row.submitters]
    review = [
        Action(loc(N_("Submissions of T{task_id}"), task_id=task.id), f"{COMMAND} submissions T{task.id}")
        for task in reviewable[: ACTIONS_MAX - 1]
    ]
    actions = (open_task, *review)
    return _message(loc, title, *lines, actions=actions)


def _waiting(loc: Localizer, partner: PartnerHome) -> Message:
    title = loc.line(N_("📝 Submissions are waiting for your evaluation"))
    if not partner.waiting:
        return _message(loc, title, loc.line(N_("No submissions are waiting for your evaluation.")))
    lines = [
        loc.line(
            N_("T{task_id} {title}: {member} (M{member_id}), version {version}, submitted {submitted_at}"),
            task_id=row.task_id,
            title=row.task_title,
            member=row.member,
            member_id=row.member_id,
            version=row.version,
            submitted_at=row.submitted_at,
        )
        for row in partner.waiting
    ]
    if partner.waiting_total > len(partner.waiting):
        lines.append(
            loc.line(
                N_("Showing the oldest {shown} of {total} waiting submissions."),
                shown=len(partner.waiting),
                total=partner.waiting_total,
            )
        )
    lines.append(
        loc.line(N_("/smarter submissions lists a task's submissions, and /smarter evaluate records your evaluation."))
    )
    actions = tuple(
        Action(
            loc(N_("Evaluate M{member_id} on T{task_id}"), member_id=row.member_id, task_id=row.task_id),
            f"{COMMAND} evaluate T{row.task_id} M{row.member_id} ",
        )
        for row in partner.waiting[:ACTIONS_MAX]
    )
    return _message(loc, title, *lines, actions=actions)


def _secretariat(loc: Localizer, view: HomeView) -> Message:
    lines = [
        *_command_lines(loc, SECRETARIAT_COMMANDS),
        loc.line(N_("{name} help <command> explains one command."), name=COMMAND),
    ]
    if view.profile is None:
        lines.append(loc.line(N_("As of {time}"), time=view.as_of))
    return _message(loc, loc.line(N_("Secretariat tools")), *lines)


def home_messages(loc: Localizer, view: HomeView) -> list[Message]:
    """Build the home as a few direct messages, each with a title, short lines and at most five actions."""
    if view.role is None:
        return [_welcome(loc, view)]
    if view.role == HomeRole.SECRETARIAT or view.profile is None:
        return [_secretariat(loc, view)]

    messages = [_profile(loc, view.profile, view)]
    if view.member is not None:
        messages.extend(_member_messages(loc, view.member))
    if view.partner is not None:
        messages.extend([_partner_tasks(loc, view.partner), _waiting(loc, view.partner)])
    if view.secretariat:
        messages.append(_secretariat(loc, view))
    return messages


@present.register
def _(result: HomeView, loc: Localizer) -> list[Message]:
    return home_messages(loc, result)
