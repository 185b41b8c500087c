"""Benchmark the cost of ranking upkeep on an evaluation write.

Four kinds of write run the same number of times, one transaction per write, interleaved in rounds
on a database loaded with the ranking benchmark's data set:

``evaluate``
    The real use case ``core.services.evaluations.evaluate``: partner, task, member and submission
    lookups, the evaluation row, ``add_contribution`` for the all-time and monthly totals, the outbox
    row and the result view.
``evaluate_without_upkeep``
    The same call with ``add_contribution`` replaced by a function that does nothing.
``insert_with_upkeep``
    A transaction that inserts the evaluation row through the ORM and calls ``add_contribution``
    with the arguments ``evaluate`` passes.
``bare_insert``
    A transaction that inserts only the evaluation row through the ORM.

Afterwards the stored totals of every member the upkeep writes touched must equal a from-scratch
aggregate over the evaluations that had upkeep (the loaded ones and the two upkeep kinds).

Run from the repository root::

    python -m bench.evaluation_write --members 100000 --evaluations 1000000 --writes 2000 --backend both
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest import mock

from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from bench.dataset import (
    BACKENDS,
    DEFAULT_POSTGRES_URL,
    SPAN_END,
    SUBMISSION_COLUMNS,
    TASK_COLUMNS,
    DataSet,
    TableRows,
    build_totals,
    fresh_database,
    generate,
    json_text,
    load,
)
from bench.report import Summary, database_version, describe_machine, format_table
from bots.settings import CONFIG_DIR
from core.domain.enums import Eligibility, TaskMenu, TaskStatus
from core.domain.rubric import Rubric, load_rubrics
from core.domain.scoring import ALL_TIME, RankingPrior, month_period, to_points
from core.domain.text import TOKYO
from core.services import evaluations as evaluation_service
from core.services import standings as standings_service
from core.services.context import Actor, Clock, Policy, ServiceContext
from core.services.rankings import add_contribution
from core.storage.db import create_session_factory
from core.storage.models import Evaluation, MemberScore, OutboxMessage

__all__ = ["BackendResult", "EvaluationWriteReport", "Write", "main"]

TARGET_RATIO = 2.0
KINDS = ("evaluate", "evaluate_without_upkeep", "insert_with_upkeep", "bare_insert")
UPKEEP_KINDS = ("evaluate", "insert_with_upkeep")
WARM_UP_WRITES = 10  # untimed writes of each kind before the first round
RUBRIC_KEY = "business-planning"
PARTNER_ACTOR = Actor("console", "local", "bench-partner")
CHECK_CHUNK = 5_000  # members per query of the consistency check, below SQLite's bound-parameter limit
ADVICE = "Clear plan. Add a source for the market size and compare two competitors."


@dataclass(frozen=True, slots=True)
class Write:
    """One evaluation to write: a member's submission for a task and the levels the partner gives."""

    task_id: int
    member_id: int
    partner_id: int
    submission_id: int
    levels: dict[str, int]


@dataclass(frozen=True, slots=True)
class BackendResult:
    backend: str
    database: str
    load_seconds: float
    timings: dict[str, Summary]
    use_case_ratio: float  # median evaluate / median evaluate_without_upkeep
    row_ratio: float  # median insert_with_upkeep / median bare_insert
    use_case_mean_ratio: float
    row_mean_ratio: float
    consistent: bool
    mismatch: str | None  # the first inconsistency found, when not consistent


@dataclass(frozen=True, slots=True)
class EvaluationWriteReport:
    members: int
    evaluations: int
    writes: int
    repeat: int
    generate_seconds: float
    machine: dict[str, Any]
    backends: tuple[BackendResult, ...]

    @property
    def consistent(self) -> bool:
        return all(backend.consistent for backend in self.backends)


class StepClock(Clock):
    """A clock that moves one second forward at each reading, so every write gets its own time."""

    def __init__(self, start: datetime) -> None:
        self._next = start

    def now(self) -> datetime:
        moment = self._next
        self._next += timedelta(seconds=1)
        return moment


def plan_writes(
    data: DataSet, rubric: Rubric, writes_per_kind: int, seed: int
) -> tuple[list[TableRows], dict[str, list[Write]]]:
    """Plan the writes of each kind and the rows they need: an identity for the partner, new tasks
    and one submission per write. Each kind evaluates its own quarter of the members on its own tasks,
    so every kind meets the same mix of members with and without earlier totals."""
    rng = random.Random(seed)
    partner_id = data.partner_ids[0]
    members = list(data.member_ids)
    rng.shuffle(members)
    member_groups = {kind: members[index :: len(KINDS)] or members for index, kind in enumerate(KINDS)}
    per_kind = writes_per_kind + WARM_UP_WRITES
    tasks_per_kind = max(math.ceil(per_kind / len(group)) for group in member_groups.values())

    deadline = (SPAN_END - timedelta(days=1)).astimezone(UTC)
    next_task_id = data.task_count + 1
    next_submission_id = data.evaluation_count + 1
    tasks: list[tuple[Any, ...]] = []
    submissions: list[tuple[Any, ...]] = []
    planned: dict[str, list[Write]] = {}
    for kind in KINDS:
        task_ids = range(next_task_id, next_task_id + tasks_per_kind)
        next_task_id += tasks_per_kind
        tasks += [_task_row(task_id, partner_id, kind, deadline) for task_id in task_ids]

        group = member_groups[kind]
        planned[kind] = []
        for number in range(per_kind):
            task_id = task_ids[number // len(group)]
            member_id = group[number % len(group)]
            submissions.append(
                (next_submission_id, task_id, member_id, 1, "See the attached plan.", "[]", "[]", deadline)
            )
            levels = {
                criterion.key: rng.choice([level.value for level in criterion.levels]) for criterion in rubric.criteria
            }
            planned[kind].append(Write(task_id, member_id, partner_id, next_submission_id, levels))
            next_submission_id += 1

    identity = (PARTNER_ACTOR.platform, PARTNER_ACTOR.workspace, PARTNER_ACTOR.user_id, partner_id)
    extra = [
        TableRows("identities", ("platform", "workspace", "user_id", "person_id"), [identity]),
        TableRows("tasks", TASK_COLUMNS, tasks),
        TableRows("submissions", SUBMISSION_COLUMNS, submissions),
    ]
    return extra, planned


def _task_row(task_id: int, partner_id: int, kind: str, deadline: datetime) -> tuple[Any, ...]:
    return (
        task_id,
        partner_id,
        TaskMenu.PRACTICE.value,
        f"Benchmark task {task_id} ({kind})",
        "Draft a one-page plan for the case in the attachment.",
        json_text(["research"]),
        deadline,
        None,
        0,
        Eligibility.ALL.value,
        None,
        TaskStatus.CLOSED.value,
        None,
        RUBRIC_KEY,
        deadline - timedelta(days=14),
    )


def _skip_upkeep(*_: Any, **__: Any) -> None:
    """Stand in for add_contribution in the evaluate_without_upkeep writes."""


@contextmanager
def _kind_context(kind: str) -> Iterator[None]:
    """Replace add_contribution inside evaluate for the evaluate_without_upkeep writes."""
    if kind == "evaluate_without_upkeep":
        with mock.patch.object(standings_service, "add_contribution", _skip_upkeep):
            yield
    else:
        yield


def write_functions(ctx: ServiceContext, rubric: Rubric) -> dict[str, Callable[[Write], object]]:
    """Return the function that performs one write of each kind."""
    snapshot = rubric.to_snapshot()
    prior = ctx.policy.ranking_prior

    def call_evaluate(write: Write) -> object:
        levels = {key: str(value) for key, value in write.levels.items()}
        member = f"M{write.member_id}"
        return evaluation_service.evaluate(ctx, PARTNER_ACTOR, write.task_id, member, levels=levels, advice=ADVICE)

    def insert_row(write: Write, *, upkeep: bool) -> object:
        # The row and the add_contribution call are built as evaluate builds them for a first evaluation.
        now = ctx.now()
        points = to_points(rubric.score(write.levels))
        period = month_period(now.astimezone(TOKYO))
        with ctx.transaction() as session:
            evaluation = Evaluation(
                task_id=write.task_id,
                member_id=write.member_id,
                partner_id=write.partner_id,
                period=period,
                revision=1,
                points=points,
                counted_points=points if upkeep else None,
                submission_id=write.submission_id,
                rubric=snapshot,
                levels=write.levels,
                remarks={},
                advice=ADVICE,
                evaluated_at=now,
            )
            session.add(evaluation)
            session.flush()
            if upkeep:
                add_contribution(
                    session,
                    prior,
                    member_id=write.member_id,
                    periods=(ALL_TIME, period),
                    points=points,
                    count=1,
                    at=now,
                )
        return evaluation

    return {
        "evaluate": call_evaluate,
        "evaluate_without_upkeep": call_evaluate,
        "insert_with_upkeep": lambda write: insert_row(write, upkeep=True),
        "bare_insert": lambda write: insert_row(write, upkeep=False),
    }


def run_writes(
    functions: dict[str, Callable[[Write], object]], planned: dict[str, list[Write]], writes: int, repeat: int
) -> dict[str, list[float]]:
    """Run the untimed warm-up writes, then ``repeat`` rounds that each time an equal share of every
    kind's writes. The kind that goes first rotates from round to round."""
    for kind in KINDS:
        with _kind_context(kind):
            for write in planned[kind][:WARM_UP_WRITES]:
                functions[kind](write)

    seconds: dict[str, list[float]] = {kind: [] for kind in KINDS}
    per_round = math.ceil(writes / repeat)
    for round_number in range(repeat):
        shift = round_number % len(KINDS)
        for kind in KINDS[shift:] + KINDS[:shift]:
            first = WARM_UP_WRITES + round_number * per_round
            last = min(WARM_UP_WRITES + writes, first + per_round)
            with _kind_context(kind):
                for write in planned[kind][first:last]:
                    started = time.perf_counter()
                    functions[kind](write)
                    seconds[kind].append(time.perf_counter() - started)
    return seconds


def check_writes(session: Session, prior: RankingPrior, planned: dict[str, list[Write]]) -> str | None:
    """Return the first inconsistency after the writes, or None.

    Every kind must have written its rows and the two evaluate kinds one outbox row per write. The
    totals of every member a write touched must equal the aggregate over the evaluations that had
    upkeep, so the writes without upkeep must have left their members' totals unchanged.
    """
    for kind, writes in planned.items():
        written = session.scalar(
            select(func.count()).select_from(Evaluation).where(Evaluation.task_id.in_({w.task_id for w in writes}))
        )
        if written != len(writes):
            return f"{kind}: {written} evaluation rows, expected {len(writes)}"
    outbox = session.scalar(select(func.count()).select_from(OutboxMessage))
    expected_outbox = len(planned["evaluate"]) + len(planned["evaluate_without_upkeep"])
    if outbox != expected_outbox:
        return f"{outbox} outbox rows, expected {expected_outbox}"

    without_upkeep = {write.task_id for kind in KINDS if kind not in UPKEEP_KINDS for write in planned[kind]}
    touched = sorted({write.member_id for writes in planned.values() for write in writes})
    for start in range(0, len(touched), CHECK_CHUNK):
        members = touched[start : start + CHECK_CHUNK]
        counted = (Evaluation.member_id.in_(members), Evaluation.task_id.not_in(without_upkeep))
        expected: dict[tuple[str, int], tuple[int, int, float, datetime]] = {}
        for period_column in (literal(ALL_TIME), Evaluation.period):
            statement = (
                select(
                    period_column,
                    Evaluation.member_id,
                    func.count(),
                    func.sum(Evaluation.points),
                    func.max(Evaluation.evaluated_at),
                )
                .where(*counted)
                .group_by(period_column, Evaluation.member_id)
            )
            for period, member_id, count, points, reached_at in session.execute(statement):
                expected[(period, member_id)] = (count, int(points), prior.rank_points(int(points), count), reached_at)
        stored = {
            (score.period, score.member_id): (
                score.evaluation_count,
                score.points_sum,
                score.rank_score,
                score.reached_at,
            )
            for score in session.scalars(select(MemberScore).where(MemberScore.member_id.in_(members)))
        }
        if stored != expected:
            key = min(set(stored) ^ set(expected) or {k for k in stored if stored[k] != expected[k]})
            return f"totals of (period, member) {key}: stored {stored.get(key)}, aggregate {expected.get(key)}"
    return None


def run_backend(
    backend: str,
    data: DataSet,
    extra: list[TableRows],
    planned: dict[str, list[Write]],
    options: argparse.Namespace,
) -> BackendResult:
    """Load the data set and the writes' rows into a fresh database of ``backend`` and time the writes."""
    rubrics = load_rubrics(CONFIG_DIR / "rubrics")
    prior = RankingPrior()
    with fresh_database(backend, options.postgres_url) as engine:
        started = time.perf_counter()
        load(engine, data, extra)
        build_totals(engine, prior)
        load_seconds = time.perf_counter() - started
        print(f"{backend}: loaded {data.evaluation_count:,} evaluations and their totals in {load_seconds:.1f} s")

        ctx = ServiceContext(
            session_factory=create_session_factory(engine),
            rubrics=rubrics,
            clock=StepClock((SPAN_END + timedelta(days=1)).astimezone(UTC)),
            policy=Policy(ranking_prior=prior),
        )
        seconds = run_writes(write_functions(ctx, rubrics[RUBRIC_KEY]), planned, options.writes, options.repeat)
        with Session(engine) as session:
            mismatch = check_writes(session, prior, planned)
        timings = {kind: Summary.of(values) for kind, values in seconds.items()}
        print(f"{backend}: timed {options.writes:,} writes of each kind", flush=True)
        return BackendResult(
            backend=backend,
            database=database_version(engine),
            load_seconds=load_seconds,
            timings=timings,
            use_case_ratio=timings["evaluate"].median_ms / timings["evaluate_without_upkeep"].median_ms,
            row_ratio=timings["insert_with_upkeep"].median_ms / timings["bare_insert"].median_ms,
            use_case_mean_ratio=timings["evaluate"].mean_ms / timings["evaluate_without_upkeep"].mean_ms,
            row_mean_ratio=timings["insert_with_upkeep"].mean_ms / timings["bare_insert"].mean_ms,
            consistent=mismatch is None,
            mismatch=mismatch,
        )


def print_report(report: EvaluationWriteReport) -> None:
    timing_rows = []
    ratio_rows = []
    for backend in report.backends:
        for kind, summary in backend.timings.items():
            timing_rows.append(
                (
                    backend.backend,
                    kind,
                    summary.count,
                    f"{summary.median_ms:.3f}",
                    f"{summary.mean_ms:.3f}",
                    f"{summary.p95_ms:.3f}",
                )
            )
        pairs = (
            ("evaluate / evaluate_without_upkeep", backend.use_case_ratio, backend.use_case_mean_ratio),
            ("insert_with_upkeep / bare_insert", backend.row_ratio, backend.row_mean_ratio),
        )
        for name, median_ratio, mean_ratio in pairs:
            within = "yes" if median_ratio <= TARGET_RATIO else "NO"
            ratio_rows.append((backend.backend, name, f"{median_ratio:.2f}x", f"{mean_ratio:.2f}x", within))
        ratio_rows.append((backend.backend, "totals consistent", "", "", "yes" if backend.consistent else "NO"))

    print()
    print(
        f"Evaluation writes, {report.members:,} members, {report.evaluations:,} loaded evaluations, "
        f"{report.writes:,} timed writes of each kind in {report.repeat} rounds, one transaction each"
    )
    print(format_table(("backend", "kind", "writes", "median ms", "mean ms", "p95 ms"), timing_rows))
    print()
    print(format_table(("backend", "ratio", "of medians", "of means", f"<= {TARGET_RATIO:.0f}x"), ratio_rows))
    for backend in report.backends:
        if backend.mismatch:
            print(f"{backend.backend}: NOT consistent: {backend.mismatch}")
    print(json.dumps({"benchmark": "evaluation_write", **asdict(report), "consistent": report.consistent}, default=str))


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.evaluation_write", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000, help="members to register (default 100000)")
    parser.add_argument(
        "--evaluations", type=int, default=1_000_000, help="evaluations loaded before the writes (default 1000000)"
    )
    parser.add_argument("--writes", type=int, default=2_000, help="timed writes of each kind (default 2000)")
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both", help="database to run on")
    parser.add_argument("--repeat", type=int, default=10, help="rounds the writes are split into (default 10)")
    parser.add_argument("--seed", type=int, default=20260101, help="seed of the generated data set")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL database; the run uses a new schema in it"
    )
    options = parser.parse_args(argv)
    if options.writes < 1:
        parser.error(f"--writes must be at least 1, not {options.writes}")
    if not 1 <= options.repeat <= options.writes:
        parser.error(f"--repeat must be from 1 to --writes ({options.writes}), not {options.repeat}")
    return options


def main(argv: Sequence[str] | None = None) -> EvaluationWriteReport:
    """Run the benchmark with command-line ``argv``, print the tables and JSON line, and return the report."""
    options = parse_arguments(argv)
    started = time.perf_counter()
    data = generate(options.members, options.evaluations, seed=options.seed)
    rubric = load_rubrics(CONFIG_DIR / "rubrics")[RUBRIC_KEY]
    extra, planned = plan_writes(data, rubric, options.writes, options.seed)
    generate_seconds = time.perf_counter() - started
    print(f"generated {data.evaluation_count:,} evaluations in {generate_seconds:.1f} s", flush=True)

    backends = BACKENDS if options.backend == "both" else (options.backend,)
    results = tuple(run_backend(backend, data, extra, planned, options) for backend in backends)
    report = EvaluationWriteReport(
        members=options.members,
        evaluations=options.evaluations,
        writes=options.writes,
        repeat=options.repeat,
        generate_seconds=generate_seconds,
        machine=describe_machine(),
        backends=results,
    )
    print_report(report)
    return report


if __name__ == "__main__":
    raise SystemExit(0 if main().consistent else 1)
