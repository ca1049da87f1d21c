"""A point from a Chinese map app lands in the micro-grid where the resident stood: intake turns
GCJ-02 (Amap, Tencent) and BD-09 (Baidu) into WGS-84 before it places the case."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from db.models import Case
from tests.integration.conftest import new_case

# The demo map's C01-G01 is lon 120.380-120.384, lat 36.170-36.174; a resident stands at
# (36.171, 120.382). Amap and Tencent show that spot about 460 m further east, in C02-G01;
# Baidu further still.
AT_THE_SPOT = {"lat": 36.171, "lon": 120.382}
AMAP = {"lat": 36.1713, "lon": 120.38714}
BAIDU = {"lat": 36.17736, "lon": 120.39364}


async def file_at(api: httpx.AsyncClient, point: Mapping[str, object]) -> dict[str, object]:
    body = new_case(
        category="sanitation.dead_corner", location={"address": "怡顺路旁空地", **point}
    )
    response = await api.post("/v1/cases", json=body)
    assert response.status_code == 201, response.text
    case: dict[str, object] = response.json()
    return case


@pytest.mark.parametrize("point", [{**AMAP, "crs": "gcj02"}, {**BAIDU, "crs": "bd09"}])
async def test_a_map_app_point_lands_in_the_resident_s_grid(
    api: httpx.AsyncClient, sessions: async_sessionmaker[AsyncSession], point: dict[str, object]
) -> None:
    case = await file_at(api, point)
    assert (case["grid"], case["unit"]) == ("C01-G01", "GT-C01-G01")
    # Placed and shown in WGS-84, within a few metres of where the resident stood ...
    assert case["lat"] == pytest.approx(AT_THE_SPOT["lat"], abs=5e-5)
    assert case["lon"] == pytest.approx(AT_THE_SPOT["lon"], abs=5e-5)
    # ... and the record keeps the point as the app gave it.
    async with sessions() as session:
        row = await session.get(Case, case["id"])
    assert row is not None
    assert (row.given_crs, row.given_lat, row.given_lon) == (
        point["crs"],
        point["lat"],
        point["lon"],
    )


async def test_taken_for_gps_the_same_numbers_land_a_grid_away(api: httpx.AsyncClient) -> None:
    assert (await file_at(api, AMAP))["grid"] == "C02-G01"
    assert (await file_at(api, {**AT_THE_SPOT, "crs": "wgs84"}))["grid"] == "C01-G01"


async def test_an_unknown_crs_is_refused(api: httpx.AsyncClient) -> None:
    body = new_case(location={"address": "怡顺路", **AMAP, "crs": "mercator"})
    response = await api.post("/v1/cases", json=body)
    assert (
        response.status_code == 422 and response.json()["error"]["details"][0]["loc"][-1] == "crs"
    )
