"""Fresh benchmark databases and a generated data set of partners, members, tasks, submissions and evaluations.

The data set is generated once in Python from a seed, so SQLite and PostgreSQL receive the same rows
with the same ids, and bulk-loaded with the driver: ``executemany`` in batches on SQLite, ``COPY`` on
PostgreSQL. Evaluation rows carry what ``core.services.evaluations.evaluate`` stores: the rubric
snapshot, the levels and points computed by the rubric, the Tokyo month as period and the partner
of the task.
"""

from __future__ import annotations

import json
import math
import os
import random
import tempfile
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, create_engine, text
from sqlalchemy.orm import Session

from bots.settings import CONFIG_DIR
from core.domain.enums import Eligibility, Membership, NameDisplay, Role, TaskMenu, TaskStatus
from core.domain.rubric import load_rubrics
from core.domain.scoring import RankingPrior, month_period, to_points
from core.domain.text import TOKYO
from core.services.rankings import rebuild_rankings
from core.storage.db import create_db_engine
from core.storage.migrate import upgrade
from core.storage.models import Base

__all__ = [
    "BACKENDS",
    "DEFAULT_POSTGRES_URL",
    "SPAN_END",
    "SUBMISSION_COLUMNS",
    "TASK_COLUMNS",
    "DataSet",
    "TableRows",
    "build_totals",
    "fresh_database",
    "generate",
    "insert_rows",
    "json_text",
    "load",
]

BACKENDS = ("sqlite", "postgres")
DEFAULT_POSTGRES_URL = os.environ.get("SMARTER_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Evaluations fall between 2026-01-01 and 2026-07-01 Tokyo time, so the periods are six months.
SPAN_START = datetime(2026, 1, 1, tzinfo=TOKYO)
SPAN_END = datetime(2026, 7, 1, tzinfo=TOKYO)
SUBMISSION_WINDOW = timedelta(days=7)  # members submit in the week before the deadline
EVALUATION_WINDOW = timedelta(days=10)  # partners evaluate within ten days after it
EVALUATIONS_PER_TASK = 400
TASKS_PER_PARTNER = 25
MIN_TASKS = 50
INACTIVE_MEMBER_SHARE = 0.1  # registered members who never had an evaluation
SQLITE_BATCH_ROWS = 50_000
BUSINESS_PLANNING_SHARE = 0.7  # the other tasks use the quick-feedback rubric

ADVICE = (
    "The structure is clear. Back the market size with a source next time.",
    "Good research. Compare at least two competitors before concluding.",
    "The idea is original, but the cost estimate needs more detail.",
    "Well organized. Shorten the summary to one page.",
)


PEOPLE_COLUMNS = (
    "id",
    "role",
    "display_name",
    "name_key",
    "email",
    "locale",
    "membership",
    "grade",
    "name_display",
    "industry",
    "prefecture",
    "created_at",
)
TASK_COLUMNS = (
    "id",
    "partner_id",
    "menu",
    "title",
    "description",
    "work_types",
    "deadline",
    "capacity",
    "participant_count",
    "eligibility",
    "min_grade",
    "status",
    "copyright",
    "rubric_key",
    "created_at",
)
SUBMISSION_COLUMNS = ("id", "task_id", "member_id", "version", "text", "links", "files", "created_at")
EVALUATION_COLUMNS = (
    "id",
    "task_id",
    "member_id",
    "submission_id",
    "partner_id",
    "rubric",
    "levels",
    "remarks",
    "advice",
    "points",
    "counted_points",
    "period",
    "evaluated_at",
    "revision",
)


def json_text(value: Any) -> str:
    """Serialize a JSON column value as SQLAlchemy's default serializer (``json.dumps``) does."""
    return json.dumps(value)


@dataclass(frozen=True, slots=True)
class TableRows:
    """Rows of one table in column order. JSON columns contain serialized text, and datetimes are aware UTC."""

    table: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class DataSet:
    """A generated data set whose ``tables`` are in foreign-key order, ready for ``load``."""

    tables: tuple[TableRows, ...]
    partner_ids: range
    member_ids: range
    task_count: int
    evaluations_per_period: Counter[str]

    @property
    def evaluation_count(self) -> int:
        return sum(self.evaluations_per_period.values())

    @property
    def busiest_period(self) -> str:
        """The month with the most evaluations, the month the ranking benchmark reads."""
        return self.evaluations_per_period.most_common(1)[0][0]


@contextmanager
def fresh_database(backend: str, postgres_url: str = DEFAULT_POSTGRES_URL) -> Iterator[Engine]:
    """Yield an engine on a new, migrated database: a SQLite file in a temporary directory or a new
    PostgreSQL schema. The directory or the schema is removed when the block ends."""
    if backend == "sqlite":
        with tempfile.TemporaryDirectory(prefix="smarter-bench-") as directory:
            engine = create_db_engine(f"sqlite:///{Path(directory) / 'bench.db'}")
            try:
                upgrade(engine)
                yield engine
            finally:
                engine.dispose()
        return
    if backend != "postgres":
        raise ValueError(f"invalid backend {backend!r}, expected one of {', '.join(BACKENDS)}")

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine = create_db_engine(postgres_url, connect_args={"options": f"-csearch_path={schema}"})
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _member_evaluation_counts(rng: random.Random, members: int, evaluations: int, task_count: int) -> list[int]:
    """Spread ``evaluations`` over members: about a tenth get none, the rest follow a log-normal activity,
    and no member gets more than one evaluation per task."""
    weights = [0.0 if rng.random() < INACTIVE_MEMBER_SHARE else rng.lognormvariate(0, 1) for _ in range(members)]
    active = [index for index, weight in enumerate(weights) if weight > 0]
    if len(active) * task_count < evaluations:
        weights = [1.0] * members
        active = list(range(members))
    total = sum(weights)
    counts = [min(task_count, int(evaluations * weight / total)) for weight in weights]

    # Rounding down and the per-task cap leave a remainder, which is handed out one evaluation at a time.
    missing = evaluations - sum(counts)
    while missing > 0:
        index = rng.choice(active)
        if counts[index] < task_count:
            counts[index] += 1
            missing -= 1
    return counts


def _pick_levels(rng: random.Random, criteria_levels: Sequence[Sequence[int]], skill: float) -> tuple[int, ...]:
    """Pick one level per criterion around the member's skill (0 = lowest level, 1 = highest).

    ``criteria_levels`` lists each criterion's level values in ascending order.
    """
    levels = []
    for values in criteria_levels:
        position = min(max(skill + rng.gauss(0, 0.25), 0.0), 0.999)
        levels.append(values[int(position * len(values))])
    return tuple(levels)


def generate(members: int, evaluations: int, *, seed: int = 20260101) -> DataSet:
    """Generate partners, ``members`` members, tasks, and ``evaluations`` evaluations with one
    submission each, spread over six Tokyo months."""
    if members < 1:
        raise ValueError(f"members must be at least 1, not {members}")
    if evaluations < 1:
        raise ValueError(f"evaluations must be at least 1, not {evaluations}")
    task_count = max(MIN_TASKS, math.ceil(evaluations / EVALUATIONS_PER_TASK))
    if evaluations > members * task_count:
        raise ValueError(
            f"{evaluations} evaluations do not fit {members} members on {task_count} tasks "
            "(one evaluation per member and task); use more members"
        )

    rng = random.Random(seed)
    rubrics = load_rubrics(CONFIG_DIR / "rubrics")
    rubric_levels = {
        key: [sorted(level.value for level in criterion.levels) for criterion in rubric.criteria]
        for key, rubric in rubrics.items()
    }
    partner_count = max(1, task_count // TASKS_PER_PARTNER)
    partner_ids = range(1, partner_count + 1)
    member_ids = range(partner_count + 1, partner_count + members + 1)
    registered_at = (SPAN_START - timedelta(days=60)).astimezone(UTC)

    people = [
        (
            person_id,
            Role.PARTNER.value,
            f"Partner company {person_id}",
            f"partner company {person_id}",
            f"partner{person_id}@example.com",
            "ja",
            None,
            None,
            NameDisplay.COMPANY.value,
            None,
            None,
            registered_at,
        )
        for person_id in partner_ids
    ]
    people += [
        (
            person_id,
            Role.MEMBER.value,
            f"member{person_id:07d}",
            f"member{person_id:07d}",
            f"member{person_id}@example.com",
            "ja" if person_id % 5 else "en",
            Membership.PAID.value if person_id % 3 == 0 else Membership.FREE.value,
            1 + person_id % 10,
            None,
            None,
            None,
            registered_at,
        )
        for person_id in member_ids
    ]

    # Each task has a partner, a rubric and a deadline, and its evaluations come after the deadline.
    deadline_range = int((SPAN_END - SPAN_START - EVALUATION_WINDOW).total_seconds())
    task_partner = [partner_ids[index % partner_count] for index in range(task_count)]
    task_rubric = [
        "business-planning" if rng.random() < BUSINESS_PLANNING_SHARE else "quick-feedback" for _ in range(task_count)
    ]
    task_deadline = [
        (SPAN_START + timedelta(seconds=rng.randrange(deadline_range))).astimezone(UTC) for _ in range(task_count)
    ]

    counts = _member_evaluation_counts(rng, members, evaluations, task_count)
    skills = [rng.betavariate(2, 2) for _ in range(members)]
    submission_window = int(SUBMISSION_WINDOW.total_seconds())
    evaluation_window = int(EVALUATION_WINDOW.total_seconds())
    records: list[tuple[datetime, datetime, int, int, tuple[int, ...]]] = []
    for index, count in enumerate(counts):
        member_id = member_ids[index]
        for task_index in rng.sample(range(task_count), count):
            deadline = task_deadline[task_index]
            submitted_at = deadline - timedelta(seconds=rng.randrange(submission_window))
            evaluated_at = deadline + timedelta(seconds=rng.randrange(3600, evaluation_window))
            levels = _pick_levels(rng, rubric_levels[task_rubric[task_index]], skills[index])
            records.append((evaluated_at, submitted_at, task_index + 1, member_id, levels))

    # Ids follow time, as they do when rows are written as things happen.
    records.sort(key=lambda record: (record[1], record[2], record[3]))
    submission_ids = {(record[2], record[3]): number for number, record in enumerate(records, start=1)}
    submissions = [
        (submission_ids[(task_id, member_id)], task_id, member_id, 1, "See the attached plan.", "[]", "[]", submitted)
        for _, submitted, task_id, member_id, _ in records
    ]
    records.sort(key=lambda record: (record[0], record[2], record[3]))

    snapshots = {key: json_text(rubric.to_snapshot()) for key, rubric in rubrics.items()}
    scored: dict[tuple[str, tuple[int, ...]], tuple[int, str]] = {}
    evaluation_rows = []
    per_period: Counter[str] = Counter()
    participants: Counter[int] = Counter()
    for number, (evaluated_at, _, task_id, member_id, levels) in enumerate(records, start=1):
        rubric_key = task_rubric[task_id - 1]
        if (rubric_key, levels) not in scored:
            rubric = rubrics[rubric_key]
            named = {criterion.key: level for criterion, level in zip(rubric.criteria, levels, strict=True)}
            scored[(rubric_key, levels)] = (to_points(rubric.score(named)), json_text(named))
        points, levels_text = scored[(rubric_key, levels)]
        period = month_period(evaluated_at.astimezone(TOKYO))
        per_period[period] += 1
        participants[task_id] += 1
        evaluation_rows.append(
            (
                number,
                task_id,
                member_id,
                submission_ids[(task_id, member_id)],
                task_partner[task_id - 1],
                snapshots[rubric_key],
                levels_text,
                "{}",
                ADVICE[number % len(ADVICE)],
                points,
                points,  # counted in the rankings, as every evaluation outside a contest freeze is
                period,
                evaluated_at,
                1,
            )
        )

    tasks = [
        (
            task_id,
            task_partner[task_id - 1],
            TaskMenu.CONTEST.value if task_id % 5 == 0 else TaskMenu.PRACTICE.value,
            f"Task {task_id}",
            "Draft a one-page plan for the case in the attachment.",
            json_text(["research", "analysis"]),
            task_deadline[task_id - 1],
            None,
            participants[task_id],
            Eligibility.ALL.value,
            None,
            TaskStatus.EVALUATED.value,
            None,
            task_rubric[task_id - 1],
            task_deadline[task_id - 1] - timedelta(days=14),
        )
        for task_id in range(1, task_count + 1)
    ]

    return DataSet(
        tables=(
            TableRows("people", PEOPLE_COLUMNS, people),
            TableRows("tasks", TASK_COLUMNS, tasks),
            TableRows("submissions", SUBMISSION_COLUMNS, submissions),
            TableRows("evaluations", EVALUATION_COLUMNS, evaluation_rows),
        ),
        partner_ids=partner_ids,
        member_ids=member_ids,
        task_count=task_count,
        evaluations_per_period=per_period,
    )


def _sqlite_datetime_converters(engine: Engine, rows: TableRows) -> list[tuple[int, Callable[[Any], Any]]]:
    """Return (column index, converter) for the datetime columns, formatted as SQLAlchemy stores them."""
    table = Base.metadata.tables[rows.table]
    converters = []
    for index, name in enumerate(rows.columns):
        column_type = table.c[name].type
        if isinstance(column_type.dialect_impl(engine.dialect), DateTime):
            processor = column_type.dialect_impl(engine.dialect).bind_processor(engine.dialect)
            if processor is not None:
                converters.append((index, processor))
    return converters


def _insert_sqlite(engine: Engine, rows: TableRows) -> None:
    converters = _sqlite_datetime_converters(engine, rows)
    statement = f"INSERT INTO {rows.table} ({', '.join(rows.columns)}) VALUES ({', '.join('?' * len(rows.columns))})"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        # The engine puts pysqlite in autocommit mode, so the batches need an explicit transaction.
        cursor.execute("BEGIN")
        for start in range(0, len(rows.rows), SQLITE_BATCH_ROWS):
            batch: Sequence[Any] = rows.rows[start : start + SQLITE_BATCH_ROWS]
            if converters:
                converted = []
                for row in batch:
                    values = list(row)
                    for index, convert in converters:
                        values[index] = convert(values[index])
                    converted.append(values)
                batch = converted
            cursor.executemany(statement, batch)
        cursor.execute("COMMIT")
        cursor.close()
    finally:
        raw.close()


def _insert_postgres(engine: Engine, rows: TableRows) -> None:
    raw = engine.raw_connection()
    try:
        connection = raw.driver_connection
        statement = f"COPY {rows.table} ({', '.join(rows.columns)}) FROM STDIN"
        with connection.cursor() as cursor, cursor.copy(statement) as copy:  # type: ignore[union-attr]
            for row in rows.rows:
                copy.write_row(row)
        connection.commit()  # type: ignore[union-attr]
    finally:
        raw.close()


def insert_rows(engine: Engine, rows: TableRows) -> None:
    """Bulk-insert ``rows`` with explicit ids in one transaction, bypassing the ORM."""
    if not rows.rows:
        return
    if engine.dialect.name == "sqlite":
        _insert_sqlite(engine, rows)
    else:
        _insert_postgres(engine, rows)


def _finish_postgres_load(engine: Engine, tables: Sequence[TableRows]) -> None:
    """Move each id sequence past the loaded ids and refresh the planner statistics and visibility map."""
    with engine.begin() as connection:
        for rows in tables:
            if "id" in rows.columns:
                connection.execute(
                    text(
                        "SELECT setval(pg_get_serial_sequence(:table, 'id'), "
                        f"(SELECT coalesce(max(id), 1) FROM {rows.table}))"
                    ),
                    {"table": rows.table},
                )
    # NOTE: autovacuum does the same some time after a bulk load. Running it here makes the plans
    # the same on every run instead of depending on when autovacuum last ran.
    names = ", ".join(dict.fromkeys(rows.table for rows in tables))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text(f"VACUUM ANALYZE {names}"))


def load(engine: Engine, data: DataSet, extra: Sequence[TableRows] = ()) -> None:
    """Insert every table of ``data``, then the ``extra`` rows.

    On PostgreSQL, also advance the id sequences and run VACUUM ANALYZE on the loaded tables.
    """
    tables = (*data.tables, *extra)
    for rows in tables:
        insert_rows(engine, rows)
    if engine.dialect.name == "postgresql":
        _finish_postgres_load(engine, tables)


def build_totals(engine: Engine, prior: RankingPrior) -> int:
    """Build the member_scores totals from the evaluations with the product's ``rebuild_rankings``."""
    with Session(engine) as session, session.begin():
        written = rebuild_rankings(session, prior)
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE member_scores"))
    return written
