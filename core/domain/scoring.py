"""Ranking score: a Bayesian average, so that a single lucky evaluation cannot top the ranking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["ALL_TIME", "RankingPrior", "month_period", "to_points"]

ALL_TIME = "all"


@dataclass(frozen=True, slots=True)
class RankingPrior:
    """Prior of the Bayesian average: ``weight`` pseudo-evaluations scoring ``mean`` each.

    ``score = (weight * mean + sum of scores) / (weight + number of evaluations)``. A member with one
    perfect evaluation is pulled towards ``mean``; many consistent evaluations outweigh the prior.
    Members with fewer than ``min_evaluations`` evaluations in a period are not ranked in it.
    """

    mean: float = 60.0
    weight: float = 3.0
    min_evaluations: int = 1

    @property
    def prior_points(self) -> float:
        """``weight * mean`` in points (hundredths of a score), the numerator's constant term."""
        return self.weight * self.mean * 100

    def rank_points(self, points_sum: int, count: int) -> float:
        """Return the Bayesian average in points; SQL computes the same expression in the same order."""
        return (self.prior_points + points_sum) / (self.weight + count)


def month_period(moment_tokyo: datetime) -> str:
    """Return the ranking period key (``2026-12``) of a datetime already in Asia/Tokyo."""
    return f"{moment_tokyo.year:04d}-{moment_tokyo.month:02d}"


def to_points(score: float) -> int:
    """Convert a 0–100 score with two decimals to integer points (hundredths)."""
    return round(score * 100)
