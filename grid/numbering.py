"""Give the cells of one community 15-digit codes, west→east then north→south."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from grid.codes import GridCode, parse_community_code
from grid.errors import GridError, InvalidParameterError

__all__ = ["number_cells"]


def number_cells(
    polygons: Sequence[Polygon | MultiPolygon],
    community_code: str,
    start: int = 1,
    row_height_m: float | None = None,
) -> list[tuple[str, Polygon | MultiPolygon]]:
    """Assign serial numbers to the cells of one community.

    Serials run from west to east, then from north to south (Beijing DB11
    §5.4): the community is sliced into rows of height `row_height_m`
    counted down from its northern edge (the largest y of all cells); a cell
    belongs to the row holding its representative point
    (``shapely.point_on_surface``); rows are numbered north first, and cells
    within a row by ascending x of that point (then descending y, to break
    ties).

    Parameters
    ----------
    polygons : sequence of Polygon or MultiPolygon
        The community's cells.
    community_code : str
        12-digit community code that prefixes every code.
    start : int
        First serial number (1 to 999).
    row_height_m : float, optional
        Row height; default the square root of the median cell area.

    Returns
    -------
    list of (str, polygon)
        ``(code, polygon)`` pairs in serial order.

    Raises
    ------
    InvalidGridCodeError
        If `community_code` is not a 12-digit community code.
    GridError
        If the serials would go past 999.
    InvalidParameterError
        If `start` is not in 1..999 or `row_height_m` is not positive.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = [box(0, 0, 100, 100), box(100, 0, 200, 100),
    ...          box(0, 100, 100, 200), box(100, 100, 200, 200)]
    >>> [(code[-3:], poly.bounds[:2]) for code, poly in number_cells(cells, "410105001002")]
    [('001', (0.0, 100.0)), ('002', (100.0, 100.0)), ('003', (0.0, 0.0)), ('004', (100.0, 0.0))]
    """
    community = parse_community_code(community_code)
    if isinstance(start, bool) or not isinstance(start, int) or not 1 <= start <= 999:
        raise InvalidParameterError(f"start must be an int in 1..999, got {start!r}")
    geoms = np.empty(len(polygons), dtype=object)
    geoms[:] = list(polygons)
    if len(geoms) == 0:
        return []
    last = start + len(geoms) - 1
    if last > 999:
        raise GridError(
            f"community {community}: {len(geoms)} cells from serial {start:03d} would need "
            f"serial {last}; at most 999 cells per community (3-digit serial)"
        )
    if row_height_m is None:
        row_height_m = math.sqrt(float(np.median(shapely.area(geoms))))
    if not (math.isfinite(row_height_m) and row_height_m > 0):
        raise InvalidParameterError(f"row_height_m must be > 0, got {row_height_m!r}")
    rep = shapely.point_on_surface(geoms)
    x, y = shapely.get_x(rep), shapely.get_y(rep)
    north = float(shapely.bounds(geoms)[:, 3].max())
    row = np.floor((north - y) / row_height_m)
    order = np.lexsort((-y, x, row))
    out = []
    for serial, k in enumerate(order, start=start):
        code = GridCode(community.district, community.street, community.community, f"{serial:03d}")
        out.append((str(code), geoms[k]))
    return out
