"""SQLAlchemy 2 typed models of the service's tables."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "Evaluation",
    "FrozenStandings",
    "Identity",
    "MemberScore",
    "OutboxMessage",
    "Participation",
    "ParticipationRequest",
    "Person",
    "Post",
    "Schedule",
    "ScheduledRun",
    "Submission",
    "Task",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; use an aware UTC datetime")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Person(Base):
    """A registered partner or member. Secretariat staff are named in configuration instead."""

    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    role: Mapped[str] = mapped_column(String(16))
    display_name: Mapped[str] = mapped_column(String(100))
    # display_name.casefold(): names are unique and looked up ignoring case, the same on every database.
    name_key: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str | None] = mapped_column(String(8))
    membership: Mapped[str | None] = mapped_column(String(8))
    grade: Mapped[int | None]
    name_display: Mapped[str | None] = mapped_column(String(32))
    industry: Mapped[str | None] = mapped_column(String(64))
    prefecture: Mapped[str | None] = mapped_column(String(8))
    # A member who opts out is left out of public rankings and announcements but still sees their own rank.
    ranking_public: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    # Participation requests also go by e-mail while this is set and ``email`` is given.
    email_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    # Nicknames are unique among members because commands name members by them. Company names are not
    # unique: a check would tell anyone that a partner hiding its name is registered under it.
    __table_args__ = (
        Index(
            "uq_people_member_name_key",
            "name_key",
            unique=True,
            sqlite_where=text("role = 'member'"),
            postgresql_where=text("role = 'member'"),
        ),
    )


class Identity(Base):
    """A chat account (platform, workspace, user id) linked to a person."""

    __tablename__ = "identities"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    # Only for writing an identity together with a new person; lazy="raise" keeps reads explicit.
    person: Mapped[Person] = relationship(lazy="raise")


class Task(Base):
    __tablename__ = "tasks"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    menu: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(100))
    description: Mapped[str] = mapped_column(Text, default="")
    work_types: Mapped[list[Any]] = mapped_column(default=list)
    deadline: Mapped[datetime]
    capacity: Mapped[int | None]
    participant_count: Mapped[int] = mapped_column(default=0)
    eligibility: Mapped[str] = mapped_column(String(8))
    min_grade: Mapped[int | None]
    status: Mapped[str] = mapped_column(String(16), index=True)
    copyright: Mapped[str | None] = mapped_column(Text)
    rubric_key: Mapped[str] = mapped_column(String(64))
    # Contests only: from this time until the results are published (status evaluated), members see the
    # standings as they were at this time, while the partner and the secretariat see them live.
    freeze_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Participation(Base):
    __tablename__ = "participations"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    status: Mapped[str] = mapped_column(String(8))
    joined_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Counts joins and leaves, so each one gets its own channel delivery key.
    changes: Mapped[int] = mapped_column(default=1)

    __table_args__ = (UniqueConstraint("task_id", "member_id", name="uq_participations_task_member"),)


class Post(Base):
    """A brainstorm post (an idea in the session's thread)."""

    __tablename__ = "posts"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    text: Mapped[str] = mapped_column(Text)
    reactions: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Submission(Base):
    """One version of a member's deliverable for a task; a resubmission adds a version."""

    __tablename__ = "submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    version: Mapped[int]
    text: Mapped[str] = mapped_column(Text, default="")
    links: Mapped[list[Any]] = mapped_column(default=list)
    files: Mapped[list[Any]] = mapped_column(default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    __table_args__ = (UniqueConstraint("task_id", "member_id", "version", name="uq_submissions_task_member_version"),)


class Evaluation(Base):
    """The partner's current evaluation of a member's work on a task; a re-evaluation replaces it."""

    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id"))
    partner_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    rubric: Mapped[dict[str, Any]]
    levels: Mapped[dict[str, Any]]
    remarks: Mapped[dict[str, Any]] = mapped_column(default=dict)
    advice: Mapped[str] = mapped_column(Text, default="")
    points: Mapped[int] = mapped_column(Integer)
    # The points included in the ranking totals: None or older points while a frozen contest hides the
    # evaluation, so that the member rankings do not reveal it before the results.
    counted_points: Mapped[int | None] = mapped_column(Integer)
    period: Mapped[str] = mapped_column(String(8))
    evaluated_at: Mapped[datetime]
    revision: Mapped[int] = mapped_column(default=1)

    __table_args__ = (UniqueConstraint("task_id", "member_id", name="uq_evaluations_task_member"),)


class MemberScore(Base):
    """Running ranking totals of one member in one period (``all`` or a Tokyo month ``2026-12``).

    Scores are summed as integer points (hundredths of the 0–100 score) so that the totals equal a
    from-scratch aggregate exactly. ``rank_score`` is the Bayesian average in points, and
    ``reached_at`` is when the total last changed, the first tie-breaker.
    """

    __tablename__ = "member_scores"

    period: Mapped[str] = mapped_column(String(8), primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id"), primary_key=True)
    evaluation_count: Mapped[int] = mapped_column(Integer)
    points_sum: Mapped[int] = mapped_column(BigInteger)
    rank_score: Mapped[float] = mapped_column(Float)
    reached_at: Mapped[datetime]


# Top-N reads walk this index in order instead of sorting every total of the period.
Index(
    "ix_member_scores_ranking",
    MemberScore.period,
    MemberScore.rank_score.desc(),
    MemberScore.reached_at,
    MemberScore.member_id,
)


class ParticipationRequest(Base):
    __tablename__ = "participation_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"))
    message: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    responded_at: Mapped[datetime | None]


class OutboxMessage(Base):
    """An effect to deliver after the change that caused it has committed."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    delivery_key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    # The chat platform that must deliver the row (an announcement to one of its channels); None for any.
    platform: Mapped[str | None] = mapped_column(String(16))
    payload: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(index=True)
    # Earliest time of the next attempt after a temporary failure (retry backoff).
    not_before: Mapped[datetime | None]
    # A worker that claimed the row owns it until ``claimed_until``; after that another worker may take it.
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    claimed_until: Mapped[datetime | None]
    # Set when delivery failed for good (permanent error or too many attempts); the row is not retried.
    failed_at: Mapped[datetime | None]


# Workers look for pending rows of their kinds in id order.
Index(
    "ix_outbox_pending",
    OutboxMessage.kind,
    OutboxMessage.id,
    sqlite_where=text("delivered_at IS NULL AND failed_at IS NULL"),
    postgresql_where=text("delivered_at IS NULL AND failed_at IS NULL"),
)


class FrozenStandings(Base):
    """A contest's standings as they were when its freeze began, shown to members until the results."""

    __tablename__ = "frozen_standings"

    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    frozen_at: Mapped[datetime]
    # [{"member_id": 3, "points": 8125}, ...] for every evaluated entrant at the freeze.
    entries: Mapped[list[Any]]


class Schedule(Base):
    """A scheduled job: a ranking announcement or a reminder, with its cron rule.

    Rows follow the settings on each start until the secretariat changes them from chat.
    """

    __tablename__ = "schedules"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    job: Mapped[str] = mapped_column(String(32))
    cron: Mapped[str] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    # Ranking announcements only: which table (all, season or previous_season) and how many members.
    table: Mapped[str | None] = mapped_column(String(16))
    size: Mapped[int | None]
    # Announcement target as platform:workspace:channel; None means the configured announcement channels.
    channel: Mapped[str | None] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # None while the row follows the settings; the secretariat account that changed it from chat otherwise.
    changed_by: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class ScheduledRun(Base):
    """One run of a scheduled job for one slot (the scheduled fire time); the key that makes runs happen once."""

    __tablename__ = "scheduled_runs"

    schedule: Mapped[str] = mapped_column(String(32), primary_key=True)
    slot: Mapped[datetime] = mapped_column(primary_key=True)
    ran_at: Mapped[datetime]
    # Ranking announcements: the period shown and the public rows [{"member_id", "rank", "points", "count"}].
    period: Mapped[str | None] = mapped_column(String(8))
    entries: Mapped[list[Any]] = mapped_column(default=list)


class InboundRequest(Base):
    """A request from a chat platform (event, interaction), recorded before it is handled so retries run once.

    ``completed_at`` stays empty until the handler finished. A retry that finds a completed row is dropped, and
    so is one whose handler is still inside ``lease_until``. A retry whose lease ran out is handled again,
    because the first attempt died.
    """

    __tablename__ = "inbound_requests"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    request_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    lease_until: Mapped[datetime]
    completed_at: Mapped[datetime | None]


class ChatPlace(Base):
    """The place of a task on a chat platform: its task channel, or its brainstorm thread (channel + parent)."""

    __tablename__ = "chat_places"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("tasks.id"), primary_key=True)
    # "task_channel" or "brainstorm_thread".
    purpose: Mapped[str] = mapped_column(String(24), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64))
    # The parent message of a brainstorm thread; None for a task channel.
    thread_id: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    archived_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_chat_places_channel", "platform", "workspace", "channel_id", "thread_id"),)


class ChatPost(Base):
    """The chat message that carried a brainstorm post, so reactions on it can be counted."""

    __tablename__ = "chat_posts"

    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    workspace: Mapped[str] = mapped_column(String(64), primary_key=True)
    channel_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    post_id: Mapped[int] = mapped_column(ForeignKey("posts.id"), index=True)


class DeliveryStep(Base):
    """One finished step of a multi-step outbox delivery (channel created, message part posted, file uploaded).

    A retried delivery skips the steps recorded here, so a rate limit or a crash half-way posts nothing twice.
    """

    __tablename__ = "delivery_steps"

    delivery_key: Mapped[str] = mapped_column(String(200), primary_key=True)
    step: Mapped[str] = mapped_column(String(64), primary_key=True)
    result: Mapped[str | None] = mapped_column(String(200))
    done_at: Mapped[datetime] = mapped_column(default=utcnow)
