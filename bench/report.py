"""Timing summaries, the machine description and the result table that both benchmarks print."""

from __future__ import annotations

import os
import platform
import sqlite3
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, text

__all__ = ["Summary", "database_version", "describe_machine", "format_table"]


@dataclass(frozen=True, slots=True)
class Summary:
    """Statistics of repeated timings, in milliseconds."""

    count: int
    median_ms: float
    mean_ms: float
    min_ms: float
    p95_ms: float

    @classmethod
    def of(cls, seconds: Sequence[float]) -> Summary:
        if not seconds:
            raise ValueError("no timings to summarize")
        milliseconds = sorted(value * 1000 for value in seconds)
        # statistics.quantiles needs at least two values, so a single timing is its own 95th percentile.
        p95 = (
            statistics.quantiles(milliseconds, n=20, method="inclusive")[-1]
            if len(milliseconds) > 1
            else milliseconds[0]
        )
        return cls(
            count=len(milliseconds),
            median_ms=statistics.median(milliseconds),
            mean_ms=statistics.fmean(milliseconds),
            min_ms=milliseconds[0],
            p95_ms=p95,
        )


def _read_first(path: str, prefix: str) -> str | None:
    try:
        for line in Path(path).read_text().splitlines():
            if line.startswith(prefix):
                return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def describe_machine() -> dict[str, str | int | None]:
    """Return the CPU, core count, memory and Python and SQLite library versions of this machine."""
    memory_kb = _read_first("/proc/meminfo", "MemTotal")
    return {
        "cpu": _read_first("/proc/cpuinfo", "model name") or platform.processor() or None,
        "cores": os.cpu_count(),
        "memory": f"{int(memory_kb.split()[0]) / 1024 / 1024:.1f} GiB" if memory_kb else None,
        "python": platform.python_version(),
        "sqlite_library": sqlite3.sqlite_version,
    }


def database_version(engine: Engine) -> str:
    """Return the server version (PostgreSQL) or library version (SQLite) behind ``engine``."""
    query = "SELECT sqlite_version()" if engine.dialect.name == "sqlite" else "SHOW server_version"
    with engine.connect() as connection:
        return f"{engine.dialect.name} {connection.execute(text(query)).scalar_one()}"


def format_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Format rows as a plain-text table with columns padded to their widest cell."""
    cells = [[str(value) for value in header]] + [[str(value) for value in row] for row in rows]
    widths = [max(len(row[index]) for row in cells) for index in range(len(header))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in cells]
    lines.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(lines)
