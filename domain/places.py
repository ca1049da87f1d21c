"""Where a case is: the micro-grid containing a point (GeoJSON polygons, an STRtree for speed),
or the community named in an address."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from shapely import STRtree
from shapely.geometry import Point, shape


class GridLocator:
    """Point-in-polygon over the micro-grids. A point on a border between grids belongs to the
    grid with the lowest code, so the answer never depends on the order of the data."""

    def __init__(self, boundaries: Mapping[str, Mapping[str, Any]]) -> None:
        self._codes = sorted(boundaries)
        self._tree = STRtree([shape(boundaries[code]) for code in self._codes])

    def __len__(self) -> int:
        return len(self._codes)

    def locate(self, lat: float, lon: float) -> str | None:
        hits = self._tree.query(Point(lon, lat), predicate="covered_by")  # GeoJSON is lon, lat
        return min((self._codes[i] for i in hits), default=None)


EARTH_RADIUS_M = 6_371_000.0


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine) in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def community_in_address(address: str, communities: Iterable[tuple[str, str]]) -> str | None:
    """The community whose name appears in the address (the longest name wins: 怡顺社区 over
    顺社区), for a walk-in or hotline case with no grid and no position."""
    named = [(name, code) for code, name in communities if name and name in address]
    return max(named, key=lambda n: len(n[0]))[1] if named else None
