"""RFC 7946 GeoJSON parsing with exact error locations, and output from shapely."""

from __future__ import annotations

import datetime as _dt
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry import (
    GeometryCollection,
    LineString,
    MultiLineString,
    MultiPoint,
    MultiPolygon,
    Point,
    Polygon,
    mapping,
)
from shapely.geometry.base import BaseGeometry

from gis.errors import GeoJSONError

__all__ = [
    "GEOMETRY_TYPES",
    "GeoJSONLimits",
    "parse_bbox",
    "parse_feature",
    "parse_feature_collection",
    "parse_geometry",
    "to_feature",
    "to_feature_collection",
    "to_geometry",
]

#: Coordinate nesting depth of each RFC 7946 geometry type.
_DEPTH = {
    "Point": 1,
    "MultiPoint": 2,
    "LineString": 2,
    "MultiLineString": 3,
    "Polygon": 3,
    "MultiPolygon": 4,
}
#: Geometry types defined by RFC 7946.
GEOMETRY_TYPES: tuple[str, ...] = (*_DEPTH, "GeometryCollection")


@dataclass(frozen=True)
class GeoJSONLimits:
    """Size and range limits applied while parsing untrusted GeoJSON.

    Parameters
    ----------
    max_vertices : int
        Maximum number of positions in one parsed object (a whole
        FeatureCollection counts as one object).
    max_parts : int
        Maximum number of parts: polygon rings, members of multi-geometries
        and members of geometry collections.
    max_depth : int
        Maximum coordinate nesting depth; 4 allows MultiPolygon, 3 stops at
        Polygon/MultiLineString.
    max_bytes : int
        Maximum size of JSON text input, in UTF-8 bytes.
    lon_range, lat_range : tuple of 2 floats
        Accepted longitude and latitude ranges, inclusive.

    Examples
    --------
    >>> GeoJSONLimits().max_vertices
    100000
    >>> GeoJSONLimits(lon_range=(113.0, 115.0)).lon_range
    (113.0, 115.0)
    """

    max_vertices: int = 100_000
    max_parts: int = 10_000
    max_depth: int = 4
    max_bytes: int = 5_000_000
    lon_range: tuple[float, float] = (-180.0, 180.0)
    lat_range: tuple[float, float] = (-90.0, 90.0)


_DEFAULT_LIMITS = GeoJSONLimits()


def _fmt(value: float) -> str:
    """Format a range bound compactly (-180.0 -> '-180')."""
    return f"{value:g}"


def _type_name(value: Any) -> str:
    """Name a JSON value's type in JSON terms for error messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, Mapping):
        return "object"
    return type(value).__name__


def _reject_constant(name: str) -> float:
    """Refuse the non-standard JSON constants NaN and Infinity."""
    raise ValueError(f"{name} is not valid JSON")


def _load(obj: Any, limits: GeoJSONLimits, path: str) -> Any:
    """Decode JSON text (str/bytes) within the byte limit; pass mappings through."""
    if isinstance(obj, (str, bytes, bytearray)):
        size = len(obj.encode("utf-8")) if isinstance(obj, str) else len(obj)
        if size > limits.max_bytes:
            raise GeoJSONError(
                path, f"document is {size} bytes; the limit is {limits.max_bytes}"
            )
        try:
            return json.loads(obj, parse_constant=_reject_constant)
        except ValueError as exc:
            raise GeoJSONError(path, f"invalid JSON: {exc}") from None
    return obj


class _Parser:
    """Walk a GeoJSON tree, counting vertices/parts and building shapely objects."""

    def __init__(
        self,
        limits: GeoJSONLimits,
        allowed_types: Iterable[str] | None,
        require_valid: bool,
    ) -> None:
        self.limits = limits
        self.allowed = None if allowed_types is None else tuple(allowed_types)
        if self.allowed is not None:
            unknown = [t for t in self.allowed if t not in GEOMETRY_TYPES]
            if unknown:
                raise ValueError(
                    f"allowed_types contains unknown types {unknown}; "
                    f"expected names from {GEOMETRY_TYPES}"
                )
        self.require_valid = require_valid
        self.vertices = 0
        self.parts = 0

    def add_parts(self, n: int, path: str) -> None:
        """Count parts and stop at the limit."""
        self.parts += n
        if self.parts > self.limits.max_parts:
            raise GeoJSONError(
                path, f"more than {self.limits.max_parts} parts (rings/members)"
            )

    def position(self, pos: Any, path: str) -> tuple[float, float]:
        """Validate one position and return it as a 2D tuple (z is dropped)."""
        if not isinstance(pos, (list, tuple)):
            raise GeoJSONError(
                path,
                f"expected a position (array of 2 or 3 numbers), got {_type_name(pos)}",
            )
        if not 2 <= len(pos) <= 3:
            raise GeoJSONError(
                path, f"a position must have 2 or 3 numbers, got {len(pos)}"
            )
        for i, v in enumerate(pos):
            # bool is an int subclass but JSON true/false is not a number.
            if type(v) not in (int, float) and not isinstance(
                v, np.floating | np.integer
            ):
                raise GeoJSONError(
                    f"{path}[{i}]", f"expected a number, got {_type_name(v)}"
                )
            if not math.isfinite(v):
                raise GeoJSONError(f"{path}[{i}]", f"{v!r} is not a finite number")
        x, y = float(pos[0]), float(pos[1])
        lo, hi = self.limits.lon_range
        if not lo <= x <= hi:
            raise GeoJSONError(
                f"{path}[0]",
                f"longitude {x!r} is out of range [{_fmt(lo)}, {_fmt(hi)}]",
            )
        lo, hi = self.limits.lat_range
        if not lo <= y <= hi:
            raise GeoJSONError(
                f"{path}[1]", f"latitude {y!r} is out of range [{_fmt(lo)}, {_fmt(hi)}]"
            )
        self.vertices += 1
        if self.vertices > self.limits.max_vertices:
            raise GeoJSONError(path, f"more than {self.limits.max_vertices} vertices")
        return x, y

    def array(self, value: Any, path: str, what: str, min_len: int) -> list | tuple:
        """Check that ``value`` is an array with at least ``min_len`` items."""
        if not isinstance(value, (list, tuple)):
            raise GeoJSONError(
                path, f"expected an array of {what}, got {_type_name(value)}"
            )
        if value and _type_name(value[0]) == "number":
            # A position where an array of positions belongs: wrong nesting depth.
            raise GeoJSONError(
                path,
                f"expected an array of {what}, got an array of numbers "
                "(coordinates are nested too shallow for the geometry type)",
            )
        if len(value) < min_len:
            if min_len == 1:
                raise GeoJSONError(path, f"expected a non-empty array of {what}")
            raise GeoJSONError(
                path, f"expected at least {min_len} {what}, got {len(value)}"
            )
        return value

    def line(self, value: Any, path: str) -> list[tuple[float, float]]:
        """Validate a LineString coordinate array (>= 2 positions)."""
        seq = self.array(value, path, "positions", 2)
        return [self.position(p, f"{path}[{i}]") for i, p in enumerate(seq)]

    def ring(self, value: Any, path: str) -> list[tuple[float, float]]:
        """Validate a closed linear ring (>= 4 positions, first == last)."""
        seq = self.array(value, path, "positions in a linear ring", 4)
        pts = [self.position(p, f"{path}[{i}]") for i, p in enumerate(seq)]
        if pts[0] != pts[-1]:
            raise GeoJSONError(
                path,
                f"linear ring is not closed: first position {list(pts[0])} "
                f"differs from last position {list(pts[-1])}",
            )
        return pts

    def polygon(self, value: Any, path: str) -> Polygon:
        """Validate a Polygon coordinate array (exterior ring, then holes)."""
        rings = self.array(value, path, "linear rings", 1)
        self.add_parts(len(rings), path)
        built = [self.ring(r, f"{path}[{i}]") for i, r in enumerate(rings)]
        return Polygon(built[0], built[1:])

    def geometry(
        self, obj: Any, path: str, in_collection: bool = False
    ) -> BaseGeometry:
        """Validate a geometry object and build the shapely geometry."""
        if not isinstance(obj, Mapping):
            raise GeoJSONError(
                path, f"expected a geometry object, got {_type_name(obj)}"
            )
        gtype = obj.get("type")
        if gtype not in GEOMETRY_TYPES:
            if gtype in ("Feature", "FeatureCollection"):
                reason = f"expected a geometry object, got a {gtype}"
            elif gtype is None:
                reason = "missing member 'type'"
            else:
                reason = (
                    f"unknown geometry type {gtype!r}; expected one of: "
                    + ", ".join(GEOMETRY_TYPES)
                )
            raise GeoJSONError(f"{path}.type" if gtype is not None else path, reason)
        if self.allowed is not None and gtype not in self.allowed:
            raise GeoJSONError(
                f"{path}.type",
                f"geometry type {gtype!r} is not allowed here; expected one of: "
                + ", ".join(self.allowed),
            )
        if gtype == "GeometryCollection":
            return self.collection(obj, path, in_collection)
        depth = _DEPTH[gtype]
        if depth > self.limits.max_depth:
            raise GeoJSONError(
                f"{path}.type",
                f"{gtype} has coordinate depth {depth}; the limit is "
                f"{self.limits.max_depth}",
            )
        if "coordinates" not in obj:
            raise GeoJSONError(path, "missing member 'coordinates'")
        coords = obj["coordinates"]
        cpath = f"{path}.coordinates"
        if gtype == "Point":
            return Point(self.position(coords, cpath))
        if gtype == "LineString":
            return LineString(self.line(coords, cpath))
        if gtype == "Polygon":
            return self.polygon(coords, cpath)
        members = self.array(coords, cpath, "members", 1)
        self.add_parts(len(members), cpath)
        if gtype == "MultiPoint":
            return MultiPoint(
                [self.position(p, f"{cpath}[{i}]") for i, p in enumerate(members)]
            )
        if gtype == "MultiLineString":
            return MultiLineString(
                [self.line(m, f"{cpath}[{i}]") for i, m in enumerate(members)]
            )
        return MultiPolygon(
            [self.polygon(m, f"{cpath}[{i}]") for i, m in enumerate(members)]
        )

    def collection(self, obj: Mapping, path: str, nested: bool) -> GeometryCollection:
        """Validate a GeometryCollection; refuse nesting (RFC 7946 3.1.8)."""
        if nested:
            raise GeoJSONError(
                f"{path}.type", "nested GeometryCollection is not supported"
            )
        if "geometries" not in obj:
            raise GeoJSONError(path, "missing member 'geometries'")
        members = self.array(obj["geometries"], f"{path}.geometries", "geometries", 1)
        self.add_parts(len(members), f"{path}.geometries")
        return GeometryCollection(
            [
                self.geometry(g, f"{path}.geometries[{i}]", in_collection=True)
                for i, g in enumerate(members)
            ]
        )

    def checked(self, obj: Any, path: str) -> BaseGeometry:
        """Parse a geometry and, if required, check OGC validity."""
        geom = self.geometry(obj, path)
        if self.require_valid and not shapely.is_valid(geom):
            raise GeoJSONError(
                path, f"invalid geometry: {shapely.is_valid_reason(geom)}"
            )
        return geom

    def feature(
        self, obj: Any, path: str, geometry_required: bool
    ) -> tuple[BaseGeometry | None, dict, str | int | float | None]:
        """Validate a Feature and return (geometry, properties, id)."""
        if not isinstance(obj, Mapping):
            raise GeoJSONError(
                path or "feature", f"expected a Feature object, got {_type_name(obj)}"
            )
        prefix = f"{path}." if path else ""
        if obj.get("type") != "Feature":
            raise GeoJSONError(
                f"{prefix}type", f"expected type 'Feature', got {obj.get('type')!r}"
            )
        if "geometry" not in obj:
            raise GeoJSONError(path or "feature", "missing member 'geometry'")
        gobj = obj["geometry"]
        if gobj is None:
            if geometry_required:
                raise GeoJSONError(
                    f"{prefix}geometry", "geometry is null; a geometry is required"
                )
            geom = None
        else:
            geom = self.checked(gobj, f"{prefix}geometry")
        props = obj.get("properties")
        if props is None:
            props = {}
        elif not isinstance(props, Mapping):
            raise GeoJSONError(
                f"{prefix}properties",
                f"expected an object or null, got {_type_name(props)}",
            )
        fid = obj.get("id")
        if fid is not None and (
            isinstance(fid, bool) or not isinstance(fid, (str, int, float))
        ):
            raise GeoJSONError(
                f"{prefix}id", f"expected a string or number, got {_type_name(fid)}"
            )
        return geom, dict(props), fid


def parse_geometry(
    obj: Mapping | str | bytes,
    limits: GeoJSONLimits = _DEFAULT_LIMITS,
    allowed_types: Iterable[str] | None = None,
    *,
    require_valid: bool = True,
    path: str = "geometry",
) -> BaseGeometry:
    """Parse and validate a GeoJSON geometry object into a 2D shapely geometry.

    Checks structure per RFC 7946 (types, position arity, ring closure and
    length, finite numbers, lon/lat ranges), the size limits, and, when
    ``require_valid``, OGC validity. Z values are dropped.

    Parameters
    ----------
    obj : mapping, str or bytes
        A decoded geometry object or its JSON text.
    limits : GeoJSONLimits
        Size and range limits.
    allowed_types : iterable of str, optional
        Geometry types to accept, e.g. ``("Polygon", "MultiPolygon")``.
    require_valid : bool
        Raise if the geometry is not OGC-valid (e.g. self-intersecting).
    path : str
        Location prefix used in error messages.

    Returns
    -------
    shapely.Geometry

    Raises
    ------
    GeoJSONError
        With ``path`` pointing at the offending member and ``reason``.

    Examples
    --------
    >>> parse_geometry({"type": "Point", "coordinates": [113.7, 34.7, 90]}).wkt
    'POINT (113.7 34.7)'
    >>> text = '{"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [0, 95], [0, 0]]]}'
    >>> try:
    ...     parse_geometry(text)
    ... except GeoJSONError as err:
    ...     print(err.path, "|", err.reason)
    geometry.coordinates[0][2][1] | latitude 95.0 is out of range [-90, 90]
    >>> line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    >>> try:
    ...     parse_geometry(line, allowed_types=["Polygon"])
    ... except GeoJSONError as err:
    ...     print(err.path)
    ...     print(err.reason)
    geometry.type
    geometry type 'LineString' is not allowed here; expected one of: Polygon
    """
    data = _load(obj, limits, path)
    return _Parser(limits, allowed_types, require_valid).checked(data, path)


def parse_feature(
    obj: Mapping | str | bytes,
    limits: GeoJSONLimits = _DEFAULT_LIMITS,
    allowed_types: Iterable[str] | None = None,
    *,
    require_valid: bool = True,
    geometry_required: bool = True,
) -> tuple[BaseGeometry | None, dict, str | int | float | None]:
    """Parse a GeoJSON Feature into ``(geometry, properties, id)``.

    Parameters
    ----------
    obj : mapping, str or bytes
        A decoded Feature object or its JSON text.
    limits : GeoJSONLimits
        Size and range limits.
    allowed_types : iterable of str, optional
        Geometry types to accept.
    require_valid : bool
        Raise if the geometry is not OGC-valid.
    geometry_required : bool
        If False, a ``null`` geometry is returned as ``None``.

    Returns
    -------
    tuple
        ``(geometry, properties, id)``; ``properties`` is a dict (``{}`` for
        null) and ``id`` is ``None`` when absent.

    Raises
    ------
    GeoJSONError
        With the location (``geometry...``, ``properties``, ``id``) and reason.

    Examples
    --------
    >>> g, props, fid = parse_feature({"type": "Feature", "id": 7,
    ...     "geometry": {"type": "Point", "coordinates": [113.7, 34.7]},
    ...     "properties": {"name": "A"}})
    >>> g.wkt, props, fid
    ('POINT (113.7 34.7)', {'name': 'A'}, 7)
    >>> parse_feature({"type": "Feature", "geometry": None, "properties": None})
    Traceback (most recent call last):
    ...
    gis.errors.GeoJSONError: geometry: geometry is null; a geometry is required
    """
    data = _load(obj, limits, "feature")
    parser = _Parser(limits, allowed_types, require_valid)
    return parser.feature(data, "", geometry_required)


def parse_feature_collection(
    obj: Mapping | str | bytes,
    limits: GeoJSONLimits = _DEFAULT_LIMITS,
    allowed_types: Iterable[str] | None = None,
    *,
    require_valid: bool = True,
    geometry_required: bool = True,
) -> list[tuple[BaseGeometry | None, dict, str | int | float | None]]:
    """Parse a FeatureCollection into a list of ``(geometry, properties, id)``.

    The vertex and part limits apply to the collection as a whole.

    Parameters
    ----------
    obj : mapping, str or bytes
        A decoded FeatureCollection or its JSON text.
    limits : GeoJSONLimits
        Size and range limits.
    allowed_types : iterable of str, optional
        Geometry types to accept.
    require_valid : bool
        Raise if a geometry is not OGC-valid.
    geometry_required : bool
        If False, ``null`` geometries are returned as ``None``.

    Returns
    -------
    list of tuple

    Raises
    ------
    GeoJSONError
        With a path such as ``features[12].geometry.coordinates[0]``.

    Examples
    --------
    >>> fc = {"type": "FeatureCollection", "features": [
    ...     {"type": "Feature", "properties": {}, "geometry":
    ...      {"type": "Point", "coordinates": [1, 2]}},
    ...     {"type": "Feature", "properties": {}, "geometry":
    ...      {"type": "Point", "coordinates": [1, "2"]}}]}
    >>> try:
    ...     parse_feature_collection(fc)
    ... except GeoJSONError as err:
    ...     print(err.path, "|", err.reason)
    features[1].geometry.coordinates[1] | expected a number, got string
    """
    data = _load(obj, limits, "")
    if not isinstance(data, Mapping):
        raise GeoJSONError(
            "", f"expected a FeatureCollection object, got {_type_name(data)}"
        )
    if data.get("type") != "FeatureCollection":
        raise GeoJSONError(
            "type", f"expected type 'FeatureCollection', got {data.get('type')!r}"
        )
    features = data.get("features")
    if not isinstance(features, (list, tuple)):
        raise GeoJSONError(
            "features", f"expected an array of Features, got {_type_name(features)}"
        )
    parser = _Parser(limits, allowed_types, require_valid)
    return [
        parser.feature(f, f"features[{i}]", geometry_required)
        for i, f in enumerate(features)
    ]


def parse_bbox(
    value: str | Iterable[Any], limits: GeoJSONLimits = _DEFAULT_LIMITS
) -> tuple[float, float, float, float]:
    """Parse a ``bbox`` given as ``"minx,miny,maxx,maxy"`` text or a sequence.

    A 6-number 3D bbox (``minx,miny,minz,maxx,maxy,maxz``) is accepted and its
    z values dropped. Boxes crossing the antimeridian (``minx > maxx``) are
    refused.

    Parameters
    ----------
    value : str or sequence
        Comma-separated text or a sequence of 4 or 6 numbers.
    limits : GeoJSONLimits
        Supplies the accepted lon/lat ranges.

    Returns
    -------
    tuple of 4 floats
        ``(minx, miny, maxx, maxy)``.

    Raises
    ------
    GeoJSONError
        With path ``"bbox"`` and the reason.

    Examples
    --------
    >>> parse_bbox("113.6, 34.6, 113.9, 34.9")
    (113.6, 34.6, 113.9, 34.9)
    >>> parse_bbox([113.6, 34.6, 0, 113.9, 34.9, 100])
    (113.6, 34.6, 113.9, 34.9)
    >>> parse_bbox("113.9,34.6,113.6,34.9")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    gis.errors.GeoJSONError: bbox: minx 113.9 is greater than maxx 113.6 (boxes...
    """
    if isinstance(value, str):
        items: list[Any] = [v.strip() for v in value.split(",")]
    else:
        try:
            items = list(value)
        except TypeError:
            raise GeoJSONError(
                "bbox", f"expected 4 numbers 'minx,miny,maxx,maxy', got {value!r}"
            ) from None
    if len(items) not in (4, 6):
        raise GeoJSONError(
            "bbox",
            f"expected 4 numbers 'minx,miny,maxx,maxy' (or 6 for 3D), got {len(items)}",
        )
    nums: list[float] = []
    for i, v in enumerate(items):
        if isinstance(v, bool):
            raise GeoJSONError("bbox", f"item {i} is not a number: {v!r}")
        try:
            f = float(v)
        except (TypeError, ValueError):
            raise GeoJSONError("bbox", f"item {i} is not a number: {v!r}") from None
        if not math.isfinite(f):
            raise GeoJSONError("bbox", f"item {i} is not a finite number: {v!r}")
        nums.append(f)
    if len(nums) == 6:
        nums = [nums[0], nums[1], nums[3], nums[4]]
    minx, miny, maxx, maxy = nums
    for name, v, (lo, hi) in (
        ("minx", minx, limits.lon_range),
        ("maxx", maxx, limits.lon_range),
        ("miny", miny, limits.lat_range),
        ("maxy", maxy, limits.lat_range),
    ):
        if not lo <= v <= hi:
            raise GeoJSONError(
                "bbox", f"{name} {v!r} is out of range [{_fmt(lo)}, {_fmt(hi)}]"
            )
    if miny > maxy:
        raise GeoJSONError("bbox", f"miny {miny!r} is greater than maxy {maxy!r}")
    if minx > maxx:
        raise GeoJSONError(
            "bbox",
            f"minx {minx!r} is greater than maxx {maxx!r} "
            "(boxes crossing the antimeridian are not supported)",
        )
    return minx, miny, maxx, maxy


def _listify(value: Any) -> Any:
    """Turn the nested tuples of ``shapely.geometry.mapping`` into lists."""
    if isinstance(value, dict):
        return {k: _listify(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_listify(v) for v in value]
    return value


def _json_value(value: Any) -> Any:
    """Make a property value JSON-serialisable (numpy scalars, NaN, dates)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (_dt.datetime, _dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _json_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    # pandas NaT/NA and similar missing-value singletons are not JSON.
    if value is not None and type(value).__name__ in ("NaTType", "NAType"):
        return None
    return value


def to_geometry(
    geom: BaseGeometry | None,
    precision: int = 7,
    *,
    src_crs: int | str | None = None,
) -> dict | None:
    """Return an RFC 7946 geometry dict with rounded lon/lat coordinates.

    Polygon rings are oriented counter-clockwise (exterior) / clockwise (holes)
    as RFC 7946 recommends. 7 decimals is about 1 cm.

    Parameters
    ----------
    geom : shapely.Geometry or None
        Geometry in lon/lat, or in ``src_crs`` if given. ``None`` gives ``None``
        (a null Feature geometry).
    precision : int
        Number of decimals to keep.
    src_crs : int or str, optional
        CRS of ``geom``; it is transformed to WGS 84 lon/lat first.

    Returns
    -------
    dict or None

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> to_geometry(Point(113.123456789, 34.5))
    {'type': 'Point', 'coordinates': [113.1234568, 34.5]}
    >>> to_geometry(box(0, 0, 1, 1), precision=0)["coordinates"][0][:2]
    [[1.0, 0.0], [1.0, 1.0]]
    >>> to_geometry(Point(500000, 3846849), 5, src_crs=4547)
    {'type': 'Point', 'coordinates': [114.0, 34.74992]}
    """
    if geom is None:
        return None
    if src_crs is not None:
        from gis.crs import WGS84, transform_geometry

        geom = transform_geometry(geom, src_crs, WGS84)
    geom = shapely.transform(geom, lambda c: np.round(c, precision))
    geom = shapely.orient_polygons(geom, exterior_cw=False)
    return _listify(mapping(geom))


def to_feature(
    geom: BaseGeometry | None,
    properties: Mapping[str, Any] | None = None,
    id: str | int | None = None,
    precision: int = 7,
    *,
    src_crs: int | str | None = None,
) -> dict:
    """Return an RFC 7946 Feature dict.

    Parameters
    ----------
    geom : shapely.Geometry or None
        As for :func:`to_geometry`.
    properties : mapping, optional
        Feature properties; numpy scalars, NaN and dates are made JSON-safe.
    id : str or int, optional
        Feature id; omitted when ``None``.
    precision : int
        Number of decimals to keep.
    src_crs : int or str, optional
        CRS of ``geom`` if not lon/lat.

    Returns
    -------
    dict

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> f = to_feature(Point(1, 2), {"n": 1}, id="a")
    >>> f["type"], f["id"], f["properties"]
    ('Feature', 'a', {'n': 1})
    >>> f["geometry"]
    {'type': 'Point', 'coordinates': [1.0, 2.0]}
    >>> to_feature(None)["geometry"] is None
    True
    """
    feature: dict[str, Any] = {"type": "Feature"}
    if id is not None:
        feature["id"] = _json_value(id)
    feature["geometry"] = to_geometry(geom, precision, src_crs=src_crs)
    feature["properties"] = _json_value(dict(properties or {}))
    return feature


def to_feature_collection(features: Iterable[dict], **members: Any) -> dict:
    """Return an RFC 7946 FeatureCollection dict.

    Parameters
    ----------
    features : iterable of dict
        Feature dicts, e.g. from :func:`to_feature`.
    **members
        Extra foreign members such as ``numberMatched`` or ``links``.

    Returns
    -------
    dict

    Raises
    ------
    ValueError
        If ``members`` tries to set ``type`` or ``features``.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> fc = to_feature_collection([to_feature(Point(1, 2))], numberMatched=1)
    >>> fc["type"], len(fc["features"]), fc["numberMatched"]
    ('FeatureCollection', 1, 1)
    """
    clash = {"type", "features"} & set(members)
    if clash:
        raise ValueError(f"members may not override {sorted(clash)}")
    return {"type": "FeatureCollection", "features": list(features), **members}
