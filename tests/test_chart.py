"""The ranking chart PNG: size, the bundled Japanese font, "?" for missing glyphs, determinism and the row limit."""

from __future__ import annotations

import io
import logging
import math
import subprocess
import sys
import sysconfig
import threading
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fontTools.ttLib import TTFont
from matplotlib.backends.backend_agg import FigureCanvasAgg, RendererAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from PIL import Image

from core.presentation import chart
from core.presentation.chart import MAX_ROWS, ChartRow, chart_font_path, missing_glyphs, render_ranking_chart

TITLE = "2026年12月 ランキング"
SUBTITLE = "集計期間: 2026年12月1日〜12月31日"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# Nicknames as members type them. IPAexGothic covers all of these characters, including 髙 and 﨑.
JAPANESE_NAMES = [
    "山田花子",
    "たなか",
    "カタカナ",
    "ｱｲｳ",
    "全角ＡＢＣ",
    "髙橋",
    "山﨑",
    "佐々木ヶ丘",
    "ゆき・はな",
    "ジョン～",
    "Ken_1987",
]


@dataclass(frozen=True)
class DrawnText:
    text: str
    font_file: str | None
    size_pt: float
    ismath: bool | str


def rows_named(names: Sequence[str], *, movement: str = "") -> list[ChartRow]:
    return [ChartRow(rank, name, 90.0 - rank, movement) for rank, name in enumerate(names, start=1)]


def numbered_rows(count: int) -> list[ChartRow]:
    return rows_named([f"会員{rank}" for rank in range(1, count + 1)])


def png_size(png: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(png)) as image:
        return image.size


def render_catching_glyph_warnings(rows: Sequence[ChartRow], **options: str) -> tuple[bytes, list[str]]:
    """Render a chart and return it with the "Glyph … missing from font(s) …" warnings matplotlib emitted."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        png = render_ranking_chart(TITLE, rows, **options)
    glyph_warnings = [str(warning.message) for warning in caught if "missing from font" in str(warning.message)]
    return png, glyph_warnings


@pytest.fixture
def drawn_texts(monkeypatch: pytest.MonkeyPatch) -> list[DrawnText]:
    """Record every string the Agg renderer draws, with the font file it was asked to use."""
    drawn: list[DrawnText] = []
    draw_text = RendererAgg.draw_text

    def recording_draw_text(
        self: RendererAgg,
        gc: Any,
        x: float,
        y: float,
        s: str,
        prop: FontProperties,
        angle: float,
        ismath: bool | str = False,
        mtext: Any = None,
    ) -> None:
        drawn.append(DrawnText(s, prop.get_file(), prop.get_size_in_points(), ismath))
        draw_text(self, gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    monkeypatch.setattr(RendererAgg, "draw_text", recording_draw_text)
    return drawn


def test_chart_is_valid_png() -> None:
    png = render_ranking_chart(TITLE, rows_named(JAPANESE_NAMES), subtitle=SUBTITLE)

    assert png.startswith(PNG_SIGNATURE)
    with Image.open(io.BytesIO(png)) as image:
        image.verify()
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        width, height = image.size
        assert image.mode in ("RGB", "RGBA")
    assert 1000 <= width <= 1400
    assert 400 <= height <= 1000


def test_chart_png_has_no_metadata() -> None:
    png = render_ranking_chart(TITLE, rows_named(JAPANESE_NAMES))

    with Image.open(io.BytesIO(png)) as image:
        assert "Software" not in image.info
        assert getattr(image, "text", {}) == {}


def test_chart_height_grows_with_rows() -> None:
    heights = [png_size(render_ranking_chart(TITLE, numbered_rows(count)))[1] for count in (5, 20, MAX_ROWS)]

    assert heights[0] < heights[1] < heights[2]
    assert heights[2] <= 2600


def test_chart_width_is_fixed() -> None:
    widths = {png_size(render_ranking_chart(TITLE, numbered_rows(count)))[0] for count in (0, 1, MAX_ROWS)}

    assert len(widths) == 1


def test_chart_draws_at_most_50_rows(drawn_texts: list[DrawnText]) -> None:
    png = render_ranking_chart(TITLE, numbered_rows(MAX_ROWS + 10))
    texts = {drawn.text for drawn in drawn_texts}

    assert MAX_ROWS == 50
    assert png_size(png) == png_size(render_ranking_chart(TITLE, numbered_rows(MAX_ROWS)))
    assert "50. 会員50" in texts
    assert "51. 会員51" not in texts


def test_chart_rank_one_is_at_top(drawn_texts: list[DrawnText]) -> None:
    render_ranking_chart(TITLE, rows_named(["一位", "二位", "三位"]))
    labels = [drawn.text for drawn in drawn_texts if drawn.text[:1].isdigit() and ". " in drawn.text]

    assert labels[:3] == ["1. 一位", "2. 二位", "3. 三位"]


def test_chart_font_is_inside_font_package() -> None:
    path = chart_font_path()
    site_packages = {Path(sysconfig.get_path("purelib")).resolve(), Path(sysconfig.get_path("platlib")).resolve()}

    assert path.is_file()
    assert path.name == "ipaexg.ttf"
    assert path.parent.parent.name == "matplotlib_fontja"
    assert any(path.resolve().is_relative_to(directory) for directory in site_packages)
    assert not path.resolve().is_relative_to("/usr/share/fonts")


def test_chart_font_is_ipaex_gothic() -> None:
    with TTFont(chart_font_path(), lazy=True) as font:
        family = font["name"].getDebugName(1)

    assert family == "IPAexGothic"


@pytest.mark.parametrize("name", JAPANESE_NAMES)
def test_missing_glyphs_empty_for_japanese(name: str) -> None:
    assert missing_glyphs(name) == set()


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("ゆき😀", {"😀"}),
        ("🎉🎉", {"🎉"}),
        # IPAexGothic 004.01 has no glyph for 𠮷 (U+20BB7, 吉 with 土 on top), which some family names use.
        ("𠮷田", {"𠮷"}),
    ],
)
def test_missing_glyphs_reports_uncovered(text: str, missing: set[str]) -> None:
    assert missing_glyphs(text) == missing


def test_glyph_warning_hook_sees_missing_glyphs() -> None:
    # The glyph checks below rely on this warning, which DejaVu Sans, matplotlib's default font, emits for kanji.
    figure = Figure()
    FigureCanvasAgg(figure)
    figure.text(0.1, 0.5, "山田", fontproperties=FontProperties(family="DejaVu Sans"))

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        figure.savefig(io.BytesIO(), format="png")

    assert any("missing from font" in str(warning.message) for warning in caught)


def test_chart_draws_japanese_with_package_font(drawn_texts: list[DrawnText]) -> None:
    _, glyph_warnings = render_catching_glyph_warnings(rows_named(JAPANESE_NAMES), subtitle=SUBTITLE)
    font_files = {drawn.font_file for drawn in drawn_texts}
    texts = {drawn.text for drawn in drawn_texts}

    assert glyph_warnings == []
    assert font_files == {str(chart_font_path())}
    assert TITLE in texts
    assert SUBTITLE in texts
    for rank, name in enumerate(JAPANESE_NAMES, start=1):
        assert f"{rank}. {name}" in texts


def test_chart_replaces_emoji_with_question_mark(
    drawn_texts: list[DrawnText], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=chart.__name__)

    _, glyph_warnings = render_catching_glyph_warnings(rows_named(["ゆき😀", "𠮷田", "🎉🎉"]))
    texts = {drawn.text for drawn in drawn_texts}
    messages = [record.getMessage() for record in caplog.records]

    assert glyph_warnings == []
    assert "1. ゆき?" in texts
    assert "2. ?田" in texts
    assert "3. ??" in texts
    assert any("rank 1" in message for message in messages)
    assert not any("ゆき" in message for message in messages)


def test_chart_drops_emoji_variation_selectors(drawn_texts: list[DrawnText]) -> None:
    _, glyph_warnings = render_catching_glyph_warnings(rows_named(["★\ufe0fスター"]))

    assert glyph_warnings == []
    assert "1. ★スター" in {drawn.text for drawn in drawn_texts}


def test_chart_strips_control_characters(drawn_texts: list[DrawnText]) -> None:
    render_ranking_chart(TITLE, rows_named(["山田\u200b花子\x07", "たな\tか", "\u202eさとう"]))
    texts = {drawn.text for drawn in drawn_texts}

    assert "1. 山田花子" in texts
    assert "2. たな か" in texts
    assert "3. さとう" in texts


def test_chart_draws_dollar_signs_as_text(drawn_texts: list[DrawnText]) -> None:
    render_ranking_chart("$1,000 $", rows_named(["$x^2$"]))
    dollar_texts = [drawn for drawn in drawn_texts if "$" in drawn.text]

    assert {drawn.text for drawn in dollar_texts} == {"$1,000 $", "1. $x^2$"}
    assert all(drawn.ismath is False for drawn in dollar_texts)


def test_chart_shortens_long_names(drawn_texts: list[DrawnText]) -> None:
    render_ranking_chart(TITLE, rows_named(["とても長いニックネームを持っている会員さん", "A" * 30]))
    texts = {drawn.text for drawn in drawn_texts}

    assert "1. とても長いニックネーム…" in texts
    assert "2. " + "A" * 22 + "…" in texts


def test_chart_shrinks_long_title(drawn_texts: list[DrawnText]) -> None:
    long_title = TITLE + "（全メンバーの提出物と評価の合計点による月間総合ランキング、集計対象は確定済みの評価のみ）"

    render_ranking_chart(TITLE, numbered_rows(1))
    render_ranking_chart(long_title, numbered_rows(1))
    sizes = {drawn.text: drawn.size_pt for drawn in drawn_texts}

    assert sizes[TITLE] == 24
    assert 12 <= sizes[long_title] < 24


def test_chart_draws_scores_and_movements(drawn_texts: list[DrawnText]) -> None:
    rows = [
        ChartRow(1, "山田花子", 92.25, "▲2"),
        ChartRow(2, "たなか", 80.0, "▼1"),
        ChartRow(3, "カタカナ", 75.5, "NEW"),
        ChartRow(4, "髙橋", math.nan, ""),
    ]

    render_ranking_chart(TITLE, rows)
    texts = [drawn.text for drawn in drawn_texts]

    for expected in ("92.2", "80.0", "75.5", "—", "▲2", "▼1", "NEW"):
        assert expected in texts


def test_chart_movement_falls_back_to_ascii(monkeypatch: pytest.MonkeyPatch, drawn_texts: list[DrawnText]) -> None:
    covered = chart._covered_code_points()
    monkeypatch.setattr(chart, "_covered_code_points", lambda: covered - {ord("▲"), ord("▼")})

    render_ranking_chart(TITLE, [ChartRow(1, "山田花子", 92.0, "▲2"), ChartRow(2, "たなか", 80.0, "▼1")])
    texts = {drawn.text for drawn in drawn_texts}

    assert "+2" in texts
    assert "-1" in texts
    assert "▲2" not in texts


def test_chart_without_rows(drawn_texts: list[DrawnText]) -> None:
    png = render_ranking_chart(TITLE, [])
    texts = {drawn.text for drawn in drawn_texts}

    assert png.startswith(PNG_SIGNATURE)
    assert png_size(png)[0] >= 1000
    assert TITLE in texts
    assert "—" in texts


def test_chart_is_deterministic() -> None:
    rows = rows_named(JAPANESE_NAMES, movement="▲1")

    first = render_ranking_chart(TITLE, rows, subtitle=SUBTITLE)
    second = render_ranking_chart(TITLE, rows, subtitle=SUBTITLE)

    assert first == second


def test_chart_renders_same_bytes_from_threads() -> None:
    rows = rows_named(JAPANESE_NAMES)
    expected = render_ranking_chart(TITLE, rows)
    results: list[bytes] = []

    def render() -> None:
        results.append(render_ranking_chart(TITLE, rows))

    threads = [threading.Thread(target=render) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert len(results) == 4
    assert all(result == expected for result in results)


def test_chart_import_leaves_matplotlib_alone() -> None:
    script = (
        "import sys\n"
        "import core.presentation.chart as chart\n"
        "print('matplotlib' in sys.modules)\n"
        "chart.render_ranking_chart('t', [chart.ChartRow(1, '山田', 50.0, '')])\n"
        "import matplotlib\n"
        "print('matplotlib_fontja' in sys.modules, matplotlib.rcParams['font.family'])\n"
    )

    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=60)
    imported_on_import, after_render = result.stdout.splitlines()

    assert imported_on_import == "False"
    assert after_render == "False ['sans-serif']"
