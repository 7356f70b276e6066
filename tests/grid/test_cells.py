"""Tests for grid.cells."""

import numpy as np
import pytest
import shapely
from shapely.geometry import LineString, Polygon, box

from grid import CellSet, CellSetError, InvalidGridCodeError
from tests.common import (
    CODES,
    COMMUNITY_A,
    COMMUNITY_B,
    EMPTY_POLYGON,
    MULTIPOLYGON,
    cell_pairs,
    cell_set,
    pairs_with_bowtie,
    pairs_with_duplicate_code,
    shift,
)


def test_cells_are_sorted_by_code_and_aligned():
    pairs = cell_pairs()[::-1]
    cells = CellSet.from_polygons(pairs)
    assert cells.codes == CODES
    assert len(cells) == len(CODES)
    for code, polygon in pairs:
        i = cells.index_of(code)
        assert cells.polygons[i] is polygon
        assert cells.geoms[i] is polygon
        assert cells.polygon(code) is polygon
    assert list(cells) == sorted(pairs, key=lambda p: p[0])


def test_bounds_area_and_groups():
    cells = cell_set()
    assert cells.bounds == (470_000.0, 3_840_000.0, 470_400.0, 3_840_200.0)
    np.testing.assert_allclose(cells.area_m2, [10000, 10000, 10500, 9500, 19000, 3000, 18000])
    assert cells.codes_in_community(COMMUNITY_B) == (COMMUNITY_B + "001", COMMUNITY_B + "002", COMMUNITY_B + "003")
    assert cells.codes_in_street("410105001") == CODES
    assert cells.codes_in_street("410105002") == ()
    assert cells.community_of(COMMUNITY_A + "003") == COMMUNITY_A
    assert cells.community_codes() == (COMMUNITY_A, COMMUNITY_B)
    assert COMMUNITY_A + "001" in cells and "x" not in cells
    with pytest.raises(InvalidGridCodeError):
        cells.codes_in_community("410105001")


def test_unknown_code_is_a_key_error_naming_it():
    with pytest.raises(KeyError, match="410105001009009"):
        cell_set().index_of("410105001009009")
    with pytest.raises(KeyError, match="410105001009009"):
        cell_set().community_of("410105001009009")


def test_fingerprint_tracks_codes_and_geometry():
    a, b = cell_set(), cell_set()
    assert a.fingerprint == b.fingerprint
    pairs = cell_pairs()
    pairs[0] = (pairs[0][0], shapely.affinity.translate(pairs[0][1], 0.001, 0))
    assert CellSet.from_polygons(pairs).fingerprint != a.fingerprint


def test_all_bad_rows_are_reported_together():
    rows = [
        ("410105001001001", box(0, 0, 1, 1)),
        ("41010500100100", box(1, 0, 2, 1)),            # short code
        ("410105001001001", box(2, 0, 3, 1)),           # duplicate of row 0
        ("410105001001004", LineString([(0, 0), (1, 1)])),
        ("410105001001005", EMPTY_POLYGON),
        (410105001001006, box(0, 0, 1, 1)),             # not a str
        "not a pair",
        ("410105001001008", Polygon([(0, 0), (1, 0), (2, 0), (0, 0)])),  # no area
    ]
    with pytest.raises(CellSetError) as info:
        CellSet.from_polygons(rows)
    problems = info.value.problems
    assert len(problems) == 7
    assert problems[0].startswith("row 1 code '41010500100100': grid code '41010500100100', length 14")
    assert problems[1] == "row 2 code '410105001001001': duplicate code (first seen in row 0)"
    assert "row 3" in problems[2] and "LineString" in problems[2]
    assert problems[3] == "row 4 code '410105001001005': empty polygon"
    assert problems[4].startswith("row 5 code 410105001001006: grid code must be str")
    assert problems[5].startswith("row 6: expected a (code, polygon) pair")
    assert problems[6].startswith("row 7 code '410105001001008': invalid polygon")
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("pairs", "needle"),
    [
        (pairs_with_bowtie, "invalid polygon (Self-intersection"),
        (pairs_with_duplicate_code, "duplicate code (first seen in row 6)"),
    ],
)
def test_broken_variants_are_rejected(pairs, needle):
    with pytest.raises(CellSetError, match=None) as info:
        CellSet.from_polygons(pairs())
    assert len(info.value.problems) == 1
    assert needle in info.value.problems[0]


def test_non_finite_coordinates_and_empty_input():
    with pytest.raises(CellSetError, match="non-finite"):
        CellSet.from_polygons([("410105001001001", Polygon([(0, 0), (1, 0), (np.inf, 1)]))])
    with pytest.raises(CellSetError, match="at least one"):
        CellSet.from_polygons([])


def test_multipolygon_cells_and_whitespace_codes_are_accepted():
    cells = CellSet.from_polygons([(" 410105001001001 ", shift(MULTIPOLYGON))])
    assert cells.codes == ("410105001001001",)
    assert cells.area_m2[0] == 200.0


def test_constructor_refuses_unsorted_codes():
    with pytest.raises(CellSetError, match="sorted"):
        CellSet(["410105001001002", "410105001001001"], [box(0, 0, 1, 1), box(1, 0, 2, 1)])
