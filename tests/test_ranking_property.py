"""Ranking totals: the running totals kept by each evaluation equal an aggregate computed from scratch."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from adapters.console.session import SettableClock
from bots.wiring import build_context
from core.domain.scoring import ALL_TIME
from core.domain.text import TOKYO
from core.services import evaluations, participation, registration, submissions, tasks
from core.services.context import ServiceContext
from core.services.rankings import rebuild_rankings, top_members
from core.services.tasks import NewTask
from core.storage.db import create_db_engine
from core.storage.migrate import upgrade
from core.storage.models import Evaluation, MemberScore
from tests.conftest import actor, make_settings

START = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
NICKNAMES = ("aoi", "ren", "sora", "yui")
# Two tasks per rubric, so that scores from both rubrics add up in the same totals.
TASK_RUBRICS = ("business-planning", "quick-feedback", "business-planning", "quick-feedback")
PARTNER = actor("partner")


@dataclass(frozen=True, slots=True)
class Totals:
    evaluation_count: int
    points_sum: int
    rank_score: float
    reached_at: datetime


@dataclass(frozen=True, slots=True)
class Evaluate:
    """One evaluation, made ``hours_before`` hours after the previous one."""

    hours_before: int
    member: int
    task: int
    levels: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Scene:
    ctx: ServiceContext
    clock: SettableClock
    task_ids: tuple[int, ...]
    member_ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class Template:
    path: Path
    task_ids: tuple[int, ...]
    member_ids: tuple[int, ...]


def start_clock() -> SettableClock:
    clock = SettableClock()
    clock.set(START)
    return clock


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    """A SQLite file where every member has joined and submitted to every task, and no one is evaluated yet."""
    path = tmp_path_factory.mktemp("ranking") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    ctx = build_context(make_settings(), clock=start_clock(), engine=engine, migrate=False)
    registration.register_partner(ctx, PARTNER, company="株式会社ランキング")
    specs = [
        NewTask(menu="practice", title=f"調査{index}", deadline="2026/12/31", work_types=("research",), rubric=rubric)
        for index, rubric in enumerate(TASK_RUBRICS)
    ]
    task_ids = tuple(tasks.create_task(ctx, PARTNER, spec).id for spec in specs)
    member_ids = tuple(
        registration.register_member(ctx, actor(nickname), nickname=nickname).person_id for nickname in NICKNAMES
    )
    for nickname in NICKNAMES:
        for task_id in task_ids:
            participation.join_task(ctx, actor(nickname), task_id)
            submissions.submit(ctx, actor(nickname), task_id, text="成果物")
    # Closing the last connection checkpoints the write-ahead log into the file, so a copy is complete.
    engine.dispose()
    return Template(path, task_ids, member_ids)


@contextmanager
def scene(template: Template) -> Iterator[Scene]:
    """A fresh copy of the template database, with its own clock at START."""
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "ranking.db"
        shutil.copyfile(template.path, path)
        engine = create_db_engine(f"sqlite:///{path}")
        clock = start_clock()
        ctx = build_context(make_settings(), clock=clock, engine=engine, migrate=False)
        try:
            yield Scene(ctx, clock, template.task_ids, template.member_ids)
        finally:
            engine.dispose()


def evaluate(scene: Scene, member: int, task: int, levels: tuple[int, ...]) -> None:
    """Evaluate with one level per criterion, taken in order from ``levels`` and capped at each criterion's top."""
    rubric = scene.ctx.rubrics[TASK_RUBRICS[task]]
    chosen = {
        criterion.key: str(min(level, criterion.max_level))
        for criterion, level in zip(rubric.criteria, levels, strict=False)
    }
    evaluations.evaluate(scene.ctx, PARTNER, scene.task_ids[task], NICKNAMES[member], levels=chosen, advice="助言")


def running_totals(ctx: ServiceContext) -> dict[tuple[str, int], Totals]:
    with ctx.transaction() as session:
        return {
            (row.period, row.member_id): Totals(row.evaluation_count, row.points_sum, row.rank_score, row.reached_at)
            for row in session.scalars(select(MemberScore))
        }


def aggregate_from_evaluations(ctx: ServiceContext) -> dict[tuple[str, int], Totals]:
    """Sum the evaluations per member, for all time and for the month of each evaluation, in Python."""
    prior = ctx.policy.ranking_prior
    with ctx.transaction() as session:
        rows = session.execute(
            select(Evaluation.member_id, Evaluation.period, Evaluation.points, Evaluation.evaluated_at)
        ).all()
    groups: dict[tuple[str, int], list[tuple[int, datetime]]] = {}
    for member_id, period, points, evaluated_at in rows:
        groups.setdefault((ALL_TIME, member_id), []).append((points, evaluated_at))
        groups.setdefault((period, member_id), []).append((points, evaluated_at))
    totals = {}
    for key, contributions in groups.items():
        points_sum = sum(points for points, _ in contributions)
        count = len(contributions)
        latest = max(evaluated_at for _, evaluated_at in contributions)
        totals[key] = Totals(count, points_sum, prior.rank_points(points_sum, count), latest)
    return totals


def rebuilt_totals(ctx: ServiceContext) -> dict[tuple[str, int], Totals]:
    """Run rebuild_rankings in a transaction that is rolled back, and return what it wrote."""
    with ctx.session_factory() as session, session.begin():
        rebuild_rankings(session, ctx.policy.ranking_prior)
        totals = {
            (row.period, row.member_id): Totals(row.evaluation_count, row.points_sum, row.rank_score, row.reached_at)
            for row in session.scalars(select(MemberScore))
        }
        session.rollback()
    return totals


def ranked_member_ids(ctx: ServiceContext, period: str) -> list[int]:
    with ctx.transaction() as session:
        return [row.member_id for row in top_members(session, ctx.policy.ranking_prior, period, len(NICKNAMES) + 1)]


def expected_order(totals: dict[tuple[str, int], Totals], period: str) -> list[int]:
    members = [(member_id, t) for (key, member_id), t in totals.items() if key == period]
    members.sort(key=lambda item: (-item[1].rank_score, item[1].reached_at, item[0]))
    return [member_id for member_id, _ in members]


steps = st.lists(
    st.builds(
        Evaluate,
        # Gaps of up to 40 days move a run across several Tokyo months, and a gap of 0 gives equal timestamps.
        st.sampled_from([0, 0, 1, 24 * 5, 24 * 20, 24 * 40]),
        st.integers(0, len(NICKNAMES) - 1),
        st.integers(0, len(TASK_RUBRICS) - 1),
        st.tuples(*[st.integers(1, 4)] * 5),
    ),
    min_size=5,
    max_size=40,
)


@settings(max_examples=25, deadline=None)
@given(steps=steps)
def test_running_totals_equal_aggregate(template: Template, steps: list[Evaluate]) -> None:
    with scene(template) as world:
        for step in steps:
            world.clock.advance(f"{step.hours_before}h")
            evaluate(world, step.member, step.task, step.levels)

        running = running_totals(world.ctx)
        aggregate = aggregate_from_evaluations(world.ctx)
        periods = {period for period, _ in aggregate}
        event(f"{len(periods) - 1} months with evaluations")

        assert running == aggregate
        assert rebuilt_totals(world.ctx) == aggregate
        for period in periods:
            assert ranked_member_ids(world.ctx, period) == expected_order(aggregate, period), period


def test_one_perfect_evaluation_ranks_below_several_very_good(template: Template) -> None:
    perfect = (4, 4, 4, 4, 4)
    very_good = (4, 4, 2, 4, 4)  # 88.89 points on business-planning, 83.33 on quick-feedback
    with scene(template) as world:
        evaluate(world, 0, 0, perfect)
        for task in (0, 1, 2):
            evaluate(world, 1, task, very_good)

        totals = running_totals(world.ctx)
        ranked = ranked_member_ids(world.ctx, ALL_TIME)

    lucky, steady = world.member_ids[:2]
    assert totals[(ALL_TIME, lucky)].points_sum == 100_00
    assert totals[(ALL_TIME, steady)].points_sum == 88_89 + 83_33 + 88_89
    assert ranked == [steady, lucky]


def test_reevaluation_replaces_old_contribution(template: Template) -> None:
    with scene(template) as world:
        evaluate(world, 0, 0, (1, 1, 1, 1, 1))
        world.clock.advance("24h")
        evaluate(world, 0, 0, (4, 4, 4, 4, 4))

        totals = running_totals(world.ctx)

    member_id = world.member_ids[0]
    for period in (ALL_TIME, "2026-12"):
        assert totals[(period, member_id)].evaluation_count == 1, period
        assert totals[(period, member_id)].points_sum == 100_00, period
        assert totals[(period, member_id)].reached_at == START + timedelta(hours=24), period
