"""考评: the monthly score of a unit or a community, and the ranking it gives.

A score is a weighted mean of the group's rates (domain.kpi) and its reopen rate (reopened /
replied: how often a replied case was sent back to the unit, by a supervisor's review or by the
resident after closure), out of 100. The weights come from configuration
(`GRIDCASE_SCORE_WEIGHTS`); a rate where lower is better (unreachable, reopen) counts as
1 - rate. A rate with nothing in its denominator (no case was rated, say) is left out and the
other weights share its part, so a unit is neither rewarded nor punished for what it never had.
Each rate's `points` are what it added: they sum to the score (up to rounding).

A case exempted on appeal (核减, domain/appeal.py) leaves its group's score: the ranking's counts
and rates are those of the other cases, and `raw` keeps every case's, as /v1/stats counts them.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel

from domain.kpi import RATE_KEYS, Counts, Rate, rates

SCORE_KEYS = ("unit", "community")
SCORE_RATES = (*RATE_KEYS, "reopen")
# Rates where lower is better: they score 1 - rate.
LOWER_IS_BETTER = frozenset({"unreachable", "reopen"})
# The default weights (a city sets its own): satisfaction weighs most, as in 12345 assessments.
DEFAULT_WEIGHTS: dict[str, float] = {
    "completion": 0.10,
    "response": 0.15,
    "on_time": 0.20,
    "satisfaction": 0.25,
    "resolution": 0.10,
    "unreachable": 0.10,
    "reopen": 0.10,
}


def score_rates(counts: Counts) -> dict[str, Rate]:
    """The rates a score weighs: the KPI rates and the reopen rate."""
    return {**rates(counts), "reopen": Rate.of(counts.reopened, counts.replied)}


def check_weights(weights: Mapping[str, float]) -> dict[str, float]:
    """The weights, if each names a rate, none is negative and some are positive."""
    unknown = sorted(set(weights) - set(SCORE_RATES))
    if unknown:
        raise ValueError(f"no such rate to weigh: {', '.join(unknown)} (rates: {SCORE_RATES})")
    if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
        raise ValueError("score weights are zero or more, and at least one is more than zero")
    return dict(weights)


class Score(BaseModel):
    value: float | None  # out of 100; None when no weighed rate has a denominator
    points: dict[str, float | None]  # what each weighed rate added (None: left out)


def score(of: Mapping[str, Rate], weights: Mapping[str, float]) -> Score:
    """The weighted mean of the rates that have a denominator, out of 100."""
    counted = {k: w for k, w in weights.items() if w > 0 and of[k].value is not None}
    total = sum(counted.values())
    added = {k: 100 * w * _good(k, of[k].value) / total for k, w in counted.items()}
    points = {k: round(added[k], 2) if k in added else None for k in weights}
    return Score(value=round(sum(added.values()), 2) if counted else None, points=points)


def _good(key: str, value: float | None) -> float:
    """How good a rate is: itself, or 1 - itself where lower is better."""
    assert value is not None
    return 1 - value if key in LOWER_IS_BETTER else value


class Figures(BaseModel):
    """A score with what it is made of."""

    score: float | None
    points: dict[str, float | None]
    counts: Counts
    rates: dict[str, Rate]

    @classmethod
    def of(cls, counts: Counts, weights: Mapping[str, float]) -> Figures:
        figures = score_rates(counts)
        scored = score(figures, weights)
        return cls(score=scored.value, points=scored.points, counts=counts, rates=figures)


class ScoreRow(Figures):
    """One unit's or community's month: its rank and the figures it is ranked by, which leave
    out the cases exempted on appeal (核减); `raw` counts every case, as /v1/stats does."""

    rank: int | None  # None: no score (nothing to rate it on)
    group: dict[str, str]
    exempted: int  # cases left out of the score
    raw: Figures


def without(counts: Counts, exempted: Counts) -> Counts:
    return Counts(**{k: getattr(counts, k) - getattr(exempted, k) for k in Counts.model_fields})


def ranking(
    by: str,
    groups: Mapping[str, Counts],
    weights: Mapping[str, float],
    exempted: Mapping[str, Counts] | None = None,
) -> list[ScoreRow]:
    """The groups best first by the score of their cases less the exempted ones; equal scores
    share a rank (1, 2, 2, 4), unscored ones come last."""
    rows = []
    for code, counts in groups.items():
        left_out = (exempted or {}).get(code, Counts())
        scored = Figures.of(without(counts, left_out), weights)
        rows.append(
            ScoreRow(
                rank=None,
                group={by: code},
                exempted=left_out.received,
                raw=Figures.of(counts, weights),
                score=scored.score,
                points=scored.points,
                counts=scored.counts,
                rates=scored.rates,
            )
        )
    rows.sort(key=lambda r: (r.score is None, -(r.score or 0), r.group[by]))
    for place, row in enumerate(rows, start=1):
        if row.score is None:
            break
        before = rows[place - 2] if place > 1 else None
        row.rank = before.rank if before is not None and before.score == row.score else place
    return rows
