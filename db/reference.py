"""Reference data: loaded from config/*.yaml by `gridcase seed`, read by routing and the API."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any, cast

import yaml
from sqlalchemy import Table, func, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from db.models import (
    Base,
    Category,
    Community,
    Grid,
    GridWorker,
    Holiday,
    RoutingRuleRow,
    RungRow,
    SlaPolicyRow,
    Unit,
)
from domain.calendar import SPAN, WorkingDays, working_days_from
from domain.case import Location
from domain.escalation import Rung
from domain.routing import RoutingRule, with_committee
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
    ("ladder.yaml", RungRow),
    ("holidays.yaml", Holiday),
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
        counts[cast(Table, model.__table__).name] = await _upsert(session, model, data[name])
    await session.flush()
    if (config_dir / BOUNDARIES).exists():
        await import_boundaries(session, read_geojson(config_dir / BOUNDARIES))
    return counts


async def _upsert(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> int:
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
    return len(rows)


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


async def ladder(session: AsyncSession, committee: str | None) -> list[Rung]:
    """The escalation ladder with "@committee" resolved to the case's residents' committee."""
    rungs = []
    for row in await session.scalars(select(RungRow).order_by(RungRow.level)):
        unit = with_committee(row.unit, committee)
        if unit:
            rungs.append(Rung(level=row.level, name=row.name, unit=unit, takes_over=row.takes_over))
    return rungs


async def working_days(
    session: AsyncSession, start: date, until: date | None = None
) -> WorkingDays:
    """The working-day exceptions from `start` to `until` (default: the span a case received on
    `start` needs), as far as the holidays table covers (through its last year's end)."""
    latest = await session.scalar(select(func.max(Holiday.day)))
    published_until = date(latest.year, 12, 31) if latest is not None else None
    last = until or start + SPAN
    rows = await session.execute(
        select(Holiday.day, Holiday.working).where(Holiday.day >= start, Holiday.day <= last)
    )
    return working_days_from(start, {d: w for d, w in rows}, published_until, last)


def read_holidays(path: Path) -> list[dict[str, Any]]:
    """The rows of a holidays file (the keys of config/holidays.yaml), checked."""
    rows: list[dict[str, Any]] = yaml.safe_load(path.read_text(encoding="utf-8")) or []
    for row in rows:
        if not isinstance(row.get("day"), date) or not isinstance(row.get("working"), bool):
            raise ValueError(f"{path}: every row needs day (YYYY-MM-DD) and working (true/false)")
    return rows


async def import_holidays(session: AsyncSession, rows: list[dict[str, Any]]) -> int:
    """Upsert holiday rows (corrections, next year's schedule); returns how many."""
    count = await _upsert(session, Holiday, rows)
    await session.flush()
    return count


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


async def unknown_reference(
    session: AsyncSession, category: str, location: Location
) -> tuple[str, dict[str, Any]] | None:
    """What a new case names that the reference data does not know (the message and its
    details), or None: checked by intake and by a split before any case is filed."""
    if await session.get(Category, category) is None:
        return "unknown category", {"field": "category", "value": category}
    if location.community and await session.get(Community, location.community) is None:
        return "unknown community", {"field": "location.community", "value": location.community}
    if location.grid:
        grid = await session.get(Grid, location.grid)
        if grid is None:
            return "unknown grid", {"field": "location.grid", "value": location.grid}
        if location.community and grid.community != location.community:
            return "the grid is not in that community", {
                "field": "location.grid",
                "value": location.grid,
                "community": grid.community,
            }
    return None
