"""Enumerations shared by the domain, the storage layer and the command parser."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "Eligibility",
    "Membership",
    "NameDisplay",
    "ParticipationStatus",
    "RequestStatus",
    "Role",
    "TaskMenu",
    "TaskStatus",
    "WorkType",
]


class Role(StrEnum):
    PARTNER = "partner"
    MEMBER = "member"


class Membership(StrEnum):
    FREE = "free"
    PAID = "paid"


class TaskMenu(StrEnum):
    BRAINSTORM = "brainstorm"
    PRACTICE = "practice"
    CONTEST = "contest"


class WorkType(StrEnum):
    RESEARCH = "research"
    ANALYSIS = "analysis"
    IDEAS = "ideas"
    ORGANIZING = "organizing"


class Eligibility(StrEnum):
    ALL = "all"
    PAID = "paid"
    GRADE = "grade"


class TaskStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    EVALUATED = "evaluated"
    ARCHIVED = "archived"


class ParticipationStatus(StrEnum):
    JOINED = "joined"
    LEFT = "left"


class RequestStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"


class NameDisplay(StrEnum):
    COMPANY = "company"
    INDUSTRY_PREFECTURE = "industry_prefecture"


# Each status lists the statuses a partner may move a task to next.
TASK_TRANSITIONS: dict[TaskStatus, tuple[TaskStatus, ...]] = {
    TaskStatus.OPEN: (TaskStatus.CLOSED,),
    TaskStatus.CLOSED: (TaskStatus.EVALUATED, TaskStatus.OPEN),
    TaskStatus.EVALUATED: (TaskStatus.ARCHIVED,),
    TaskStatus.ARCHIVED: (),
}
