"""Brainstorm sessions: posting ideas and the partner's digest of the discussion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.domain.enums import Role, TaskMenu
from core.domain.errors import N_, T_, UserError
from core.domain.text import UserText, check_length
from core.services.context import Actor, ServiceContext
from core.services.lookup import load_task, require_person, require_task_owner
from core.services.outbox import enqueue
from core.services.participation import check_eligible, check_open
from core.services.views import TaskView, task_view
from core.storage.models import Person, Post, Task

__all__ = ["Digest", "DigestPost", "PostRecorded", "brainstorm_digest", "post_idea"]

POST_MAX = 2000


@dataclass(frozen=True, slots=True)
class PostRecorded:
    task: TaskView
    post_id: int
    author: UserText
    text: UserText


@dataclass(frozen=True, slots=True)
class DigestPost:
    author: UserText
    text: UserText
    reactions: int
    posted_at: datetime
    by_partner: bool


@dataclass(frozen=True, slots=True)
class Digest:
    task: TaskView
    posts: list[DigestPost]
    authors: int


def _require_brainstorm(task: Task) -> None:
    if task.menu != TaskMenu.BRAINSTORM:
        raise UserError(N_("Task T{task_id} is not a brainstorm; this works for brainstorms only."), task_id=task.id)


def post_idea(ctx: ServiceContext, actor: Actor, task_id: int, text: str, *, in_thread: bool = False) -> PostRecorded:
    """Record a post in a brainstorm from an eligible member or from the brainstorm's partner.

    A post typed as a reply in the brainstorm's thread (``in_thread``) is already there for everyone to see.
    A post sent by command or form is also delivered into the thread, so others can read and react to it.
    """
    body = check_length(T_("post"), text, POST_MAX, multiline=True)
    with ctx.transaction() as session:
        person = require_person(session, actor)
        task = load_task(session, task_id, share=True)
        _require_brainstorm(task)
        check_open(ctx, task)
        if person.role == Role.MEMBER:
            check_eligible(task, person)
        elif person.id != task.partner_id:
            raise UserError(
                N_("Only members and the brainstorm's own partner can post in brainstorm T{task_id}."), task_id=task.id
            )

        post = Post(task_id=task.id, author_id=person.id, text=body, created_at=ctx.now())
        session.add(post)
        session.flush()
        if not in_thread:
            enqueue(
                session, at=ctx.now(), key=f"post:{post.id}", kind="brainstorm.post", task_id=task.id, post_id=post.id
            )
        view = task_view(session, task, viewer_id=person.id, secretariat=ctx.is_secretariat(actor))
        return PostRecorded(task=view, post_id=post.id, author=UserText(person.display_name), text=body)


def brainstorm_digest(ctx: ServiceContext, actor: Actor, task_id: int) -> Digest:
    """Return every post of a brainstorm in order, for its partner or the secretariat."""
    with ctx.transaction() as session:
        task = load_task(session, task_id)
        _require_brainstorm(task)
        owner = require_task_owner(ctx, session, actor, task)
        return digest_of(session, task, viewer_id=owner.id if owner else None, secretariat=ctx.is_secretariat(actor))


def digest_of(session: Session, task: Task, *, viewer_id: int | None, secretariat: bool) -> Digest:
    """Collect the posts of brainstorm ``task`` in order, as ``viewer_id`` may see the task."""
    rows = session.execute(
        select(Post, Person.display_name, Person.role)
        .join(Person, Person.id == Post.author_id)
        .where(Post.task_id == task.id)
        .order_by(Post.created_at, Post.id)
    ).all()
    posts = [
        DigestPost(UserText(name), UserText(post.text), post.reactions, post.created_at, role == Role.PARTNER)
        for post, name, role in rows
    ]
    view = task_view(session, task, viewer_id=viewer_id, secretariat=secretariat)
    return Digest(task=view, posts=posts, authors=len({post.author_id for post, _, _ in rows}))
