"""Tests for gis.geojson."""

import json
import math

import numpy as np
import pytest
from shapely.geometry import (
    GeometryCollection,
    LinearRing,
    LineString,
    MultiPolygon,
    Point,
    Polygon,
    box,
)

from gis.errors import GeoJSONError
from gis.geojson import (
    GeoJSONLimits,
    parse_bbox,
    parse_feature,
    parse_feature_collection,
    parse_geometry,
    to_feature,
    to_feature_collection,
    to_geometry,
)

SQUARE = [[113.7, 34.7], [113.8, 34.7], [113.8, 34.8], [113.7, 34.8], [113.7, 34.7]]
HOLE = [[113.72, 34.72], [113.73, 34.72], [113.73, 34.73], [113.72, 34.72]]


def poly(*rings):
    return {"type": "Polygon", "coordinates": [list(r) for r in rings]}


def feature(geometry, properties=None, **extra):
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": properties or {},
        **extra,
    }


def error_of(func, *args, **kwargs):
    with pytest.raises(GeoJSONError) as info:
        func(*args, **kwargs)
    return info.value


@pytest.mark.parametrize(
    "obj, wkt",
    [
        ({"type": "Point", "coordinates": [113.7, 34.7]}, "POINT (113.7 34.7)"),
        ({"type": "Point", "coordinates": [113.7, 34.7, 100.5]}, "POINT (113.7 34.7)"),
        (
            {"type": "MultiPoint", "coordinates": [[1, 2], [3, 4]]},
            "MULTIPOINT ((1 2), (3 4))",
        ),
        (
            {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
            "LINESTRING (1 2, 3 4)",
        ),
        (
            {
                "type": "MultiLineString",
                "coordinates": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]],
            },
            "MULTILINESTRING ((1 2, 3 4), (5 6, 7 8))",
        ),
        (
            {
                "type": "GeometryCollection",
                "geometries": [
                    {"type": "Point", "coordinates": [1, 2]},
                    {"type": "LineString", "coordinates": [[1, 2], [3, 4]]},
                ],
            },
            "GEOMETRYCOLLECTION (POINT (1 2), LINESTRING (1 2, 3 4))",
        ),
    ],
)
def test_parse_valid_geometries(obj, wkt):
    assert parse_geometry(obj).wkt == wkt


def test_parse_polygon_with_hole_and_multipolygon():
    p = parse_geometry(poly(SQUARE, HOLE))
    assert isinstance(p, Polygon) and len(p.interiors) == 1
    mp = parse_geometry(
        {
            "type": "MultiPolygon",
            "coordinates": [[SQUARE], [[[0, 0], [1, 0], [1, 1], [0, 0]]]],
        }
    )
    assert isinstance(mp, MultiPolygon) and len(mp.geoms) == 2


def test_parse_from_json_text_and_bytes():
    text = json.dumps(poly(SQUARE))
    assert parse_geometry(text).equals(parse_geometry(text.encode()))


@pytest.mark.parametrize(
    "obj, path, reason",
    [
        (
            poly([[0, 0], [1, 0], [0, 95], [0, 0]]),
            "geometry.coordinates[0][2][1]",
            "latitude 95.0 is out of range [-90, 90]",
        ),
        (
            {"type": "Point", "coordinates": [-181, 0]},
            "geometry.coordinates[0]",
            "longitude -181.0 is out of range [-180, 180]",
        ),
        (
            {"type": "Point", "coordinates": [1]},
            "geometry.coordinates",
            "a position must have 2 or 3 numbers, got 1",
        ),
        (
            {"type": "Point", "coordinates": [1, 2, 3, 4]},
            "geometry.coordinates",
            "a position must have 2 or 3 numbers, got 4",
        ),
        (
            {"type": "Point", "coordinates": [1, True]},
            "geometry.coordinates[1]",
            "expected a number, got boolean",
        ),
        (
            {"type": "Point", "coordinates": [1, None]},
            "geometry.coordinates[1]",
            "expected a number, got null",
        ),
        (
            {"type": "Point", "coordinates": [math.nan, 1]},
            "geometry.coordinates[0]",
            "nan is not a finite number",
        ),
        (
            {"type": "Point", "coordinates": "1,2"},
            "geometry.coordinates",
            "expected a position (array of 2 or 3 numbers), got string",
        ),
        (
            poly([[0, 0], [1, 0], [1, 1], [0, 1]]),
            "geometry.coordinates[0]",
            "linear ring is not closed: first position [0.0, 0.0] "
            "differs from last position [0.0, 1.0]",
        ),
        (
            poly([[0, 0], [1, 0], [0, 0]]),
            "geometry.coordinates[0]",
            "expected at least 4 positions in a linear ring, got 3",
        ),
        (
            {"type": "Polygon", "coordinates": []},
            "geometry.coordinates",
            "expected a non-empty array of linear rings",
        ),
        (
            {"type": "LineString", "coordinates": [[0, 0]]},
            "geometry.coordinates",
            "expected at least 2 positions, got 1",
        ),
        (
            {"type": "MultiPolygon", "coordinates": [SQUARE]},
            "geometry.coordinates[0][0]",
            "expected an array of positions in a linear ring, got an array of numbers "
            "(coordinates are nested too shallow for the geometry type)",
        ),
        (
            {"type": "Polygonn", "coordinates": []},
            "geometry.type",
            "unknown geometry type 'Polygonn'; expected one of: Point, MultiPoint, "
            "LineString, MultiLineString, Polygon, MultiPolygon, GeometryCollection",
        ),
        ({"coordinates": [1, 2]}, "geometry", "missing member 'type'"),
        ({"type": "Point"}, "geometry", "missing member 'coordinates'"),
        (
            {"type": "Feature"},
            "geometry.type",
            "expected a geometry object, got a Feature",
        ),
        ([1, 2], "geometry", "expected a geometry object, got array"),
        (
            {
                "type": "GeometryCollection",
                "geometries": [
                    {
                        "type": "GeometryCollection",
                        "geometries": [{"type": "Point", "coordinates": [1, 2]}],
                    }
                ],
            },
            "geometry.geometries[0].type",
            "nested GeometryCollection is not supported",
        ),
        (
            {
                "type": "GeometryCollection",
                "geometries": [{"type": "Point", "coordinates": [1, 200]}],
            },
            "geometry.geometries[0].coordinates[1]",
            "latitude 200.0 is out of range [-90, 90]",
        ),
    ],
)
def test_structural_errors_have_exact_path_and_reason(obj, path, reason):
    err = error_of(parse_geometry, obj)
    assert (err.path, err.reason) == (path, reason)
    assert str(err) == f"{path}: {reason}"


def test_invalid_json_text_and_nan_constants():
    assert "invalid JSON" in error_of(parse_geometry, '{"type": "Point",').reason
    err = error_of(parse_geometry, '{"type": "Point", "coordinates": [NaN, 1]}')
    assert "NaN is not valid JSON" in err.reason


def test_self_intersection_is_reported_as_invalid_geometry():
    bowtie = poly([[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]])
    err = error_of(parse_geometry, bowtie)
    assert err.path == "geometry"
    assert err.reason == "invalid geometry: Self-intersection[0.5 0.5]"
    assert not parse_geometry(bowtie, require_valid=False).is_valid


def test_allowed_types():
    point = {"type": "Point", "coordinates": [1, 2]}
    err = error_of(parse_geometry, point, allowed_types=("Polygon", "MultiPolygon"))
    assert err.path == "geometry.type"
    assert "expected one of: Polygon, MultiPolygon" in err.reason
    assert parse_geometry(point, allowed_types=["Point"]).equals(Point(1, 2))
    with pytest.raises(ValueError, match="unknown types"):
        parse_geometry(point, allowed_types=["Circle"])


def test_limits_vertices_parts_depth_bytes_and_range():
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1], [2, 2], [3, 3]]}
    err = error_of(parse_geometry, line, GeoJSONLimits(max_vertices=3))
    assert (err.path, err.reason) == ("geometry.coordinates[3]", "more than 3 vertices")
    mp = {"type": "MultiPoint", "coordinates": [[0, 0], [1, 1], [2, 2]]}
    err = error_of(parse_geometry, mp, GeoJSONLimits(max_parts=2))
    assert err.reason == "more than 2 parts (rings/members)"
    err = error_of(
        parse_geometry,
        {"type": "MultiPolygon", "coordinates": [[SQUARE]]},
        GeoJSONLimits(max_depth=3),
    )
    assert err.reason == "MultiPolygon has coordinate depth 4; the limit is 3"
    err = error_of(parse_geometry, json.dumps(line), GeoJSONLimits(max_bytes=20))
    assert err.reason.endswith("bytes; the limit is 20")
    city = GeoJSONLimits(lon_range=(113.0, 115.0), lat_range=(34.0, 35.5))
    err = error_of(
        parse_geometry, {"type": "Point", "coordinates": [116.4, 34.5]}, city
    )
    assert err.reason == "longitude 116.4 is out of range [113, 115]"


def test_vertex_limit_is_shared_by_a_feature_collection():
    pts = [feature({"type": "Point", "coordinates": [i, 0]}) for i in range(3)]
    fc = {"type": "FeatureCollection", "features": pts}
    err = error_of(parse_feature_collection, fc, GeoJSONLimits(max_vertices=2))
    assert err.path == "features[2].geometry.coordinates"


def test_parse_feature():
    geom, props, fid = parse_feature(feature(poly(SQUARE), {"name": "甲"}, id="c1"))
    assert geom.equals(box(113.7, 34.7, 113.8, 34.8))
    assert (props, fid) == ({"name": "甲"}, "c1")
    geom, props, fid = parse_feature(
        {"type": "Feature", "geometry": None, "properties": None},
        geometry_required=False,
    )
    assert (geom, props, fid) == (None, {}, None)


@pytest.mark.parametrize(
    "obj, path, reason",
    [
        (
            {"type": "Point", "coordinates": [1, 2]},
            "type",
            "expected type 'Feature', got 'Point'",
        ),
        ({"type": "Feature", "properties": {}}, "feature", "missing member 'geometry'"),
        (
            feature({"type": "Point", "coordinates": [1, 2]}, id=[1]),
            "id",
            "expected a string or number, got array",
        ),
        (
            {
                "type": "Feature",
                "geometry": {"type": "Point", "coordinates": [1, 2]},
                "properties": [1],
            },
            "properties",
            "expected an object or null, got array",
        ),
        (
            feature({"type": "Point", "coordinates": [1, 91]}),
            "geometry.coordinates[1]",
            "latitude 91.0 is out of range [-90, 90]",
        ),
    ],
)
def test_parse_feature_errors(obj, path, reason):
    err = error_of(parse_feature, obj)
    assert (err.path, err.reason) == (path, reason)


def test_parse_feature_collection_reports_feature_index():
    features = [feature(poly(SQUARE), {"n": i}) for i in range(13)]
    features[12] = feature(poly([[0, 0], [1, 0], [1, 1], [0, 1]]))
    err = error_of(
        parse_feature_collection, {"type": "FeatureCollection", "features": features}
    )
    assert err.path == "features[12].geometry.coordinates[0]"
    parsed = parse_feature_collection(
        {"type": "FeatureCollection", "features": features[:12]},
        allowed_types=["Polygon"],
    )
    assert [p[1]["n"] for p in parsed] == list(range(12))


@pytest.mark.parametrize(
    "obj, path",
    [
        ({"type": "Feature"}, "type"),
        ({"type": "FeatureCollection"}, "features"),
        ({"type": "FeatureCollection", "features": [1]}, "features[0]"),
        ([], ""),
    ],
)
def test_parse_feature_collection_structure(obj, path):
    assert error_of(parse_feature_collection, obj).path == path


@pytest.mark.parametrize(
    "value, expected",
    [
        ("113.6,34.6,113.9,34.9", (113.6, 34.6, 113.9, 34.9)),
        (" 113.6 , 34.6, 113.9 ,34.9 ", (113.6, 34.6, 113.9, 34.9)),
        ([113, 34, 114, 35], (113.0, 34.0, 114.0, 35.0)),
        ("113.6,34.6,-5,113.9,34.9,50", (113.6, 34.6, 113.9, 34.9)),
        ("-180,-90,180,90", (-180.0, -90.0, 180.0, 90.0)),
        ("1,1,1,1", (1.0, 1.0, 1.0, 1.0)),
    ],
)
def test_parse_bbox(value, expected):
    assert parse_bbox(value) == expected


@pytest.mark.parametrize(
    "value, reason",
    [
        ("1,2,3", "expected 4 numbers 'minx,miny,maxx,maxy' (or 6 for 3D), got 3"),
        ("1,2,x,4", "item 2 is not a number: 'x'"),
        ("1,2,nan,4", "item 2 is not a finite number: 'nan'"),
        ([1, 2, True, 4], "item 2 is not a number: True"),
        ("1,5,3,4", "miny 5.0 is greater than maxy 4.0"),
        (
            "170,0,-170,10",
            "minx 170.0 is greater than maxx -170.0 "
            "(boxes crossing the antimeridian are not supported)",
        ),
        ("0,-91,1,1", "miny -91.0 is out of range [-90, 90]"),
        ("0,0,181,1", "maxx 181.0 is out of range [-180, 180]"),
        (5, "expected 4 numbers 'minx,miny,maxx,maxy', got 5"),
    ],
)
def test_parse_bbox_errors(value, reason):
    err = error_of(parse_bbox, value)
    assert (err.path, err.reason) == ("bbox", reason)


def test_to_geometry_rounds_orients_and_lists():
    cw = Polygon(
        [(0, 0), (0, 1), (1, 1), (1, 0)], [[(0.2, 0.2), (0.4, 0.2), (0.4, 0.4)]]
    )
    out = to_geometry(cw, precision=3)
    ext, hole = out["coordinates"]
    assert isinstance(ext, list) and isinstance(ext[0], list)
    assert LinearRing(ext).is_ccw
    assert not LinearRing(hole).is_ccw
    assert to_geometry(Point(1.23456789, 2.0), precision=4)["coordinates"] == [
        1.2346,
        2.0,
    ]
    assert to_geometry(None) is None


def test_to_geometry_round_trips_through_parse():
    g = MultiPolygon(
        [box(113.7, 34.7, 113.71, 34.71), box(113.72, 34.7, 113.73, 34.71)]
    )
    back = parse_geometry(json.loads(json.dumps(to_geometry(g))))
    assert back.equals(g)
    gc = GeometryCollection([Point(1, 2), LineString([(0, 0), (1, 1)])])
    assert parse_geometry(to_geometry(gc)).equals(gc)


def test_to_geometry_from_storage_crs():
    out = to_geometry(Point(500000.0, 3846849.0), precision=6, src_crs=4547)
    assert out["coordinates"][0] == 114.0


def test_to_feature_makes_properties_json_safe():
    import datetime

    f = to_feature(
        Point(1, 2),
        {
            "n": np.int64(3),
            "x": np.float64("nan"),
            "d": datetime.date(2024, 5, 1),
            "s": "甲",
        },
        id=np.int64(9),
    )
    assert f["properties"] == {"n": 3, "x": None, "d": "2024-05-01", "s": "甲"}
    assert f["id"] == 9
    json.dumps(f)
    assert "id" not in to_feature(Point(1, 2))


def test_to_feature_collection():
    fc = to_feature_collection(
        (to_feature(Point(i, 0)) for i in range(2)), numberMatched=2
    )
    assert fc["type"] == "FeatureCollection" and len(fc["features"]) == 2
    assert fc["numberMatched"] == 2
    parsed = parse_feature_collection(fc)
    assert [g.x for g, _, _ in parsed] == [0.0, 1.0]
    with pytest.raises(ValueError, match="override"):
        to_feature_collection([], type="Feature")
