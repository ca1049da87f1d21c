"""Coordinate reference systems of Chinese map apps, and the way back to WGS-84.

A resident's phone app reports its map's coordinates: Amap and Tencent use GCJ-02 (the
national survey bureau's offset of WGS-84), Baidu uses BD-09 (a further offset of GCJ-02).
Either lies 100 to 700 m from the WGS-84 point, more than a micro-grid is wide, so intake turns
every point into WGS-84 before it places the case. GCJ-02 has no published inverse: WGS-84 is
found by fixed-point iteration on the forward offset. Outside mainland China none of the apps
offsets a point, so neither does this module.
"""

from __future__ import annotations

import math
from enum import StrEnum


class Crs(StrEnum):
    wgs84 = "wgs84"  # GPS; what gridcase stores, and what Open311 clients send
    gcj02 = "gcj02"  # Amap (高德), Tencent (腾讯)
    bd09 = "bd09"  # Baidu (百度)


# The offset is computed on the Krasovsky 1940 ellipsoid, as the survey bureau's algorithm does.
_A = 6378245.0
_EE = 0.00669342162296594323
# Baidu's BD-09 twist of GCJ-02.
_BD_X_PI = math.pi * 3000.0 / 180.0
# Iterating the inverse until it moves less than this (about 1 mm) is far finer than any GPS fix.
_CONVERGED_DEG = 1e-8


def to_wgs84(lat: float, lon: float, crs: Crs) -> tuple[float, float]:
    """The WGS-84 (lat, lon) of a point given in `crs`."""
    match crs:
        case Crs.wgs84:
            return lat, lon
        case Crs.gcj02:
            return gcj02_to_wgs84(lat, lon)
        case Crs.bd09:
            return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


def in_mainland_china(lat: float, lon: float) -> bool:
    """The rough box in which the apps offset their points (the algorithm's own bound)."""
    return 72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    if not in_mainland_china(lat, lon):
        return lat, lon
    dlat, dlon = _offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """The WGS-84 point whose GCJ-02 offset lands on (lat, lon): the offset varies slowly, so
    subtracting the offset at the current guess converges in a few steps."""
    if not in_mainland_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(20):
        glat, glon = wgs84_to_gcj02(wlat, wlon)
        step_lat, step_lon = lat - glat, lon - glon
        wlat, wlon = wlat + step_lat, wlon + step_lon
        if abs(step_lat) < _CONVERGED_DEG and abs(step_lon) < _CONVERGED_DEG:
            break
    return wlat, wlon


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    x, y = lon - 0.0065, lat - 0.006
    z = math.hypot(x, y) - 0.00002 * math.sin(y * _BD_X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _BD_X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    z = math.hypot(lon, lat) + 0.00002 * math.sin(lat * _BD_X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _BD_X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _offset(lat: float, lon: float) -> tuple[float, float]:
    """GCJ-02 minus WGS-84 at a point, in degrees."""
    x, y = lon - 105.0, lat - 35.0
    waves = (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2 / 3
    dlat = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    dlat += waves
    dlat += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2 / 3
    dlat += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y / 30.0 * math.pi)) * 2 / 3
    dlon = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    dlon += waves
    dlon += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2 / 3
    dlon += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2 / 3
    rad = math.radians(lat)
    magic = 1 - _EE * math.sin(rad) ** 2
    dlat = dlat * 180.0 / ((_A * (1 - _EE)) / (magic * math.sqrt(magic)) * math.pi)
    dlon = dlon * 180.0 / (_A / math.sqrt(magic) * math.cos(rad) * math.pi)
    return dlat, dlon
