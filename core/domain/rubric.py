"""Rubrics (評価基準テーブル): criteria with weights and level descriptors, and 0–100 scoring."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Criterion", "Level", "Rubric", "RubricError", "load_rubrics"]


class RubricError(ValueError):
    """Raised when a rubric file is malformed; the message names the file and the field."""


@dataclass(frozen=True, slots=True)
class Level:
    value: int
    name_ja: str
    name_en: str


@dataclass(frozen=True, slots=True)
class Criterion:
    key: str
    name_ja: str
    name_en: str
    weight: float
    levels: tuple[Level, ...]

    @property
    def min_level(self) -> int:
        return min(level.value for level in self.levels)

    @property
    def max_level(self) -> int:
        return max(level.value for level in self.levels)

    def name(self, locale: str) -> str:
        return self.name_ja if locale == "ja" else self.name_en


@dataclass(frozen=True, slots=True)
class Rubric:
    key: str
    name_ja: str
    name_en: str
    criteria: tuple[Criterion, ...]

    def name(self, locale: str) -> str:
        return self.name_ja if locale == "ja" else self.name_en

    def criterion(self, name: str) -> Criterion | None:
        """Find a criterion by its key or by its Japanese or English name (case-insensitive)."""
        folded_name = name.casefold()
        for criterion in self.criteria:
            if folded_name in (criterion.key.casefold(), criterion.name_ja.casefold(), criterion.name_en.casefold()):
                return criterion
        return None

    def score(self, levels: dict[str, int]) -> float:
        """Return the weighted score on a 0–100 scale for one level per criterion key."""
        total_weight = sum(criterion.weight for criterion in self.criteria)
        weighted = 0.0
        for criterion in self.criteria:
            span = criterion.max_level - criterion.min_level
            fraction = (levels[criterion.key] - criterion.min_level) / span if span else 1.0
            weighted += criterion.weight * fraction
        return round(100.0 * weighted / total_weight, 2)

    def to_snapshot(self) -> dict[str, Any]:
        """Return the rubric as plain data, stored with each evaluation scored against it."""
        return {
            "key": self.key,
            "name_ja": self.name_ja,
            "name_en": self.name_en,
            "criteria": [
                {
                    "key": c.key,
                    "name_ja": c.name_ja,
                    "name_en": c.name_en,
                    "weight": c.weight,
                    "levels": [{"value": lv.value, "ja": lv.name_ja, "en": lv.name_en} for lv in c.levels],
                }
                for c in self.criteria
            ],
        }

    @classmethod
    def from_data(cls, data: dict[str, Any], *, source: str = "<data>") -> Rubric:
        """Build a rubric from parsed TOML or a stored snapshot, checking every field."""
        try:
            criteria = tuple(
                Criterion(
                    key=str(c["key"]),
                    name_ja=str(c["name_ja"]),
                    name_en=str(c["name_en"]),
                    weight=float(c["weight"]),
                    levels=tuple(
                        Level(value=int(lv["value"]), name_ja=str(lv["ja"]), name_en=str(lv["en"]))
                        for lv in c["levels"]
                    ),
                )
                for c in data["criteria"]
            )
            rubric = cls(
                key=str(data["key"]), name_ja=str(data["name_ja"]), name_en=str(data["name_en"]), criteria=criteria
            )
        except (KeyError, TypeError, ValueError) as error:
            raise RubricError(f"{source}: invalid rubric, missing or malformed field {error}") from error
        _check(rubric, source)
        return rubric


def _check(rubric: Rubric, source: str) -> None:
    if not rubric.criteria:
        raise RubricError(f"{source}: rubric {rubric.key!r} has no criteria")
    keys = [criterion.key for criterion in rubric.criteria]
    if len(set(keys)) != len(keys):
        raise RubricError(f"{source}: rubric {rubric.key!r} repeats a criterion key: {keys}")
    for criterion in rubric.criteria:
        if criterion.weight <= 0:
            raise RubricError(f"{source}: criterion {criterion.key!r} needs a positive weight")
        if len(criterion.levels) < 2:
            raise RubricError(f"{source}: criterion {criterion.key!r} needs at least two levels")
        values = [level.value for level in criterion.levels]
        if len(set(values)) != len(values):
            raise RubricError(f"{source}: criterion {criterion.key!r} repeats a level value: {values}")


def load_rubrics(directory: Path) -> dict[str, Rubric]:
    """Load every ``*.toml`` rubric in ``directory``, keyed by rubric key."""
    rubrics: dict[str, Rubric] = {}
    for path in sorted(directory.glob("*.toml")):
        with path.open("rb") as file:
            try:
                data = tomllib.load(file)
            except tomllib.TOMLDecodeError as error:
                raise RubricError(f"{path}: invalid TOML: {error}") from error
        rubric = Rubric.from_data(data, source=str(path))
        if rubric.key in rubrics:
            raise RubricError(f"{path}: rubric key {rubric.key!r} is already defined by another file")
        rubrics[rubric.key] = rubric
    return rubrics
