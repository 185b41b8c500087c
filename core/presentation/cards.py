"""Building blocks shared by replies and deliveries: the requester label and the task card."""

from __future__ import annotations

from core.domain.enums import Eligibility, TaskMenu, TaskStatus
from core.domain.errors import N_, T_
from core.presentation.i18n import Localizer
from core.presentation.messages import Action, Field, Line, Message, Visibility
from core.services.views import Requester, TaskView

__all__ = ["menu_label", "requester_line", "task_card", "task_fields", "task_title"]


def requester_line(loc: Localizer, requester: Requester) -> Line:
    """Name the partner as this viewer may see it: company name, or industry + prefecture."""
    if requester.company is not None:
        return loc.of(requester.company)
    return loc.line(
        N_("A company in {industry}, {prefecture}"),
        industry=requester.industry or "-",
        prefecture=requester.prefecture or "-",
    )


def menu_label(loc: Localizer, menu: TaskMenu) -> str:
    labels = {
        TaskMenu.BRAINSTORM: N_("Brainstorm (みんなでブレスト)"),
        TaskMenu.PRACTICE: N_("Practical work (おシゴト実践)"),
        TaskMenu.CONTEST: N_("Business contest (燃えろビジコン)"),
    }
    return loc.gettext(labels[menu])


def task_title(loc: Localizer, task: TaskView) -> Line:
    return loc.line(
        N_("[T{task_id}] {menu}: {title}"), task_id=task.id, menu=menu_label(loc, task.menu), title=task.title
    )


def _eligibility(loc: Localizer, task: TaskView) -> Line:
    if task.eligibility == Eligibility.PAID:
        return loc.line(N_("Paid members only"))
    if task.eligibility == Eligibility.GRADE:
        return loc.line(N_("Paid members of grade {grade} or higher"), grade=task.min_grade or 0)
    return loc.line(N_("All members"))


def task_fields(loc: Localizer, task: TaskView) -> tuple[Field, ...]:
    fields = [
        Field(loc(N_("Requester")), requester_line(loc, task.requester)),
        Field(loc(N_("Deadline")), loc.of(task.deadline)),
        Field(loc(N_("Status")), loc.of(T_(task.status))),
        Field(loc(N_("Eligibility")), _eligibility(loc, task)),
    ]
    if task.work_types:
        fields.append(Field(loc(N_("Work types")), loc.of(tuple(T_(t) for t in task.work_types))))
    if task.capacity is not None:
        fields.append(
            Field(
                loc(N_("Participants")),
                loc.line(N_("{count} / {capacity}"), count=task.participant_count, capacity=task.capacity),
            )
        )
    elif task.menu != TaskMenu.BRAINSTORM:
        fields.append(Field(loc(N_("Participants")), loc.line(N_("{count} (no limit)"), count=task.participant_count)))
    if task.menu == TaskMenu.CONTEST and task.copyright:
        fields.append(Field(loc(N_("Copyright of entries")), loc.of(task.copyright)))
    elif task.menu != TaskMenu.CONTEST:
        fields.append(Field(loc(N_("Copyright of deliverables")), loc.line(N_("Belongs to the partner"))))
    return tuple(fields)


def _card_actions(loc: Localizer, task: TaskView) -> tuple[Action, ...]:
    """Offer the partner its review commands, and members what they can still do while the task is open."""
    if task.viewer_is_partner:
        if task.menu == TaskMenu.BRAINSTORM:
            return (Action(loc(N_("Digest")), f"/smarter digest T{task.id}"),)
        return (Action(loc(N_("Submissions")), f"/smarter submissions T{task.id}"),)
    if task.status != TaskStatus.OPEN:
        return ()
    if task.menu == TaskMenu.BRAINSTORM:
        return (Action(loc(N_("Post an idea")), f"/smarter post T{task.id} "),)
    return (
        Action(loc(N_("Join")), f"/smarter join T{task.id}", "primary"),
        Action(loc(N_("Submit")), f"/smarter submit T{task.id} "),
    )


def task_card(loc: Localizer, task: TaskView, visibility: Visibility, *, with_actions: bool = True) -> Message:
    lines = (loc.of(task.description),) if task.description else ()
    actions = _card_actions(loc, task) if with_actions else ()
    return Message(
        visibility,
        loc.locale,
        title=task_title(loc, task),
        lines=lines,
        fields=task_fields(loc, task),
        actions=actions,
        kind="task",
    )
