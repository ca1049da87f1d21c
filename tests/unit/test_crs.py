"""Points from Chinese map apps back to WGS-84, checked against conversions the map vendors
published (their APIs' documented examples), not against values this module computed."""

from __future__ import annotations

import pytest

from domain.crs import Crs, bd09_to_gcj02, gcj02_to_bd09, to_wgs84, wgs84_to_gcj02
from domain.places import distance_m

# Alibaba Cloud's address service documents one point in all three systems (TransferCoord,
# Text=120.026268,30.279164, SrcCoord=gcj02), to six decimals (about 0.1 m). Its WGS-84 comes
# from the usual one-step approximate inverse, which is about 2 m off here: held to 3 m.
ALIYUN_WGS84 = (30.281543, 120.021519)
ALIYUN_GCJ02 = (30.279164, 120.026268)
ALIYUN_BD09 = (30.285238, 120.032768)
# Amap's own conversion API, WGS-84 (39.90734, 116.39089) near Tiananmen, as recorded by a
# client library's tests; and a commercial offset service's documented example in Beijing.
AMAP_WGS84, AMAP_GCJ02 = (39.90734, 116.39089), (39.90874539, 116.39713623)
OFFSET_SERVICE_WGS84, OFFSET_SERVICE_GCJ02 = (39.95094, 116.36657), (39.952320, 116.372789)


PUBLISHED = [
    (ALIYUN_WGS84, ALIYUN_GCJ02, 3.0),
    (AMAP_WGS84, AMAP_GCJ02, 1.0),
    (OFFSET_SERVICE_WGS84, OFFSET_SERVICE_GCJ02, 1.0),
]


def metres(a: tuple[float, float], b: tuple[float, float]) -> float:
    return distance_m(a[0], a[1], b[0], b[1])


@pytest.mark.parametrize(("wgs84", "gcj02", "within_m"), PUBLISHED)
def test_a_gps_point_lands_where_amap_and_tencent_draw_it(
    wgs84: tuple[float, float], gcj02: tuple[float, float], within_m: float
) -> None:
    assert metres(wgs84_to_gcj02(*wgs84), gcj02) < within_m


@pytest.mark.parametrize(("wgs84", "gcj02", "within_m"), PUBLISHED)
def test_an_amap_or_tencent_point_comes_back_to_wgs84(
    wgs84: tuple[float, float], gcj02: tuple[float, float], within_m: float
) -> None:
    assert metres(to_wgs84(*gcj02, Crs.gcj02), wgs84) < within_m


def test_a_baidu_point_comes_back_to_wgs84() -> None:
    assert metres(bd09_to_gcj02(*ALIYUN_BD09), ALIYUN_GCJ02) < 1.0
    assert metres(gcj02_to_bd09(*ALIYUN_GCJ02), ALIYUN_BD09) < 1.0
    assert metres(to_wgs84(*ALIYUN_BD09, Crs.bd09), ALIYUN_WGS84) < 3.0


def test_the_offset_is_wider_than_a_micro_grid_in_qingdao() -> None:
    # Cangkou subdistrict, Licang district: taken as GPS, an app's point misses by hundreds of
    # metres, so it would land in another micro-grid (the demo map's are about 400 m wide).
    gps = (36.185, 120.386)
    assert 100 < metres(wgs84_to_gcj02(*gps), gps) < 700
    assert metres(to_wgs84(*wgs84_to_gcj02(*gps), Crs.gcj02), gps) < 0.01
    assert metres(to_wgs84(*gcj02_to_bd09(*wgs84_to_gcj02(*gps)), Crs.bd09), gps) < 0.01


def test_wgs84_and_points_outside_china_are_left_alone() -> None:
    assert to_wgs84(36.185, 120.386, Crs.wgs84) == (36.185, 120.386)
    london = (51.5074, -0.1278)
    assert to_wgs84(*london, Crs.gcj02) == london
    assert wgs84_to_gcj02(*london) == london
