"""Tests for gis.validation."""

import pytest
from shapely.geometry import LineString, MultiPolygon, Point, Polygon, box

from gis.errors import InvalidGeometryError, VectorFileError
from gis.validation import check_polygons, ensure_within, repair_polygon

BOWTIE = Polygon([(0, 0), (2, 2), (2, 0), (0, 2)])


def test_check_polygons_reports_each_problem_once():
    geoms = [
        box(0, 0, 1, 1),
        BOWTIE,
        LineString([(0, 0), (1, 1)]),
        Polygon(),
        None,
        box(0, 0, 1, 1).segmentize(0.01),
        MultiPolygon([box(0, 0, 1, 1), box(2, 0, 3, 1)]),
    ]
    problems = check_polygons(geoms, max_vertices=100)
    assert [(p["row"], p["field"]) for p in problems] == [
        (2, "geometry"),
        (3, "geometry"),
        (4, "geometry"),
        (5, "geometry"),
        (6, "geometry"),
    ]
    messages = [p["message"] for p in problems]
    assert messages[0] == "invalid polygon: Self-intersection[1 1]"
    assert (
        messages[1]
        == "wrong geometry type LineString; expected Polygon or MultiPolygon"
    )
    assert messages[2] == "empty geometry"
    assert messages[3] == "missing geometry"
    assert messages[4] == "401 vertices; the limit is 100"


def test_check_polygons_uses_given_row_numbers_and_feeds_vector_file_error():
    problems = check_polygons([box(0, 0, 1, 1), BOWTIE], rows=[10, 11])
    assert problems[0]["row"] == 11
    err = VectorFileError("bad polygons", rows=problems)
    assert err.rows == problems
    assert check_polygons([Point(0, 0)], allowed_types=("Point",)) == []


def test_ensure_within():
    extent = box(0, 0, 10, 10)
    inner = box(1, 1, 2, 2)
    assert ensure_within(inner, extent) is inner
    assert ensure_within(box(0, 0, 10, 10), (0, 0, 10, 10)).area == 100
    with pytest.raises(
        InvalidGeometryError, match=r"cell \(bounds 9, 9, 11, 11\) is outside"
    ):
        ensure_within(box(9, 9, 11, 11), extent, "cell")
    with pytest.raises(InvalidGeometryError, match="cell is empty"):
        ensure_within(Polygon(), extent, "cell")


def test_repair_polygon():
    fixed = repair_polygon(BOWTIE)
    assert fixed.is_valid and fixed.area == pytest.approx(2.0)
    ok = box(0, 0, 1, 1)
    assert repair_polygon(ok) is ok
    with pytest.raises(
        InvalidGeometryError, match="must be a Polygon or MultiPolygon, got Point"
    ):
        repair_polygon(Point(0, 0))
    flat = Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])
    with pytest.raises(InvalidGeometryError, match="no area left after repair"):
        repair_polygon(flat, "cell 7")
