"""Participation requests (参加要請): non-binding invitations from a partner to a member."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from core.domain.enums import ParticipationStatus, RequestStatus, Role, TaskMenu, TaskStatus
from core.domain.errors import N_, T_, UserError
from core.domain.text import TOKYO, UserText, check_length, normalize
from core.services.context import Actor, ServiceContext
from core.services.lookup import check_own_task, load_member, load_task, require_partner, require_person
from core.services.outbox import enqueue
from core.services.participation import check_eligible, join_in_session
from core.services.views import TaskView, task_view
from core.storage.models import Participation, ParticipationRequest, Person, Task

__all__ = ["RequestList", "RequestView", "answer_request", "list_requests", "parse_request_id", "send_request"]

MESSAGE_MAX = 1000


@dataclass(frozen=True, slots=True)
class RequestView:
    id: int
    task: TaskView
    member: UserText
    message: UserText
    status: RequestStatus
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class RequestList:
    as_partner: bool
    requests: list[RequestView]


def parse_request_id(text: str) -> int:
    match = re.fullmatch(r"[Rr]?(\d{1,9})", normalize(text))
    if not match:
        raise UserError(
            N_("{value} is not a request id. Request ids look like R3; /smarter requests lists them."),
            value=UserText(text),
        )
    return int(match.group(1))


def request_view(
    session: Session, request: ParticipationRequest, *, viewer_id: int | None, secretariat: bool
) -> RequestView:
    task = session.get_one(Task, request.task_id)
    member = session.get_one(Person, request.member_id)
    return RequestView(
        id=request.id,
        task=task_view(session, task, viewer_id=viewer_id, secretariat=secretariat),
        member=UserText(member.display_name),
        message=UserText(request.message),
        status=RequestStatus(request.status),
        created_at=request.created_at,
        expires_at=request.expires_at,
    )


def _start_of_tokyo_day(now: datetime) -> datetime:
    local = now.astimezone(TOKYO)
    return datetime.combine(local.date(), time(0, 0), tzinfo=TOKYO)


def _check_daily_limit(ctx: ServiceContext, session: Session, partner: Person) -> None:
    limit = ctx.policy.requests_per_partner_per_day
    sent = session.scalar(
        select(func.count())
        .select_from(ParticipationRequest)
        .where(
            ParticipationRequest.partner_id == partner.id,
            ParticipationRequest.created_at >= _start_of_tokyo_day(ctx.now()),
        )
    )
    if (sent or 0) >= limit:
        raise UserError(
            N_(
                "You have reached today's limit of {limit} participation requests. "
                "Please send more tomorrow (the day changes at midnight Japan time)."
            ),
            limit=limit,
        )


def _check_requestable(ctx: ServiceContext, task: Task) -> None:
    if task.menu == TaskMenu.BRAINSTORM:
        raise UserError(
            N_(
                "Participation requests are for practice tasks and contests; T{task_id} is a brainstorm, "
                "where every eligible member can post without one."
            ),
            task_id=task.id,
        )
    if task.status != TaskStatus.OPEN:
        raise UserError(
            N_("Task T{task_id} is {status}; participation requests can be sent only while it is open."),
            task_id=task.id,
            status=T_(task.status),
        )
    if task.deadline <= ctx.now():
        raise UserError(
            N_(
                "The deadline of task T{task_id} ({deadline}) has passed. Extend it with "
                "/smarter task deadline T{task_id} <date> before sending requests."
            ),
            task_id=task.id,
            deadline=task.deadline,
        )


def _has_joined(session: Session, task: Task, member: Person) -> bool:
    joined = session.scalars(
        select(Participation.id).where(
            Participation.task_id == task.id,
            Participation.member_id == member.id,
            Participation.status == ParticipationStatus.JOINED,
        )
    ).first()
    return joined is not None


def _check_member_can_join(session: Session, task: Task, member: Person) -> None:
    """Raise if the member has already joined or could not accept because of the task's eligibility."""
    if _has_joined(session, task, member):
        raise UserError(
            N_("{member} has already joined task T{task_id}."), member=UserText(member.display_name), task_id=task.id
        )
    try:
        check_eligible(task, member)
    except UserError as error:
        raise UserError(
            N_(
                "{member} does not meet the eligibility of task T{task_id} (membership or grade), so the member "
                "could not accept a request."
            ),
            member=UserText(member.display_name),
            task_id=task.id,
        ) from error


def send_request(ctx: ServiceContext, actor: Actor, member_ref: str, task_id: int, *, message: str = "") -> RequestView:
    """Ask a member to take part in one of the partner's open tasks; the member is free to decline."""
    text = check_length(T_("message"), message, MESSAGE_MAX, minimum=0, multiline=True)
    now = ctx.now()
    with ctx.transaction() as session:
        partner = require_partner(session, actor)
        # Lock the partner's row so that concurrent requests count against the daily limit one at a time.
        session.scalars(select(Person.id).where(Person.id == partner.id).with_for_update()).one()
        task = load_task(session, task_id)
        check_own_task(partner, task)
        _check_requestable(ctx, task)
        member = load_member(session, member_ref)
        _check_member_can_join(session, task, member)
        duplicate = session.scalars(
            select(ParticipationRequest.id).where(
                ParticipationRequest.partner_id == partner.id,
                ParticipationRequest.member_id == member.id,
                ParticipationRequest.task_id == task.id,
                ParticipationRequest.status == RequestStatus.PENDING,
                ParticipationRequest.expires_at > now,
            )
        ).first()
        if duplicate is not None:
            raise UserError(
                N_(
                    "You have already asked {member} to join task T{task_id} (request R{request_id}); "
                    "please wait for the answer."
                ),
                member=UserText(member.display_name),
                task_id=task.id,
                request_id=duplicate,
            )
        _check_daily_limit(ctx, session, partner)

        expires_at = min(task.deadline, now + timedelta(days=ctx.policy.request_expiry_days))
        request = ParticipationRequest(
            partner_id=partner.id,
            member_id=member.id,
            task_id=task.id,
            message=text,
            status=RequestStatus.PENDING,
            created_at=now,
            expires_at=expires_at,
        )
        session.add(request)
        session.flush()
        enqueue(session, at=ctx.now(), key=f"request:{request.id}:sent", kind="request.sent", request_id=request.id)
        if member.email and member.email_enabled:
            enqueue(
                session, at=ctx.now(), key=f"request:{request.id}:email", kind="request.email", request_id=request.id
            )
        return request_view(session, request, viewer_id=partner.id, secretariat=False)


def _expire(session: Session, now: datetime, *, member_id: int | None = None, partner_id: int | None = None) -> None:
    """Mark pending requests past their expiry as expired."""
    statement = select(ParticipationRequest).where(
        ParticipationRequest.status == RequestStatus.PENDING, ParticipationRequest.expires_at <= now
    )
    if member_id is not None:
        statement = statement.where(ParticipationRequest.member_id == member_id)
    if partner_id is not None:
        statement = statement.where(ParticipationRequest.partner_id == partner_id)
    for request in session.scalars(statement):
        request.status = RequestStatus.EXPIRED


def answer_request(ctx: ServiceContext, actor: Actor, request_id: int, *, accept: bool) -> RequestView:
    """Accept (and join the task) or decline a request; the partner gets a DM either way."""
    now = ctx.now()
    with ctx.transaction() as session:
        person = require_person(session, actor)
        task_id = session.scalar(select(ParticipationRequest.task_id).where(ParticipationRequest.id == request_id))
        # Lock the task before the request. change_deadline takes the same two locks in the same order,
        # so neither can wait on the other's second lock.
        task = load_task(session, task_id, lock=True) if task_id is not None else None
        request = session.scalars(
            select(ParticipationRequest).where(ParticipationRequest.id == request_id).with_for_update()
        ).one_or_none()
        if task is None or request is None or request.member_id != person.id:
            raise UserError(
                N_("You have no participation request R{request_id}. /smarter requests lists yours."),
                request_id=request_id,
            )
        if request.status == RequestStatus.PENDING and request.expires_at <= now:
            request.status = RequestStatus.EXPIRED
        if request.status != RequestStatus.PENDING:
            raise UserError(
                N_("Request R{request_id} is already {status}; there is nothing to answer."),
                request_id=request_id,
                status=T_(request.status),
            )

        if accept and not _has_joined(session, task, person):
            join_in_session(ctx, session, person, task)
        request.status = RequestStatus.ACCEPTED if accept else RequestStatus.DECLINED
        request.responded_at = now
        enqueue(
            session, at=ctx.now(), key=f"request:{request.id}:answered", kind="request.answered", request_id=request.id
        )
        return request_view(session, request, viewer_id=person.id, secretariat=False)


def list_requests(ctx: ServiceContext, actor: Actor) -> RequestList:
    """List the member's received requests, or the partner's sent ones, newest first."""
    now = ctx.now()
    with ctx.transaction() as session:
        person = require_person(session, actor)
        as_partner = person.role == Role.PARTNER
        column = ParticipationRequest.partner_id if as_partner else ParticipationRequest.member_id
        if as_partner:
            _expire(session, now, partner_id=person.id)
        else:
            _expire(session, now, member_id=person.id)
        statement = (
            select(ParticipationRequest)
            .where(column == person.id)
            .where(
                or_(
                    ParticipationRequest.status == RequestStatus.PENDING,
                    ParticipationRequest.created_at >= now - timedelta(days=30),
                )
            )
            .order_by(ParticipationRequest.id.desc())
            .limit(50)
        )
        requests = [
            request_view(session, r, viewer_id=person.id, secretariat=False) for r in session.scalars(statement)
        ]
        return RequestList(as_partner=as_partner, requests=requests)
