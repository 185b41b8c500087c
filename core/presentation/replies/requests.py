"""Replies about participation requests, and the request as the member receives it."""

from __future__ import annotations

from core.domain.enums import RequestStatus
from core.domain.errors import N_, T_
from core.presentation.cards import requester_line, task_fields
from core.presentation.i18n import Localizer
from core.presentation.messages import Action, Line, Message, Visibility
from core.presentation.replies.base import present, reply_message
from core.presentation.replies.tasks import joined_message
from core.services.requests import RequestList, RequestView

__all__ = ["request_message"]


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
        return [reply_message(loc, None, line), joined_message(loc, result.task)]
    return [reply_message(loc, None, line)]


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
        return [reply_message(loc, None, loc.line(N_("There are no participation requests.")))]
    lines = [_request_row(loc, request) for request in result.requests]
    title = loc.line(N_("Requests you sent")) if result.as_partner else loc.line(N_("Requests you received"))
    return [reply_message(loc, title, *lines)]
