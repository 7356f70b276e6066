"""Geometry checks for imports and the API: row-level problems, extents and repair."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from gis.errors import InvalidGeometryError

__all__ = [
    "check_polygons",
    "ensure_within",
    "geometry_problem",
    "nonfinite",
    "repair_polygon",
]

POLYGONAL = ("Polygon", "MultiPolygon")


def check_polygons(
    geoms: Iterable[BaseGeometry | None],
    *,
    max_vertices: int = 100_000,
    allowed_types: Sequence[str] = POLYGONAL,
    rows: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """List the problems of a sequence of polygon geometries, one dict per problem.

    Each geometry is checked as by :func:`geometry_problem`; only the first
    problem of a row is reported.

    Parameters
    ----------
    geoms : iterable of shapely.Geometry or None
        Geometries to check, e.g. a GeoSeries.
    max_vertices : int
        Maximum number of vertices per geometry.
    allowed_types : sequence of str
        Accepted geometry types.
    rows : iterable of int, optional
        Row numbers to report (e.g. the ``_row`` column of
        :func:`gis.io.read_vector`); defaults to 1, 2, 3, ...

    Returns
    -------
    list of dict
        ``{"row": int, "field": "geometry", "message": str}``, ready for
        :class:`gis.errors.VectorFileError`; empty when all are fine.

    Examples
    --------
    >>> from shapely.geometry import Point, Polygon, box
    >>> bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
    >>> for p in check_polygons([box(0, 0, 1, 1), bowtie, Point(0, 0), None]):
    ...     print(p["row"], p["message"])
    2 invalid polygon: Self-intersection[0.5 0.5]
    3 wrong geometry type Point; expected Polygon or MultiPolygon
    4 missing geometry
    """
    row_numbers = iter(rows) if rows is not None else None
    problems: list[dict[str, Any]] = []
    for i, geom in enumerate(geoms, start=1):
        row = int(next(row_numbers)) if row_numbers is not None else i
        message = geometry_problem(geom, allowed_types, max_vertices=max_vertices)
        if message is not None:
            problems.append({"row": row, "field": "geometry", "message": message})
    return problems


def geometry_problem(
    geom: BaseGeometry | None,
    allowed_types: Sequence[str] | None = None,
    *,
    max_vertices: int | None = None,
) -> str | None:
    """Return the first problem of one geometry, or None if it is fine.

    The checks, in order: missing, wrong type, empty, non-finite coordinates,
    too many vertices, OGC validity (``shapely.is_valid_reason``: too few
    points, self-intersections ...). File imports and the API share it, so a
    geometry is refused with the same words wherever it comes from.

    Parameters
    ----------
    geom : shapely.Geometry or None
        The geometry to check.
    allowed_types : sequence of str, optional
        Accepted geometry types; any type when omitted.
    max_vertices : int, optional
        Maximum number of vertices.

    Returns
    -------
    str or None

    Examples
    --------
    >>> from shapely.geometry import LineString, Point
    >>> print(geometry_problem(Point(float("nan"), 1)))
    non-finite coordinate (NaN or infinity)
    >>> print(geometry_problem(LineString([(0, 0), (0, 0)]), ["LineString"]))
    invalid geometry: Too few points in geometry component[0 0]
    >>> geometry_problem(Point(1, 2), ["Point"]) is None
    True
    """
    if geom is None:
        return "missing geometry"
    if allowed_types is not None and geom.geom_type not in allowed_types:
        return f"wrong geometry type {geom.geom_type}; expected " + " or ".join(
            allowed_types
        )
    if geom.is_empty:
        return "empty geometry"
    if nonfinite([geom])[0]:
        return "non-finite coordinate (NaN or infinity)"
    n = shapely.get_num_coordinates(geom)
    if max_vertices is not None and n > max_vertices:
        return f"{n} vertices; the limit is {max_vertices}"
    if not shapely.is_valid(geom):
        what = "polygon" if geom.geom_type in POLYGONAL else "geometry"
        return f"invalid {what}: {shapely.is_valid_reason(geom)}"
    return None


def nonfinite(geoms: Sequence[BaseGeometry | None]) -> np.ndarray:
    """Tell, for each geometry, whether an x or y coordinate is NaN or infinite.

    Vectorised, so a reader can screen a whole file before the CRS checks and
    reprojection, which such coordinates would derail.

    Parameters
    ----------
    geoms : sequence of shapely.Geometry or None

    Returns
    -------
    numpy.ndarray of bool

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> nonfinite([Point(1, 2), None, Point(float("inf"), 2)]).tolist()
    [False, False, True]
    """
    arr = np.asarray(geoms, dtype=object)
    out = np.zeros(len(arr), dtype=bool)
    if len(arr):
        coords, owner = shapely.get_coordinates(arr, return_index=True)
        out[owner[~np.isfinite(coords).all(axis=1)]] = True
    return out


def ensure_within(
    geom: BaseGeometry,
    extent: BaseGeometry | Sequence[float],
    what: str = "geometry",
    *,
    extent_name: str = "the allowed extent",
) -> BaseGeometry:
    """Return ``geom`` if it lies within ``extent``, else raise.

    Parameters
    ----------
    geom : shapely.Geometry
        Geometry to check, in the same CRS as ``extent``.
    extent : shapely.Geometry or sequence of 4 floats
        Area (or ``(minx, miny, maxx, maxy)`` box) the geometry must lie in;
        touching the boundary counts as inside.
    what : str
        Name of the geometry for the error message.
    extent_name : str
        Name of the extent for the error message.

    Returns
    -------
    shapely.Geometry
        ``geom`` unchanged.

    Raises
    ------
    InvalidGeometryError
        If ``geom`` is empty or not covered by ``extent``.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> ensure_within(Point(1, 1), (0, 0, 2, 2)).wkt
    'POINT (1 1)'
    >>> try:
    ...     ensure_within(Point(3, 1), (0, 0, 2, 2), "case", extent_name="the city")
    ... except InvalidGeometryError as err:
    ...     print(err)
    case (bounds 3, 1, 3, 1) is outside the city (bounds 0, 0, 2, 2)
    """
    area = extent if isinstance(extent, BaseGeometry) else box(*extent)
    if geom is None or geom.is_empty:
        raise InvalidGeometryError(f"{what} is empty")
    if not area.covers(geom):
        gb = ", ".join(f"{v:.8g}" for v in geom.bounds)
        eb = ", ".join(f"{v:.8g}" for v in area.bounds)
        raise InvalidGeometryError(
            f"{what} (bounds {gb}) is outside {extent_name} (bounds {eb})"
        )
    return geom


def repair_polygon(
    geom: BaseGeometry, what: str = "geometry"
) -> Polygon | MultiPolygon:
    """Return a valid polygonal version of ``geom`` using ``shapely.make_valid``.

    Lower-dimension leftovers (lines and points from collapsed parts) are
    dropped; a valid polygon is returned unchanged.

    Parameters
    ----------
    geom : shapely.Geometry
        A Polygon or MultiPolygon, possibly invalid.
    what : str
        Name of the geometry for error messages.

    Returns
    -------
    shapely.Polygon or shapely.MultiPolygon

    Raises
    ------
    InvalidGeometryError
        If ``geom`` is not polygonal or nothing polygonal is left.

    Examples
    --------
    >>> from shapely.geometry import Polygon
    >>> fixed = repair_polygon(Polygon([(0, 0), (2, 2), (2, 0), (0, 2)]))
    >>> fixed.geom_type, fixed.is_valid, fixed.area
    ('MultiPolygon', True, 2.0)
    """
    if geom is None or geom.geom_type not in POLYGONAL:
        kind = "missing" if geom is None else geom.geom_type
        raise InvalidGeometryError(
            f"{what} must be a Polygon or MultiPolygon, got {kind}"
        )
    if geom.is_valid:
        return geom
    fixed = shapely.make_valid(geom, method="structure", keep_collapsed=False)
    if fixed.geom_type == "GeometryCollection":
        polys = [g for g in fixed.geoms if g.geom_type in POLYGONAL]
        fixed = shapely.union_all(polys) if polys else Polygon()
    if fixed.is_empty or fixed.geom_type not in POLYGONAL:
        raise InvalidGeometryError(
            f"{what} has no area left after repair: {shapely.is_valid_reason(geom)}"
        )
    return fixed
