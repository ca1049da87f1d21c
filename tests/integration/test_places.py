"""Where a case is when it does not say its grid: by position (point in polygon), by an address
naming a community, or off the map (the subdistrict dispatcher places it); and importing
polygons with `gridcase import-grids`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from core.config import Settings
from db.models import Grid
from tests.integration.conftest import new_case


async def test_a_case_with_only_a_position_is_placed_in_its_grid(api: httpx.AsyncClient) -> None:
    body = new_case(
        category="sanitation.dead_corner",
        location={"address": "怡顺路旁空地", "lat": 36.171, "lon": 120.382},
    )
    case = (await api.post("/v1/cases", json=body)).json()
    assert (case["grid"], case["community"], case["unit"]) == ("C01-G01", "C01", "GT-C01-G01")
    events = (await api.get(f"/v1/cases/{case['id']}/events")).json()
    assert "located in C01-G01" in events[1]["data"]["reason"]


async def test_a_case_off_the_map_goes_to_the_subdistrict_dispatcher(
    api: httpx.AsyncClient,
) -> None:
    body = new_case(location={"address": "辖区外", "lat": 36.30, "lon": 120.50})
    case = (await api.post("/v1/cases", json=body)).json()
    assert (case["status"], case["unit"], case["grid"]) == ("dispatched", "SD-CENTER", None)
    events = (await api.get(f"/v1/cases/{case['id']}/events")).json()
    assert "outside every micro-grid" in events[1]["data"]["reason"]


async def test_an_address_naming_a_community_is_enough(api: httpx.AsyncClient) -> None:
    body = new_case(category="dispute.neighbour", location={"address": "怡顺社区 5 号楼 301"})
    case = (await api.post("/v1/cases", json=body)).json()
    assert (case["community"], case["unit"]) == ("C01", "CO-C01")


def import_grids(settings: Settings, path: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": "/usr/bin:/bin", "DATABASE_URL": settings.database_url or ""}
    return subprocess.run(
        [sys.executable, "-m", "worker.cli", "import-grids", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def import_files(config_dir: Path, tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """C01's grids from the demo map, and a file with a point where a polygon must be."""
    source = json.loads((config_dir / "boundaries.geojson").read_text())
    c01 = [f for f in source["features"] if f["properties"]["code"].startswith("C01-")]
    good = tmp_path / "c01.geojson"
    good.write_text(json.dumps({"type": "FeatureCollection", "features": c01}))
    broken = tmp_path / "broken.geojson"
    point = {"type": "Feature", "properties": {"code": "C01-G01"}, "geometry": {"type": "Point"}}
    broken.write_text(json.dumps({"type": "FeatureCollection", "features": [point]}))
    return good, broken, c01[0]["geometry"]


async def test_import_grids_from_geojson(settings: Settings, sessions: Any, tmp_path: Path) -> None:
    good, broken, first = import_files(settings.config_dir, tmp_path)
    done = import_grids(settings, good)
    assert done.returncode == 0, done.stderr
    assert "grids 8" in done.stdout
    failed = import_grids(settings, broken)
    assert failed.returncode != 0 and "not a polygon" in failed.stderr
    async with sessions() as session:
        boundary = await session.scalar(select(Grid.boundary).where(Grid.code == "C01-G01"))
    assert boundary == first
