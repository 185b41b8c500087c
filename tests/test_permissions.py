"""Permission matrix: every command of the grammar, typed by each role, is allowed or denied as the table lists."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from adapters.console.session import SettableClock
from bots.wiring import build_context
from core.commands.dispatch import CommandRunner
from core.commands.grammar import COMMANDS
from core.commands.parser import parse
from core.domain.enums import TaskStatus
from core.domain.text import TOKYO
from core.services import evaluations, participation, registration, requests, secretariat, submissions, tasks
from core.services.context import ServiceContext
from core.services.tasks import NewTask
from core.storage.db import create_db_engine
from core.storage.migrate import upgrade
from tests.conftest import actor, make_settings

ROLES = ("unregistered", "free", "paid", "graded", "owner", "other_partner", "secretariat")

# The console user acting in each role. "owner" is the partner of every task in the world below.
USERS = {
    "unregistered": "stranger",
    "free": "free",
    "paid": "paid",
    "graded": "graded",
    "owner": "owner",
    "other_partner": "rival",
    "secretariat": "secretariat",
}

# Command lines as a person types them. The {placeholders} are filled with the ids of the world built below.
# {own_request} is the actor's own pending participation request, or the free member's for everyone else.
LINES = {
    "register member": "/smarter register member nickname=newcomer email=new@example.com",
    "register partner": '/smarter register partner company="株式会社ニューカマー" display=company',
    "profile": "/smarter profile",
    "task new": "/smarter task new practice title=市場調査 deadline=2026/12/31 types=research,analysis",
    "task list": "/smarter task list all",
    "task show": "/smarter task show T{graded_task}",
    "task deadline": "/smarter task deadline T{open_task} 2027/01/15 18:00",
    "task close": "/smarter task close T{open_task}",
    "task reopen": "/smarter task reopen T{closed_task}",
    "task finish": "/smarter task finish T{closed_task}",
    "task archive": "/smarter task archive T{evaluated_task}",
    "join open-to-all": "/smarter join T{request_task}",
    "join paid-only": "/smarter join T{paid_task}",
    "join grade-3": "/smarter join T{graded_task}",
    "leave": "/smarter leave T{open_task}",
    "post": "/smarter post T{brainstorm} 駅前に無人の試食コーナーを置く",
    "digest": "/smarter digest T{brainstorm}",
    "submit": '/smarter submit T{open_task} text="改訂版の調査結果" links=https://example.com/v2',
    "submissions": "/smarter submissions T{open_task}",
    "evaluate": (
        "/smarter evaluate T{contest} graded1 logic=3 evidence=3 originality=2 feasibility=2 clarity=3 "
        'advice="根拠の出典を明記しましょう"'
    ),
    "evaluation": "/smarter evaluation T{open_task}",
    "rubric": "/smarter rubric quick-feedback",
    "ranking": "/smarter ranking all top=5",
    "ranking contest": "/smarter ranking T{contest}",
    "task freeze": "/smarter task freeze T{contest} 2026/12/20 18:00",
    "me ranking": "/smarter me ranking off",
    "me email": "/smarter me email off",
    "admin schedules": "/smarter admin schedules",
    "admin schedule cron": "/smarter admin schedule cron weekly 0 10 * * mon",
    "admin schedule timezone": "/smarter admin schedule timezone weekly Asia/Tokyo",
    "admin schedule table": "/smarter admin schedule table weekly all",
    "admin schedule channel": "/smarter admin schedule channel weekly #ranking",
    "admin schedule pause": "/smarter admin schedule pause weekly",
    "admin schedule resume": "/smarter admin schedule resume weekly",
    "admin schedule reset": "/smarter admin schedule reset weekly",
    "request": '/smarter request graded1 T{graded_task} message="ぜひご参加ください"',
    "requests": "/smarter requests",
    "accept": "/smarter accept R{own_request}",
    "decline": "/smarter decline R{own_request}",
    "admin membership": "/smarter admin membership free1 paid",
    "admin grade": "/smarter admin grade paid1 2",
    "help": "/smarter help task new",
    "lang": "/smarter lang en",
}

# Expected result per role, in the column order of ROLES.
MATRIX = {
    #                    unregistered free   paid   graded owner  other  secretariat
    "register member":  "allow        deny   deny   deny   deny   deny   allow",
    "register partner": "allow        deny   deny   deny   deny   deny   allow",
    "profile":          "deny         allow  allow  allow  allow  allow  deny",
    "task new":         "deny         deny   deny   deny   allow  allow  deny",
    "task list":        "allow        allow  allow  allow  allow  allow  allow",
    "task show":        "allow        allow  allow  allow  allow  allow  allow",
    "task deadline":    "deny         deny   deny   deny   allow  deny   allow",
    "task close":       "deny         deny   deny   deny   allow  deny   allow",
    "task reopen":      "deny         deny   deny   deny   allow  deny   allow",
    "task finish":      "deny         deny   deny   deny   allow  deny   allow",
    "task archive":     "deny         deny   deny   deny   allow  deny   allow",
    "join open-to-all": "deny         allow  allow  allow  deny   deny   deny",
    "join paid-only":   "deny         deny   allow  allow  deny   deny   deny",
    "join grade-3":     "deny         deny   deny   allow  deny   deny   deny",
    "leave":            "deny         allow  allow  allow  deny   deny   deny",
    "post":             "deny         allow  allow  allow  allow  deny   deny",
    "digest":           "deny         deny   deny   deny   allow  deny   allow",
    "submit":           "deny         allow  allow  allow  deny   deny   deny",
    "submissions":      "deny         deny   deny   deny   allow  deny   allow",
    "evaluate":         "deny         deny   deny   deny   allow  deny   deny",
    "evaluation":       "deny         allow  allow  allow  deny   deny   deny",
    "rubric":           "allow        allow  allow  allow  allow  allow  allow",
    "ranking":          "allow        allow  allow  allow  allow  allow  allow",
    "ranking contest":  "allow        allow  allow  allow  allow  allow  allow",
    "task freeze":      "deny         deny   deny   deny   allow  deny   allow",
    "me ranking":       "deny         allow  allow  allow  deny   deny   deny",
    "me email":         "deny         allow  allow  allow  deny   deny   deny",
    "admin schedules":  "deny         deny   deny   deny   deny   deny   allow",
    "admin schedule cron": "deny      deny   deny   deny   deny   deny   allow",
    "admin schedule timezone": "deny  deny   deny   deny   deny   deny   allow",
    "admin schedule table": "deny     deny   deny   deny   deny   deny   allow",
    "admin schedule channel": "deny   deny   deny   deny   deny   deny   allow",
    "admin schedule pause": "deny     deny   deny   deny   deny   deny   allow",
    "admin schedule resume": "deny    deny   deny   deny   deny   deny   allow",
    "admin schedule reset": "deny     deny   deny   deny   deny   deny   allow",
    "request":          "deny         deny   deny   deny   allow  deny   deny",
    "requests":         "deny         allow  allow  allow  allow  allow  deny",
    "accept":           "deny         allow  allow  allow  deny   deny   deny",
    "decline":          "deny         allow  allow  allow  deny   deny   deny",
    "admin membership": "deny         deny   deny   deny   deny   deny   allow",
    "admin grade":      "deny         deny   deny   deny   deny   deny   allow",
    "help":             "allow        allow  allow  allow  allow  allow  allow",
    "lang":             "deny         allow  allow  allow  allow  allow  deny",
}  # fmt: skip

CELLS = [
    pytest.param(case, role, expected, id=f"{case.replace(' ', '-')}-{role}")
    for case, row in MATRIX.items()
    for role, expected in zip(ROLES, row.split(), strict=True)
]


@dataclass(frozen=True, slots=True)
class World:
    """Ids of the tasks and participation requests that the command lines refer to."""

    open_task: int
    paid_task: int
    graded_task: int
    brainstorm: int
    contest: int
    closed_task: int
    evaluated_task: int
    request_task: int
    requests_by_role: dict[str, int]

    def line(self, case: str, role: str) -> str:
        own_request = self.requests_by_role.get(role, self.requests_by_role["free"])
        return LINES[case].format(
            open_task=self.open_task,
            paid_task=self.paid_task,
            graded_task=self.graded_task,
            brainstorm=self.brainstorm,
            contest=self.contest,
            closed_task=self.closed_task,
            evaluated_task=self.evaluated_task,
            request_task=self.request_task,
            own_request=own_request,
        )


START = datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)
MEMBER_NICKNAMES = {"free": "free1", "paid": "paid1", "graded": "graded1"}
LEVELS = {"logic": "3", "evidence": "3", "originality": "2", "feasibility": "2", "clarity": "3"}


def _start_clock() -> SettableClock:
    clock = SettableClock()
    clock.set(START)
    return clock


def _open_task(ctx: ServiceContext, menu: str, title: str, **fields: object) -> int:
    spec = NewTask(menu=menu, title=title, deadline="2026/12/31 18:00", **fields)  # type: ignore[arg-type]
    return tasks.create_task(ctx, actor("owner"), spec).id


def build_world(ctx: ServiceContext) -> World:
    """Register every role, open one task per situation, and add submissions, evaluations and requests."""
    owner, staff = actor("owner"), actor("secretariat")
    registration.register_partner(ctx, owner, company="株式会社オーナー")
    registration.register_partner(ctx, actor("rival"), company="株式会社ライバル")
    for role, nickname in MEMBER_NICKNAMES.items():
        registration.register_member(ctx, actor(USERS[role]), nickname=nickname)
    secretariat.set_membership(ctx, staff, "paid1", "paid")
    secretariat.set_membership(ctx, staff, "graded1", "paid")
    secretariat.set_grade(ctx, staff, "graded1", 3)

    open_task = _open_task(ctx, "practice", "全員向けの調査", work_types=("research",))
    paid_task = _open_task(ctx, "practice", "有料会員向けの分析", work_types=("analysis",), eligibility="paid")
    graded_task = _open_task(
        ctx, "practice", "グレード3以上の考察", work_types=("ideas",), eligibility="grade", min_grade=3
    )
    brainstorm = _open_task(ctx, "brainstorm", "新商品のアイデア")
    contest = _open_task(ctx, "contest", "新規事業コンテスト", copyright="応募者に帰属します")
    closed_task = _open_task(ctx, "practice", "締め切った調査", work_types=("research",))
    tasks.change_task_status(ctx, owner, closed_task, TaskStatus.CLOSED)
    evaluated_task = _open_task(ctx, "practice", "評価済みの整理", work_types=("organizing",))
    tasks.change_task_status(ctx, owner, evaluated_task, TaskStatus.CLOSED)
    tasks.change_task_status(ctx, owner, evaluated_task, TaskStatus.EVALUATED)
    request_task = _open_task(ctx, "practice", "要請のある調査", work_types=("research",))

    for role, nickname in MEMBER_NICKNAMES.items():
        participation.join_task(ctx, actor(USERS[role]), open_task)
        submissions.submit(ctx, actor(USERS[role]), open_task, text="調査結果の初版")
        evaluations.evaluate(ctx, owner, open_task, nickname, levels=LEVELS, advice="よくまとまっています")
    participation.join_task(ctx, actor("graded"), contest)
    submissions.submit(ctx, actor("graded"), contest, text="事業計画の初版")

    requests_by_role = {
        role: requests.send_request(ctx, owner, nickname, request_task).id
        for role, nickname in MEMBER_NICKNAMES.items()
    }
    return World(
        open_task=open_task,
        paid_task=paid_task,
        graded_task=graded_task,
        brainstorm=brainstorm,
        contest=contest,
        closed_task=closed_task,
        evaluated_task=evaluated_task,
        request_task=request_task,
        requests_by_role=requests_by_role,
    )


@pytest.fixture(scope="module")
def world_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, World]:
    """Build the world once in a SQLite file; each test works on its own copy of that file."""
    path = tmp_path_factory.mktemp("permissions") / "world.db"
    engine = create_db_engine(f"sqlite:///{path}")
    upgrade(engine)
    world = build_world(build_context(make_settings(), clock=_start_clock(), engine=engine, migrate=False))
    # Closing the last connection checkpoints the write-ahead log into the file, so a copy is complete.
    engine.dispose()
    return path, world


@pytest.fixture
def world_ctx(
    world_template: tuple[Path, World], tmp_path: Path, clock: SettableClock
) -> Iterator[tuple[ServiceContext, World]]:
    template, world = world_template
    path = tmp_path / "world.db"
    shutil.copyfile(template, path)
    engine = create_db_engine(f"sqlite:///{path}")
    yield build_context(make_settings(), clock=clock, engine=engine, migrate=False), world
    engine.dispose()


@pytest.mark.parametrize(("case", "role", "expected"), CELLS)
def test_command_allowed_or_denied(
    world_ctx: tuple[ServiceContext, World], case: str, role: str, expected: str
) -> None:
    ctx, world = world_ctx
    line = world.line(case, role)

    messages = CommandRunner(ctx).run(actor(USERS[role]), line)

    errors = [message for message in messages if message.error]
    assert messages, f"{line!r} returned no message"
    if expected == "allow":
        assert not errors, f"{role} was denied {line!r}: {errors[0].text()}"
    else:
        assert errors, f"{role} was allowed {line!r}: {messages[0].text()}"
        assert errors[0].visibility == "ephemeral"


def sample_line(case: str) -> str:
    """Return the command line of ``case`` with every id placeholder set to 1."""
    return World(1, 1, 1, 1, 1, 1, 1, 1, {"free": 1}).line(case, "free")


def test_matrix_covers_every_command() -> None:
    covered = {parse(sample_line(case)).spec.name for case in LINES}

    assert covered == {spec.name for spec in COMMANDS}


@pytest.mark.parametrize("case", list(LINES))
def test_matrix_line_parses_as_its_command(case: str) -> None:
    name = parse(sample_line(case)).spec.name

    assert case == name or case.startswith(f"{name} ")


def test_matrix_row_allows_some_role() -> None:
    rows_without_allow = [case for case, row in MATRIX.items() if "allow" not in row.split()]

    assert rows_without_allow == []


def test_matrix_open_rows_are_public_commands() -> None:
    # Only commands meant for anyone allow every role. Another fully open row would hide a missing permission check.
    open_rows = {case for case, row in MATRIX.items() if "deny" not in row.split()}

    assert open_rows == {"task list", "task show", "rubric", "ranking", "ranking contest", "help"}
