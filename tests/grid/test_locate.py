"""Tests for grid.locate: exactness against shapely, boundary rule, agreement of paths."""

import math
import re

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, box

from grid import CellLocator, CellSet, InvalidParameterError, OutsideGridError
from grid.locate import MAX_PIXELS
from tests.common import (
    COMMUNITY_A,
    COMMUNITY_B,
    ORIGIN,
    at,
    cell_set,
    pairs_crossing_community,
    pairs_with_gap,
    pairs_with_overlap,
    shift,
)

A1, A2, A3, A4 = (COMMUNITY_A + s for s in ("001", "002", "003", "004"))
B1, B2, B3 = (COMMUNITY_B + s for s in ("001", "002", "003"))


def brute_force(cells: CellSet, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The boundary rule evaluated against every cell: lowest interior hit, else lowest cover."""
    geoms = cells.geoms[:, None]
    inside = shapely.contains_xy(geoms, x[None, :], y[None, :])
    cover = shapely.intersects_xy(geoms, x[None, :], y[None, :])
    first_inside = np.where(inside.any(axis=0), inside.argmax(axis=0), -1)
    first_cover = np.where(cover.any(axis=0), cover.argmax(axis=0), -1)
    return np.where(first_inside >= 0, first_inside, first_cover)


def boundary_points(cells: CellSet) -> np.ndarray:
    """Every vertex plus points at 1/4, 1/2, 3/4 along every edge."""
    coords = shapely.get_coordinates(shapely.boundary(cells.geoms))
    a, b = coords[:-1], coords[1:]
    mids = [a + t * (b - a) for t in (0.25, 0.5, 0.75)]
    return np.concatenate([coords, *mids])


def voronoi_cells(n: int, seed: int) -> CellSet:
    """Irregular cells of about 1 ha around the real-CRS origin."""
    rng = np.random.default_rng(seed)
    side = 100 * math.sqrt(n)
    extent = box(ORIGIN[0], ORIGIN[1], ORIGIN[0] + side, ORIGIN[1] + side)
    seeds = shapely.multipoints(rng.uniform(0, side, (n, 2)) + ORIGIN)
    polys = shapely.intersection(np.asarray(shapely.get_parts(shapely.voronoi_polygons(seeds, extend_to=extent))), extent)
    order = rng.permutation(len(polys))  # codes unrelated to position
    return CellSet.from_polygons((f"410105001{k // 999 + 1:03d}{k % 999 + 1:03d}", polys[i]) for k, i in enumerate(order))


# Local point -> expected code under the boundary rule (None: outside).
CASES = [
    ((40, 150), A1, "interior A1"),
    ((150, 150), A2, "interior A2"),
    ((40, 40), A3, "interior A3"),
    ((170, 30), A4, "interior A4"),
    ((250, 30), B1, "interior B1"),
    ((255, 90), B2, "inside B1's hole = B2"),
    ((380, 100), B3, "interior B3"),
    ((40, 100), A1, "edge A1|A3"),
    ((100, 150), A1, "edge A1|A2 (slanted)"),
    ((150, 100), A2, "edge A2|A4"),
    ((105, 50), A3, "edge A3|A4 (slanted)"),
    ((90, 100), A1, "vertex of A1, A2, A3, A4"),
    ((200, 50), A4, "edge A4|B1 (community border)"),
    ((200, 100), A2, "vertex A2, A4, B1"),
    ((230, 90), B1, "hole edge B1|B2"),
    ((230, 60), B1, "hole corner"),
    ((310, 100), B1, "edge B1|B3 (slanted)"),
    ((320, 0), B1, "outer vertex B1|B3"),
    ((0, 50), A3, "outer west edge"),
    ((400, 200), B3, "outer north-east corner"),
    ((60, 200), A1, "outer north edge"),
    ((-0.001, 50), None, "just west of the set"),
    ((400.0001, 100), None, "just east of the set"),
    ((200, 200.5), None, "north of the set"),
    ((-1000, -1000), None, "far away"),
]


@pytest.fixture(scope="module")
def cells():
    return cell_set()


@pytest.fixture(scope="module", params=[None, 0.7, 10.0, 37.3, 1000.0], ids=lambda p: f"pixel={p}")
def locator(request, cells):
    return CellLocator(cells, pixel_size=request.param)


@pytest.mark.parametrize(("local", "expected", "what"), CASES, ids=[c[2] for c in CASES])
def test_boundary_rule_single_and_bulk(locator, cells, local, expected, what):
    x, y = at(*local)
    if expected is None:
        with pytest.raises(OutsideGridError, match=re.escape(f"point ({float(x)!r}, {float(y)!r}) is outside")):
            locator.locate(x, y)
    else:
        assert locator.locate(x, y) == expected
    got = locator.locate_many(np.array([x]), np.array([y]))[0]
    assert got == (-1 if expected is None else cells.index_of(expected))


def test_bulk_matches_single_and_brute_force_on_random_points(locator, cells):
    rng = np.random.default_rng(7)
    x = rng.uniform(ORIGIN[0] - 20, ORIGIN[0] + 420, 3000)
    y = rng.uniform(ORIGIN[1] - 20, ORIGIN[1] + 220, 3000)
    edge = boundary_points(cells)
    x, y = np.r_[x, edge[:, 0]], np.r_[y, edge[:, 1]]
    bulk = locator.locate_many(x, y)
    np.testing.assert_array_equal(bulk, brute_force(cells, x, y))
    single = np.array([cells.index_of(locator.locate(a, b)) if bulk[k] >= 0 else -1 for k, (a, b) in enumerate(zip(x, y))])
    np.testing.assert_array_equal(bulk, single)
    for k in np.flatnonzero(bulk < 0):
        with pytest.raises(OutsideGridError):
            locator.locate(x[k], y[k])


def test_points_on_pixel_lines(cells):
    # Pixel lines fall on cell edges and vertices (integer metres from the origin).
    loc = CellLocator(cells, pixel_size=10.0)
    gx, gy = np.meshgrid(np.arange(-10, 411, 5.0), np.arange(-10, 211, 5.0))
    x, y = gx.ravel() + ORIGIN[0], gy.ravel() + ORIGIN[1]
    np.testing.assert_array_equal(loc.locate_many(x, y), brute_force(cells, x, y))


@pytest.mark.parametrize("pixel_size", [None, 3.0, 25.0])
@pytest.mark.parametrize("seed", [1, 2])
def test_irregular_cells_match_brute_force(seed, pixel_size):
    cells = voronoi_cells(120, seed)
    loc = CellLocator(cells, pixel_size=pixel_size)
    rng = np.random.default_rng(seed)
    xmin, ymin, xmax, ymax = cells.bounds
    x = rng.uniform(xmin - 50, xmax + 50, 4000)
    y = rng.uniform(ymin - 50, ymax + 50, 4000)
    edge = boundary_points(cells)
    x, y = np.r_[x, edge[:, 0]], np.r_[y, edge[:, 1]]
    np.testing.assert_array_equal(loc.locate_many(x, y), brute_force(cells, x, y))
    # The single path on a sample.
    for k in rng.choice(x.size, 300, replace=False):
        expected = brute_force(cells, x[k : k + 1], y[k : k + 1])[0]
        if expected < 0:
            with pytest.raises(OutsideGridError):
                loc.locate(x[k], y[k])
        else:
            assert loc.locate(x[k], y[k]) == cells.codes[expected]


@pytest.mark.parametrize(
    "pairs", [pairs_with_overlap, pairs_with_gap, pairs_crossing_community], ids=lambda f: f.__name__
)
@pytest.mark.parametrize("pixel_size", [None, 2.0, 50.0])
def test_broken_sets_still_follow_the_rule(pairs, pixel_size):
    cells = CellSet.from_polygons(pairs())
    loc = CellLocator(cells, pixel_size=pixel_size)
    rng = np.random.default_rng(3)
    x = rng.uniform(ORIGIN[0] - 5, ORIGIN[0] + 405, 4000)
    y = rng.uniform(ORIGIN[1] - 5, ORIGIN[1] + 205, 4000)
    edge = boundary_points(cells)
    x, y = np.r_[x, edge[:, 0]], np.r_[y, edge[:, 1]]
    bulk = loc.locate_many(x, y)
    np.testing.assert_array_equal(bulk, brute_force(cells, x, y))


def test_overlap_interior_goes_to_lowest_code():
    cells = CellSet.from_polygons(pairs_with_overlap())
    loc = CellLocator(cells)
    x, y = at(88, 150)  # inside both A1 and the widened A2
    assert loc.locate(x, y) == A1
    assert loc.locate_many([x], [y]).tolist() == [cells.index_of(A1)]


def test_gap_is_outside():
    loc = CellLocator(CellSet.from_polygons(pairs_with_gap()))
    with pytest.raises(OutsideGridError):
        loc.locate(*at(255, 90))
    assert loc.locate_codes(*np.array([at(255, 90), at(230, 90)]).T).tolist() == [None, B1]


def test_multipolygon_cell():
    # Cell 001 has two parts with cell 002 between them.
    cells = CellSet.from_polygons([
        ("410105001001001", shift(MultiPolygon([box(0, 0, 10, 10), box(20, 0, 30, 10)]))),
        ("410105001001002", shift(box(10, 0, 20, 10))),
    ])
    loc = CellLocator(cells, pixel_size=3.0)
    pts = np.array([at(5, 5), at(15, 5), at(25, 5), at(10, 5), at(20, 5), at(35, 5)])
    expected = [0, 1, 0, 0, 0, -1]
    assert loc.locate_many(pts[:, 0], pts[:, 1]).tolist() == expected
    np.testing.assert_array_equal(brute_force(cells, pts[:, 0], pts[:, 1]), expected)


def test_shapes_nan_and_codes(cells):
    loc = CellLocator.for_cell_set(cells)
    x = np.array([[at(40, 150)[0], np.nan], [np.inf, at(380, 100)[0]]])
    y = np.array([[at(40, 150)[1], 0.0], [0.0, at(380, 100)[1]]])
    got = loc.locate_many(x, y)
    assert got.shape == (2, 2) and got.dtype == np.int64
    assert got.tolist() == [[0, -1], [-1, 6]]
    assert loc.locate_codes(x, y).tolist() == [[A1, None], [None, B3]]
    assert loc.locate_many([], []).shape == (0,)
    with pytest.raises(OutsideGridError):
        loc.locate(math.nan, 0.0)
    with pytest.raises(InvalidParameterError, match=r"same shape, got \(2,\) and \(3,\)"):
        loc.locate_many([1, 2], [1, 2, 3])


def test_for_cell_set_caches_by_content(cells):
    first = CellLocator.for_cell_set(cells)
    assert CellLocator.for_cell_set(cell_set()) is first
    assert CellLocator.for_cell_set(cells, pixel_size=8.0) is not first
    other = CellSet.from_polygons(pairs_with_gap())
    assert CellLocator.for_cell_set(other) is not first


@pytest.mark.parametrize("pixel_size", [0, -1.0, math.nan, math.inf])
def test_bad_pixel_size(cells, pixel_size):
    with pytest.raises(InvalidParameterError, match="pixel_size must be a positive number"):
        CellLocator(cells, pixel_size=pixel_size)


def test_pixel_budget(cells):
    with pytest.raises(InvalidParameterError, match=f"at most {MAX_PIXELS}"):
        CellLocator(cells, pixel_size=0.01)


def test_requires_a_cell_set():
    with pytest.raises(TypeError, match="CellSet"):
        CellLocator([("410105001001001", box(0, 0, 1, 1))])


def test_default_pixel_is_a_twentieth_of_the_median_side(cells):
    loc = CellLocator(cells)
    assert loc.pixel_size == pytest.approx(100 / 20)
    assert loc.shape == (41, 81)
    assert 0 < loc.mixed_fraction < 1
