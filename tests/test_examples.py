"""Replay the example transcripts in examples/ and compare what every user sees with the .out files.

Each examples/<name>.txt is replayed in-process through ``smarter-bot run --script`` on a fresh SQLite
file, and its output must equal examples/<name>.out line for line; a mismatch shows a unified diff.
The only difference from a plain ``smarter-bot run --script examples/<name>.txt`` is that the test
passes ``--database`` so that it can read the database afterwards.

After an intended change of wording, rewrite the .out files and review the diff before committing:

    SMARTER_UPDATE_EXAMPLES=1 pytest tests/test_examples.py

Regenerated .out files match by definition, so the focused tests below check the story itself:
who receives which reply, channel and DM, and what the database contains after each replay.
Message texts are looked up in the current catalogs, so these tests follow the translations.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from adapters.console.render import render_line
from adapters.console.transcript import TranscriptError, parse_transcript
from bots.cli import main
from core.domain.text import TOKYO
from core.presentation.i18n import Localizer
from core.storage.models import (
    Evaluation,
    OutboxMessage,
    ParticipationRequest,
    Person,
    Post,
    Submission,
    Task,
)

EXAMPLES_DIR = Path(__file__).resolve().parents[1] / "examples"
EXAMPLE_NAMES = ("walkthrough", "brainstorm", "contest", "announcements")
UPDATE = os.environ.get("SMARTER_UPDATE_EXAMPLES") == "1"
CHANNEL_MISSING = "PermanentDeliveryError: channel_not_found: the console has no channel #ranking-room"

# Catalog msgids of the sentences the focused tests look for, rendered in the locale of the output.
PAID_ONLY = (
    "Task T{task_id} is open to paid members only, and your membership is free. "
    "Please contact the secretariat if you would like to become a paid member."
)
NOT_AN_OBLIGATION = (
    "This is a request, not an obligation: whether you accept is entirely your own "
    "choice, and declining has no effect on your evaluations or ranking."
)
DEADLINE_PASSED = (
    "The deadline of task T{task_id} ({deadline}) has passed. If you need more time, please ask "
    "the partner; the partner can extend it with /smarter task deadline."
)
ANONYMOUS_REQUESTER = "A company in {industry}, {prefecture}"
# Console notes that stand in for the platform's own events (channel created, member invited).
CHANNEL_CREATED = "✚ channel {channel} created; {user} invited"
INVITED = "✚ {user} invited to {channel}"
CHANNEL_ARCHIVED = "✖ channel {channel} archived"
THREAD_OPENED = "✚ thread {thread} opened"
OPEN_TASKS_TITLE = "Open tasks"

INPUT = re.compile(r"^» (?P<user>\S+) (?P<place>\S+): (?P<text>.*)$")


# --- replaying and reading the output ----------------------------------------------------------


@dataclass
class Block:
    """One message as printed: its audience (``hana only``, ``#general``, ``DM hana``) and its lines."""

    audience: str
    lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def error(self) -> bool:
        return bool(self.lines) and self.lines[0].startswith("⚠ ")


@dataclass
class Step:
    """One typed line (or one clock change) with the messages and console events it caused."""

    user: str | None
    place: str | None
    text: str
    blocks: list[Block] = field(default_factory=list)
    events: list[str] = field(default_factory=list)


@dataclass
class Replay:
    name: str
    output: str
    database_url: str
    steps: list[Step]

    def find(self, user: str, text: str) -> list[Step]:
        """Return the steps where ``user`` typed exactly ``text``, in order."""
        return [step for step in self.steps if step.user == user and step.text == text]

    def find_prefix(self, user: str, prefix: str) -> list[Step]:
        return [step for step in self.steps if step.user == user and step.text.startswith(prefix)]

    @property
    def blocks(self) -> list[Block]:
        return [block for step in self.steps for block in step.blocks]

    @property
    def events(self) -> list[str]:
        return [event for step in self.steps for event in step.events]

    def index(self, step: Step) -> int:
        return next(number for number, candidate in enumerate(self.steps) if candidate is step)


def parse_output(output: str) -> list[Step]:
    """Split console output into steps: ``»`` input lines, ``[→ audience]`` blocks and event lines."""
    steps = [Step(None, None, "(start)")]
    block: Block | None = None
    for line in output.splitlines():
        if match := INPUT.match(line):
            steps.append(Step(match["user"], match["place"], match["text"]))
            block = None
        elif line.startswith("⏰"):
            steps.append(Step(None, None, line))
            block = None
        elif line.startswith("  [→ ") and line.endswith("]"):
            block = Block(line[len("  [→ ") : -1])
            steps[-1].blocks.append(block)
        elif line.startswith("    ") and block is not None:
            block.lines.append(line[4:])
        else:
            steps[-1].events.append(line.strip())
            block = None
    return steps


def run_example(name: str, directory: Path) -> Replay:
    """Replay examples/<name>.txt through the CLI on a new SQLite file in ``directory``."""
    database_url = f"sqlite:///{directory / f'{name}.db'}"
    buffer = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        for variable in [key for key in os.environ if key.startswith("SMARTER_")]:
            patch.delenv(variable)
        patch.chdir(directory)  # no .env file from the working directory
        with contextlib.redirect_stdout(buffer):
            exit_code = main(["run", "--script", str(EXAMPLES_DIR / f"{name}.txt"), "--database", database_url])
    assert exit_code == 0, f"replaying {name}.txt failed with exit code {exit_code}:\n{buffer.getvalue()}"
    output = buffer.getvalue()
    return Replay(name, output, database_url, parse_output(output))


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Replay]:
    directory = tmp_path_factory.mktemp("examples")
    return {name: run_example(name, directory) for name in EXAMPLE_NAMES}


@pytest.fixture(scope="module")
def walkthrough(replays: dict[str, Replay]) -> Replay:
    return replays["walkthrough"]


@pytest.fixture(scope="module")
def brainstorm(replays: dict[str, Replay]) -> Replay:
    return replays["brainstorm"]


@pytest.fixture(scope="module")
def contest(replays: dict[str, Replay]) -> Replay:
    return replays["contest"]


@pytest.fixture(scope="module")
def announcements(replays: dict[str, Replay]) -> Replay:
    return replays["announcements"]


@contextlib.contextmanager
def database(replay: Replay) -> Iterator[Session]:
    engine = create_engine(replay.database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def catalog_line(msgid: str, locale: str = "ja", **values: Any) -> str:
    """Render one catalog message as the console prints it."""
    return render_line(Localizer(locale).line(msgid, **values))


def only_block(step: Step) -> Block:
    assert len(step.blocks) == 1, f"{step.user}: {step.text} produced {len(step.blocks)} messages: {step.blocks}"
    return step.blocks[0]


def reply(step: Step) -> Block:
    """Return the ephemeral reply to the person who typed the step, ignoring its channel posts and DMs."""
    replies = [block for block in step.blocks if block.audience == f"{step.user} only"]
    assert len(replies) == 1, f"{step.user}: {step.text} produced {len(replies)} replies: {step.blocks}"
    return replies[0]


def ranked_ids(block: Block) -> list[int]:
    """Return the member ids of a ranking reply in the order listed, read from their ``M<id>`` labels."""
    return [int(match.group(1)) for line in block.lines if (match := re.search(r"[（(]M(\d+)[)）]", line))]


def member_id(replay: Replay, nickname: str) -> int:
    with database(replay) as session:
        return session.scalars(select(Person.id).where(Person.display_name == nickname)).one()


def versions(replay: Replay, nickname: str, task_id: int = 1) -> list[int]:
    person = member_id(replay, nickname)
    with database(replay) as session:
        statement = (
            select(Submission.version)
            .where(Submission.task_id == task_id, Submission.member_id == person)
            .order_by(Submission.version)
        )
        return list(session.scalars(statement))


# --- every example ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_matches_expected_output(replays: dict[str, Replay], name: str) -> None:
    expected_path = EXAMPLES_DIR / f"{name}.out"
    actual = replays[name].output
    if UPDATE:
        expected_path.write_text(actual, encoding="utf-8")
        pytest.skip(f"rewrote {expected_path.name} (SMARTER_UPDATE_EXAMPLES=1)")
    assert expected_path.exists(), f"{expected_path} is missing; create it with SMARTER_UPDATE_EXAMPLES=1"
    expected = expected_path.read_text(encoding="utf-8")
    if actual != expected:
        diff = difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"examples/{name}.out",
            tofile=f"replay of examples/{name}.txt",
        )
        pytest.fail(
            "output differs from the expected file; if the change is intended, rerun with "
            "SMARTER_UPDATE_EXAMPLES=1 and review the diff:\n" + "".join(diff),
            pytrace=False,
        )


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_delivers_every_outbox_item(replays: dict[str, Replay], name: str) -> None:
    with database(replays[name]) as session:
        rows = session.scalars(select(OutboxMessage)).all()
    undelivered = [(row.delivery_key, row.last_error) for row in rows if row.delivered_at is None]
    failed = [(row.delivery_key, row.last_error) for row in rows if row.last_error is not None]
    # The announcements example sends one announcement to a channel that does not exist, on purpose.
    expected = (
        [("announce:weekly:20261214T0000:console:local:#ranking-room", CHANNEL_MISSING)]
        if name == "announcements"
        else []
    )
    assert rows
    assert undelivered == expected
    assert failed == expected


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_shows_no_message_twice(replays: dict[str, Replay], name: str) -> None:
    for step in replays[name].steps:
        printed = [(block.audience, block.text) for block in step.blocks]
        assert len(printed) == len(set(printed)), f"{step.user}: {step.text} prints a message twice: {printed}"


@pytest.mark.parametrize("name", EXAMPLE_NAMES)
def test_example_replies_only_to_sender(replays: dict[str, Replay], name: str) -> None:
    # A reply to a command is ephemeral. Anything else a step prints goes to a channel or a DM.
    for step in replays[name].steps:
        for block in step.blocks:
            if block.audience.endswith(" only"):
                assert block.audience == f"{step.user} only", f"{step.user}: {step.text} → {block.audience}"


# --- walkthrough: practical work from registration to archive ---------------------------------

CHANNEL = "#t1-冷凍食品の購買動向調査"
SECOND_CHANNEL = "#t2-冷凍食品の新商品アイデア"
COMPANY = "株式会社みらい食品"


def test_walkthrough_free_member_join_rejected(walkthrough: Replay) -> None:
    rejected = walkthrough.find("hana", "/smarter join T1")[0]
    block = only_block(rejected)
    assert block.audience == "hana only"
    assert block.error
    assert catalog_line(PAID_ONLY, task_id=1) in block.text
    assert rejected.events == []

    joined = walkthrough.find("hana", "/smarter join Ｔ１")[0]
    assert not reply(joined).error
    assert catalog_line(INVITED, user="hana", channel=CHANNEL) in joined.events


def test_walkthrough_input_mistakes_rejected(walkthrough: Replay) -> None:
    task_steps = walkthrough.find_prefix("sato", "/smarter task new")
    for mistake in task_steps[:3]:
        block = only_block(mistake)
        assert block.audience == "sato only"
        assert block.error, mistake.text
    assert not reply(task_steps[3]).error

    missing_clarity = walkthrough.find_prefix("sato", "/smarter evaluate T1 けんた")[0]
    assert only_block(missing_clarity).error

    with database(walkthrough) as session:
        tasks = session.scalars(select(Task).order_by(Task.id)).all()
    assert [task.title for task in tasks] == ["冷凍食品の購買動向調査", "冷凍食品の新商品アイデア"]
    assert tasks[0].capacity == 5  # typed as the full-width digit ５
    assert tasks[0].work_types == ["research", "analysis"]
    assert tasks[0].eligibility == "paid"


def test_walkthrough_channel_created_and_members_invited(walkthrough: Replay) -> None:
    events = walkthrough.events
    assert catalog_line(CHANNEL_CREATED, channel=CHANNEL, user="sato") in events
    for user in ("hana", "kenta", "yui"):
        assert catalog_line(INVITED, user=user, channel=CHANNEL) in events

    question = walkthrough.find_prefix("hana", "観察する店舗は")[0]
    answer = walkthrough.find_prefix("sato", "静岡市内で構いません")[0]
    assert question.place == CHANNEL
    assert question.events == [f"[{CHANNEL}] hana: {question.text}"]
    assert answer.events == [f"[{CHANNEL}] sato: {answer.text}"]


def test_walkthrough_outsider_cannot_talk_in_channel(walkthrough: Replay) -> None:
    outsider = walkthrough.find_prefix("sato_friend", "")[0]
    block = only_block(outsider)
    assert outsider.place == CHANNEL
    assert block.audience == "sato_friend only"
    assert block.error
    assert outsider.events == []


def test_walkthrough_resubmission_keeps_both_versions(walkthrough: Replay) -> None:
    assert versions(walkthrough, "はな") == [1, 2]
    assert versions(walkthrough, "けんた") == [1]

    hana, kenta = member_id(walkthrough, "はな"), member_id(walkthrough, "けんた")
    with database(walkthrough) as session:
        evaluation = session.scalars(select(Evaluation).where(Evaluation.member_id == hana)).one()
        evaluated = session.get_one(Submission, evaluation.submission_id)
        kenta_links = session.scalars(select(Submission.links).where(Submission.member_id == kenta)).one()
    assert evaluated.version == 2
    assert kenta_links == [
        "https://docs.example.com/kenta/frozen-food-analysis",
        "https://docs.example.com/kenta/data.xlsx",
    ]


def test_walkthrough_evaluation_dm_reaches_member(walkthrough: Replay) -> None:
    evaluations = [step for step in walkthrough.find_prefix("sato", "/smarter evaluate T1") if not step.blocks[0].error]
    expected = {"はな": "hana", "けんた": "kenta", "ゆい": "yui"}
    assert [step.text.split()[3] for step in evaluations] == list(expected)
    for step, user in zip(evaluations, expected.values(), strict=True):
        advice = re.search(r'advice="([^"]*)"', step.text)
        assert advice is not None
        direct = [block for block in step.blocks if block.audience.startswith("DM ")]
        assert [block.audience for block in direct] == [f"DM {user}"]
        assert advice.group(1) in direct[0].text

    own_view = only_block(walkthrough.find("hana", "/smarter evaluation T1")[0])
    assert own_view.audience == "hana only"
    assert "ワンプレート商品の着眼点は社内でも出ていなかった視点です。" in own_view.text  # the remark on originality


def test_walkthrough_ranking_orders_members(walkthrough: Replay) -> None:
    ranking = only_block(walkthrough.find("hana", "/smarter ranking")[0])
    expected = [member_id(walkthrough, nickname) for nickname in ("はな", "けんた", "ゆい")]
    assert ranked_ids(ranking) == expected


def test_walkthrough_hides_company_name(walkthrough: Replay) -> None:
    anonymous = catalog_line(ANONYMOUS_REQUESTER, industry="製造業", prefecture="静岡県")
    for block in walkthrough.blocks:
        if COMPANY in block.text:
            assert block.audience in ("sato only", "DM sato"), f"{COMPANY} shown to {block.audience}"
    # Task cards open with the task id in brackets; the weekly ranking announcement names no partner.
    announcements = [
        block
        for block in walkthrough.blocks
        if block.audience == "#announcements" and block.lines[0].startswith("【[T")
    ]
    assert len(announcements) == 2
    for block in announcements:
        assert anonymous in block.text

    request = walkthrough.find_prefix("sato", "/smarter request けんた T2")[0]
    direct = next(block for block in request.blocks if block.audience == "DM kenta")
    assert anonymous in direct.text


def test_announcements_example_story(announcements: Replay) -> None:
    ranking = [block for block in announcements.blocks if block.audience == "#announcements" and "📣" in block.text]
    reminders = [block for block in announcements.blocks if block.audience == "DM kenta" and "⏰" in block.text]
    reports = [block for block in announcements.blocks if block.audience == "DM secretariat"]

    assert len(ranking) == 2
    assert "ゆい" not in ranking[0].text
    assert len(reminders) == 2
    assert len(reports) == 1
    assert "#ranking-room" in reports[0].text


def test_walkthrough_request_is_not_binding(walkthrough: Replay) -> None:
    for user, nickname in (("kenta", "けんた"), ("hana", "はな")):
        request = walkthrough.find_prefix("sato", f"/smarter request {nickname} T2")[0]
        assert [block.audience for block in request.blocks] == ["sato only", f"DM {user}"]
        assert catalog_line(NOT_AN_OBLIGATION) in request.blocks[1].text

    declined = walkthrough.find("kenta", "/smarter decline R1")[0]
    accepted = walkthrough.find("hana", "/smarter accept R2")[0]
    assert [block.audience for block in declined.blocks] == ["kenta only", "DM sato"]
    assert "DM sato" in [block.audience for block in accepted.blocks]
    assert catalog_line(INVITED, user="hana", channel=SECOND_CHANNEL) in accepted.events

    with database(walkthrough) as session:
        rows = session.execute(select(ParticipationRequest.id, ParticipationRequest.status)).all()
        statuses = {request_id: status for request_id, status in rows}
    assert statuses == {1: "declined", 2: "accepted"}


def test_walkthrough_language_switch(walkthrough: Replay) -> None:
    english = only_block(walkthrough.find("yui", "/smarter task list")[0])
    assert english.lines[0] == f"【{catalog_line(OPEN_TASKS_TITLE, 'en')}】"
    assert "2027-01-15 (Fri) 23:59 JST" in english.text

    with database(walkthrough) as session:
        locale = session.scalars(select(Person.locale).where(Person.display_name == "ゆい")).one()
    assert locale == "ja"


def test_walkthrough_task_archived_with_channel(walkthrough: Replay) -> None:
    archive = walkthrough.find("sato", "/smarter task archive T1")[0]
    assert catalog_line(CHANNEL_ARCHIVED, channel=CHANNEL) in archive.events
    assert [block.audience for block in archive.blocks] == ["sato only", CHANNEL]
    with database(walkthrough) as session:
        assert session.get_one(Task, 1).status == "archived"
        assert session.get_one(Task, 2).status == "open"


# --- brainstorm ---------------------------------------------------------------------------------

THREAD = "#brainstorm/T1"


def test_brainstorm_thread_records_posts(brainstorm: Replay) -> None:
    assert catalog_line(THREAD_OPENED, thread=THREAD) in brainstorm.events
    in_thread = [step for step in brainstorm.steps if step.place == THREAD and step.user in ("mika", "ryo", "tanaka")]
    assert len(in_thread) == 3
    for step in in_thread:
        assert step.events == [f"[{THREAD}] {step.user}: {step.text}"]
        assert step.blocks == []

    with database(brainstorm) as session:
        posts = session.scalars(select(Post.text).where(Post.task_id == 1).order_by(Post.id)).all()
    assert len(posts) == 5
    assert posts[3].startswith("町家ゲストハウス")  # posted with the full-width task id Ｔ１


def test_brainstorm_rejects_outsiders(brainstorm: Replay) -> None:
    for user in ("guest_kyoto", "suzuki"):
        step = next(step for step in brainstorm.steps if step.user == user and step.place == THREAD)
        block = only_block(step)
        assert block.audience == f"{user} only"
        assert block.error
        assert step.events == []

    join = only_block(brainstorm.find("mika", "/smarter join T1")[0])
    assert join.error
    assert only_block(brainstorm.find("ryo", "/smarter post T1")[0]).error


def test_brainstorm_digest_for_partner_only(brainstorm: Replay) -> None:
    assert only_block(brainstorm.find("ryo", "/smarter digest T1")[0]).error

    digest = only_block(brainstorm.find("tanaka", "/smarter digest T1")[0])
    assert digest.audience == "tanaka only"
    assert not digest.error
    with database(brainstorm) as session:
        posts = session.scalars(select(Post.text).order_by(Post.id)).all()
    for text in posts:
        assert text in digest.text


def test_brainstorm_post_after_deadline_rejected(brainstorm: Replay) -> None:
    late = only_block(brainstorm.find_prefix("sota", "/smarter post T1 追加")[0])
    assert late.error
    deadline = datetime(2026, 12, 10, 18, 0, tzinfo=TOKYO)
    assert catalog_line(DEADLINE_PASSED, task_id=1, deadline=deadline) in late.text


# --- contest ------------------------------------------------------------------------------------

COPYRIGHT = "応募作品の著作権は応募者に帰属します。ただし主催者は、審査と結果発表のために応募作品を無償で利用できます。"


def test_contest_requires_copyright(contest: Replay) -> None:
    attempts = contest.find_prefix("kimura", "/smarter task new")
    assert [reply(step).error for step in attempts] == [True, True, False]
    with database(contest) as session:
        assert session.get_one(Task, 1).copyright == COPYRIGHT


def test_contest_copyright_shown_before_first_submission(contest: Replay) -> None:
    first_submit = min(contest.index(step) for step in contest.steps if step.text.startswith("/smarter submit"))
    for user in ("aoi", "daiki", "naomi"):
        join = contest.find(user, "/smarter join T1")[0]
        assert contest.index(join) < first_submit
        assert COPYRIGHT in reply(join).text

    submitted = contest.find_prefix("aoi", "/smarter submit") + contest.find_prefix("daiki", "/smarter submit")
    accepted = [step for step in submitted if not only_block(step).error]
    assert len(accepted) == 2
    for step in accepted:
        assert COPYRIGHT in only_block(step).text


def test_contest_invalid_link_stores_nothing(contest: Replay) -> None:
    invalid = only_block(contest.find_prefix("daiki", "/smarter submit T1")[0])
    assert invalid.error
    assert "example.com/daiki/app-plan" in invalid.text
    assert versions(contest, "だいき") == [1]


def test_contest_late_submission_rejected(contest: Replay) -> None:
    late = contest.find_prefix("naomi", "/smarter submit T1")[0]
    block = only_block(late)
    assert block.audience == "naomi only"
    assert block.error
    deadline = datetime(2026, 12, 20, 23, 59, tzinfo=TOKYO)
    assert catalog_line(DEADLINE_PASSED, task_id=1, deadline=deadline) in block.text
    assert versions(contest, "なおみ") == []


def test_contest_monthly_ranking(contest: Replay) -> None:
    this_month = only_block(contest.find("aoi", "/smarter ranking month")[0])
    next_month = only_block(contest.find("daiki", "/smarter ranking month")[0])
    december = only_block(contest.find("daiki", "/smarter ranking 2026-12")[0])
    expected = [member_id(contest, "あおい"), member_id(contest, "だいき")]
    assert ranked_ids(this_month) == expected
    assert ranked_ids(next_month) == []
    assert ranked_ids(december) == expected


# --- malformed transcripts ------------------------------------------------------------------------

MALFORMED = [
    pytest.param(":clock 2026-12-01 10:00\n# コメント\n\nコロンのない行\n", 4, id="line without colon"),
    pytest.param(":clock 2026-12-01 10:00\nhana: \n", 2, id="empty text"),
]


@pytest.mark.parametrize(("content", "line_number"), MALFORMED)
def test_malformed_transcript_names_line(content: str, line_number: int) -> None:
    with pytest.raises(TranscriptError) as raised:
        parse_transcript(content, source="broken.txt")
    assert f"broken.txt:{line_number}:" in str(raised.value)


def test_malformed_transcript_fails_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "broken.txt"
    script.write_text(":clock 2026-12-01 10:00\nhana: /smarter help\n:advance そのうち\n", encoding="utf-8")
    exit_code = main(["run", "--script", str(script), "--database", f"sqlite:///{tmp_path / 'broken.db'}"])
    captured = capsys.readouterr()
    assert exit_code == 2
    assert f"{script}:3:" in captured.err
    assert "» hana #general: /smarter help" in captured.out  # lines before the bad one were replayed
