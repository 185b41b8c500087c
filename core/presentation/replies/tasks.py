"""Replies about tasks: cards and lists, status and deadline changes, joining, leaving and brainstorm posts."""

from __future__ import annotations

from core.domain.enums import TaskMenu
from core.domain.errors import N_, T_
from core.presentation.cards import requester_line, task_card, task_title
from core.presentation.i18n import Localizer
from core.presentation.messages import Line, Message
from core.presentation.replies.base import EPHEMERAL, present, reply_message
from core.services.brainstorms import Digest, DigestPost, PostRecorded
from core.services.participation import Joined, Left
from core.services.tasks import DeadlineChanged, StatusChanged, TaskList
from core.services.views import TaskView

__all__ = ["joined_message"]


@present.register
def _(result: TaskView, loc: Localizer) -> list[Message]:
    return [task_card(loc, result, EPHEMERAL)]


@present.register
def _(result: TaskList, loc: Localizer) -> list[Message]:
    if not result.tasks and result.include_closed:
        return [reply_message(loc, None, loc.line(N_("There are no tasks yet, apart from archived ones.")))]
    if not result.tasks:
        return [reply_message(loc, None, loc.line(N_("There are no open tasks right now.")))]
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
    return [reply_message(loc, title, *lines)]


@present.register
def _(result: StatusChanged, loc: Localizer) -> list[Message]:
    line = loc.line(
        N_("Task T{task_id} is now {status} (it was {previous})."),
        task_id=result.task.id,
        status=T_(result.task.status),
        previous=T_(result.previous),
    )
    return [reply_message(loc, None, line)]


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
    return [reply_message(loc, None, line)]


@present.register
def _(result: Joined, loc: Localizer) -> list[Message]:
    return [joined_message(loc, result.task)]


def joined_message(loc: Localizer, task: TaskView) -> Message:
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
    return reply_message(loc, task_title(loc, task), *lines)


@present.register
def _(result: Left, loc: Localizer) -> list[Message]:
    return [
        reply_message(
            loc,
            None,
            loc.line(N_("You have left task T{task_id}. Anything you submitted is kept."), task_id=result.task.id),
        )
    ]


@present.register
def _(result: PostRecorded, loc: Localizer) -> list[Message]:
    return [
        reply_message(
            loc, None, loc.line(N_("Your idea was posted to brainstorm T{task_id}. Thank you!"), task_id=result.task.id)
        )
    ]


def _digest_line(loc: Localizer, post: DigestPost) -> Line:
    author = (
        loc.line(N_("{company} (partner)"), company=post.author)
        if post.by_partner
        else loc.line(N_("{member}"), member=post.author)
    )
    if post.reactions:
        return loc.line(
            N_("{author}: {text} (reactions: {reactions})"), author=author, text=post.text, reactions=post.reactions
        )
    return loc.line(N_("{author}: {text}"), author=author, text=post.text)


@present.register
def _(result: Digest, loc: Localizer) -> list[Message]:
    lines = [loc.line(N_("Posts: {count}; authors: {authors}."), count=len(result.posts), authors=result.authors)]
    lines.extend(_digest_line(loc, post) for post in result.posts)
    title = loc.line(N_("Digest of brainstorm T{task_id}: {title}"), task_id=result.task.id, title=result.task.title)
    return [reply_message(loc, title, *lines, kind="digest")]
