"""Geometry checks for imports: row-level polygon problems, extents and repair."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.base import BaseGeometry

from gis.errors import InvalidGeometryError

__all__ = ["check_polygons", "ensure_within", "repair_polygon"]

POLYGONAL = ("Polygon", "MultiPolygon")


def check_polygons(
    geoms: Iterable[BaseGeometry | None],
    *,
    max_vertices: int = 100_000,
    allowed_types: Sequence[str] = POLYGONAL,
    rows: Iterable[int] | None = None,
) -> list[dict[str, Any]]:
    """List the problems of a sequence of polygon geometries, one dict per problem.

    Each geometry is checked, in this order, for being missing, of a wrong
    type, empty, having too many vertices, and OGC validity (with
    ``shapely.is_valid_reason``). Only the first problem of a row is reported.

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
        message = _polygon_problem(geom, max_vertices, allowed_types)
        if message is not None:
            problems.append({"row": row, "field": "geometry", "message": message})
    return problems


def _polygon_problem(
    geom: BaseGeometry | None, max_vertices: int, allowed_types: Sequence[str]
) -> str | None:
    """Return the first problem of one geometry, or None if it is fine."""
    if geom is None:
        return "missing geometry"
    if geom.geom_type not in allowed_types:
        return f"wrong geometry type {geom.geom_type}; expected " + " or ".join(
            allowed_types
        )
    if geom.is_empty:
        return "empty geometry"
    n = shapely.get_num_coordinates(geom)
    if n > max_vertices:
        return f"{n} vertices; the limit is {max_vertices}"
    if not shapely.is_valid(geom):
        return f"invalid polygon: {shapely.is_valid_reason(geom)}"
    return None


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
