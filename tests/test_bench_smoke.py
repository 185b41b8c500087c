"""Benchmarks at a tiny size: they run and their result checks pass, on SQLite and, where they use one, PostgreSQL.

Timings at this size mean nothing, so no test asserts on them. docs/benchmarks.md records the
full-size runs.
"""

from __future__ import annotations

import json

import pytest

from bench import announcement_fanout, evaluation_write, ranking_read, slack_ack
from tests.conftest import POSTGRES_URL, REQUIRE_POSTGRES, postgres_unavailable

TINY = ["--members", "200", "--evaluations", "2000", "--repeat", "1", "--postgres-url", POSTGRES_URL]
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def require(backend: str) -> None:
    """Skip a PostgreSQL case when the server is unreachable, or fail when CI requires PostgreSQL."""
    if backend != "postgres":
        return
    reason = postgres_unavailable()
    if reason is None:
        return
    if REQUIRE_POSTGRES:
        pytest.fail(reason)
    pytest.skip(reason)


def last_json_line(output: str) -> dict[str, object]:
    return json.loads(output.strip().splitlines()[-1])  # type: ignore[no-any-return]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ranking_read_tiny_identical(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    require(backend)

    report = ranking_read.main([*TINY, "--backend", backend])

    assert [result.backend for result in report.backends] == [backend]
    (result,) = report.backends
    assert len(result.periods) == 2
    assert result.periods[0].period == "all"
    assert result.periods[1].period != "all"
    for period in result.periods:
        assert period.identical, period.mismatch
        assert period.product.count == 1
        assert period.aggregate.count == 1
    assert result.totals_rows > 0
    assert any("ix_member_scores_ranking" in line for line in result.plans["top_members"])
    summary = last_json_line(capsys.readouterr().out)
    assert summary["benchmark"] == "ranking_read"
    assert summary["identical"] is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_evaluation_write_tiny_consistent(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    require(backend)

    report = evaluation_write.main([*TINY, "--writes", "20", "--backend", backend])

    assert [result.backend for result in report.backends] == [backend]
    (result,) = report.backends
    assert result.consistent, result.mismatch
    assert set(result.timings) == set(evaluation_write.KINDS)
    for kind, summary in result.timings.items():
        assert summary.count == 20, kind
    summary = last_json_line(capsys.readouterr().out)
    assert summary["benchmark"] == "evaluation_write"
    assert summary["consistent"] is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_announcement_fanout_tiny_exactly_once(backend: str, capsys: pytest.CaptureFixture[str]) -> None:
    require(backend)

    # 4 messages per channel against a burst of 3, so every channel waits for a 429 once, and the kill
    # after half of the 48 messages lands while the first dispatcher waits.
    report = announcement_fanout.main(
        [
            "--channels",
            "12",
            "--messages",
            "4",
            "--global-rate",
            "100",
            "--lease",
            "2",
            "--backend",
            backend,
            "--postgres-url",
            POSTGRES_URL,
        ]
    )

    (result,) = report.backends
    assert result.backend == backend
    assert [run.name for run in result.runs] == ["uninterrupted", "uninterrupted, paced", "killed and restarted"]
    for run in result.runs:
        assert run.check.accepted_messages == 48, run.name
        assert run.check.duplicates == 0, run.name
        assert run.check.drops == 0, run.name
        assert run.check.rows_delivered == 12, run.name
    killed = result.runs[-1]
    assert killed.accepted_before_kill is not None
    assert 24 <= killed.accepted_before_kill < 48
    summary = last_json_line(capsys.readouterr().out)
    assert summary["benchmark"] == "announcement_fanout"
    assert summary["exactly_once"] is True


def test_slack_ack_tiny_acked_and_replied(capsys: pytest.CaptureFixture[str]) -> None:
    # 1 warm-up round and 2 timed rounds of 5 commands per app: 15 commands reach each server.
    report = slack_ack.main(["--rounds", "2", "--concurrency", "5", "--tasks", "3"])

    assert [result.app for result in report.apps] == ["smarter", "bare"]
    for result in report.apps:
        assert result.requests == 10, result.app
        assert result.errors == {}, result.app
        assert result.acknowledged == 10, result.app
        assert result.latency.p50_ms > 0, result.app
    assert report.replies_expected == 15
    assert report.reply_urls == 15
    assert report.replies == 15
    assert report.replies_to_bare == 0
    assert report.api_calls.get("users.info") == 15
    assert report.reply_texts
    for text in report.reply_texts:
        assert "Bench task 1" in text
    summary = last_json_line(capsys.readouterr().out)
    assert summary["benchmark"] == "slack_ack"
    assert summary["complete"] is True
