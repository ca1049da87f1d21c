"""Point-in-polygon placement on the demo map: inside, on a border, outside; and addresses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from domain.places import GridLocator, community_in_address

FEATURES = json.loads(
    (Path(__file__).resolve().parents[2] / "config" / "boundaries.geojson").read_text()
)["features"]
GRIDS = {
    f["properties"]["code"]: f["geometry"] for f in FEATURES if f["properties"]["kind"] == "grid"
}


@pytest.fixture(scope="module")
def locator() -> GridLocator:
    return GridLocator(GRIDS)


def test_the_demo_map_has_every_grid(locator: GridLocator) -> None:
    assert len(locator) == 107


def test_a_point_inside_a_grid(locator: GridLocator) -> None:
    # C01 is the westmost strip (lon 120.380-120.384), its first grid the southmost cell.
    assert locator.locate(36.171, 120.382) == "C01-G01"


def test_a_point_on_a_border_goes_to_the_lowest_code(locator: GridLocator) -> None:
    # lon 120.384 is the border between C01 and C02; lat 36.170 + 0.032/8 between G01 and G02.
    assert locator.locate(36.171, 120.384) == "C01-G01"
    assert locator.locate(36.174, 120.382) == "C01-G01"


def test_a_point_outside_every_grid(locator: GridLocator) -> None:
    assert locator.locate(36.30, 120.50) is None


def test_an_address_naming_a_community() -> None:
    communities = [("C01", "怡顺社区"), ("C02", "顺社区")]
    assert community_in_address("怡顺社区 3 号楼", communities) == "C01"
    assert community_in_address("沧口某路 5 号", communities) is None
