"""Rankings: totals kept up to date with each evaluation, top-N reads and a from-scratch rebuild."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, bindparam, delete, func, literal, or_, select, text
from sqlalchemy.orm import Session

from core.domain.errors import N_, UserError
from core.domain.scoring import ALL_TIME, RankingPrior, month_period
from core.domain.text import TOKYO, UserText, normalize
from core.services.context import Actor, ServiceContext
from core.services.lookup import find_person
from core.storage.models import Evaluation, MemberScore, Person, UTCDateTime

__all__ = [
    "RankingRow",
    "RankingTable",
    "add_contribution",
    "parse_period",
    "rebuild_rankings",
    "show_ranking",
    "top_members",
]


@dataclass(frozen=True, slots=True)
class RankingRow:
    rank: int
    member_id: int
    nickname: UserText
    score: float
    evaluation_count: int


@dataclass(frozen=True, slots=True)
class RankingTable:
    period: str
    rows: list[RankingRow]
    own: RankingRow | None
    prior: RankingPrior
    # True when the viewer opted out of public rankings, so their own place is not in the public list.
    own_hidden: bool = False


# NOTE: written as text because SQLAlchemy 2.0's dialect insert() for ON CONFLICT is not cacheable, so it
# was compiled on every evaluation and tripled the cost of the write (bench/evaluation_write.py).
# SQLite and PostgreSQL accept the same statement. The rank score repeats RankingPrior.rank_points
# in the same order of operations, so the stored float equals a from-scratch aggregate exactly.
_ADD_CONTRIBUTION = text(
    """
    INSERT INTO member_scores (period, member_id, evaluation_count, points_sum, rank_score, reached_at)
    VALUES (:period, :member_id, :count, :points, :rank_score, :at)
    ON CONFLICT (period, member_id) DO UPDATE SET
        evaluation_count = member_scores.evaluation_count + excluded.evaluation_count,
        points_sum = member_scores.points_sum + excluded.points_sum,
        rank_score = (:prior_points + (member_scores.points_sum + excluded.points_sum))
            / (:weight + (member_scores.evaluation_count + excluded.evaluation_count)),
        reached_at = excluded.reached_at
    """
).bindparams(bindparam("at", type_=UTCDateTime()))


def add_contribution(
    session: Session,
    prior: RankingPrior,
    *,
    member_id: int,
    periods: tuple[str, ...],
    points: int,
    count: int,
    at: datetime,
) -> None:
    """Add ``points`` and ``count`` to the member's totals in each period, in the caller's transaction.

    A re-evaluation passes the point difference and ``count=0``, which replaces its old contribution.
    """
    for period in periods:
        session.execute(
            _ADD_CONTRIBUTION,
            {
                "period": period,
                "member_id": member_id,
                "count": count,
                "points": points,
                "rank_score": prior.rank_points(points, count),
                "at": at,
                "prior_points": prior.prior_points,
                "weight": prior.weight,
            },
        )


def _ranking_query(period: str, prior: RankingPrior):  # type: ignore[no-untyped-def]
    return (
        select(MemberScore, Person.display_name)
        .join(Person, Person.id == MemberScore.member_id)
        .where(MemberScore.period == period, MemberScore.evaluation_count >= max(1, prior.min_evaluations))
    )


def top_members(
    session: Session, prior: RankingPrior, period: str, limit: int, *, public_only: bool = True
) -> list[RankingRow]:
    """Read the top ``limit`` of a period from the totals index: best score, then earliest to reach it.

    With ``public_only``, members who opted out of public rankings are left out and the ranks close up.
    """
    query = _ranking_query(period, prior)
    if public_only:
        query = query.where(Person.ranking_public.is_(True))
    statement = query.order_by(MemberScore.rank_score.desc(), MemberScore.reached_at, MemberScore.member_id).limit(
        limit
    )
    return [
        RankingRow(rank, row.member_id, UserText(name), round(row.rank_score / 100, 2), row.evaluation_count)
        for rank, (row, name) in enumerate(session.execute(statement), start=1)
    ]


def own_ranking_row(
    session: Session, prior: RankingPrior, period: str, member_id: int, *, public_only: bool
) -> RankingRow | None:
    """Return the member's row, ranked among the members the viewer's table shows (public ones, or everyone)."""
    found = session.execute(_ranking_query(period, prior).where(MemberScore.member_id == member_id)).first()
    if found is None:
        return None
    row, name = found
    ahead = session.scalar(
        select(func.count())
        .select_from(MemberScore)
        .join(Person, Person.id == MemberScore.member_id)
        .where(
            or_(Person.ranking_public.is_(True), literal(not public_only)),
            MemberScore.period == period,
            MemberScore.evaluation_count >= max(1, prior.min_evaluations),
            or_(
                MemberScore.rank_score > row.rank_score,
                and_(MemberScore.rank_score == row.rank_score, MemberScore.reached_at < row.reached_at),
                and_(
                    MemberScore.rank_score == row.rank_score,
                    MemberScore.reached_at == row.reached_at,
                    MemberScore.member_id < row.member_id,
                ),
            ),
        )
    )
    return RankingRow(
        (ahead or 0) + 1, row.member_id, UserText(name), round(row.rank_score / 100, 2), row.evaluation_count
    )


def parse_period(text: str | None, now: datetime) -> str:
    """Read ``all`` (the default), ``month`` (this Tokyo month) or a month such as ``2026-12`` / ``2026年12月``."""
    value = normalize(text or "all").lower()
    if value in ("all", "全期間", "通算"):
        return ALL_TIME
    if value in ("month", "今月"):
        return month_period(now.astimezone(TOKYO))
    for separator in ("-", "/", "年"):
        year, _, month = value.removesuffix("月").partition(separator)
        if year.isdigit() and month.isdigit() and len(year) == 4 and 1 <= int(month) <= 12:
            return f"{int(year):04d}-{int(month):02d}"
    raise UserError(
        N_("{value} is not a ranking period. Use all, month or a month like 2026-12."), value=UserText(text or "")
    )


def show_ranking(
    ctx: ServiceContext, actor: Actor, *, period: str | None = None, top: int | None = None
) -> RankingTable:
    """Return the top members of a period, and the actor's own row when the actor is a ranked member.

    Members who opted out of public rankings are shown only to the secretariat, but they see their own row.
    """
    size = top if top is not None else ctx.policy.ranking_size
    if not 1 <= size <= ctx.policy.ranking_max_size:
        raise UserError(
            N_("The ranking size must be from 1 to {maximum}; you gave {value}."),
            maximum=ctx.policy.ranking_max_size,
            value=size,
        )
    key = parse_period(period, ctx.now())
    prior = ctx.policy.ranking_prior

    public_only = not ctx.is_secretariat(actor)

    with ctx.transaction() as session:
        rows = top_members(session, prior, key, size, public_only=public_only)
        viewer = find_person(session, actor)
        own = own_ranking_row(session, prior, key, viewer.id, public_only=public_only) if viewer is not None else None
        hidden = own is not None and viewer is not None and public_only and not viewer.ranking_public
        return RankingTable(period=key, rows=rows, own=own, prior=prior, own_hidden=hidden)


def rebuild_rankings(session: Session, prior: RankingPrior) -> int:
    """Recompute every total from the evaluations (after a prior change or to check the running totals).

    Only the points counted in the rankings are summed, so evaluations a contest freeze holds back stay out.
    """
    session.execute(delete(MemberScore))
    written = 0
    for period in (literal(ALL_TIME), Evaluation.period):
        statement = (
            select(
                period.label("period"),
                Evaluation.member_id,
                func.count().label("count"),
                func.sum(Evaluation.counted_points).label("points"),
                func.max(Evaluation.evaluated_at).label("reached_at"),
            )
            .where(Evaluation.counted_points.is_not(None))
            .group_by(period, Evaluation.member_id)
        )
        for key, member_id, count, points, reached_at in session.execute(statement):
            total = int(points or 0)
            session.add(
                MemberScore(
                    period=key,
                    member_id=member_id,
                    evaluation_count=count,
                    points_sum=total,
                    rank_score=prior.rank_points(total, count),
                    reached_at=reached_at,
                )
            )
            written += 1
    session.flush()
    return written
