"""Tests for gis.crs."""

import math

import numpy as np
import pytest
from shapely.geometry import Point, Polygon, box

from gis import crs
from gis.crs import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    from_wgs84,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    lonlat_to_storage,
    normalize_crs_name,
    storage_to_lonlat,
    to_wgs84,
    transform_bbox,
    transform_geometry,
    transformer,
    validate_lonlat,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from gis.errors import CRSError, UnknownCRSError

# Published WGS84 -> GCJ-02 pairs (wgs_lon, wgs_lat, gcj_lon, gcj_lat) from the
# test suite of googollee/eviltransform (go/transform_test.go, javascript/test.js),
# given there as lat/lng to ~15 digits: Shanghai, Shenzhen, Beijing.
EVILTRANSFORM_PAIRS = [
    (121.5272106, 31.1774276, 121.531541859215, 31.17530398364597),
    (113.912316, 22.543847, 113.9171764808363, 22.540796131694766),
    (116.377817, 39.911954, 116.38404722455657, 39.91334545536069),
]

# Published results for input (116.404, 39.915) from the README of
# wandergis/coordtransform (npm "coordtransform").
WANDERGIS_INPUT = (116.404, 39.915)
WANDERGIS_WGS84_TO_GCJ02 = (116.41024449916938, 39.91640428150164)
WANDERGIS_GCJ02_TO_BD09 = (116.41036949371029, 39.92133699351021)
# Their bd09togcj02 is the one-step closed form; ours refines it by iteration,
# which moves the result by ~4e-7 degree, so compare with 1e-5.
WANDERGIS_BD09_TO_GCJ02 = (116.39762729119315, 39.90865673957631)

ZHENGDONG_CBD = (113.729, 34.762)
M_PER_DEG_LAT = 6371008.8 * math.pi / 180


@pytest.mark.parametrize("wlon, wlat, glon, glat", EVILTRANSFORM_PAIRS)
def test_wgs84_to_gcj02_matches_eviltransform(wlon, wlat, glon, glat):
    lon, lat = wgs84_to_gcj02(wlon, wlat)
    assert lon == pytest.approx(glon, abs=1e-9)
    assert lat == pytest.approx(glat, abs=1e-9)


@pytest.mark.parametrize("wlon, wlat, glon, glat", EVILTRANSFORM_PAIRS)
def test_gcj02_to_wgs84_inverts_published_pairs(wlon, wlat, glon, glat):
    lon, lat = gcj02_to_wgs84(glon, glat)
    # eviltransform's exact inverse promises < 0.5 m; ours should be far better.
    assert abs(lon - wlon) < 1e-7
    assert abs(lat - wlat) < 1e-7


def test_wandergis_published_values():
    assert wgs84_to_gcj02(*WANDERGIS_INPUT) == pytest.approx(
        WANDERGIS_WGS84_TO_GCJ02, abs=1e-9
    )
    assert gcj02_to_bd09(*WANDERGIS_INPUT) == pytest.approx(
        WANDERGIS_GCJ02_TO_BD09, abs=1e-9
    )
    assert bd09_to_gcj02(*WANDERGIS_INPUT) == pytest.approx(
        WANDERGIS_BD09_TO_GCJ02, abs=1e-5
    )


def test_zhengdong_cbd_shift_matches_standard():
    lon, lat = ZHENGDONG_CBD
    glon, glat = wgs84_to_gcj02(lon, lat)
    east_m = (glon - lon) * M_PER_DEG_LAT * math.cos(math.radians(lat))
    north_m = (glat - lat) * M_PER_DEG_LAT
    assert east_m == pytest.approx(566, abs=5)
    assert north_m == pytest.approx(-111, abs=5)


@pytest.mark.parametrize("func", [wgs84_to_gcj02, gcj02_to_wgs84])
@pytest.mark.parametrize(
    "lon, lat", [(2.3522, 48.8566), (-74.006, 40.7128), (151.2, -33.9)]
)
def test_no_gcj_shift_outside_china(func, lon, lat):
    assert func(lon, lat) == (lon, lat)


def test_arrays_are_vectorised_and_mix_inside_and_outside():
    lon = np.array([113.729, 2.3522, 121.5272106])
    lat = np.array([34.762, 48.8566, 31.1774276])
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert isinstance(glon, np.ndarray) and glon.shape == (3,)
    assert (glon[1], glat[1]) == (2.3522, 48.8566)
    assert glon[0] == wgs84_to_gcj02(113.729, 34.762)[0]
    assert glon[2] == pytest.approx(EVILTRANSFORM_PAIRS[0][2], abs=1e-9)


def test_scalar_input_gives_floats():
    lon, lat = wgs84_to_gcj02(113, 34)
    assert type(lon) is float and type(lat) is float


def test_round_trips_over_china_grid():
    lon, lat = np.meshgrid(np.linspace(73, 135, 40), np.linspace(4, 53, 40))
    back_lon, back_lat = gcj02_to_wgs84(*wgs84_to_gcj02(lon, lat))
    assert np.abs(back_lon - lon).max() < 1e-7
    assert np.abs(back_lat - lat).max() < 1e-7
    b_lon, b_lat = bd09_to_wgs84(*wgs84_to_bd09(lon, lat))
    assert np.abs(b_lon - lon).max() < 1e-7
    assert np.abs(b_lat - lat).max() < 1e-7
    g_lon, g_lat = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert np.abs(g_lon - lon).max() < 1e-9
    assert np.abs(g_lat - lat).max() < 1e-9


def test_nan_passes_through_without_blocking_others():
    lon, lat = gcj02_to_wgs84(np.array([np.nan, 113.735]), np.array([34.76, 34.761]))
    assert math.isnan(lon[0])
    assert wgs84_to_gcj02(lon[1], lat[1]) == pytest.approx((113.735, 34.761), abs=1e-9)


@pytest.mark.parametrize(
    "name, expected",
    [
        (None, "wgs84"),
        ("", "wgs84"),
        ("WGS84", "wgs84"),
        ("crs84", "wgs84"),
        ("EPSG:4326", "wgs84"),
        ("4326", "wgs84"),
        (4326, "wgs84"),
        (" epsg:4490 ", "cgcs2000"),
        ("GCJ-02", "gcj02"),
        ("amap", "gcj02"),
        ("BD09", "bd09"),
        ("baidu", "bd09"),
    ],
)
def test_normalize_crs_name(name, expected):
    assert normalize_crs_name(name) == expected


def test_unknown_crs_lists_accepted_names():
    with pytest.raises(UnknownCRSError) as info:
        normalize_crs_name("EPSG:3857")
    assert info.value.accepted == crs.INPUT_CRS
    assert "(aliases: 4326, 4490, amap," in str(info.value)
    assert "EPSG:3857" in str(info.value)
    assert "gcj02" in str(info.value)
    assert isinstance(info.value, ValueError)


def test_to_wgs84_and_from_wgs84():
    assert to_wgs84(113.7, 34.7, "cgcs2000") == (113.7, 34.7)
    assert to_wgs84(113.7, 34.7, None) == (113.7, 34.7)
    glon, glat = from_wgs84(*ZHENGDONG_CBD, "gcj02")
    assert to_wgs84(glon, glat, "gcj02") == pytest.approx(ZHENGDONG_CBD, abs=1e-9)
    blon, blat = from_wgs84(*ZHENGDONG_CBD, "bd09")
    assert (blon, blat) == wgs84_to_bd09(*ZHENGDONG_CBD)
    assert to_wgs84(blon, blat, "baidu") == pytest.approx(ZHENGDONG_CBD, abs=1e-9)
    with pytest.raises(UnknownCRSError):
        to_wgs84(1, 2, "mercator")


def test_transformer_is_cached_and_lonlat_ordered():
    t = transformer(4326, 4547)
    assert t is transformer(4326, 4547)
    x, y = t.transform(114.0, 34.0)
    assert x == pytest.approx(500000.0, abs=1e-3)
    assert 3_700_000 < y < 3_800_000


def test_transformer_errors():
    with pytest.raises(CRSError, match="999999"):
        transformer(4326, 999999)
    with pytest.raises(CRSError, match="offset datum"):
        transformer("gcj02", 4326)


def test_storage_round_trip_with_input_crs():
    x, y = lonlat_to_storage(*from_wgs84(*ZHENGDONG_CBD, "gcj02"), 4547, crs="gcj02")
    x0, y0 = lonlat_to_storage(*ZHENGDONG_CBD, 4547)
    assert (x, y) == pytest.approx((x0, y0), abs=1e-4)
    assert storage_to_lonlat(x0, y0, 4547) == pytest.approx(ZHENGDONG_CBD, abs=1e-9)
    xs, ys = lonlat_to_storage([113.7, 113.8], [34.7, 34.8], 4547)
    assert isinstance(xs, np.ndarray) and xs.shape == (2,)
    # CGCS2000 geographic storage is numerically WGS84 at city scale.
    assert lonlat_to_storage(113.7, 34.7, 4490) == pytest.approx(
        (113.7, 34.7), abs=1e-9
    )


def test_transform_geometry_projected_and_offset():
    poly = box(113.7, 34.7, 113.71, 34.71)
    metric = transform_geometry(poly, 4326, 4547)
    assert metric.area == pytest.approx(1_016_346, rel=1e-3)
    back = transform_geometry(metric, 4547, "wgs84")
    assert back.equals_exact(poly, tolerance=1e-9)
    gcj = transform_geometry(Point(ZHENGDONG_CBD), "wgs84", "gcj02")
    assert (gcj.x, gcj.y) == wgs84_to_gcj02(*ZHENGDONG_CBD)
    via = transform_geometry(gcj, "gcj02", 4547)
    assert via.distance(transform_geometry(Point(ZHENGDONG_CBD), 4326, 4547)) < 1e-4


def test_transform_geometry_keeps_holes_and_drops_z():
    poly = Polygon(
        [(113.7, 34.7, 5), (113.8, 34.7, 5), (113.8, 34.8, 5), (113.7, 34.8, 5)],
        [[(113.72, 34.72), (113.73, 34.72), (113.73, 34.73)]],
    )
    out = transform_geometry(poly, 4326, 4547)
    assert len(out.interiors) == 1
    assert not out.has_z


def test_transform_bbox_contains_transformed_corners_and_edges():
    bbox = (113.0, 34.0, 115.0, 35.0)
    out = transform_bbox(bbox, 4326, 4547)
    edge = transform_geometry(box(*bbox).segmentize(0.01), 4326, 4547)
    assert out == pytest.approx(edge.bounds, abs=1.0)
    # Parallels curve poleward away from the central meridian (114E), so the
    # bottom edge dips below both bottom corners: corners alone would miss it.
    corners_min_y = min(
        transformer(4326, 4547).transform(x, 34.0)[1] for x in (113.0, 115.0)
    )
    assert out[1] < corners_min_y - 100


@pytest.mark.parametrize(
    "bbox, match",
    [
        ((1, 2, 3), "four numbers"),
        ((3, 0, 1, 1), "minx <= maxx"),
        ((0, 0, math.inf, 1), "finite"),
    ],
)
def test_transform_bbox_rejects_bad_boxes(bbox, match):
    with pytest.raises(CRSError, match=match):
        transform_bbox(bbox, 4326, 4547)


@pytest.mark.parametrize(
    "lon, lat, match",
    [
        (181, 0, r"longitude 181.0 is out of range \[-180, 180\]"),
        (0, -90.5, r"latitude -90.5 is out of range \[-90, 90\]"),
        (math.nan, 0, "longitude nan is not finite"),
        (0, math.inf, "latitude inf is not finite"),
        ([1, 2, 3], [1, 2, 91], r"latitude\[2\] = 91.0 is out of range"),
        ([1, 2], [1, 2, 3], "differ in shape"),
        ("abc", 1, "must be numbers"),
    ],
)
def test_validate_lonlat_names_the_bad_value(lon, lat, match):
    with pytest.raises(CRSError, match=match):
        validate_lonlat(lon, lat)


def test_validate_lonlat_accepts_edges():
    assert validate_lonlat(-180, 90) == (-180.0, 90.0)
    lon, lat = validate_lonlat([180, 0], [-90, 0])
    assert lon.tolist() == [180.0, 0.0]
