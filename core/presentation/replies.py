"""Replies to the person who acted: one presenter per use-case result, and one for user errors."""

from __future__ import annotations

from functools import singledispatch
from typing import Any

from core.domain.enums import NameDisplay, RequestStatus, Role, TaskMenu
from core.domain.errors import N_, T_, UserError
from core.domain.scoring import ALL_TIME
from core.presentation.cards import requester_line, task_card, task_fields, task_title
from core.presentation.i18n import Localizer
from core.presentation.messages import Action, Field, Line, Message, Visibility
from core.services.brainstorms import Digest, PostRecorded
from core.services.evaluations import EvaluationView
from core.services.participation import Joined, Left
from core.services.rankings import RankingRow, RankingTable
from core.services.registration import Profile
from core.services.requests import RequestList, RequestView
from core.services.secretariat import MemberUpdated
from core.services.submissions import SubmissionList, Submitted
from core.services.tasks import DeadlineChanged, StatusChanged, TaskList
from core.services.views import TaskView

__all__ = ["evaluation_lines", "present", "present_error", "ranking_line", "request_message"]

EPHEMERAL = Visibility.EPHEMERAL


def _message(loc: Localizer, title: Line | None, *lines: Line, **extra: Any) -> Message:
    return Message(EPHEMERAL, loc.locale, title=title, lines=tuple(lines), **extra)


def present_error(error: UserError, loc: Localizer) -> Message:
    return Message(EPHEMERAL, loc.locale, lines=(loc.line(error.key, **error.values),), error=True, kind="error")


@singledispatch
def present(result: object, loc: Localizer) -> list[Message]:
    raise TypeError(f"no presenter for {type(result).__name__}")


@present.register
def _(result: Profile, loc: Localizer) -> list[Message]:
    title = (
        loc.line(N_("Welcome to SMARTER×SMARTER, {name}! Your registration is complete."), name=result.display_name)
        if result.newly_registered
        else loc.line(N_("Your registration"))
    )
    fields = [
        Field(loc(N_("Role")), loc.of(T_(result.role))),
        Field(loc(N_("Name")), loc.of(result.display_name)),
        Field(loc(N_("Id")), loc.of(f"{'M' if result.role == Role.MEMBER else 'P'}{result.person_id}")),
    ]
    if result.role == Role.MEMBER:
        fields.append(Field(loc(N_("Membership")), loc.of(T_(result.membership or "free"))))
        fields.append(Field(loc(N_("Grade")), loc.of(result.grade if result.grade is not None else "-")))
    else:
        shown_as = (
            loc.line(
                N_("Industry + prefecture: {industry}, {prefecture}"),
                industry=result.industry or "-",
                prefecture=result.prefecture or "-",
            )
            if result.name_display == NameDisplay.INDUSTRY_PREFECTURE
            else loc.line(N_("Company name"))
        )
        fields.append(Field(loc(N_("Shown to members as")), shown_as))
    if result.email:
        fields.append(Field(loc(N_("E-mail")), loc.of(result.email)))
    if not result.newly_registered:
        return [_message(loc, title, fields=tuple(fields))]
    hint = (
        loc.line(N_("Next: /smarter task list shows the tasks you can join."))
        if result.role == Role.MEMBER
        else loc.line(N_("Next: /smarter task new practice title=... deadline=... types=... opens a task."))
    )
    return [_message(loc, title, hint, fields=tuple(fields))]


@present.register
def _(result: TaskView, loc: Localizer) -> list[Message]:
    return [task_card(loc, result, EPHEMERAL)]


@present.register
def _(result: TaskList, loc: Localizer) -> list[Message]:
    if not result.tasks and result.include_closed:
        return [_message(loc, None, loc.line(N_("There are no tasks yet, apart from archived ones.")))]
    if not result.tasks:
        return [_message(loc, None, loc.line(N_("There are no open tasks right now.")))]
    lines = [
        task_title(loc, task)
        + loc.line(
            N_(" (deadline {deadline}, {requester})"),
            deadline=task.deadline,
            requester=requester_line(loc, task.requester),
        )
        for task in result.tasks
    ]
    lines.append(loc.line(N_("/smarter task show T{task_id} shows the details of a task."), task_id=result.tasks[0].id))
    title = loc.line(N_("Tasks")) if result.include_closed else loc.line(N_("Open tasks"))
    return [_message(loc, title, *lines)]


@present.register
def _(result: StatusChanged, loc: Localizer) -> list[Message]:
    line = loc.line(
        N_("Task T{task_id} is now {status} (it was {previous})."),
        task_id=result.task.id,
        status=T_(result.task.status),
        previous=T_(result.previous),
    )
    return [_message(loc, None, line)]


@present.register
def _(result: DeadlineChanged, loc: Localizer) -> list[Message]:
    line = loc.line(
        N_(
            "The deadline of task T{task_id} is now {deadline} (it was {previous}). Participants are told in the "
            "task channel."
        ),
        task_id=result.task.id,
        deadline=result.task.deadline,
        previous=result.previous,
    )
    return [_message(loc, None, line)]


@present.register
def _(result: Joined, loc: Localizer) -> list[Message]:
    return [_joined_message(loc, result.task)]


def _joined_message(loc: Localizer, task: TaskView) -> Message:
    lines = [
        loc.line(
            N_(
                "You have joined task T{task_id}. You will be invited to its task channel, where you "
                "can ask the partner questions."
            ),
            task_id=task.id,
        )
    ]
    if task.menu == TaskMenu.CONTEST and task.copyright:
        lines.append(
            loc.line(
                N_("Before you submit, please note who holds the copyright of entries: {text}"), text=task.copyright
            )
        )
    else:
        lines.append(loc.line(N_("Deliverables you submit belong to the partner.")))
    lines.append(
        loc.line(
            N_('Submit with /smarter submit T{task_id} text="..." before {deadline}.'),
            task_id=task.id,
            deadline=task.deadline,
        )
    )
    return _message(loc, task_title(loc, task), *lines)


@present.register
def _(result: Left, loc: Localizer) -> list[Message]:
    return [
        _message(
            loc,
            None,
            loc.line(N_("You have left task T{task_id}. Anything you submitted is kept."), task_id=result.task.id),
        )
    ]


@present.register
def _(result: PostRecorded, loc: Localizer) -> list[Message]:
    return [
        _message(
            loc, None, loc.line(N_("Your idea was posted to brainstorm T{task_id}. Thank you!"), task_id=result.task.id)
        )
    ]


@present.register
def _(result: Digest, loc: Localizer) -> list[Message]:
    lines = [loc.line(N_("Posts: {count}; authors: {authors}."), count=len(result.posts), authors=result.authors)]
    lines.extend(
        loc.line(N_("{author}: {text} (reactions: {reactions})"), author=p.author, text=p.text, reactions=p.reactions)
        for p in result.posts
    )
    title = loc.line(N_("Digest of brainstorm T{task_id}: {title}"), task_id=result.task.id, title=result.task.title)
    return [_message(loc, title, *lines, kind="digest")]


@present.register
def _(result: Submitted, loc: Localizer) -> list[Message]:
    lines = [
        loc.line(
            N_("Your submission to task T{task_id} was received as version {version}."),
            task_id=result.task.id,
            version=result.version,
        )
    ]
    if result.version > 1:
        lines.append(loc.line(N_("Earlier versions are kept; the partner evaluates the latest one.")))
    if result.task.menu == TaskMenu.CONTEST and result.task.copyright:
        lines.append(loc.line(N_("Copyright of entries: {text}"), text=result.task.copyright))
    return [_message(loc, task_title(loc, result.task), *lines)]


@present.register
def _(result: SubmissionList, loc: Localizer) -> list[Message]:
    if not result.rows:
        return [_message(loc, task_title(loc, result.task), loc.line(N_("No submissions yet.")))]
    lines: list[Line] = []
    for row in result.rows:
        status = (
            loc.line(N_("evaluated: {score} points"), score=f"{row.points / 100:.2f}")
            if row.points is not None
            else loc.line(N_("waiting for evaluation"))
        )
        lines.append(
            loc.line(
                N_("{member} (M{member_id}), version {version}, {submitted_at}: "),
                member=row.member,
                member_id=row.member_id,
                version=row.version,
                submitted_at=row.submitted_at,
            )
            + status
        )
        if row.text:
            lines.append(loc.of(row.text))
        lines.extend(loc.of(link) for link in row.links)
        lines.extend(loc.line(N_("File: {name}"), name=name) for name in row.files)
    lines.append(
        loc.line(
            N_(
                'Evaluate with /smarter evaluate T{task_id} <member> <criterion>=<level> ... advice="..."; '
                "/smarter rubric {rubric} shows the criteria and levels."
            ),
            task_id=result.task.id,
            rubric=result.task.rubric_key,
        )
    )
    return [_message(loc, task_title(loc, result.task), *lines)]


def evaluation_lines(loc: Localizer, result: EvaluationView) -> list[Line]:
    lines: list[Line] = []
    for criterion in result.criteria:
        name = criterion.name_ja if loc.locale == "ja" else criterion.name_en
        descriptor = criterion.descriptor_ja if loc.locale == "ja" else criterion.descriptor_en
        lines.append(
            loc.line(
                N_("{criterion}: {level}/{max_level} — {descriptor}"),
                criterion=name,
                level=criterion.level,
                max_level=criterion.max_level,
                descriptor=descriptor,
            )
        )
        if criterion.remark:
            lines.append(loc.line(N_("  Remark: {remark}"), remark=criterion.remark))
    lines.append(loc.line(N_("Advice: {advice}"), advice=result.advice))
    return lines


@present.register
def _(result: EvaluationView, loc: Localizer) -> list[Message]:
    rubric = result.rubric_name_ja if loc.locale == "ja" else result.rubric_name_en
    title = loc.line(
        N_("Evaluation of {member} on task T{task_id}: {score} points"),
        member=result.member,
        task_id=result.task.id,
        score=f"{result.score:.2f}",
    )
    head = loc.line(
        N_("Rubric: {rubric}; submission version {version}; evaluated {evaluated_at}."),
        rubric=rubric,
        version=result.submission_version,
        evaluated_at=result.evaluated_at,
    )
    return [_message(loc, title, head, *evaluation_lines(loc, result), kind="evaluation")]


def ranking_line(loc: Localizer, row: RankingRow) -> Line:
    return loc.line(
        N_("{rank}. {nickname} (M{member_id}) — {score} points, evaluations: {count}"),
        rank=row.rank,
        nickname=row.nickname,
        member_id=row.member_id,
        score=f"{row.score:.2f}",
        count=row.evaluation_count,
    )


@present.register
def _(result: RankingTable, loc: Localizer) -> list[Message]:
    period = (
        loc.line(N_("All-time ranking"))
        if result.period == ALL_TIME
        else loc.line(N_("Ranking for {year}-{month:02d}"), year=int(result.period[:4]), month=int(result.period[5:]))
    )
    lines = [ranking_line(loc, row) for row in result.rows] or [loc.line(N_("No evaluations in this period yet."))]
    if result.own is not None and all(row.member_id != result.own.member_id for row in result.rows):
        lines.append(loc.line(N_("Your place: ")) + ranking_line(loc, result.own))
    lines.append(
        loc.line(
            N_(
                "Score: Bayesian average of evaluation scores (0–100), counting {weight} extra "
                "evaluations of {mean} points, so one lucky evaluation does not top the ranking. "
                "On equal scores, whoever reached the score first ranks higher."
            ),
            weight=f"{result.prior.weight:g}",
            mean=f"{result.prior.mean:g}",
        )
    )
    return [_message(loc, period, *lines, kind="ranking")]


def request_message(loc: Localizer, request: RequestView, visibility: Visibility) -> Message:
    """Build the request as the member receives it, always saying that accepting is the member's own choice."""
    title = loc.line(
        N_("Participation request R{request_id}: task T{task_id} {title}"),
        request_id=request.id,
        task_id=request.task.id,
        title=request.task.title,
    )
    lines = [
        loc.line(
            N_("{requester} would like you to take part in this task."),
            requester=requester_line(loc, request.task.requester),
        )
    ]
    if request.message:
        lines.append(loc.line(N_("Message from the partner: {message}"), message=request.message))
    lines.append(
        loc.line(
            N_(
                "This is a request, not an obligation: whether you accept is entirely your own "
                "choice, and declining has no effect on your evaluations or ranking."
            )
        )
    )
    lines.append(
        loc.line(
            N_(
                "Please answer by {expires_at}: /smarter accept R{request_id} joins the task, "
                "/smarter decline R{request_id} declines."
            ),
            expires_at=request.expires_at,
            request_id=request.id,
        )
    )
    actions = (
        Action(loc(N_("Accept")), f"/smarter accept R{request.id}", "primary"),
        Action(loc(N_("Decline")), f"/smarter decline R{request.id}"),
    )
    return Message(
        visibility,
        loc.locale,
        title=title,
        lines=tuple(lines),
        fields=task_fields(loc, request.task),
        actions=actions,
        kind="request",
    )


@present.register
def _(result: RequestView, loc: Localizer) -> list[Message]:
    texts = {
        RequestStatus.PENDING: N_(
            "Participation request R{request_id} to {member} for task T{task_id} was sent. "
            "The member is free to accept or decline."
        ),
        RequestStatus.ACCEPTED: N_("You accepted request R{request_id}. Thank you!"),
        RequestStatus.DECLINED: N_(
            "You declined request R{request_id}. Thank you for answering; the partner has been told."
        ),
    }
    line = loc.line(
        texts.get(result.status, N_("Request R{request_id} is {status}.")),
        request_id=result.id,
        member=result.member,
        task_id=result.task.id,
        status=T_(result.status),
    )
    if result.status == RequestStatus.ACCEPTED:
        return [_message(loc, None, line), _joined_message(loc, result.task)]
    return [_message(loc, None, line)]


def _request_row(loc: Localizer, request: RequestView) -> Line:
    values = {
        "request_id": request.id,
        "task_id": request.task.id,
        "title": request.task.title,
        "member": request.member,
        "status": T_(request.status),
        "expires_at": request.expires_at,
    }
    if request.status == RequestStatus.PENDING:
        return loc.line(
            N_("R{request_id}: task T{task_id} {title}, {member}, {status}, answer by {expires_at}"), **values
        )
    return loc.line(N_("R{request_id}: task T{task_id} {title}, {member}, {status}"), **values)


@present.register
def _(result: RequestList, loc: Localizer) -> list[Message]:
    if not result.requests:
        return [_message(loc, None, loc.line(N_("There are no participation requests.")))]
    lines = [_request_row(loc, request) for request in result.requests]
    title = loc.line(N_("Requests you sent")) if result.as_partner else loc.line(N_("Requests you received"))
    return [_message(loc, title, *lines)]


@present.register
def _(result: MemberUpdated, loc: Localizer) -> list[Message]:
    if result.changed == "grade":
        line = loc.line(
            N_("The grade of {member} (M{member_id}) is now {grade}."),
            member=result.member,
            member_id=result.member_id,
            grade=result.grade if result.grade is not None else T_("not set"),
        )
        return [_message(loc, None, line)]
    line = loc.line(
        N_("{member} (M{member_id}) is now a {membership} member, grade {grade}."),
        member=result.member,
        member_id=result.member_id,
        membership=T_(result.membership),
        grade=result.grade if result.grade is not None else "-",
    )
    return [_message(loc, None, line)]
