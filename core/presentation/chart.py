"""The ranking chart: a PNG bar chart of member scores for scheduled ranking announcements."""

from __future__ import annotations

import bisect
import functools
import importlib.util
import io
import itertools
import logging
import math
import threading
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from core.domain.text import strip_invisible

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

__all__ = ["MAX_ROWS", "ChartRow", "chart_font_path", "missing_glyphs", "render_ranking_chart"]

logger = logging.getLogger(__name__)

MAX_ROWS = 50
"""Maximum number of rows in one chart. A longer ranking is cut after this row."""

# IPAexGothic 004.01 (IPA Font License v1.0), shipped inside the matplotlib-fontja wheel.
_FONT_PACKAGE = "matplotlib_fontja"
_FONT_FILE = ("fonts", "ipaexg.ttf")

# Layout in pixels at _DPI, so one inch is 100 px.
_DPI = 100
_WIDTH_PX = 1200
_MARGIN_PX = 40
_HEADER_PX = 130
_TITLE_TOP_PX = 28
_SUBTITLE_TOP_PX = 78
_FOOTER_PX = 60
_ROW_PX = 44
_MIN_PLOT_ROWS = 3
_LABEL_PAD_PX = 12
_VALUE_COLUMN_PX = 150
_MOVEMENT_OFFSET_PT = 56

# Font sizes in points.
_TITLE_PT = 24
_SUBTITLE_PT = 15
_LABEL_PT = 15
_VALUE_PT = 14
_TICK_PT = 12
_PLACEHOLDER_PT = 28
_MIN_HEADING_PT = 12

_MAX_NAME_COLUMNS = 24
"""Maximum display width of a name in columns, where a full-width character takes two. Longer names end in "…"."""

_TEXT_COLOR = "#1F2937"
_MUTED_COLOR = "#6B7280"
_GRID_COLOR = "#E5E7EB"
_TOP_BAR_COLOR = "#2563EB"
_BAR_COLOR = "#7FA7F5"
_TOP_RANKS = 3
_RISE_COLOR = "#15803D"
_FALL_COLOR = "#B91C1C"
_NEW_COLOR = "#B45309"

_ASCII_MOVEMENT = str.maketrans({"▲": "+", "▼": "-"})

# Matplotlib 3.11 already serializes Figure.draw because its font caches are shared between figures. This lock
# also covers building the figure and measuring its labels, so renders from the scheduler and commands run in turn.
_render_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class ChartRow:
    """One member's bar: the rank, nickname, score from 0 to 100 and the movement since the last ranking."""

    rank: int
    name: str
    score: float
    movement: str
    """"▲2", "▼1", "NEW" or "" when there is no earlier ranking to compare with."""


@functools.cache
def chart_font_path() -> Path:
    """Locate the IPAexGothic file that the chart draws all text with.

    The package is found without importing it, because importing matplotlib_fontja changes
    matplotlib's global font settings.
    """
    spec = importlib.util.find_spec(_FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"The chart font package {_FONT_PACKAGE} is not installed. "
            "Install it with pip install 'matplotlib-fontja>=1.1,<2'"
        )
    path = Path(next(iter(spec.submodule_search_locations)), *_FONT_FILE)
    if not path.is_file():
        raise FileNotFoundError(
            f"The chart font file {path} is missing from {_FONT_PACKAGE}. Reinstall matplotlib-fontja>=1.1,<2"
        )
    return path


@functools.cache
def _covered_code_points() -> frozenset[int]:
    from fontTools.ttLib import TTFont

    with TTFont(chart_font_path(), lazy=True) as font:
        cmap = font.getBestCmap() or {}
        return frozenset(cmap)


def missing_glyphs(text: str) -> set[str]:
    """Return the characters of ``text`` that the chart font has no glyph for, read from its cmap table."""
    covered = _covered_code_points()
    return {char for char in text if ord(char) not in covered}


def render_ranking_chart(title: str, rows: Sequence[ChartRow], *, subtitle: str = "") -> bytes:
    """Draw ``rows`` as a horizontal bar chart, rank order top to bottom, and return the PNG bytes.

    Only the first MAX_ROWS rows are drawn. Characters the font cannot draw become "?" and invisible
    characters are removed. The same arguments give the same bytes within one process.
    """
    drawn_rows = list(rows[:MAX_ROWS])
    if len(rows) > MAX_ROWS:
        logger.debug("Ranking chart draws the first %d of %d rows", MAX_ROWS, len(rows))

    labels = [_row_label(row) for row in drawn_rows]
    title_text = _heading(title, "title")
    subtitle_text = _heading(subtitle, "subtitle")

    with _render_lock:
        figure = _build_figure(title_text, subtitle_text, drawn_rows, labels)
        buffer = io.BytesIO()
        # Matplotlib adds a Software text entry unless it is set to None, so the PNG then has no metadata at all.
        figure.savefig(buffer, format="png", dpi=_DPI, facecolor="white", metadata={"Software": None})
    return buffer.getvalue()


def _row_label(row: ChartRow) -> str:
    name, replaced = _drawable(row.name)
    if replaced:
        logger.debug("Ranking chart shows %d characters of the name at rank %d as '?'", replaced, row.rank)
    return f"{row.rank}. {_shorten(name)}"


def _heading(text: str, part: str) -> str:
    drawable, replaced = _drawable(text)
    if replaced:
        logger.debug("Ranking chart shows %d characters of its %s as '?'", replaced, part)
    return drawable


def _drawable(text: str) -> tuple[str, int]:
    """Remove invisible characters and variation selectors, and put "?" for each character the font lacks.

    Returns the text to draw and how many characters became "?".
    """
    visible = "".join(char for char in strip_invisible(text) if not _is_variation_selector(char))
    missing = missing_glyphs(visible)
    replaced = sum(1 for char in visible if char in missing)
    return "".join("?" if char in missing else char for char in visible), replaced


def _is_variation_selector(char: str) -> bool:
    # Variation selectors only pick a glyph style for the character before them and have no shape of their own.
    code_point = ord(char)
    return 0xFE00 <= code_point <= 0xFE0F or 0xE0100 <= code_point <= 0xE01EF


def _shorten(name: str) -> str:
    """Cut a name wider than _MAX_NAME_COLUMNS and end it with "…", which takes two columns."""
    widths = [2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in name]
    column_ends = list(itertools.accumulate(widths))
    if not column_ends or column_ends[-1] <= _MAX_NAME_COLUMNS:
        return name

    kept_chars = bisect.bisect_right(column_ends, _MAX_NAME_COLUMNS - 2)
    return name[:kept_chars].rstrip() + "…"


def _movement(movement: str) -> tuple[str, str]:
    """Return the movement text to draw and its colour. "▲" and "▼" become "+" and "-" if the font lacks them."""
    text = strip_invisible(movement)
    if missing_glyphs(text):
        text = text.translate(_ASCII_MOVEMENT)
    text, _ = _drawable(text)

    if text.startswith(("▲", "+")):
        return text, _RISE_COLOR
    if text.startswith(("▼", "-")):
        return text, _FALL_COLOR
    return text, _NEW_COLOR


def _score_text(score: float) -> str:
    return f"{score:.1f}" if math.isfinite(score) else "—"


def _bar_width(score: float) -> float:
    if not math.isfinite(score):
        return 0.0
    return min(max(score, 0.0), 100.0)


def _build_figure(title: str, subtitle: str, rows: list[ChartRow], labels: list[str]) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    plot_rows = max(len(rows), _MIN_PLOT_ROWS)
    height_px = _HEADER_PX + plot_rows * _ROW_PX + _FOOTER_PX
    figure = Figure(figsize=(_WIDTH_PX / _DPI, height_px / _DPI), dpi=_DPI, facecolor="white")
    # The canvas attaches itself to the figure, so savefig draws with Agg and no pyplot backend is chosen.
    FigureCanvasAgg(figure)

    label_font = _font(_LABEL_PT)
    label_width_px = max((_text_width_px(label, label_font) for label in labels), default=0.0)
    left_px = _MARGIN_PX + label_width_px + _LABEL_PAD_PX
    plot_width_px = _WIDTH_PX - left_px - _VALUE_COLUMN_PX - _MARGIN_PX
    axes = figure.add_axes(
        (
            left_px / _WIDTH_PX,
            _FOOTER_PX / height_px,
            plot_width_px / _WIDTH_PX,
            plot_rows * _ROW_PX / height_px,
        )
    )

    _draw_header(figure, height_px, title, subtitle)
    _style_axes(axes, plot_rows)
    if rows:
        _draw_bars(axes, rows, labels)
    else:
        axes.text(
            0.5,
            0.5,
            "—",
            transform=axes.transAxes,
            ha="center",
            va="center",
            color=_MUTED_COLOR,
            fontproperties=_font(_PLACEHOLDER_PT),
            parse_math=False,
            usetex=False,
        )
    return figure


def _font(size: float) -> FontProperties:
    from matplotlib.font_manager import FontProperties

    # A font given by file name is used alone, so no host font or font found through matplotlib's cache is drawn.
    return FontProperties(fname=chart_font_path(), size=size)


def _text_width_px(text: str, font: FontProperties) -> float:
    from matplotlib.textpath import text_to_path

    width_pt, _, _ = text_to_path.get_text_width_height_descent(text, font, ismath=False)
    return width_pt * _DPI / 72


def _fitted_font(text: str, size: float) -> FontProperties:
    """Return the chart font at ``size``, smaller if needed for ``text`` to fit between the side margins.

    The size stops shrinking at _MIN_HEADING_PT because smaller text is hard to read, so a longer heading
    runs past the right edge.
    """
    font = _font(size)
    width_px = _text_width_px(text, font)
    available_px = _WIDTH_PX - 2 * _MARGIN_PX
    if width_px > available_px:
        font.set_size(max(size * available_px / width_px, _MIN_HEADING_PT))
    return font


def _draw_header(figure: Figure, height_px: float, title: str, subtitle: str) -> None:
    left = _MARGIN_PX / _WIDTH_PX
    figure.text(
        left,
        1 - _TITLE_TOP_PX / height_px,
        title,
        ha="left",
        va="top",
        color=_TEXT_COLOR,
        fontproperties=_fitted_font(title, _TITLE_PT),
        parse_math=False,
        usetex=False,
    )
    if subtitle:
        figure.text(
            left,
            1 - _SUBTITLE_TOP_PX / height_px,
            subtitle,
            ha="left",
            va="top",
            color=_MUTED_COLOR,
            fontproperties=_fitted_font(subtitle, _SUBTITLE_PT),
            parse_math=False,
            usetex=False,
        )


def _style_axes(axes: Axes, plot_rows: int) -> None:
    axes.set_facecolor("white")
    axes.set_xlim(0, 100)
    axes.set_ylim(plot_rows - 0.5, -0.5)
    for spine in axes.spines.values():
        spine.set_visible(False)

    ticks = list(range(0, 101, 20))
    axes.set_xticks(
        ticks,
        [str(tick) for tick in ticks],
        fontproperties=_font(_TICK_PT),
        color=_MUTED_COLOR,
        parse_math=False,
        usetex=False,
    )
    axes.set_yticks([])
    axes.tick_params(axis="both", length=0, pad=_LABEL_PAD_PX * 72 / _DPI)
    axes.set_axisbelow(True)
    axes.grid(axis="x", color=_GRID_COLOR, linewidth=1)
    axes.grid(axis="y", visible=False)


def _draw_bars(axes: Axes, rows: list[ChartRow], labels: list[str]) -> None:
    positions = list(range(len(rows)))
    colors = [_TOP_BAR_COLOR if row.rank <= _TOP_RANKS else _BAR_COLOR for row in rows]
    axes.barh(positions, [_bar_width(row.score) for row in rows], height=0.62, color=colors)
    axes.set_yticks(
        positions,
        labels,
        fontproperties=_font(_LABEL_PT),
        color=_TEXT_COLOR,
        parse_math=False,
        usetex=False,
    )

    value_font = _font(_VALUE_PT)
    row_axis = axes.get_yaxis_transform()
    for position, row in zip(positions, rows, strict=True):
        axes.annotate(
            _score_text(row.score),
            xy=(_bar_width(row.score), position),
            xytext=(6, 0),
            textcoords="offset points",
            ha="left",
            va="center",
            color=_TEXT_COLOR,
            fontproperties=value_font,
            annotation_clip=False,
            parse_math=False,
            usetex=False,
        )
        movement, color = _movement(row.movement)
        if movement:
            axes.annotate(
                movement,
                xy=(1.0, position),
                xycoords=row_axis,
                xytext=(_MOVEMENT_OFFSET_PT, 0),
                textcoords="offset points",
                ha="left",
                va="center",
                color=color,
                fontproperties=value_font,
                annotation_clip=False,
                parse_math=False,
                usetex=False,
            )
