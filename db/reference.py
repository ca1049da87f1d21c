"""Reference data: loaded from config/*.yaml by `gridcase seed`, read by routing and the API."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, cast

import yaml
from sqlalchemy import Table, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Base,
    Category,
    Community,
    EscalationLevel,
    Grid,
    GridWorker,
    RoutingRuleRow,
    SlaPolicyRow,
    Unit,
)
from domain.escalation import LadderStep
from domain.routing import RoutingRule
from domain.sla import SlaPolicy

# File name -> table, in foreign-key order.
FILES: tuple[tuple[str, type[Base]], ...] = (
    ("communities.yaml", Community),
    ("grids.yaml", Grid),
    ("grid_workers.yaml", GridWorker),
    ("units.yaml", Unit),
    ("categories.yaml", Category),
    ("sla_policies.yaml", SlaPolicyRow),
    ("routing_rules.yaml", RoutingRuleRow),
    ("escalation_levels.yaml", EscalationLevel),
)


def read_config(config_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """Parse and check the YAML files (limits parse, rules are well formed) before any write."""
    data = {
        name: yaml.safe_load((config_dir / name).read_text(encoding="utf-8")) or []
        for name, _ in FILES
    }
    for row in data["sla_policies.yaml"]:
        SlaPolicy.model_validate(row)
    for row in data["routing_rules.yaml"]:
        RoutingRule.model_validate(row)
    return data


async def seed(session: AsyncSession, config_dir: Path) -> dict[str, int]:
    """Upsert every reference row; running it twice changes nothing. Returns rows per table."""
    data = read_config(config_dir)
    counts: dict[str, int] = {}
    for name, model in FILES:
        rows = data[name]
        table = cast(Table, model.__table__)
        columns = {c.name for c in table.columns}
        rows = [{k: v for k, v in row.items() if k in columns} for row in rows]
        for row in rows:  # one INSERT takes rows of one shape: fill what a file leaves out
            for column in columns - row.keys():
                row[column] = _default(table, column)
        if rows:
            stmt = insert(model).values(rows)
            key = [c.name for c in table.primary_key.columns]
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=key,
                    set_={c: stmt.excluded[c] for c in columns if c not in key},
                )
            )
        counts[table.name] = len(rows)
    await session.flush()
    if (config_dir / BOUNDARIES).exists():
        await import_boundaries(session, read_geojson(config_dir / BOUNDARIES))
    return counts


BOUNDARIES = "boundaries.geojson"


def read_geojson(path: Path) -> list[dict[str, Any]]:
    """The features of a GeoJSON FeatureCollection, each with a `code` (and for a micro-grid a
    `community`) in its properties."""
    data = json.loads(path.read_text(encoding="utf-8"))
    features: list[dict[str, Any]] = data.get("features", [])
    for feature in features:
        if not feature.get("properties", {}).get("code"):
            raise ValueError(f"{path}: every feature needs properties.code")
        if feature.get("geometry", {}).get("type") not in ("Polygon", "MultiPolygon"):
            raise ValueError(f"{path}: {feature['properties']['code']} is not a polygon")
    return features


async def import_boundaries(
    session: AsyncSession,
    features: Sequence[dict[str, Any]],
    progress: Callable[[int], None] | None = None,
) -> dict[str, int]:
    """Upsert micro-grids (kind grid, the default) and communities (kind community) with their
    polygons; a grid new to us needs `name` and `community`. Returns rows per kind."""
    counts = {"grids": 0, "communities": 0}
    for feature in features:
        props, geometry = feature["properties"], feature["geometry"]
        if props.get("kind", "grid") == "community":
            stmt = insert(Community).values(
                code=props["code"], name=props.get("name", props["code"]), boundary=geometry
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Community.code], set_={"boundary": geometry}
                )
            )
            counts["communities"] += 1
        else:
            stmt = insert(Grid).values(
                code=props["code"],
                name=props.get("name", props["code"]),
                community=props["community"],
                forces=[],
                boundary=geometry,
            )
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[Grid.code],
                    set_={"boundary": geometry, "community": props["community"]},
                )
            )
            counts["grids"] += 1
        if progress:
            progress(1)
    await session.flush()
    return counts


async def grid_boundaries(session: AsyncSession) -> dict[str, dict[str, Any]]:
    rows = await session.execute(select(Grid.code, Grid.boundary).where(Grid.boundary.is_not(None)))
    return {code: boundary for code, boundary in rows if boundary}


def _default(table: Table, column: str) -> Any:
    default = table.c[column].default
    if default is None:
        return None
    arg: Any = getattr(default, "arg", None)
    return arg(None) if getattr(default, "is_callable", False) else arg


async def rules_for(session: AsyncSession, category: str) -> list[RoutingRule]:
    rows = await session.scalars(select(RoutingRuleRow).where(RoutingRuleRow.category == category))
    return [
        RoutingRule(
            code=r.code, category=r.category, community=r.community, grid=r.grid, unit=r.unit
        )
        for r in rows
    ]


async def policies_for(session: AsyncSession, category: str, severity: str) -> list[SlaPolicy]:
    rows = await session.scalars(
        select(SlaPolicyRow).where(
            SlaPolicyRow.severity == severity,
            or_(SlaPolicyRow.category.is_(None), SlaPolicyRow.category == category),
        )
    )
    fields = SlaPolicy.model_fields.keys()
    return [SlaPolicy.model_validate({f: getattr(r, f) for f in fields}) for r in rows]


async def ladder(session: AsyncSession, community_unit: str | None) -> list[LadderStep]:
    """The escalation ladder with "@community" resolved to the case's residents' committee."""
    steps = []
    for row in await session.scalars(select(EscalationLevel).order_by(EscalationLevel.level)):
        unit = community_unit if row.unit == "@community" else row.unit
        if unit:
            steps.append(
                LadderStep(level=row.level, name=row.name, unit=unit, takes_over=row.takes_over)
            )
    return steps


async def place_units(
    session: AsyncSession, grid: str | None, community: str | None
) -> dict[str, str]:
    """The grid team of `grid` and the residents' committee of `community`, by place code."""
    conditions = []
    if grid:
        conditions.append((Unit.kind == "grid_team") & (Unit.grid == grid))
    if community:
        conditions.append((Unit.kind == "community") & (Unit.community == community))
    if not conditions:
        return {}
    units = await session.scalars(select(Unit).where(or_(*conditions)))
    return {(u.grid if u.kind == "grid_team" else u.community) or "": u.code for u in units}


async def list_all(session: AsyncSession, model: type[Base]) -> Sequence[Any]:
    key = next(iter(cast(Table, model.__table__).primary_key.columns))
    result = await session.scalars(select(model).order_by(key))
    return result.all()
