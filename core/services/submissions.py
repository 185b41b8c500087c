"""Submissions: versioned deliverables (text, links, file references) and the partner's list of them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from core.domain.enums import ParticipationStatus, TaskMenu
from core.domain.errors import N_, T_, UserError
from core.domain.text import UserText, check_length
from core.services.context import Actor, ServiceContext
from core.services.lookup import load_task, require_member, require_task_owner
from core.services.participation import check_eligible, check_open
from core.services.views import TaskView, task_view
from core.storage.models import Evaluation, Participation, Person, Submission

__all__ = ["SubmissionList", "SubmissionRow", "Submitted", "list_submissions", "submit"]

TEXT_MAX = 10_000
LINK_MAX = 500
FILE_MAX = 300
ATTACHMENTS_MAX = 10
URL = re.compile(r"^https?://[^\s<>]+$")


@dataclass(frozen=True, slots=True)
class Submitted:
    task: TaskView
    version: int
    text: UserText
    links: tuple[UserText, ...]
    files: tuple[UserText, ...]


@dataclass(frozen=True, slots=True)
class SubmissionRow:
    member_id: int
    member: UserText
    version: int
    submitted_at: datetime
    text: UserText
    links: tuple[UserText, ...]
    files: tuple[UserText, ...]
    points: int | None


@dataclass(frozen=True, slots=True)
class SubmissionList:
    task: TaskView
    rows: list[SubmissionRow]


def _check_attachments(links: tuple[str, ...], files: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Return the links and file names without invisible characters, or raise for a bad one."""
    if len(links) > ATTACHMENTS_MAX or len(files) > ATTACHMENTS_MAX:
        raise UserError(
            N_("A submission can carry at most {maximum} links and {maximum} files."), maximum=ATTACHMENTS_MAX
        )
    cleaned_links = tuple(check_length(T_("link"), link, LINK_MAX) for link in links)
    for link in cleaned_links:
        if not URL.match(link):
            raise UserError(
                N_(
                    "{value} is not a web address. Links must start with https:// or http:// and contain no "
                    "spaces; separate several links with commas."
                ),
                value=UserText(link),
            )
    cleaned_files = tuple(check_length(T_("file"), name, FILE_MAX) for name in files)
    return cleaned_links, cleaned_files


def submit(
    ctx: ServiceContext,
    actor: Actor,
    task_id: int,
    *,
    text: str = "",
    links: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
) -> Submitted:
    """Store a new version of the actor's deliverable; earlier versions are kept."""
    body = check_length(T_("text"), text, TEXT_MAX, minimum=0, multiline=True)
    links, files = _check_attachments(links, files)
    if not body and not links and not files:
        raise UserError(N_('The submission is empty. Add text="...", links= or files=.'))

    with ctx.transaction() as session:
        member = require_member(session, actor)
        task = load_task(session, task_id, share=True)
        if task.menu == TaskMenu.BRAINSTORM:
            raise UserError(
                N_("Brainstorm T{task_id} takes posts, not submissions: use /smarter post T{task_id}."), task_id=task.id
            )
        joined = session.scalars(
            select(Participation.id)
            .where(
                Participation.task_id == task.id,
                Participation.member_id == member.id,
                Participation.status == ParticipationStatus.JOINED,
            )
            # The participation row lock numbers one member's concurrent submissions one after another.
            .with_for_update()
        ).first()
        if joined is None:
            raise UserError(N_("Join task T{task_id} before submitting: /smarter join T{task_id}."), task_id=task.id)
        check_open(ctx, task)
        check_eligible(task, member)

        latest = session.scalar(
            select(func.max(Submission.version)).where(Submission.task_id == task.id, Submission.member_id == member.id)
        )
        version = (latest or 0) + 1
        session.add(
            Submission(
                task_id=task.id,
                member_id=member.id,
                version=version,
                text=body,
                links=list(links),
                files=list(files),
                created_at=ctx.now(),
            )
        )
        session.flush()
        view = task_view(session, task, viewer_id=member.id, secretariat=False)
        return Submitted(
            task=view,
            version=version,
            text=body,
            links=tuple(UserText(v) for v in links),
            files=tuple(UserText(v) for v in files),
        )


def list_submissions(ctx: ServiceContext, actor: Actor, task_id: int) -> SubmissionList:
    """Return each member's latest submission with its current score, for the task's partner."""
    with ctx.transaction() as session:
        task = load_task(session, task_id)
        owner = require_task_owner(ctx, session, actor, task)

        latest = (
            select(Submission.member_id, func.max(Submission.version).label("version"))
            .where(Submission.task_id == task.id)
            .group_by(Submission.member_id)
            .subquery()
        )
        statement = (
            select(Submission, Person.display_name, Evaluation.points)
            .join(latest, (latest.c.member_id == Submission.member_id) & (latest.c.version == Submission.version))
            .join(Person, Person.id == Submission.member_id)
            .outerjoin(Evaluation, Evaluation.submission_id == Submission.id)
            .where(Submission.task_id == task.id)
            .order_by(Submission.created_at, Submission.id)
        )
        rows = [
            SubmissionRow(
                member_id=submission.member_id,
                member=UserText(name),
                version=submission.version,
                submitted_at=submission.created_at,
                text=UserText(submission.text),
                links=tuple(UserText(v) for v in submission.links),
                files=tuple(UserText(v) for v in submission.files),
                points=points,
            )
            for submission, name, points in session.execute(statement)
        ]
        view = task_view(session, task, viewer_id=owner.id if owner else None, secretariat=ctx.is_secretariat(actor))
        return SubmissionList(task=view, rows=rows)
