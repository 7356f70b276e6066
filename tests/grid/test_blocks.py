"""Tests for grid.blocks: pieces tile the block exactly and are near the target area."""

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon, box

from grid import CellLocator, CellSet, InvalidParameterError, cells_from_blocks, check_topology, number_cells, split_block
from tests.common import shift

L_BLOCK = Polygon([(0, 0), (400, 0), (400, 120), (130, 120), (130, 380), (0, 380)])
BLOCKS = {
    "rectangle": box(0, 0, 420, 260),
    "rotated": shapely.affinity.rotate(box(0, 0, 500, 160), 33, origin=(0, 0)),
    "L-shape": L_BLOCK,
    "irregular": Polygon([(0, 0), (310, -40), (480, 120), (420, 330), (90, 300), (-30, 160)]),
    "with courtyard": Polygon(box(0, 0, 300, 300).exterior, [box(120, 120, 180, 180).exterior]),
}


def assert_tiles(block, pieces):
    areas = np.array([p.area for p in pieces])
    assert all(p.is_valid and isinstance(p, Polygon) for p in pieces)
    np.testing.assert_allclose(areas.sum(), block.area, rtol=1e-6)
    np.testing.assert_allclose(shapely.union_all(pieces).area, block.area, rtol=1e-6)
    # No piece pokes out of the block.
    assert all(shapely.difference(p, block).area < 1e-6 for p in pieces)


@pytest.mark.parametrize("seed", [None, 0, 5])
@pytest.mark.parametrize("name", sorted(BLOCKS))
def test_pieces_tile_block_near_target(name, seed):
    block = shift(BLOCKS[name])
    pieces = split_block(block, 10_000, rng_seed=seed)
    assert_tiles(block, pieces)
    areas = np.array([p.area for p in pieces])
    assert len(pieces) >= round(block.area / 10_000) - 1
    # Most pieces are within [0.5, 2] x target; awkward shapes may leave a few.
    assert np.mean((areas >= 5_000) & (areas <= 20_000)) >= 0.75
    assert areas.max() <= 20_000


def test_rectangle_cuts_are_balanced_without_jitter():
    pieces = split_block(box(0, 0, 800, 100), 10_000)
    assert sorted(round(p.area) for p in pieces) == [10_000] * 8


def test_small_block_stays_whole():
    block = box(0, 0, 140, 100)
    assert split_block(block, 10_000) == [block]


def test_seed_is_deterministic_and_changes_cuts():
    block = BLOCKS["irregular"]
    a = split_block(block, 10_000, rng_seed=3)
    b = split_block(block, 10_000, rng_seed=3)
    c = split_block(block, 10_000, rng_seed=4)
    assert [p.wkb for p in a] == [p.wkb for p in b]
    assert [p.wkb for p in a] != [p.wkb for p in c]


def test_cells_from_blocks_make_a_clean_locatable_cell_set():
    blocks = [shift(BLOCKS["rectangle"]), shift(shapely.affinity.translate(L_BLOCK, 500, 0))]
    polys = cells_from_blocks(blocks, 10_000, seed=1)
    assert polys == cells_from_blocks(blocks, 10_000, seed=1)
    np.testing.assert_allclose(sum(p.area for p in polys), sum(b.area for b in blocks), rtol=1e-6)
    cells = CellSet.from_polygons(number_cells(polys, "410105001001"))
    report = check_topology(cells, norm_factor=2.5)
    assert report.ok, report.summary
    assert not [i for i in report.issues if i.kind == "gap"]
    rng = np.random.default_rng(0)
    xmin, ymin, xmax, ymax = cells.bounds
    x, y = rng.uniform(xmin, xmax, 2000), rng.uniform(ymin, ymax, 2000)
    got = CellLocator(cells).locate_many(x, y)
    inside = shapely.contains_xy(shapely.union_all(blocks), x, y)
    assert ((got >= 0) == inside).all()


@pytest.mark.parametrize(
    ("block", "target", "needle"),
    [
        (Polygon([(0, 0), (1, 1), (1, 0), (0, 1)]), 10, "valid non-empty Polygon"),
        (Polygon(), 10, "valid non-empty Polygon"),
        (box(0, 0, 1, 1).exterior, 10, "valid non-empty Polygon"),
        (box(0, 0, 1, 1), 0, "target_area_m2 must be > 0"),
    ],
)
def test_bad_arguments(block, target, needle):
    with pytest.raises(InvalidParameterError, match=needle):
        split_block(block, target)
