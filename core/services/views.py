"""Plain result data shared by several use cases: tasks as a viewer may see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from core.domain.enums import Eligibility, NameDisplay, TaskMenu, TaskStatus, WorkType
from core.domain.text import UserText
from core.storage.models import Person, Task

__all__ = ["Requester", "TaskView", "requester_for", "task_view"]


@dataclass(frozen=True, slots=True)
class Requester:
    """A partner as one viewer may see it; ``company`` is None when the name is hidden from that viewer."""

    partner_id: int
    company: UserText | None
    industry: str | None
    prefecture: str | None


@dataclass(frozen=True, slots=True)
class TaskView:
    id: int
    menu: TaskMenu
    title: UserText
    description: UserText
    work_types: tuple[WorkType, ...]
    deadline: datetime
    capacity: int | None
    participant_count: int
    eligibility: Eligibility
    min_grade: int | None
    status: TaskStatus
    copyright: UserText | None
    rubric_key: str
    requester: Requester
    viewer_is_partner: bool = False


def requester_for(partner: Person, *, viewer_id: int | None, secretariat: bool) -> Requester:
    """Show the company name to the partner itself and the secretariat, or when the partner chose it."""
    visible = partner.name_display != NameDisplay.INDUSTRY_PREFECTURE or secretariat or viewer_id == partner.id
    return Requester(
        partner_id=partner.id,
        company=UserText(partner.display_name) if visible else None,
        industry=partner.industry,
        prefecture=partner.prefecture,
    )


def task_view(session: Session, task: Task, *, viewer_id: int | None, secretariat: bool) -> TaskView:
    partner = session.get_one(Person, task.partner_id)
    return TaskView(
        id=task.id,
        menu=TaskMenu(task.menu),
        title=UserText(task.title),
        description=UserText(task.description),
        work_types=tuple(WorkType(value) for value in task.work_types),
        deadline=task.deadline,
        capacity=task.capacity,
        participant_count=task.participant_count,
        eligibility=Eligibility(task.eligibility),
        min_grade=task.min_grade,
        status=TaskStatus(task.status),
        copyright=UserText(task.copyright) if task.copyright else None,
        rubric_key=task.rubric_key,
        requester=requester_for(partner, viewer_id=viewer_id, secretariat=secretariat),
        viewer_is_partner=viewer_id == partner.id,
    )
