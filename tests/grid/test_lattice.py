"""Tests for grid.lattice."""

import math

import pytest
import shapely
from shapely.geometry import Point, Polygon, box

from grid import CellSet, InvalidParameterError, check_topology, lattice_cells, number_cells


def test_squares_cover_bounds_row_by_row():
    cells = lattice_cells((0, 0, 300, 200), cell_size_m=100)
    assert len(cells) == 6
    assert [c.bounds for c in cells[:4]] == [
        (0.0, 0.0, 100.0, 100.0), (100.0, 0.0, 200.0, 100.0), (200.0, 0.0, 300.0, 100.0), (0.0, 100.0, 100.0, 200.0)
    ]
    assert shapely.union_all(cells).equals(box(0, 0, 300, 200))


def test_partial_squares_at_the_far_edges():
    cells = lattice_cells((10, 20, 260, 170), 100)
    assert sorted(round(c.area) for c in cells) == [2500, 5000, 5000, 5000, 10000, 10000]
    assert math.isclose(sum(c.area for c in cells), 250 * 150)


def test_clip_drops_tiny_and_non_areal_pieces():
    clip = Polygon([(0, 0), (200, 0), (200, 100.5), (0, 100.5)])  # 0.5 m strip into row 2
    cells = lattice_cells((0, 0, 200, 200), 100, clip=clip)
    assert len(cells) == 4  # two 50 m² strips kept, nothing from a line contact
    assert sorted(round(c.area) for c in cells) == [50, 50, 10000, 10000]
    touching = lattice_cells((0, 0, 200, 200), 100, clip=box(0, 0, 200, 100.004))
    assert len(touching) == 2  # 0.4 m² strips dropped (< 1 m²)


def test_clipped_cells_pass_topology_with_codes():
    clip = Point(250, 250).buffer(240)
    polys = lattice_cells((0, 0, 500, 500), 100, clip=clip)
    cells = CellSet.from_polygons(number_cells(polys, "410105001001"))
    report = check_topology(cells, boundary=clip, norm_factor=1000)
    assert not [i for i in report.issues if i.kind in ("overlap", "gap")]
    assert math.isclose(cells.area_m2.sum(), clip.area, rel_tol=1e-9)


@pytest.mark.parametrize(
    ("bounds", "size", "needle"),
    [
        ((0, 0, 0, 10), 10, "xmax > xmin"),
        ((0, 0, 10), 10, "bounds must be"),
        ((0, 0, math.inf, 10), 10, "finite"),
        ((0, 0, 10, 10), 0, "cell_size_m must be > 0"),
        ((0, 0, 10, 10), -5, "cell_size_m must be > 0"),
    ],
)
def test_bad_arguments(bounds, size, needle):
    with pytest.raises(InvalidParameterError, match=needle):
        lattice_cells(bounds, size)
