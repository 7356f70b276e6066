"""Square lattice cells: one simple way to seed a cell set."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from grid.errors import InvalidParameterError

__all__ = ["lattice_cells"]

# Clipped pieces smaller than this (m²) are dropped as slivers.
_MIN_PIECE_M2 = 1.0


def lattice_cells(
    bounds: Sequence[float],
    cell_size_m: float = 100.0,
    clip: Polygon | MultiPolygon | None = None,
) -> list[Polygon | MultiPolygon]:
    """Cover `bounds` with squares, optionally clipped to a polygon.

    Squares start at ``(xmin, ymin)`` and are listed row by row from south to
    north, west to east within a row. Pieces of less than 1 m² and non-areal
    leftovers of clipping are dropped.

    Parameters
    ----------
    bounds : sequence of 4 float
        ``(xmin, ymin, xmax, ymax)`` in metres.
    cell_size_m : float
        Square edge in metres.
    clip : Polygon or MultiPolygon, optional
        Keep only the part of each square inside this polygon.

    Returns
    -------
    list of Polygon or MultiPolygon

    Raises
    ------
    InvalidParameterError
        If `bounds` is not 4 finite numbers with ``xmax > xmin`` and
        ``ymax > ymin``, or `cell_size_m` is not positive.

    Examples
    --------
    >>> cells = lattice_cells((0, 0, 250, 100), cell_size_m=100)
    >>> len(cells), [c.area for c in cells]
    (3, [10000.0, 10000.0, 5000.0])
    >>> from shapely.geometry import Point
    >>> len(lattice_cells((0, 0, 300, 300), 100, clip=Point(150, 150).buffer(100)))
    9
    """
    try:
        xmin, ymin, xmax, ymax = (float(v) for v in bounds)
    except (TypeError, ValueError):
        raise InvalidParameterError(
            f"bounds must be (xmin, ymin, xmax, ymax) numbers, got {bounds!r}"
        ) from None
    if not all(map(math.isfinite, (xmin, ymin, xmax, ymax))) or xmax <= xmin or ymax <= ymin:
        raise InvalidParameterError(
            f"bounds must be finite with xmax > xmin and ymax > ymin, got {bounds!r}"
        )
    if not (math.isfinite(cell_size_m) and cell_size_m > 0):
        raise InvalidParameterError(f"cell_size_m must be > 0, got {cell_size_m!r}")
    nx = math.ceil((xmax - xmin) / cell_size_m)
    ny = math.ceil((ymax - ymin) / cell_size_m)
    col, row = np.meshgrid(np.arange(nx), np.arange(ny))
    x0 = xmin + col.ravel() * cell_size_m
    y0 = ymin + row.ravel() * cell_size_m
    squares = shapely.box(x0, y0, np.minimum(x0 + cell_size_m, xmax), np.minimum(y0 + cell_size_m, ymax))
    if clip is not None:
        squares = shapely.intersection(squares, clip)
    out: list[Polygon | MultiPolygon] = []
    for geom in squares:
        if isinstance(geom, shapely.GeometryCollection) and not isinstance(geom, MultiPolygon):
            # Clipping can leave lines or points beside areal parts.
            parts = [g for g in shapely.get_parts(geom) if isinstance(g, Polygon)]
            geom = parts[0] if len(parts) == 1 else MultiPolygon(parts)
        if isinstance(geom, (Polygon, MultiPolygon)) and geom.area >= _MIN_PIECE_M2:
            out.append(geom)
    return out
