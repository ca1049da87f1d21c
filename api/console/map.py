"""The map: the micro-grids and communities from the boundaries in the database, coloured by the
caller's open and overdue cases, the open hot spots outlined (GET /v1/hotspots, in the caller's
places); a grid's popup links to its cases and its governance cases. No tile server is needed
(GRIDCASE_MAP_TILE_URL sets a city's own)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from api.console.client import Api
from api.console.web import ApiDep, Signed, Visitor, render
from api.deps import SessionDep, SettingsDep
from db import reference
from db.models import Community, Grid
from domain.calendar import SUBDISTRICT_TZ
from domain.kpi import LONGEST_RANGE

router = APIRouter(prefix="/console/map", include_in_schema=False)


@router.get("", response_class=HTMLResponse)
async def map_page(request: Request, who: Signed, settings: SettingsDep) -> Response:
    return render(request, "map.html", who, tiles=settings.map_tile_url or "")


@router.get("/grids.geojson")
async def grid_shapes(session: SessionDep, who: Signed, api: ApiDep) -> JSONResponse:
    load = await _load(api, who)
    spots = await _hotspots(api) if who.may("stats") else {}
    features: list[dict[str, Any]] = []
    for grid in await reference.list_all(session, Grid):
        if grid.boundary:
            # No figures for a role without statistics: drawn uncoloured, not as "no cases".
            open_, overdue = load.get(grid.code, (0, 0)) if load is not None else (None, None)
            properties = {
                "kind": "grid",
                "code": grid.code,
                "name": grid.name,
                "community": grid.community,
                "open": open_,
                "overdue": overdue,
                "hotspots": spots.get(grid.code, []),
            }
            features.append(
                {"type": "Feature", "geometry": grid.boundary, "properties": properties}
            )
    # Communities last, so their outlines are drawn over the grids.
    features += [
        {
            "type": "Feature",
            "geometry": community.boundary,
            "properties": {"kind": "community", "code": community.code, "name": community.name},
        }
        for community in await reference.list_all(session, Community)
        if community.boundary
    ]
    return JSONResponse({"type": "FeatureCollection", "features": features})


async def _load(api: Api, who: Visitor) -> dict[str, tuple[int, int]] | None:
    """Open and overdue cases per grid, of the cases the caller may count: the statistics of the
    longest period the API answers for, scoped by the API; roles without statistics see shapes."""
    if not who.may("stats"):
        return None
    today = datetime.now(SUBDISTRICT_TZ).date()
    first = today - LONGEST_RANGE + timedelta(days=1)
    answer = await api.get(
        "/v1/stats", **{"from": first.isoformat(), "to": today.isoformat(), "group_by": "grid"}
    )
    return {
        row["group"]["grid"]: (row["counts"]["open"], row["counts"]["overdue"])
        for row in answer["rows"]
        if row["group"].get("grid")
    }


async def _hotspots(api: Api) -> dict[str, list[dict[str, Any]]]:
    """The open hot spots per grid (in the caller's places; the roles of the statistics), each
    with its category's name, how many requests are behind it and its governance case."""
    names = {c["code"]: c["name"] for c in await api.get("/v1/categories")}
    spots: dict[str, list[dict[str, Any]]] = {}
    for spot in await api.get("/v1/hotspots"):
        if spot["status"] == "open":
            spots.setdefault(spot["grid"], []).append(
                {
                    "category": names.get(spot["category"], spot["category"]),
                    "requests": len(spot["cases"]),
                    "case": spot["governance_case"],
                }
            )
    return spots
