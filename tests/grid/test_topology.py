"""Tests for grid.topology."""

import pytest
from shapely.geometry import Point, box

from grid import CellSet, TopologyIssue, TopologyReport, check_topology
from tests.common import (
    COMMUNITY_A,
    COMMUNITY_B,
    at,
    boundary,
    cell_pairs,
    cell_set,
    communities,
    pairs_crossing_community,
    pairs_with_gap,
    pairs_with_overlap,
    shift,
)


def check(pairs, **kwargs):
    return check_topology(CellSet.from_polygons(pairs), communities=communities(), boundary=boundary(), **kwargs)


def test_valid_set_has_no_issues():
    report = check(cell_pairs())
    assert report.issues == []
    assert report.ok
    assert report.summary == "0 errors, 0 warnings"
    assert report.to_rows() == []


def test_overlap_is_an_error_naming_both_cells_and_area():
    report = check(pairs_with_overlap())
    assert [i.kind for i in report.issues] == ["overlap"]
    issue = report.errors[0]
    assert issue.codes == (COMMUNITY_A + "001", COMMUNITY_A + "002")
    assert issue.message == f"cells {COMMUNITY_A}001 and {COMMUNITY_A}002 overlap by 1000.0 m²"
    assert shift(box(80, 100, 110, 200)).contains(Point(issue.location))
    assert not report.ok


def test_gap_enclosed_by_cells_is_a_warning():
    report = check(pairs_with_gap())
    assert report.ok
    assert [(i.kind, i.severity) for i in report.issues] == [("gap", "warning")]
    assert report.issues[0].message == "gap of 3000.0 m² enclosed by cells"
    x, y = report.issues[0].location
    assert shift(box(230, 60, 280, 120)).contains(Point(x, y))


def test_uncovered_boundary_is_a_gap():
    pairs = [p for p in cell_pairs() if p[0] != COMMUNITY_B + "003"]
    report = check(pairs)
    gaps = [i for i in report.issues if i.kind == "gap"]
    assert len(gaps) == 1
    assert gaps[0].message == "gap of 18000.0 m² inside the boundary not covered by any cell"


def test_gap_smaller_than_minimum_is_ignored():
    assert check(pairs_with_gap(), gap_min_area_m2=5000).issues == []


def test_cell_crossing_its_community():
    report = check(pairs_crossing_community())
    assert [i.kind for i in report.issues] == ["crosses_community"]
    issue = report.issues[0]
    assert issue.codes == (COMMUNITY_A + "004",)
    assert "1000.0 m² of 10500.0 m² lies outside its community 410105001001" in issue.message
    assert issue.location[0] > at(200, 0)[0]


def test_missing_community_polygon():
    comms = communities()
    del comms[COMMUNITY_B]
    report = check_topology(cell_set(), communities=comms)
    unknown = [i for i in report.issues if i.kind == "unknown_community"]
    assert [i.codes[0] for i in unknown] == [COMMUNITY_B + s for s in ("001", "002", "003")]
    assert all(i.severity == "error" for i in unknown)
    assert "no polygon given for its community 410105001002" in unknown[0].message


def test_slivers_and_area_norm():
    pairs = cell_pairs() + [
        ("410105001003001", shift(box(0, 300, 5, 305))),     # 25 m²: tiny
        ("410105001003002", shift(box(0, 400, 1000, 410))),  # 10000 m² but 1000 x 10: thin
        ("410105001003003", shift(box(1000, 0, 1300, 200))), # 60000 m²: too big
    ]
    report = check_topology(CellSet.from_polygons(pairs))
    kinds = {(i.kind, i.codes[0]) for i in report.issues if i.codes}
    assert ("sliver", "410105001003001") in kinds
    assert ("area_out_of_norm", "410105001003001") in kinds
    assert ("sliver", "410105001003002") in kinds
    assert ("area_out_of_norm", "410105001003002") not in kinds
    assert ("area_out_of_norm", "410105001003003") in kinds
    assert ("sliver", "410105001003003") not in kinds
    thin = next(i for i in report.issues if i.codes == ("410105001003002",))
    assert "area 10000.0 m² (min 50), thinness 4πA/P² 0.031 (min 0.1)" in thin.message  # 4π·10⁴/2020²
    big = next(i for i in report.issues if i.kind == "area_out_of_norm" and i.codes == ("410105001003003",))
    assert big.message == "cell 410105001003003 has area 60000.0 m², outside [2500, 40000] m²"
    assert report.ok and len(report.warnings) == 4
    # Widening the norm clears the big cell.
    assert not [i for i in check_topology(CellSet.from_polygons(pairs), norm_factor=10).issues
                if i.codes == ("410105001003003",)]


def test_report_rows_and_summary():
    report = TopologyReport([
        TopologyIssue("overlap", "error", ("a", "b"), "m1", (1.0, 2.0)),
        TopologyIssue("gap", "warning", (), "m2", None),
        TopologyIssue("gap", "warning", (), "m3", None),
    ])
    assert report.summary == "1 error, 2 warnings (gap: 2, overlap: 1)"
    assert report.to_rows()[0] == {"kind": "overlap", "severity": "error", "codes": ["a", "b"],
                                   "message": "m1", "x": 1.0, "y": 2.0}
    assert report.to_rows()[1]["x"] is None
    assert not report.ok


def test_errors_sort_before_warnings():
    pairs = pairs_with_overlap() + [("410105001003001", shift(box(0, 300, 5, 305)))]
    report = check_topology(CellSet.from_polygons(pairs))
    severities = [i.severity for i in report.issues]
    assert severities == sorted(severities, key=lambda s: s != "error")
    assert severities[0] == "error" and "warning" in severities


@pytest.mark.parametrize("kwargs", [{}, {"boundary": boundary()}, {"communities": communities()}])
def test_optional_inputs(kwargs):
    assert check_topology(cell_set(), **kwargs).ok
