"""Neighbour relations between cells (queen and rook contiguity)."""

from __future__ import annotations

import numpy as np
import shapely

from grid.cells import CellSet
from grid.errors import InvalidParameterError

__all__ = ["RULES", "adjacency", "adjacency_pairs"]

RULES = ("queen", "rook")


def adjacency_pairs(cell_set: CellSet, rule: str = "queen", tolerance: float = 0.0) -> np.ndarray:
    """Return neighbouring cell index pairs ``(i, j)`` with ``i < j``, sorted.

    Parameters
    ----------
    cell_set : CellSet
    rule : {'queen', 'rook'}
        ``'queen'``: the cells share at least one point. ``'rook'``: they
        share a boundary stretch of positive length.
    tolerance : float
        Distance in metres bridging digitising slop. With ``tolerance > 0``,
        queen neighbours are cells within `tolerance` of each other, and rook
        neighbours must also have more than ``3 * tolerance`` metres of
        boundary within `tolerance` of each other (a contact at a single
        corner gives about ``2 * tolerance``).

    Returns
    -------
    numpy.ndarray of int64, shape (n, 2)

    Raises
    ------
    InvalidParameterError
        If `rule` is unknown or `tolerance` is negative.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = CellSet.from_polygons([
    ...     ("410105001001001", box(0, 0, 1, 1)),
    ...     ("410105001001002", box(1, 0, 2, 1)),
    ...     ("410105001001003", box(2, 1, 3, 2)),   # touches cell 2 at a corner
    ... ])
    >>> adjacency_pairs(cells, "queen").tolist()
    [[0, 1], [1, 2]]
    >>> adjacency_pairs(cells, "rook").tolist()
    [[0, 1]]
    """
    if rule not in RULES:
        raise InvalidParameterError(f"rule {rule!r} is not one of {RULES}")
    if not (tolerance >= 0 and np.isfinite(tolerance)):
        raise InvalidParameterError(f"tolerance must be a finite number >= 0, got {tolerance!r}")
    geoms = cell_set.geoms
    tree = shapely.STRtree(geoms)
    if tolerance > 0:
        i, j = tree.query(geoms, predicate="dwithin", distance=tolerance)
    else:
        i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    if rule == "rook" and i.size:
        a, b = shapely.boundary(geoms[i]), shapely.boundary(geoms[j])
        if tolerance > 0:
            shared = shapely.length(shapely.intersection(a, shapely.buffer(b, tolerance)))
            keep = shared > 3 * tolerance
        else:
            # Points have zero length, so only shared segments count.
            keep = shapely.length(shapely.intersection(a, b)) > 0
        i, j = i[keep], j[keep]
    pairs = np.stack([i, j], axis=1).astype(np.int64)
    order = np.lexsort((pairs[:, 1], pairs[:, 0]))
    return pairs[order]


def adjacency(
    cell_set: CellSet, rule: str = "queen", tolerance: float = 0.0
) -> dict[str, frozenset[str]]:
    """Return each cell's neighbours as ``{code: frozenset of codes}``.

    Every cell is a key, with an empty set when it has no neighbours. See
    :func:`adjacency_pairs` for `rule` and `tolerance`.

    Raises
    ------
    InvalidParameterError
        If `rule` is unknown (the message lists ``'queen'`` and ``'rook'``).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = CellSet.from_polygons([
    ...     ("410105001001001", box(0, 0, 1, 1)),
    ...     ("410105001001002", box(1, 1, 2, 2)),
    ... ])
    >>> sorted(adjacency(cells, "queen")["410105001001001"])
    ['410105001001002']
    >>> adjacency(cells, "rook")["410105001001001"]
    frozenset()
    >>> adjacency(cells, "bishop")
    Traceback (most recent call last):
    ...
    grid.errors.InvalidParameterError: rule 'bishop' is not one of ('queen', 'rook')
    """
    pairs = adjacency_pairs(cell_set, rule, tolerance)
    neighbours: dict[str, set[str]] = {code: set() for code in cell_set.codes}
    codes = cell_set.codes
    for i, j in pairs.tolist():
        neighbours[codes[i]].add(codes[j])
        neighbours[codes[j]].add(codes[i])
    return {code: frozenset(n) for code, n in neighbours.items()}
