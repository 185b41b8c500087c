"""The console adapter: directives, replies, task channels, brainstorm threads, escaping and the CLI."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from adapters.console.session import ConsoleError, ConsoleSession, SettableClock, is_directive
from adapters.console.transcript import TranscriptError, replay
from bots.cli import main
from core.commands.dispatch import HANDLERS
from core.domain.text import TOKYO
from core.services.context import ServiceContext
from core.storage.models import Post

ESCAPE = "\x1b"


@pytest.fixture
def output() -> list[str]:
    return []


@pytest.fixture
def console(ctx: ServiceContext, clock: SettableClock, output: list[str]) -> ConsoleSession:
    return ConsoleSession(ctx, clock, write=output.append)


@pytest.fixture
def tasks_open(console: ConsoleSession, output: list[str]) -> list[str]:
    """Partner acme opens practice task T1 (channel #t1-調査) and brainstorm T2, and member taro registers."""
    console.say("/smarter register partner company=Acme", user="acme")
    console.say("/smarter register member nickname=taro", user="taro")
    console.say("/smarter task new practice title=調査 deadline=2026/12/31 types=research", user="acme")
    console.say("/smarter task new brainstorm title=発想 deadline=2026/12/31", user="acme")
    output.clear()
    return output


def posts(ctx: ServiceContext) -> list[tuple[int, str]]:
    with ctx.transaction() as session:
        return [(post.task_id, post.text) for post in session.scalars(select(Post).order_by(Post.id))]


def test_directive_as_changes_user(console: ConsoleSession) -> None:
    console.directive(":as taro")

    assert console.user == "taro"


def test_directive_in_adds_hash(console: ConsoleSession) -> None:
    console.directive(":in t1-調査")

    assert console.place == "#t1-調査"


def test_directive_in_dm(console: ConsoleSession) -> None:
    console.directive(":in dm")

    assert console.place == "dm"


def test_directive_clock_sets_japan_time(console: ConsoleSession, clock: SettableClock, output: list[str]) -> None:
    console.directive(":clock 2026-12-05 09:30")

    assert clock.now() == datetime(2026, 12, 5, 9, 30, tzinfo=TOKYO)
    assert output == ["⏰ 2026-12-05 09:30 JST"]


def test_directive_clock_invalid(console: ConsoleSession) -> None:
    with pytest.raises(ConsoleError) as raised:
        console.directive(":clock next week")

    assert raised.value.values["value"] == "next week"


def test_directive_advance_moves_clock(console: ConsoleSession, clock: SettableClock, output: list[str]) -> None:
    console.directive(":advance 2d")

    assert clock.now() == datetime(2026, 12, 3, 10, 0, tzinfo=TOKYO)
    assert output == ["⏰ 2026-12-03 10:00 JST"]


def test_directive_advance_invalid(console: ConsoleSession, clock: SettableClock) -> None:
    with pytest.raises(ConsoleError) as raised:
        console.directive(":advance soon")

    assert raised.value.values["value"] == "soon"

    assert clock.now() == datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)


def test_directive_who(console: ConsoleSession, output: list[str]) -> None:
    console.directive(":as hanako")
    console.directive(":in lounge")

    console.directive(":who")

    assert output == ["hanako #lounge 2026-12-01 10:00 JST"]


def test_directive_unknown(console: ConsoleSession) -> None:
    with pytest.raises(ConsoleError) as raised:
        console.directive(":dance")

    assert "not a console directive" in raised.value.key


@pytest.mark.parametrize("text", [":as", ":in  ", ":clock", ":advance"])
def test_directive_missing_value(console: ConsoleSession, text: str) -> None:
    with pytest.raises(ConsoleError) as raised:
        console.directive(text)

    assert raised.value.values["directive"] == text[1:].strip()


def test_directive_advance_overflow(console: ConsoleSession, clock: SettableClock) -> None:
    with pytest.raises(ConsoleError) as raised:
        console.directive(":advance 999999w")

    assert "9999" in raised.value.key
    assert clock.now() == datetime(2026, 12, 1, 10, 0, tzinfo=TOKYO)


@pytest.mark.parametrize(("text", "expected"), [(":as taro", True), (":who", True), (":-)", False), (":)", False)])
def test_is_directive(text: str, expected: bool) -> None:
    assert is_directive(text) is expected


def test_command_prints_ephemeral_block(console: ConsoleSession, output: list[str]) -> None:
    console.say("/smarter register member nickname=taro", user="taro")

    assert output[0] == "» taro #general: /smarter register member nickname=taro"
    assert output[1] == "  [→ taro only]"
    assert "taro" in output[2]
    assert output[2].startswith("    【")


def test_command_error_marked(console: ConsoleSession, output: list[str]) -> None:
    console.say("/smarter task show T9", user="taro")

    assert output[1] == "  [→ taro only]"
    assert output[2].startswith("    ⚠ ")
    assert "T9" in output[2]


def test_task_channel_created_for_partner(console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say("補足の指示です", user="acme", place="#t1-調査")

    assert tasks_open[-1] == "  [#t1-調査] acme: 補足の指示です"


def test_task_channel_membership_survives_restart(
    console: ConsoleSession, tasks_open: list[str], clock: SettableClock
) -> None:
    restarted: list[str] = []
    fresh = ConsoleSession(console.ctx, clock, write=restarted.append)

    fresh.say("再起動後の連絡です", user="acme", place="#t1-調査")
    fresh.say("部外者です", user="taro", place="#t1-調査")

    assert restarted[1] == "  [#t1-調査] acme: 再起動後の連絡です"
    assert restarted[3] == "  [→ taro only]"


def test_task_channel_refuses_non_member(console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say("こんにちは", user="taro", place="#t1-調査")

    assert tasks_open[1] == "  [→ taro only]"
    assert tasks_open[2].startswith("    ⚠ ")
    assert "  [#t1-調査] taro: こんにちは" not in tasks_open


def test_task_channel_accepts_joined_member(console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say("/smarter join T1", user="taro")
    tasks_open.clear()

    console.say("質問があります", user="taro", place="#t1-調査")

    assert tasks_open[-1] == "  [#t1-調査] taro: 質問があります"


def test_task_channel_partner_talks(console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say("追加の指示です", user="acme", place="#t1-調査")

    assert tasks_open[-1] == "  [#t1-調査] acme: 追加の指示です"


def test_brainstorm_thread_post_recorded(ctx: ServiceContext, console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say("駅前で試食会", user="taro", place="#brainstorm/T2")

    assert posts(ctx) == [(2, "駅前で試食会")]
    assert tasks_open[-1] == "  [#brainstorm/T2] taro: 駅前で試食会"


def test_brainstorm_thread_unregistered_refused(
    ctx: ServiceContext, console: ConsoleSession, tasks_open: list[str]
) -> None:
    console.say("idea", user="stranger", place="#brainstorm/T2")

    assert posts(ctx) == []
    assert tasks_open[2].startswith("    ⚠ ")


def test_brainstorm_thread_of_practice_task(
    ctx: ServiceContext, console: ConsoleSession, tasks_open: list[str]
) -> None:
    console.say("idea", user="taro", place="#brainstorm/T1")

    assert posts(ctx) == []
    assert "T1" in tasks_open[2]


def test_control_characters_removed(console: ConsoleSession, output: list[str]) -> None:
    console.say(f'/smarter register member nickname="a{ESCAPE}[31mb{ESCAPE}[0m"', user="eve")

    assert [line for line in output if ESCAPE in line] == []
    assert any("a[31mb[0m" in line for line in output[2:])


def test_control_characters_removed_from_channel_talk(console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say(f"hi{ESCAPE}]0;owned\x07 there\x9b", user="acme", place="#t1-調査")

    assert tasks_open[-1] == "  [#t1-調査] acme: hi]0;owned there"


def test_control_characters_removed_from_brainstorm(console: ConsoleSession, tasks_open: list[str]) -> None:
    console.say(f"{ESCAPE}[2Jidea", user="taro", place="#brainstorm/T2")

    assert [line for line in tasks_open if ESCAPE in line] == []


def test_cli_malformed_transcript_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("# comment\nacme: /smarter help\nthis line has no speaker\n", encoding="utf-8")

    code = main(["run", "--script", str(script)])

    assert code == 2
    assert f"{script}:3:" in capsys.readouterr().err


def test_cli_unknown_directive_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "bad.txt"
    script.write_text("acme: /smarter help\n\n:dance\n:who\n", encoding="utf-8")

    code = main(["run", "--script", str(script)])

    assert code == 2
    assert f"{script}:3:" in capsys.readouterr().err


def test_cli_replays_transcript(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = tmp_path / "ok.txt"
    script.write_text(":clock 2026-12-01 10:00\ntaro: /smarter register member nickname=taro\n", encoding="utf-8")

    code = main(["run", "--script", str(script)])

    assert code == 0
    assert "  [→ taro only]" in capsys.readouterr().out.splitlines()


def test_cli_missing_transcript(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--script", str(tmp_path / "missing.txt")])

    assert code == 2
    assert "missing.txt" in capsys.readouterr().err


def test_transcript_quit_ends_replay(tmp_path: Path, console: ConsoleSession, output: list[str]) -> None:
    script = tmp_path / "quit.txt"
    script.write_text(":who\n:quit\nthis line is not a transcript line\n", encoding="utf-8")

    replay(console, script)

    assert output == ["guest #general 2026-12-01 10:00 JST"]


def test_transcript_invalid_utf8_names_line(tmp_path: Path, console: ConsoleSession) -> None:
    script = tmp_path / "bytes.txt"
    script.write_bytes(b":who\n\xff\xfe\n")

    with pytest.raises(TranscriptError, match=r"bytes.txt:2: not valid UTF-8"):
        replay(console, script)


def test_cli_invalid_database_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--script", "/dev/null", "--database", "mysql://x@localhost/db"]) == 2

    assert "unsupported database" in capsys.readouterr().err


def test_unexpected_error_gets_apology(
    console: ConsoleSession, output: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setitem(HANDLERS, "profile", broken)

    console.say("/smarter profile", user="taro")

    assert output[1] == "  [→ taro only]"
    assert output[2].startswith("    ⚠ ")
    assert "運営事務局" in output[2]
