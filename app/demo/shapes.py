"""Small geometry conversions shared by the demo layers (shapely → database)."""

from __future__ import annotations

import numpy as np
import shapely
from geoalchemy2.elements import WKBElement
from geoalchemy2.shape import from_shape
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from .errors import DemoError

__all__ = ["NODE_TOLERANCE_M", "clean_union", "node_coverage", "to_db", "to_multipolygon", "union_blocks"]

#: Vertices closer than this (metres) are one vertex; a vertex this close to an edge lies on it.
NODE_TOLERANCE_M = 1e-6


def to_multipolygon(geom: BaseGeometry) -> MultiPolygon:
    """The polygonal parts of ``geom`` as one MultiPolygon (the column type of every area).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> to_multipolygon(box(0, 0, 1, 1)).geom_type
    'MultiPolygon'
    """
    if isinstance(geom, MultiPolygon):
        return geom
    if isinstance(geom, Polygon):
        return MultiPolygon([geom])
    parts = [g for g in getattr(geom, "geoms", []) if isinstance(g, Polygon) and not g.is_empty]
    for g in getattr(geom, "geoms", []):
        if isinstance(g, MultiPolygon):
            parts.extend(g.geoms)
    if not parts:
        raise DemoError(f"expected a polygonal geometry, got {geom.geom_type}")
    return MultiPolygon(parts)


def to_db(geom: BaseGeometry, srid: int, multi: bool = True) -> WKBElement:
    """A WKB element for a geometry column in ``srid`` (MultiPolygon unless ``multi=False``).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> to_db(box(0, 0, 1, 1), 4547).srid
    4547
    """
    return from_shape(to_multipolygon(geom) if multi else geom, srid=srid)


def union_blocks(geoms: list[BaseGeometry]) -> MultiPolygon:
    """Union of areas that share their edges vertex for vertex (blocks, and unions of them).

    Blocks are faces of one noded line network, so adjacent blocks have identical edges
    and the overlay dissolves them exactly, without cracks.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> merged = union_blocks([box(0, 0, 1, 1), box(1, 0, 2, 1), box(5, 0, 6, 1)])
    >>> len(merged.geoms), merged.area
    (2, 3.0)
    """
    return to_multipolygon(shapely.union_all(geoms))


def clean_union(geoms: list[BaseGeometry], grid_size: float = 0.001, min_hole_m2: float = 1.0) -> MultiPolygon:
    """Union of adjacent polygons without hairline cracks.

    Cells cut from a block meet at vertices that lie on a neighbour's edge only up to
    rounding; a plain union leaves zero-width cracks and needle holes there.  Snapping
    to ``grid_size`` metres closes them; holes smaller than ``min_hole_m2`` are dropped.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> clean_union([box(0, 0, 1, 1), box(1, 0, 2, 1)]).area
    2.0
    """
    merged = to_multipolygon(shapely.union_all(geoms, grid_size=grid_size))
    return MultiPolygon(
        [
            Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= min_hole_m2])
            for p in merged.geoms
        ]
    )


def node_coverage(polygons: list[Polygon], tolerance: float = NODE_TOLERANCE_M) -> list[Polygon]:
    """Make polygons that tile an area share their edges vertex for vertex.

    A cut that ends on a neighbour's edge puts a vertex there that the neighbour lacks
    (a T-junction), and its computed position is off the edge by rounding: between the
    two polygons opens a crack, or an overlap, about 1e-10 m wide.  A point on the
    shared edge (say a road centreline) can then lie in no polygon, or in two.  This
    merges vertices closer than ``tolerance`` into one (the lexicographically smallest)
    and inserts every vertex lying within ``tolerance`` of a neighbour's edge into that
    edge, so shared edges become identical (a valid coverage).  Shapes move by at most
    ``tolerance``.  (Snapping each polygon to a grid on its own would not do: a
    T-junction vertex rounds to a point off the neighbour's rounded edge.)

    Raises
    ------
    DemoError
        If a polygon becomes invalid (only for degenerate input).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> left, right = box(0, 0, 1, 2), Polygon([(1, 0), (2, 0), (2, 2), (1, 2), (1.0 + 1e-12, 1.0)])
    >>> [len(p.exterior.coords) for p in node_coverage([left, right])]
    [6, 6]
    >>> bool(shapely.coverage_is_valid(node_coverage([left, right])))
    True
    """
    geoms = np.array(polygons, dtype=object)
    coords, owner = shapely.get_coordinates(geoms, return_index=True)
    # 1. One vertex for each cluster of near-identical vertices.
    uniq, inverse = np.unique(coords, axis=0, return_inverse=True)
    points = shapely.points(uniq)
    a, b = shapely.STRtree(points).query(points, predicate="dwithin", distance=tolerance)
    canon = np.arange(len(uniq))
    for i, j in sorted(zip(a.tolist(), b.tolist())):
        if i < j:  # union-find, the smallest (sorted) vertex is the root
            ri, rj = _root(canon, i), _root(canon, j)
            canon[max(ri, rj)] = min(ri, rj)
    canon = np.array([_root(canon, k) for k in range(len(uniq))])
    geoms = shapely.set_coordinates(geoms.copy(), uniq[canon[inverse.ravel()]])
    geoms = shapely.remove_repeated_points(geoms, 0.0)
    # 2. Vertices of neighbours lying on an edge become vertices of that edge.
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="dwithin", distance=tolerance)
    keep = left != right
    order = np.lexsort((right[keep], left[keep]))
    left, right = left[keep][order], right[keep][order]
    bounds = np.searchsorted(left, np.arange(len(geoms) + 1))
    out: list[Polygon] = []
    for i, geom in enumerate(geoms):
        nbrs = right[bounds[i] : bounds[i + 1]]
        if nbrs.size == 0:
            out.append(geom)
            continue
        cand = np.unique(shapely.get_coordinates(geoms[nbrs]), axis=0)
        rings = [_insert_on_edges(np.asarray(r.coords), cand, tolerance) for r in (geom.exterior, *geom.interiors)]
        noded = Polygon(rings[0], rings[1:])
        if not noded.is_valid:
            raise DemoError(f"polygon {i} at {geom.representative_point().coords[0]}: invalid after noding")
        out.append(noded)
    return out


def _root(parent: np.ndarray, k: int) -> int:
    while parent[k] != k:
        k = int(parent[k])
    return k


def _insert_on_edges(ring: np.ndarray, points: np.ndarray, tolerance: float) -> np.ndarray:
    """``ring`` (closed, n × 2) with the ``points`` lying strictly inside its edges inserted."""
    start, delta = ring[:-1], np.diff(ring, axis=0)
    length2 = (delta**2).sum(axis=1)
    rel = points[None, :, :] - start[:, None, :]  # edge × point
    t = (rel * delta[:, None, :]).sum(axis=2) / length2[:, None]
    off = rel - t[:, :, None] * delta[:, None, :]
    near = (off**2).sum(axis=2) <= tolerance**2
    margin = tolerance / np.sqrt(length2)[:, None]
    hit = near & (t > margin) & (t < 1.0 - margin)
    if not hit.any():
        return ring
    parts = []
    for k in range(len(start)):
        parts.append(start[k : k + 1])
        ks = np.flatnonzero(hit[k])
        if ks.size:
            parts.append(points[ks[np.argsort(t[k, ks], kind="stable")]])
    parts.append(ring[-1:])
    return np.vstack(parts)
