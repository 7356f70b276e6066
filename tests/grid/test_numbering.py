"""Tests for grid.numbering: serials west→east, then north→south."""

import pytest
from shapely.geometry import box

from grid import GridError, InvalidGridCodeError, InvalidParameterError, number_cells
from tests.common import COMMUNITY_A, COMMUNITY_B, LOCAL_CELLS, shift


def test_hand_drawn_community_a_gets_its_codes():
    expected = {code: shift(p) for code, p in LOCAL_CELLS.items() if code.startswith(COMMUNITY_A)}
    numbered = number_cells(list(expected.values())[::-1], COMMUNITY_A)
    assert [code for code, _ in numbered] == sorted(expected)
    assert all(poly.equals(expected[code]) for code, poly in numbered)


def test_order_uses_the_representative_point():
    # B1 wraps around B2, but B1's representative point (295.5, 90) lies east
    # of B2's (255, 90), so in one row B2 is numbered first.
    b1, b2, b3 = (shift(LOCAL_CELLS[COMMUNITY_B + s]) for s in ("001", "002", "003"))
    numbered = number_cells([b1, b2, b3], COMMUNITY_B, row_height_m=200)
    assert [(code[-3:], poly) for code, poly in numbered] == [("001", b2), ("002", b1), ("003", b3)]


def test_rows_counted_from_north_then_west_to_east():
    # Two rows of 100 m; the middle cell of the top row is slightly lower but in the same row.
    cells = [box(200, 0, 300, 100), box(0, 0, 100, 100), box(100, 110, 200, 190),
             box(0, 100, 100, 200), box(200, 100, 300, 200), box(100, 0, 200, 100)]
    numbered = number_cells(cells, "410105001001", row_height_m=100)
    order = [poly.bounds[:2] for _, poly in numbered]
    assert order == [(0.0, 100.0), (100.0, 110.0), (200.0, 100.0), (0.0, 0.0), (100.0, 0.0), (200.0, 0.0)]
    assert [code for code, _ in numbered] == [f"410105001001{s:03d}" for s in range(1, 7)]


def test_default_row_height_is_root_median_area():
    # With 100 m rows, cells at y 0-100 and 100-200 are two rows.
    cells = [box(100, 0, 200, 100), box(0, 100, 100, 200)]
    assert [p.bounds[0] for _, p in number_cells(cells, "410105001001")] == [0.0, 100.0]
    # With one 1000 m row they are ordered by x only.
    assert [p.bounds[0] for _, p in number_cells(cells, "410105001001", row_height_m=1000)] == [0.0, 100.0]
    assert [p.bounds[1] for _, p in number_cells(cells, "410105001001", row_height_m=1000)] == [100.0, 0.0]


def test_start_and_limits():
    cells = [box(i, 0, i + 1, 1) for i in range(5)]
    assert [c[-3:] for c, _ in number_cells(cells, "410105001001", start=995)] == ["995", "996", "997", "998", "999"]
    with pytest.raises(GridError, match="would need serial 1000; at most 999 cells per community"):
        number_cells(cells, "410105001001", start=996)
    many = [box(i, 0, i + 1, 1) for i in range(1000)]
    with pytest.raises(GridError, match="1000 cells"):
        number_cells(many, "410105001001")
    assert number_cells([], "410105001001") == []


@pytest.mark.parametrize("start", [0, 1000, 1.5, True])
def test_bad_start(start):
    with pytest.raises(InvalidParameterError, match="start must be an int in 1..999"):
        number_cells([box(0, 0, 1, 1)], "410105001001", start=start)


def test_bad_community_and_row_height():
    with pytest.raises(InvalidGridCodeError, match="community code '410105001', length 9"):
        number_cells([box(0, 0, 1, 1)], "410105001")
    with pytest.raises(InvalidParameterError, match="row_height_m"):
        number_cells([box(0, 0, 1, 1)], "410105001001", row_height_m=0)
