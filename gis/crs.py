"""Coordinate reference systems: names, pyproj transformers and GCJ-02/BD-09 offsets."""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pyproj
import pyproj.exceptions
import shapely
from shapely.geometry.base import BaseGeometry

from gis.errors import CRSError, UnknownCRSError

__all__ = [
    "CGCS2000",
    "CRS84",
    "CRS_ALIASES",
    "DEFAULT_STORAGE_SRID",
    "INPUT_CRS",
    "WGS84",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "is_out_of_china",
    "lonlat_to_storage",
    "normalize_crs_name",
    "storage_to_lonlat",
    "to_wgs84",
    "transform_bbox",
    "transform_geometry",
    "transformer",
    "validate_lonlat",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]

LOGGER = logging.getLogger(__name__)

#: RFC 7946 / OGC lon-lat WGS 84 identifier.
CRS84 = "OGC:CRS84"
#: EPSG code of WGS 84 geographic coordinates.
WGS84 = 4326
#: EPSG code of CGCS2000 geographic coordinates.
CGCS2000 = 4490
#: CGCS2000 / 3-degree Gauss-Kruger CM 114E, metres (Zhengzhou).
DEFAULT_STORAGE_SRID = 4547
#: Canonical names of the CRSs accepted for user-supplied lon/lat input.
INPUT_CRS: tuple[str, ...] = ("wgs84", "cgcs2000", "gcj02", "bd09")

#: Case-insensitive aliases for :data:`INPUT_CRS`; ``bd09`` means Baidu lon/lat
#: (``bd09ll``), not Baidu Mercator (``bd09mc``), which is not supported.
CRS_ALIASES: dict[str, str] = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "crs84": "wgs84",
    "ogc:crs84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "cgcs2000": "cgcs2000",
    "epsg:4490": "cgcs2000",
    "4490": "cgcs2000",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "amap": "gcj02",
    "gaode": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "bd09ll": "bd09",
    "baidu": "bd09",
}

# Krasovsky 1940 ellipsoid as used by the GCJ-02 algorithm.
_GCJ_A = 6378245.0
_GCJ_EE = 0.00669342162296594323
_BD_X_PI = math.pi * 3000.0 / 180.0
_ITER_TOL_DEG = 1e-9
_ITER_MAX = 30

# Geographic CRSs whose lon/lat we treat as WGS 84: CGCS2000 differs by cm.
_PYPROJ_NAMES: dict[str, int] = {"wgs84": WGS84, "cgcs2000": CGCS2000}
_OFFSET_NAMES = ("gcj02", "bd09")

CRSLike = int | str


def normalize_crs_name(name: str | int | None) -> str:
    """Return the canonical input-CRS name for a user-supplied name.

    Parameters
    ----------
    name : str, int or None
        A name from :data:`INPUT_CRS` or an alias in :data:`CRS_ALIASES`,
        in any case. ``None`` and ``""`` mean ``"wgs84"``.

    Returns
    -------
    str
        One of :data:`INPUT_CRS`.

    Raises
    ------
    UnknownCRSError
        If the name is not recognised; its message lists the accepted names.

    Examples
    --------
    >>> normalize_crs_name("EPSG:4326")
    'wgs84'
    >>> normalize_crs_name(None)
    'wgs84'
    >>> normalize_crs_name("GCJ-02")
    'gcj02'
    >>> normalize_crs_name("utm")
    Traceback (most recent call last):
    ...
    gis.errors.UnknownCRSError: unknown CRS 'utm'; expected one of: wgs84, ...
    """
    if name is None:
        return "wgs84"
    key = str(name).strip().lower()
    if key == "":
        return "wgs84"
    try:
        return CRS_ALIASES[key]
    except KeyError:
        aliases = tuple(sorted(set(CRS_ALIASES) - set(INPUT_CRS)))
        raise UnknownCRSError(name, INPUT_CRS, aliases) from None


def _pyproj_crs(crs: CRSLike) -> CRSLike:
    """Map an input-CRS alias to an EPSG code; pass other values through."""
    if isinstance(crs, str) and crs.strip().lower() in CRS_ALIASES:
        name = CRS_ALIASES[crs.strip().lower()]
        if name in _OFFSET_NAMES:
            raise CRSError(
                f"{crs!r} is an offset datum, not a pyproj CRS; "
                "use to_wgs84/from_wgs84 or transform_geometry"
            )
        return _PYPROJ_NAMES[name]
    return crs


def transformer(src: CRSLike, dst: CRSLike) -> pyproj.Transformer:
    """Return a cached lon/lat-ordered pyproj transformer from ``src`` to ``dst``.

    Parameters
    ----------
    src, dst : int or str
        EPSG codes, any CRS string pyproj understands, or ``"wgs84"`` /
        ``"cgcs2000"``.

    Returns
    -------
    pyproj.Transformer
        Built with ``always_xy=True`` so the axis order is always x/lon, y/lat.

    Raises
    ------
    CRSError
        If pyproj does not know either CRS.

    Examples
    --------
    >>> t = transformer(4326, 4547)
    >>> t is transformer(4326, 4547)
    True
    >>> x, y = t.transform(114.0, 34.76)
    >>> round(x, 3)
    500000.0
    """
    return _cached_transformer(_pyproj_crs(src), _pyproj_crs(dst))


@functools.lru_cache(maxsize=64)
def _cached_transformer(src: CRSLike, dst: CRSLike) -> pyproj.Transformer:
    """Build one transformer per (src, dst) pair; pyproj >= 3.1 is thread-safe."""
    try:
        return pyproj.Transformer.from_crs(src, dst, always_xy=True)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(
            f"cannot build a transformer from {src!r} to {dst!r}: {exc}"
        ) from exc


def _as_arrays(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    """Return float arrays for lon/lat and whether both inputs were scalars."""
    x = np.asarray(lon, dtype=float)
    y = np.asarray(lat, dtype=float)
    return x, y, x.ndim == 0 and y.ndim == 0


def _result(x: np.ndarray, y: np.ndarray, scalar: bool) -> tuple[Any, Any]:
    """Return floats for scalar input and arrays otherwise."""
    if scalar:
        return float(x), float(y)
    return x, y


def is_out_of_china(lon: Any, lat: Any) -> Any:
    """Tell whether points lie outside the rectangle where GCJ-02 shifts apply.

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in degrees.

    Returns
    -------
    bool or numpy.ndarray of bool

    Examples
    --------
    >>> is_out_of_china(113.729, 34.762)
    False
    >>> is_out_of_china([2.35, 116.4], [48.85, 39.9]).tolist()
    [True, False]
    """
    x, y, scalar = _as_arrays(lon, lat)
    out = (x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271)
    return bool(out) if scalar else out


def _gcj_delta(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the GCJ-02 (dlon, dlat) offset in degrees at WGS 84 points."""
    dx = x - 105.0
    dy = y - 35.0
    pi = math.pi
    sqrt_abs = np.sqrt(np.abs(dx))
    common = (20.0 * np.sin(6.0 * dx * pi) + 20.0 * np.sin(2.0 * dx * pi)) * 2.0 / 3.0
    dlat = -100.0 + 2.0 * dx + 3.0 * dy + 0.2 * dy * dy + 0.1 * dx * dy + 0.2 * sqrt_abs
    dlat = dlat + common
    dlat = dlat + (20.0 * np.sin(dy * pi) + 40.0 * np.sin(dy / 3.0 * pi)) * 2.0 / 3.0
    dlat = (
        dlat
        + (160.0 * np.sin(dy / 12.0 * pi) + 320.0 * np.sin(dy * pi / 30.0)) * 2.0 / 3.0
    )
    dlon = 300.0 + dx + 2.0 * dy + 0.1 * dx * dx + 0.1 * dx * dy + 0.1 * sqrt_abs
    dlon = dlon + common
    dlon = dlon + (20.0 * np.sin(dx * pi) + 40.0 * np.sin(dx / 3.0 * pi)) * 2.0 / 3.0
    dlon = (
        dlon
        + (150.0 * np.sin(dx / 12.0 * pi) + 300.0 * np.sin(dx / 30.0 * pi)) * 2.0 / 3.0
    )
    rad = y / 180.0 * pi
    magic = 1.0 - _GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    dlat = dlat * 180.0 / ((_GCJ_A * (1.0 - _GCJ_EE)) / (magic * sqrt_magic) * pi)
    dlon = dlon * 180.0 / (_GCJ_A / sqrt_magic * np.cos(rad) * pi)
    return dlon, dlat


def _w2g(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array version of :func:`wgs84_to_gcj02`."""
    dlon, dlat = _gcj_delta(x, y)
    out = (x < 72.004) | (x > 137.8347) | (y < 0.8293) | (y > 55.8271)
    return np.where(out, x, x + dlon), np.where(out, y, y + dlat)


def _g2bd(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Array version of :func:`gcj02_to_bd09`."""
    z = np.sqrt(x * x + y * y) + 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) + 0.000003 * np.cos(x * _BD_X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def _invert(
    forward: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    tx: np.ndarray,
    ty: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``forward(x, y) == (tx, ty)`` by fixed-point iteration from a guess.

    The offsets change by < 1e-5 per degree, so each step gains about five
    digits; NaN inputs stay NaN and do not block convergence.
    """
    for _ in range(_ITER_MAX):
        fx, fy = forward(x, y)
        ex, ey = fx - tx, fy - ty
        x = x - ex
        y = y - ey
        if not (
            np.any(np.abs(ex) >= _ITER_TOL_DEG) or np.any(np.abs(ey) >= _ITER_TOL_DEG)
        ):
            break
    else:
        LOGGER.warning("offset inversion did not converge in %d iterations", _ITER_MAX)
    return x, y


def wgs84_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS 84 lon/lat to GCJ-02 (Gaode/Tencent "Mars" coordinates).

    Points outside China's bounding rectangle are returned unchanged.

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = wgs84_to_gcj02(116.404, 39.915)
    >>> round(lon, 9), round(lat, 9)
    (116.410244499, 39.916404282)
    >>> wgs84_to_gcj02(2.35, 48.85)
    (2.35, 48.85)
    """
    x, y, scalar = _as_arrays(lon, lat)
    return _result(*_w2g(x, y), scalar)


def gcj02_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 lon/lat to WGS 84 by iterating the forward transform.

    Iterates until the residual is below 1e-9 degree (at most 30 steps), so the
    result is exact to about 0.1 mm, not the 1–2 m of the one-step inverse.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = gcj02_to_wgs84(*wgs84_to_gcj02(113.729, 34.762))
    >>> abs(lon - 113.729) < 1e-9 and abs(lat - 34.762) < 1e-9
    True
    """
    tx, ty, scalar = _as_arrays(lon, lat)
    return _result(*_invert(_w2g, tx, ty, tx, ty), scalar)


def gcj02_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert GCJ-02 lon/lat to Baidu BD-09 lon/lat.

    The BD-09 shift has no out-of-China guard, like Baidu's own code.

    Parameters
    ----------
    lon, lat : float or array_like
        GCJ-02 coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = gcj02_to_bd09(116.404, 39.915)
    >>> round(lon, 9), round(lat, 9)
    (116.410369494, 39.921336994)
    """
    x, y, scalar = _as_arrays(lon, lat)
    return _result(*_g2bd(x, y), scalar)


def bd09_to_gcj02(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert Baidu BD-09 lon/lat to GCJ-02 lon/lat.

    Starts from the common closed-form inverse (error about 1e-6 degree) and
    refines it by iteration to 1e-9 degree.

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = bd09_to_gcj02(*gcj02_to_bd09(113.729, 34.762))
    >>> abs(lon - 113.729) < 1e-9 and abs(lat - 34.762) < 1e-9
    True
    """
    tx, ty, scalar = _as_arrays(lon, lat)
    x = tx - 0.0065
    y = ty - 0.006
    z = np.sqrt(x * x + y * y) - 0.00002 * np.sin(y * _BD_X_PI)
    theta = np.arctan2(y, x) - 0.000003 * np.cos(x * _BD_X_PI)
    gx, gy = z * np.cos(theta), z * np.sin(theta)
    return _result(*_invert(_g2bd, tx, ty, gx, gy), scalar)


def wgs84_to_bd09(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert WGS 84 lon/lat to Baidu BD-09 lon/lat (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = wgs84_to_bd09(113.729, 34.762)
    >>> round(lon - 113.729, 4), round(lat - 34.762, 4)
    (0.0126, 0.0051)
    """
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Convert Baidu BD-09 lon/lat to WGS 84 lon/lat (via GCJ-02).

    Parameters
    ----------
    lon, lat : float or array_like
        BD-09 coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = bd09_to_wgs84(*wgs84_to_bd09(113.729, 34.762))
    >>> round(lon, 9), round(lat, 9)
    (113.729, 34.762)
    """
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


_TO_WGS84 = {"gcj02": gcj02_to_wgs84, "bd09": bd09_to_wgs84}
_FROM_WGS84 = {"gcj02": wgs84_to_gcj02, "bd09": wgs84_to_bd09}


def to_wgs84(lon: Any, lat: Any, crs: str | None = "wgs84") -> tuple[Any, Any]:
    """Convert lon/lat in any of :data:`INPUT_CRS` to WGS 84 (CRS84 order).

    ``cgcs2000`` is returned unchanged: it differs from WGS 84 by centimetres,
    which is below city-management accuracy.

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in degrees.
    crs : str or None
        Input CRS name or alias (see :func:`normalize_crs_name`).

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Raises
    ------
    UnknownCRSError
        If ``crs`` is not recognised.

    Examples
    --------
    >>> to_wgs84(113.7, 34.7, "cgcs2000")
    (113.7, 34.7)
    >>> lon, lat = to_wgs84(116.41024449916938, 39.91640428150164, "amap")
    >>> round(lon, 6), round(lat, 6)
    (116.404, 39.915)
    """
    name = normalize_crs_name(crs)
    if name in _TO_WGS84:
        return _TO_WGS84[name](lon, lat)
    x, y, scalar = _as_arrays(lon, lat)
    return _result(x, y, scalar)


def from_wgs84(lon: Any, lat: Any, crs: str | None = "wgs84") -> tuple[Any, Any]:
    """Convert WGS 84 lon/lat to any of :data:`INPUT_CRS` (e.g. for Gaode maps).

    Parameters
    ----------
    lon, lat : float or array_like
        WGS 84 coordinates in degrees.
    crs : str or None
        Output CRS name or alias (see :func:`normalize_crs_name`).

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Raises
    ------
    UnknownCRSError
        If ``crs`` is not recognised.

    Examples
    --------
    >>> lon, lat = from_wgs84(116.404, 39.915, "gcj02")
    >>> round(lon, 6), round(lat, 6)
    (116.410244, 39.916404)
    """
    name = normalize_crs_name(crs)
    if name in _FROM_WGS84:
        return _FROM_WGS84[name](lon, lat)
    x, y, scalar = _as_arrays(lon, lat)
    return _result(x, y, scalar)


XYFunc = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


def _offset_name(crs: CRSLike) -> str | None:
    """Return ``"gcj02"``/``"bd09"`` if ``crs`` names an offset datum."""
    if isinstance(crs, str):
        name = CRS_ALIASES.get(crs.strip().lower())
        if name in _OFFSET_NAMES:
            return name
    return None


@functools.lru_cache(maxsize=64)
def _xy_func(src: CRSLike, dst: CRSLike) -> XYFunc:
    """Compose offset-datum and pyproj steps into one (x, y) -> (x, y) function."""
    steps: list[XYFunc] = []
    src_off, dst_off = _offset_name(src), _offset_name(dst)
    if src_off:
        steps.append(lambda x, y, f=_TO_WGS84[src_off]: f(x, y))
        src = WGS84
    if dst_off:
        dst = WGS84
    src_p, dst_p = _pyproj_crs(src), _pyproj_crs(dst)
    if src_p != dst_p:
        tr = transformer(src_p, dst_p)
        if not tr.source_crs.equals(tr.target_crs, ignore_axis_order=True):
            steps.append(lambda x, y, t=tr: t.transform(x, y))
    if dst_off:
        steps.append(lambda x, y, f=_FROM_WGS84[dst_off]: f(x, y))

    def apply(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        for step in steps:
            x, y = step(x, y)
        return np.asarray(x, dtype=float), np.asarray(y, dtype=float)

    return apply


def lonlat_to_storage(
    lon: Any, lat: Any, srid: int = DEFAULT_STORAGE_SRID, crs: str | None = "wgs84"
) -> tuple[Any, Any]:
    """Convert user lon/lat in an input CRS to storage coordinates.

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in degrees.
    srid : int
        EPSG code of the storage CRS.
    crs : str or None
        Input CRS name or alias of ``lon``/``lat`` (see :data:`INPUT_CRS`).

    Returns
    -------
    tuple
        ``(x, y)`` as floats for scalar input, else numpy arrays.

    Raises
    ------
    UnknownCRSError
        If ``crs`` is not recognised.
    CRSError
        If ``srid`` is unknown to pyproj.

    Examples
    --------
    >>> x, y = lonlat_to_storage(114.0, 34.762, 4547)
    >>> round(x, 2)
    500000.0
    >>> lonlat_to_storage(114.0, 34.762, 4490)
    (114.0, 34.762)
    """
    lon84, lat84 = to_wgs84(lon, lat, crs)
    x, y, scalar = _as_arrays(lon84, lat84)
    return _result(*_xy_func(WGS84, srid)(x, y), scalar)


def storage_to_lonlat(
    x: Any, y: Any, srid: int = DEFAULT_STORAGE_SRID
) -> tuple[Any, Any]:
    """Convert storage coordinates to WGS 84 lon/lat.

    Parameters
    ----------
    x, y : float or array_like
        Coordinates in the storage CRS.
    srid : int
        EPSG code of the storage CRS.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Examples
    --------
    >>> lon, lat = storage_to_lonlat(*lonlat_to_storage(113.729, 34.762))
    >>> round(lon, 9), round(lat, 9)
    (113.729, 34.762)
    """
    xa, ya, scalar = _as_arrays(x, y)
    return _result(*_xy_func(srid, WGS84)(xa, ya), scalar)


def transform_geometry(geom: BaseGeometry, src: CRSLike, dst: CRSLike) -> BaseGeometry:
    """Transform a shapely geometry between two CRSs.

    Parameters
    ----------
    geom : shapely.Geometry or array_like of Geometry
        Geometry (or array of them, ``None`` allowed) in ``src``
        (x = lon/easting, y = lat/northing).
    src, dst : int or str
        EPSG codes, pyproj CRS strings, or input-CRS names; ``"gcj02"`` and
        ``"bd09"`` are applied as offsets from WGS 84.

    Returns
    -------
    shapely.Geometry or numpy.ndarray of Geometry
        2D geometry (or array) in ``dst``; z values are dropped.

    Raises
    ------
    CRSError
        If either CRS is unknown.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> p = transform_geometry(Point(114.0, 34.762), 4326, 4547)
    >>> round(p.x, 2)
    500000.0
    >>> transform_geometry(Point(1, 2), 4326, "wgs84").wkt
    'POINT (1 2)'
    """
    func = _xy_func(src, dst)
    return shapely.transform(geom, func, interleaved=False)


def transform_bbox(
    bbox: tuple[float, float, float, float] | Any,
    src: CRSLike,
    dst: CRSLike,
    densify: int = 21,
) -> tuple[float, float, float, float]:
    """Transform a bounding box, densifying its edges so curved edges are covered.

    Parameters
    ----------
    bbox : sequence of 4 floats
        ``(minx, miny, maxx, maxy)`` in ``src``.
    src, dst : int or str
        As for :func:`transform_geometry`.
    densify : int
        Number of extra points inserted along each edge.

    Returns
    -------
    tuple of 4 floats
        ``(minx, miny, maxx, maxy)`` in ``dst`` enclosing the transformed box.

    Raises
    ------
    CRSError
        If the box is not four finite numbers with min <= max, or a CRS is unknown.

    Examples
    --------
    >>> b = transform_bbox((113.6, 34.6, 113.9, 34.9), 4326, 4547)
    >>> [round(v) for v in b]
    [463308, 3830223, 490860, 3863572]
    """
    try:
        minx, miny, maxx, maxy = (float(v) for v in bbox)
    except (TypeError, ValueError):
        raise CRSError(
            f"bbox must be four numbers (minx, miny, maxx, maxy), got {bbox!r}"
        ) from None
    if not all(math.isfinite(v) for v in (minx, miny, maxx, maxy)):
        raise CRSError(f"bbox values must be finite, got {bbox!r}")
    if minx > maxx or miny > maxy:
        raise CRSError(f"bbox must have minx <= maxx and miny <= maxy, got {bbox!r}")
    if densify < 0:
        raise CRSError(f"densify must be >= 0, got {densify}")
    t = np.linspace(0.0, 1.0, densify + 2)
    xs = np.concatenate(
        [
            minx + (maxx - minx) * t,
            np.full_like(t, maxx),
            maxx - (maxx - minx) * t,
            np.full_like(t, minx),
        ]
    )
    ys = np.concatenate(
        [
            np.full_like(t, miny),
            miny + (maxy - miny) * t,
            np.full_like(t, maxy),
            maxy - (maxy - miny) * t,
        ]
    )
    tx, ty = _xy_func(src, dst)(xs, ys)
    ok = np.isfinite(tx) & np.isfinite(ty)
    if not ok.any():
        raise CRSError(f"bbox {bbox!r} cannot be transformed from {src!r} to {dst!r}")
    return (
        float(tx[ok].min()),
        float(ty[ok].min()),
        float(tx[ok].max()),
        float(ty[ok].max()),
    )


def _check_axis(values: np.ndarray, name: str, limit: float) -> None:
    """Raise CRSError for the first non-finite or out-of-range value."""
    bad_finite = ~np.isfinite(values)
    bad_range = np.abs(np.where(bad_finite, 0.0, values)) > limit
    for bad, what in (
        (bad_finite, "is not finite"),
        (bad_range, f"is out of range [-{limit:g}, {limit:g}]"),
    ):
        if bad.any():
            if values.ndim == 0:
                raise CRSError(f"{name} {float(values)!r} {what}")
            idx = tuple(int(i) for i in np.argwhere(bad)[0])
            pos = idx[0] if len(idx) == 1 else idx
            raise CRSError(f"{name}[{pos}] = {float(values[idx])!r} {what}")


def validate_lonlat(lon: Any, lat: Any) -> tuple[Any, Any]:
    """Check that lon/lat are finite and within [-180, 180] x [-90, 90].

    Parameters
    ----------
    lon, lat : float or array_like
        Coordinates in degrees.

    Returns
    -------
    tuple
        ``(lon, lat)`` as floats for scalar input, else numpy arrays.

    Raises
    ------
    CRSError
        Naming ``longitude`` or ``latitude``, the bad value and, for arrays,
        its index.

    Examples
    --------
    >>> validate_lonlat(113.7, "34.7")
    (113.7, 34.7)
    >>> validate_lonlat(113.7, 95)
    Traceback (most recent call last):
    ...
    gis.errors.CRSError: latitude 95.0 is out of range [-90, 90]
    >>> validate_lonlat([113.7, float("nan")], [34.7, 34.8])
    Traceback (most recent call last):
    ...
    gis.errors.CRSError: longitude[1] = nan is not finite
    """
    try:
        x, y, scalar = _as_arrays(lon, lat)
    except (TypeError, ValueError):
        raise CRSError(
            f"longitude/latitude must be numbers, got {lon!r}, {lat!r}"
        ) from None
    if x.shape != y.shape:
        raise CRSError(
            f"longitude and latitude differ in shape: {x.shape} vs {y.shape}"
        )
    _check_axis(x, "longitude", 180.0)
    _check_axis(y, "latitude", 90.0)
    return _result(x, y, scalar)
