"""Tests for grid.adjacency."""

import numpy as np
import pytest
from shapely.geometry import box

from grid import CellSet, InvalidParameterError, adjacency, adjacency_pairs
from tests.common import COMMUNITY_A, COMMUNITY_B, cell_set, shift

A1, A2, A3, A4 = (COMMUNITY_A + s for s in ("001", "002", "003", "004"))
B1, B2, B3 = (COMMUNITY_B + s for s in ("001", "002", "003"))


def test_queen_includes_corner_contacts_rook_does_not():
    queen = adjacency(cell_set(), "queen")
    rook = adjacency(cell_set(), "rook")
    # A1/A4 and A2/A3 meet only at vertex (90, 100).
    assert A4 in queen[A1] and A4 not in rook[A1]
    assert A3 in queen[A2] and A3 not in rook[A2]
    assert rook[A1] == {A2, A3}
    assert queen[A1] == {A2, A3, A4}
    # B2 fills B1's hole; A2 touches B1 along x=200 and B3 not at all.
    assert rook[B2] == {B1}
    assert rook[A2] == {A1, A4, B1}
    assert B3 not in queen[A2]


def test_every_cell_is_a_key_and_relation_is_symmetric():
    queen = adjacency(cell_set())
    assert sorted(queen) == list(cell_set().codes)
    for code, neighbours in queen.items():
        assert code not in neighbours
        for other in neighbours:
            assert code in queen[other]


def test_isolated_cell_has_empty_set():
    cells = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1)), ("410105001001002", box(5, 5, 6, 6))])
    assert adjacency(cells) == {"410105001001001": frozenset(), "410105001001002": frozenset()}
    assert adjacency_pairs(cells).shape == (0, 2)


def test_pairs_are_sorted_index_pairs():
    pairs = adjacency_pairs(cell_set(), "rook")
    assert pairs.dtype == np.int64 and pairs.shape[1] == 2
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert pairs.tolist() == sorted(pairs.tolist())
    # A1-A2, A1-A3, A2-A4, A2-B1, A3-A4, A4-B1, B1-B2, B1-B3
    assert pairs.tolist() == [[0, 1], [0, 2], [1, 3], [1, 4], [2, 3], [3, 4], [4, 5], [4, 6]]


def test_tolerance_bridges_small_gaps():
    cells = CellSet.from_polygons([
        ("410105001001001", shift(box(0, 0, 100, 100))),
        ("410105001001002", shift(box(100.05, 0, 200, 100))),   # 5 cm gap along an edge
        ("410105001001003", shift(box(200.05, 100.05, 300, 200))),  # near-corner only
    ])
    assert adjacency(cells, "rook")["410105001001001"] == frozenset()
    rook = adjacency(cells, "rook", tolerance=0.1)
    queen = adjacency(cells, "queen", tolerance=0.1)
    assert rook["410105001001001"] == {"410105001001002"}
    assert "410105001001003" in queen["410105001001002"]
    assert "410105001001003" not in rook["410105001001002"]


@pytest.mark.parametrize("rule", ["bishop", "Queen", ""])
def test_unknown_rule_names_accepted_values(rule):
    with pytest.raises(ValueError, match=r"is not one of \('queen', 'rook'\)"):
        adjacency(cell_set(), rule)


def test_negative_tolerance():
    with pytest.raises(InvalidParameterError, match="tolerance"):
        adjacency_pairs(cell_set(), tolerance=-1)
