"""Benchmark the product's top-50 ranking read against one SQL aggregate over all evaluations.

The product reads ``core.services.rankings.top_members``, which walks ix_member_scores_ranking over
the member_scores totals. The baseline computes the same ranking from scratch in one statement:
count, sum of points, the Bayesian average, and the latest evaluated_at per member, ordered by the
same keys. Both are read for the all-time period and for the month with the most evaluations, and
the two results must be identical.

Run from the repository root::

    python -m bench.ranking_read --members 100000 --evaluations 1000000 --backend both --repeat 5
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, event, func, literal, select
from sqlalchemy.orm import Session

from bench.dataset import BACKENDS, DEFAULT_POSTGRES_URL, DataSet, build_totals, fresh_database, generate, load
from bench.report import Summary, database_version, describe_machine, format_table
from core.domain.scoring import ALL_TIME, RankingPrior
from core.domain.text import UserText
from core.services.rankings import RankingRow, top_members
from core.storage.models import Evaluation, MemberScore, Person

__all__ = ["AggregateRow", "BackendResult", "PeriodResult", "RankingReadReport", "aggregate_top", "main"]

TARGET_RATIO = 20.0


@dataclass(frozen=True, slots=True)
class AggregateRow:
    """One member's totals computed from the evaluations."""

    member_id: int
    display_name: str
    evaluation_count: int
    points_sum: int
    rank_score: float
    reached_at: datetime


@dataclass(frozen=True, slots=True)
class PeriodResult:
    period: str
    evaluations: int
    product: Summary
    aggregate: Summary
    ratio: float  # median aggregate time / median product time
    identical: bool
    mismatch: str | None  # the first difference found, when not identical


@dataclass(frozen=True, slots=True)
class BackendResult:
    backend: str
    database: str
    load_seconds: float
    totals_seconds: float
    totals_rows: int
    periods: tuple[PeriodResult, ...]
    plans: dict[str, list[str]]


@dataclass(frozen=True, slots=True)
class RankingReadReport:
    members: int
    evaluations: int
    limit: int
    repeat: int
    generate_seconds: float
    machine: dict[str, Any]
    backends: tuple[BackendResult, ...]

    @property
    def identical(self) -> bool:
        return all(period.identical for backend in self.backends for period in backend.periods)


def aggregate_statement(prior: RankingPrior, period: str, limit: int) -> Any:
    """Build the from-scratch ranking: one GROUP BY over the evaluations with the product's order and limit."""
    count = func.count()
    points_sum = func.sum(Evaluation.points)
    # The same expression, in the same order, as RankingPrior.rank_points and add_contribution.
    rank_score = ((literal(prior.prior_points) + points_sum) / (literal(prior.weight) + count)).label("rank_score")
    reached_at = func.max(Evaluation.evaluated_at).label("reached_at")
    totals = (
        select(
            Evaluation.member_id,
            count.label("evaluation_count"),
            points_sum.label("points_sum"),
            rank_score,
            reached_at,
        )
        .group_by(Evaluation.member_id)
        .having(count >= max(1, prior.min_evaluations))
        .order_by(rank_score.desc(), reached_at, Evaluation.member_id)
        .limit(limit)
    )
    if period != ALL_TIME:
        totals = totals.where(Evaluation.period == period)
    top = totals.subquery()
    # The names are joined after the limit, so the join costs 50 lookups instead of one per member.
    return (
        select(top, Person.display_name)
        .join(Person, Person.id == top.c.member_id)
        .order_by(top.c.rank_score.desc(), top.c.reached_at, top.c.member_id)
    )


def aggregate_top(session: Session, prior: RankingPrior, period: str, limit: int) -> list[AggregateRow]:
    """Compute the top ``limit`` of ``period`` from the evaluations in one statement."""
    return [
        AggregateRow(
            row.member_id, row.display_name, row.evaluation_count, int(row.points_sum), row.rank_score, row.reached_at
        )
        for row in session.execute(aggregate_statement(prior, period, limit))
    ]


def _as_ranking_rows(rows: Sequence[AggregateRow]) -> list[RankingRow]:
    """Convert aggregate rows as top_members converts the totals: score in 0–100 with two decimals."""
    return [
        RankingRow(
            rank, row.member_id, UserText(row.display_name), round(row.rank_score / 100, 2), row.evaluation_count
        )
        for rank, row in enumerate(rows, start=1)
    ]


def compare(session: Session, period: str, product: list[RankingRow], aggregate: list[AggregateRow]) -> str | None:
    """Return the first difference between the product's top rows and the aggregate, or None.

    Beyond the returned rows, the stored totals of those members must equal the aggregate exactly:
    count, points_sum, rank_score as the same float, and reached_at.
    """
    if not product:
        return "the product returned no rows"
    expected = _as_ranking_rows(aggregate)
    if len(product) != len(expected):
        return f"the product returned {len(product)} rows, the aggregate {len(expected)}"
    for actual_row, expected_row in zip(product, expected, strict=True):
        if actual_row != expected_row:
            return f"rank {expected_row.rank}: product {actual_row}, aggregate {expected_row}"

    stored = {
        score.member_id: score
        for score in session.scalars(
            select(MemberScore).where(
                MemberScore.period == period, MemberScore.member_id.in_([row.member_id for row in aggregate])
            )
        )
    }
    for row in aggregate:
        score = stored.get(row.member_id)
        if score is None:
            return f"member {row.member_id} has no stored total for {period}"
        stored_values = (score.evaluation_count, score.points_sum, score.rank_score, score.reached_at)
        expected_values = (row.evaluation_count, row.points_sum, row.rank_score, row.reached_at)
        if stored_values != expected_values:
            fields = "(count, points, score, reached_at)"
            return f"member {row.member_id}: stored {fields} {stored_values}, aggregate {expected_values}"
    return None


def _time_once(engine: Engine, call: Callable[[Session], Any]) -> tuple[float, Any]:
    with Session(engine) as session:
        session.connection()  # begin the transaction before the clock starts, the same for both sides
        started = time.perf_counter()
        result = call(session)
        elapsed = time.perf_counter() - started
        session.rollback()
    return elapsed, result


def explain(engine: Engine, call: Callable[[Session], Any]) -> list[str]:
    """Return the query plan of the last statement that ``call`` sends, with the parameters it sent."""
    captured: list[tuple[str, Any]] = []

    def capture(_connection: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        _time_once(engine, call)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    statement, parameters = captured[-1]
    prefix = "EXPLAIN QUERY PLAN " if engine.dialect.name == "sqlite" else "EXPLAIN "
    with engine.connect() as connection:
        rows = connection.exec_driver_sql(prefix + statement, parameters).all()
    if engine.dialect.name == "sqlite":
        return [str(row[-1]) for row in rows]
    return [str(row[0]) for row in rows]


def measure_period(
    engine: Engine, prior: RankingPrior, period: str, evaluations: int, limit: int, repeat: int
) -> PeriodResult:
    """Time both reads ``repeat`` times after one untimed warm-up each, alternating which goes first."""

    def product_read(session: Session) -> list[RankingRow]:
        return top_members(session, prior, period, limit)

    def aggregate_read(session: Session) -> list[AggregateRow]:
        return aggregate_top(session, prior, period, limit)

    product_rows = _time_once(engine, product_read)[1]
    aggregate_rows = _time_once(engine, aggregate_read)[1]
    with Session(engine) as session:
        mismatch = compare(session, period, product_rows, aggregate_rows)

    product_times: list[float] = []
    aggregate_times: list[float] = []
    for round_number in range(repeat):
        runs = [
            ("top_members", product_read, product_times, product_rows),
            ("aggregate", aggregate_read, aggregate_times, aggregate_rows),
        ]
        if round_number % 2:
            runs.reverse()
        for name, call, times, first_rows in runs:
            elapsed, rows = _time_once(engine, call)
            times.append(elapsed)
            if rows != first_rows and mismatch is None:
                mismatch = f"timed run {round_number + 1}: {name} returned other rows than its first run"

    product = Summary.of(product_times)
    aggregate = Summary.of(aggregate_times)
    return PeriodResult(
        period=period,
        evaluations=evaluations,
        product=product,
        aggregate=aggregate,
        ratio=aggregate.median_ms / product.median_ms,
        identical=mismatch is None,
        mismatch=mismatch,
    )


def run_backend(
    backend: str, data: DataSet, prior: RankingPrior, limit: int, repeat: int, postgres_url: str
) -> BackendResult:
    """Load ``data`` into a fresh database of ``backend``, build the totals and measure both periods."""
    with fresh_database(backend, postgres_url) as engine:
        started = time.perf_counter()
        load(engine, data)
        load_seconds = time.perf_counter() - started
        print(f"{backend}: loaded {data.evaluation_count:,} evaluations in {load_seconds:.1f} s", flush=True)

        started = time.perf_counter()
        totals_rows = build_totals(engine, prior)
        totals_seconds = time.perf_counter() - started
        print(f"{backend}: rebuild_rankings wrote {totals_rows:,} totals in {totals_seconds:.1f} s", flush=True)

        periods = []
        plans: dict[str, list[str]] = {}
        month = data.busiest_period
        for period, evaluations in ((ALL_TIME, data.evaluation_count), (month, data.evaluations_per_period[month])):
            periods.append(measure_period(engine, prior, period, evaluations, limit, repeat))
            print(f"{backend}: measured period {period}", flush=True)
        plans["top_members"] = explain(engine, lambda session: top_members(session, prior, ALL_TIME, limit))
        plans["aggregate"] = explain(engine, lambda session: aggregate_top(session, prior, ALL_TIME, limit))
        return BackendResult(
            backend=backend,
            database=database_version(engine),
            load_seconds=load_seconds,
            totals_seconds=totals_seconds,
            totals_rows=totals_rows,
            periods=tuple(periods),
            plans=plans,
        )


def print_report(report: RankingReadReport) -> None:
    rows = []
    for backend in report.backends:
        for period in backend.periods:
            rows.append(
                (
                    backend.backend,
                    period.period,
                    f"{period.evaluations:,}",
                    f"{period.product.median_ms:.3f}",
                    f"{period.aggregate.median_ms:.1f}",
                    f"{period.ratio:,.0f}x",
                    "yes" if period.ratio >= TARGET_RATIO else "NO",
                    "yes" if period.identical else f"NO: {period.mismatch}",
                )
            )
    header = (
        "backend",
        "period",
        "evaluations",
        "top_members ms",
        "aggregate ms",
        "ratio",
        f">= {TARGET_RATIO:.0f}x",
        "identical",
    )
    print()
    print(
        f"Top-{report.limit} read, {report.members:,} members, {report.evaluations:,} evaluations, "
        f"median of {report.repeat} runs"
    )
    print(format_table(header, rows))
    for backend in report.backends:
        for name, plan in backend.plans.items():
            print(f"\n{backend.backend} plan of {name} (period all):")
            print("\n".join(f"  {line}" for line in plan))
    print(json.dumps({"benchmark": "ranking_read", **asdict(report), "identical": report.identical}, default=str))


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.ranking_read", description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=100_000, help="members to register (default 100000)")
    parser.add_argument("--evaluations", type=int, default=1_000_000, help="evaluations to load (default 1000000)")
    parser.add_argument("--backend", choices=(*BACKENDS, "both"), default="both", help="database to run on")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each read per period (default 5)")
    parser.add_argument("--limit", type=int, default=50, help="ranking rows to read (default 50)")
    parser.add_argument("--seed", type=int, default=20260101, help="seed of the generated data set")
    parser.add_argument(
        "--postgres-url", default=DEFAULT_POSTGRES_URL, help="PostgreSQL database; the run uses a new schema in it"
    )
    options = parser.parse_args(argv)
    if options.repeat < 1:
        parser.error(f"--repeat must be at least 1, not {options.repeat}")
    if not 1 <= options.limit <= 200:
        parser.error(f"--limit must be from 1 to 200 (the bot's maximum ranking size), not {options.limit}")
    return options


def main(argv: Sequence[str] | None = None) -> RankingReadReport:
    """Run the benchmark with command-line ``argv``, print the table and JSON line, and return the report."""
    options = parse_arguments(argv)
    prior = RankingPrior()
    started = time.perf_counter()
    data = generate(options.members, options.evaluations, seed=options.seed)
    generate_seconds = time.perf_counter() - started
    print(f"generated {data.evaluation_count:,} evaluations in {generate_seconds:.1f} s", flush=True)

    backends = BACKENDS if options.backend == "both" else (options.backend,)
    results = tuple(
        run_backend(backend, data, prior, options.limit, options.repeat, options.postgres_url) for backend in backends
    )
    report = RankingReadReport(
        members=options.members,
        evaluations=options.evaluations,
        limit=options.limit,
        repeat=options.repeat,
        generate_seconds=generate_seconds,
        machine=describe_machine(),
        backends=results,
    )
    print_report(report)
    return report


if __name__ == "__main__":
    raise SystemExit(0 if main().identical else 1)
