"""Routing: "whoever is in charge is responsible" (谁主管谁负责).

A routing rule names a category and optionally a place (a micro-grid or a community); the most
specific matching rule wins: grid, then community, then the whole subdistrict. A rule's unit is a
concrete unit code or a placeholder for the team of the case's own place.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict

GRID_TEAM = "@grid_team"
COMMITTEE = "@committee"  # the residents' committee of the case's community


class NoRoutingRule(LookupError):
    """No rule names a unit for this category at this place."""


class RoutingRule(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str
    category: str
    community: str | None = None
    grid: str | None = None
    unit: str

    @property
    def specificity(self) -> int:
        return 2 if self.grid else 1 if self.community else 0


class RoutingDecision(BaseModel):
    model_config = ConfigDict(frozen=True)

    unit: str
    rule: str
    reason: str


def route(
    rules: list[RoutingRule],
    category: str,
    grid: str | None,
    community: str | None,
    place_units: Mapping[str, str],
) -> RoutingDecision:
    """Pick the responsible unit; raise NoRoutingRule with the reason when none fits.

    `place_units` maps a grid code to its grid team and a community code to its residents'
    committee, which is how the `@grid_team` and `@committee` placeholders resolve.
    """
    candidates = [
        r
        for r in rules
        if r.category == category
        and (r.grid is None or r.grid == grid)
        and (r.community is None or r.community == community)
    ]
    for rule in sorted(candidates, key=lambda r: (-r.specificity, r.code)):
        unit = _resolve(rule.unit, grid, community, place_units)
        if unit is not None:
            place = rule.grid or rule.community or "subdistrict"
            return RoutingDecision(unit=unit, rule=rule.code, reason=f"{category} @ {place}")
    where = grid or community or "an unknown place"
    raise NoRoutingRule(f"no routing rule for {category} in {where}")


def _resolve(
    unit: str, grid: str | None, community: str | None, place_units: Mapping[str, str]
) -> str | None:
    if unit == GRID_TEAM:
        return place_units.get(grid) if grid else None
    if unit == COMMITTEE:
        return place_units.get(community) if community else None
    return unit


def with_committee(unit: str, committee: str | None) -> str | None:
    """A unit of a ladder rung or a linkage: the unit itself, or for `@committee` the case's
    residents' committee (None when its community has none)."""
    return committee if unit == COMMITTEE else unit
