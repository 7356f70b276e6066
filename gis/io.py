"""Read and write vector files (GeoPackage, GeoJSON, Shapefile, CSV) with CRS checks."""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
import pyogrio.raw
import pyproj
import shapely

from gis.crs import CRS_ALIASES, WGS84, transform_bbox, transform_geometry
from gis.errors import CRSError, VectorFileError
from gis.validation import nonfinite

__all__ = [
    "LAT_FIELDS",
    "LON_FIELDS",
    "ROW_FIELD",
    "SUPPORTED",
    "WKT_FIELDS",
    "read_vector",
    "write_vector",
]

LOGGER = logging.getLogger(__name__)

#: File extension -> OGR driver; ``.zip`` is a zipped shapefile (read only).
SUPPORTED: dict[str, str] = {
    ".gpkg": "GPKG",
    ".geojson": "GeoJSON",
    ".json": "GeoJSON",
    ".shp": "ESRI Shapefile",
    ".csv": "CSV",
    ".zip": "ESRI Shapefile",
}
_READ_ONLY = (".zip",)
#: Name of the column holding the 1-based source row (feature) number.
ROW_FIELD = "_row"
#: Column names recognised as longitude / latitude / WKT in CSV files (any case).
LON_FIELDS: tuple[str, ...] = ("lon", "lng", "long", "longitude", "x", "经度")
LAT_FIELDS: tuple[str, ...] = ("lat", "latitude", "y", "纬度")
WKT_FIELDS: tuple[str, ...] = ("wkt", "geometry", "geom", "the_geom")
# Chinese spreadsheets are often saved as GBK; gb18030 is its superset.
_CSV_ENCODINGS = ("utf-8-sig", "gb18030")


def _extension(path: Path, *, writing: bool) -> str:
    """Return the lower-case extension or raise listing the supported ones."""
    ext = path.suffix.lower()
    allowed = [e for e in SUPPORTED if not (writing and e in _READ_ONLY)]
    if ext not in allowed:
        raise VectorFileError(
            f"unsupported file type {ext or '(none)'!r} for {path.name!r}; "
            f"supported for {'writing' if writing else 'reading'}: {', '.join(allowed)}"
        )
    return ext


def _offset_name(crs: Any) -> str | None:
    """Return ``gcj02``/``bd09`` when ``crs`` names an offset datum."""
    if isinstance(crs, str):
        name = CRS_ALIASES.get(crs.strip().lower())
        if name in ("gcj02", "bd09"):
            return name
    return None


def _to_pyproj(crs: Any) -> pyproj.CRS:
    """Build a pyproj CRS from an EPSG code, CRS string or input-CRS alias."""
    if _offset_name(crs):
        raise CRSError(f"{crs!r} is an offset datum, not a CRS a file can declare")
    if isinstance(crs, str) and crs.strip().lower() in CRS_ALIASES:
        crs = {"wgs84": WGS84, "cgcs2000": 4490}[CRS_ALIASES[crs.strip().lower()]]
    try:
        return pyproj.CRS.from_user_input(crs)
    except pyproj.exceptions.CRSError as exc:
        raise CRSError(f"unknown CRS {crs!r}: {exc}") from None


def _find_column(
    columns: Sequence[str], wanted: str | None, candidates: tuple[str, ...], what: str
) -> str | None:
    """Return the column named ``wanted`` or the first candidate present (any case)."""
    if wanted is not None:
        if wanted in columns:
            return wanted
        raise VectorFileError(
            f"{what} column {wanted!r} not found; columns are: {', '.join(columns)}"
        )
    lower = {c.strip().lower(): c for c in columns}
    for cand in candidates:
        if cand in lower:
            return lower[cand]
    return None


def _read_csv_table(path: Path, encoding: str | None) -> pd.DataFrame:
    """Read a CSV as text columns so codes keep their leading zeros."""
    last: Exception | None = None
    encodings = (encoding,) if encoding else _CSV_ENCODINGS
    for enc in encodings:
        try:
            return pd.read_csv(path, dtype=str, keep_default_na=False, encoding=enc)
        except UnicodeDecodeError as exc:
            last = exc
        except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise VectorFileError(f"cannot parse CSV {path.name!r}: {exc}") from None
    raise VectorFileError(
        f"cannot decode CSV {path.name!r} as {' or '.join(encodings)}: {last}; "
        "pass encoding="
    )


def _parse_number(text: str) -> float | None:
    """Parse a coordinate cell; ``None`` for non-numbers and non-finite values."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _csv_to_frame(
    path: Path,
    lon_field: str | None,
    lat_field: str | None,
    crs: pyproj.CRS,
    check_lonlat: bool,
    encoding: str | None,
) -> gpd.GeoDataFrame:
    """Build point (or WKT) geometries from a CSV table, collecting row errors."""
    table = _read_csv_table(path, encoding)
    columns = list(table.columns)
    lon_col = _find_column(columns, lon_field, LON_FIELDS, "longitude")
    lat_col = _find_column(columns, lat_field, LAT_FIELDS, "latitude")
    wkt_col = None
    if lon_col is None or lat_col is None:
        if lon_field or lat_field:
            raise VectorFileError("give both lon_field and lat_field")
        wkt_col = _find_column(columns, None, WKT_FIELDS, "WKT")
        if wkt_col is None:
            raise VectorFileError(
                f"CSV {path.name!r} has no coordinate columns; expected lon/lat "
                f"columns (one of {', '.join(LON_FIELDS)} and "
                f"{', '.join(LAT_FIELDS)}) or a WKT column "
                f"({', '.join(WKT_FIELDS)}); columns are: {', '.join(columns)}"
            )
    problems: list[dict] = []
    geoms: list[Any] = []
    for i, record in enumerate(table.itertuples(index=False), start=1):
        values = dict(zip(columns, record, strict=True))
        if wkt_col is not None:
            text = values[wkt_col].strip()
            try:
                geoms.append(shapely.from_wkt(text) if text else None)
            except shapely.errors.GEOSException as exc:
                problems.append(
                    {"row": i, "field": wkt_col, "message": f"bad WKT: {exc}"}
                )
                geoms.append(None)
            if not text:
                problems.append(
                    {"row": i, "field": wkt_col, "message": "missing geometry"}
                )
            continue
        x = _parse_number(values[lon_col].strip())
        y = _parse_number(values[lat_col].strip())
        for col, v, raw, limit in (
            (lon_col, x, values[lon_col], 180.0),
            (lat_col, y, values[lat_col], 90.0),
        ):
            if v is None:
                msg = (
                    "missing value"
                    if not raw.strip()
                    else f"{raw!r} is not a finite number"
                )
                problems.append({"row": i, "field": col, "message": msg})
            elif check_lonlat and abs(v) > limit:
                problems.append(
                    {
                        "row": i,
                        "field": col,
                        "message": f"{v!r} is out of range [-{limit:g}, {limit:g}]",
                    }
                )
        geoms.append(shapely.Point(x, y) if x is not None and y is not None else None)
    if problems:
        raise VectorFileError(
            f"{len({p['row'] for p in problems})} row(s) of {path.name!r} have bad "
            f"coordinates; first: row {problems[0]['row']}, {problems[0]['field']}: "
            f"{problems[0]['message']}",
            rows=problems,
        )
    coord_cols = [c for c in (lon_col, lat_col, wkt_col) if c is not None]
    attrs = table.drop(columns=coord_cols)
    return gpd.GeoDataFrame(attrs, geometry=geoms, crs=crs)


def _is_wgs84_like(crs: pyproj.CRS) -> bool:
    """Tell whether ``crs`` is WGS 84 or CGCS2000 lon/lat (in either axis order)."""
    return any(
        crs.equals(pyproj.CRS.from_epsg(code), ignore_axis_order=True)
        for code in (WGS84, 4490)
    )


def _read_ogr(
    path: Path, layer: str | int | None, encoding: str | None
) -> tuple[gpd.GeoDataFrame, list[dict]]:
    """Read a GDAL-readable vector file, refusing ambiguous multi-layer files.

    Returns the frame and the rows whose geometry GEOS cannot build (an
    unclosed ring, a one-point line ...): they are read as missing and listed
    with GEOS's reason instead of failing the whole read with a traceback.
    """
    options = {"encoding": encoding} if encoding else {}
    try:
        if layer is None:
            layers = pyogrio.list_layers(path)
            if len(layers) > 1:
                names = ", ".join(str(n) for n in layers[:, 0])
                raise VectorFileError(
                    f"{path.name!r} has {len(layers)} layers; "
                    f"pass layer= one of: {names}"
                )
        with warnings.catch_warnings(record=True) as caught:
            # GDAL warns about what it accepts (e.g. "Non closed ring detected");
            # the row problems below say it better, so log rather than fail.
            warnings.simplefilter("always")
            gdf = gpd.read_file(
                path, layer=layer, engine="pyogrio", on_invalid="ignore", **options
            )
            problems = _unbuildable_geometries(path, layer, options, gdf)
        for w in caught:
            LOGGER.warning("reading %s: %s", path.name, w.message)
        return gdf, problems
    except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
        raise VectorFileError(f"cannot read {path.name!r}: {exc}") from None
    except UnicodeDecodeError as exc:
        # Typical for GBK shapefiles without a .cpg file.
        raise VectorFileError(
            f"cannot decode text in {path.name!r} ({exc}); pass encoding=, e.g. 'gbk'"
        ) from None


def _unbuildable_geometries(
    path: Path, layer: str | int | None, options: dict, gdf: Any
) -> list[dict]:
    """Rows that have a geometry in the file that GEOS refused to build."""
    if not isinstance(gdf, gpd.GeoDataFrame):
        return []
    missing = np.flatnonzero(gdf.geometry.isna().to_numpy())
    if not len(missing):
        return []
    # Only files with missing geometries pay for a second, geometry-only read.
    wkb = pyogrio.raw.read(path, layer=layer, columns=[], **options)[2]
    problems = []
    for i in missing.tolist():
        if wkb is None or wkb[i] is None:
            continue  # null in the file: the caller reports it as missing
        try:
            shapely.from_wkb(wkb[i])
        except shapely.errors.GEOSException as exc:
            reason = str(exc).split(": ", 1)[-1].strip()
            problems.append(
                {"row": i + 1, "field": "geometry", "message": f"bad geometry: {reason}"}
            )
    return problems


def _bad_coordinates(gdf: gpd.GeoDataFrame) -> list[dict]:
    """Rows with NaN or infinite coordinates, which CRS checks cannot place."""
    return [
        {
            "row": int(i) + 1,
            "field": "geometry",
            "message": "non-finite coordinate (NaN or infinity)",
        }
        for i in np.flatnonzero(nonfinite(gdf.geometry.to_numpy()))
    ]


def _check_bounds(
    gdf: gpd.GeoDataFrame,
    expected: tuple[float, float, float, float] | None,
    margin: float,
) -> None:
    """Raise CRSError if the data's lon/lat bounds show it is in another CRS."""
    geoms = gdf.geometry[~(gdf.geometry.isna() | gdf.geometry.is_empty)]
    if geoms.empty:
        return
    bounds = tuple(float(v) for v in geoms.total_bounds)
    declared = gdf.crs.to_string()
    try:
        lonlat = transform_bbox(bounds, gdf.crs.srs, WGS84)
    except CRSError:
        lonlat = (math.nan,) * 4
    plausible = (
        all(math.isfinite(v) for v in lonlat)
        and -180 <= lonlat[0]
        and lonlat[2] <= 180
        and -90 <= lonlat[1]
        and lonlat[3] <= 90
    )
    inside = plausible and (
        expected is None
        or (
            lonlat[0] >= expected[0] - margin
            and lonlat[2] <= expected[2] + margin
            and lonlat[1] >= expected[1] - margin
            and lonlat[3] <= expected[3] + margin
        )
    )
    if not inside:
        shown = ", ".join(f"{v:.6g}" for v in bounds)
        where = ", ".join(f"{v:.6f}" for v in lonlat)
        want = (
            "valid lon/lat"
            if expected is None
            else "expected lon/lat bounds ("
            + ", ".join(f"{v:g}" for v in expected)
            + ")"
        )
        raise CRSError(
            f"layer seems to be in the wrong CRS: declared {declared}, data bounds "
            f"({shown}) in that CRS are ({where}) in lon/lat, outside the {want}"
        )


def read_vector(
    path: str | os.PathLike[str],
    *,
    layer: str | int | None = None,
    to_srid: int,
    assume_crs: int | str | None = None,
    lon_field: str | None = None,
    lat_field: str | None = None,
    expected_bounds_lonlat: tuple[float, float, float, float] | None = None,
    bounds_margin_deg: float = 0.1,
    encoding: str | None = None,
) -> gpd.GeoDataFrame:
    r"""Read a vector file into a GeoDataFrame in ``to_srid``.

    Formats are chosen by extension (see :data:`SUPPORTED`). CSV files give
    points from lon/lat columns (names auto-detected from :data:`LON_FIELDS` /
    :data:`LAT_FIELDS`) or geometries from a WKT column (:data:`WKT_FIELDS`);
    all CSV columns are read as text so codes keep leading zeros, and CSV
    coordinates are taken as CRS84 unless ``assume_crs`` says otherwise.

    Parameters
    ----------
    path : str or path-like
        File to read; ``.zip`` means a zipped shapefile.
    layer : str or int, optional
        Layer to read; required for multi-layer files.
    to_srid : int
        EPSG code of the returned frame.
    assume_crs : int or str, optional
        CRS of a file that declares none (and of CSV coordinates). Offset
        datums ``"gcj02"``/``"bd09"`` cannot be declared in a file, so they
        always apply, to files declaring geographic WGS 84 or no CRS.
    lon_field, lat_field : str, optional
        CSV coordinate column names.
    expected_bounds_lonlat : tuple of 4 floats, optional
        ``(minx, miny, maxx, maxy)`` in lon/lat; data outside it (plus
        ``bounds_margin_deg``) is taken as a sign of a mislabelled CRS.
    bounds_margin_deg : float
        Tolerance around ``expected_bounds_lonlat``, in degrees.
    encoding : str, optional
        Text encoding, e.g. ``"gbk"`` for a Shapefile without a ``.cpg``
        file. CSV files default to trying UTF-8, then GB18030.

    Returns
    -------
    geopandas.GeoDataFrame
        Attribute columns, ``geometry`` in ``to_srid``, and ``_row`` (the
        1-based feature / CSV data-row number, header excluded).

    Raises
    ------
    VectorFileError
        Unsupported extension, unreadable file, ambiguous layers, missing CSV
        columns, bad CSV rows, or geometries that cannot be built or have
        NaN/infinite coordinates (rows listed in ``.rows``).
    CRSError
        File has no CRS and no ``assume_crs``, or the data bounds do not fit
        the declared CRS / expected area.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     csv = pathlib.Path(tmp) / "pts.csv"
    ...     _ = csv.write_text("code,lng,lat\n0101,113.7,34.7\n")
    ...     gdf = read_vector(csv, to_srid=4547)
    >>> gdf[["code", "_row"]].values.tolist(), gdf.crs.to_epsg()
    ([['0101', 1]], 4547)
    """
    path = Path(path)
    ext = _extension(path, writing=False)
    if not path.exists():
        raise VectorFileError(f"file not found: {str(path)!r}")
    offset = _offset_name(assume_crs)
    if ext == ".csv":
        declared = _to_pyproj("wgs84" if assume_crs is None or offset else assume_crs)
        gdf = _csv_to_frame(
            path, lon_field, lat_field, declared, declared.is_geographic, encoding
        )
        problems: list[dict] = []
    else:
        gdf, problems = _read_ogr(path, layer, encoding)
        if not isinstance(gdf, gpd.GeoDataFrame):
            raise VectorFileError(f"{path.name!r} has no geometry column")
        if gdf.crs is None:
            if assume_crs is None:
                raise CRSError(f"file {path.name!r} has no CRS; pass assume_crs")
            gdf = gdf.set_crs(WGS84 if offset else _to_pyproj(assume_crs))
        elif offset is not None and not _is_wgs84_like(gdf.crs):
            raise CRSError(
                f"assume_crs={assume_crs!r} needs lon/lat data, but {path.name!r} "
                f"declares {gdf.crs.to_string()}"
            )
    gdf = gdf.reset_index(drop=True)
    gdf[ROW_FIELD] = np.arange(1, len(gdf) + 1)
    problems = sorted(problems + _bad_coordinates(gdf), key=lambda p: p["row"])
    if problems:
        first = problems[0]
        raise VectorFileError(
            f"{len(problems)} row(s) of {path.name!r} have unusable geometries; "
            f"first: row {first['row']}, geometry: {first['message']}",
            rows=problems,
        )
    if offset is not None:
        shifted = transform_geometry(gdf.geometry.to_numpy(), offset, WGS84)
        gdf = gdf.set_geometry(gpd.GeoSeries(shifted, index=gdf.index, crs=WGS84))
    _check_bounds(gdf, expected_bounds_lonlat, bounds_margin_deg)
    return gdf.to_crs(_to_pyproj(to_srid))


def write_vector(
    gdf: gpd.GeoDataFrame,
    path: str | os.PathLike[str],
    *,
    layer: str | None = None,
    to_crs: int | str | None = None,
) -> Path:
    """Write a GeoDataFrame to a file chosen by extension.

    GeoJSON is always written in CRS84 (RFC 7946). CSV gets ``lon``/``lat``
    columns in CRS84 for all-point layers, otherwise a ``wkt`` column in
    CRS84, plus the attributes (UTF-8 with BOM so spreadsheet programs detect
    the encoding). GeoPackage and Shapefile keep the frame's CRS or use
    ``to_crs``; Shapefile field names must fit in 10 UTF-8 bytes.
    ``to_crs="gcj02"`` or ``"bd09"`` (any format) shifts the coordinates for
    Gaode/Baidu tools and labels them WGS 84, as no format can declare these
    datums. The
    ``_row`` bookkeeping column is not written.

    Parameters
    ----------
    gdf : geopandas.GeoDataFrame
        Data with a CRS.
    path : str or path-like
        Output file; an existing file (or GeoPackage layer) is replaced.
    layer : str, optional
        Layer name for GeoPackage.
    to_crs : int or str, optional
        Output CRS for GeoPackage/Shapefile (ignored for GeoJSON/CSV), or an
        offset datum name for any format.

    Returns
    -------
    pathlib.Path
        The written path.

    Raises
    ------
    VectorFileError
        Unsupported extension, over-long Shapefile field names or a write
        failure.
    CRSError
        If ``gdf`` has no CRS.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from shapely.geometry import Point
    >>> gdf = gpd.GeoDataFrame({"name": ["a"]}, geometry=[Point(500000, 3846849)],
    ...                        crs=4547)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     out = write_vector(gdf, pathlib.Path(tmp) / "a.csv")
    ...     text = out.read_text(encoding="utf-8-sig")
    >>> text.splitlines()
    ['lon,lat,name', '114.0,34.7499159,a']
    """
    path = Path(path)
    ext = _extension(path, writing=True)
    if gdf.crs is None:
        raise CRSError("GeoDataFrame has no CRS; set one before writing")
    data = gdf.drop(columns=[ROW_FIELD], errors="ignore")
    offset = _offset_name(to_crs)
    if ext in (".csv", ".geojson", ".json") or offset:
        data = data.to_crs(WGS84)
    elif to_crs is not None:
        data = data.to_crs(_to_pyproj(to_crs))
    if offset:
        shifted = transform_geometry(data.geometry.to_numpy(), WGS84, offset)
        data = data.set_geometry(gpd.GeoSeries(shifted, index=data.index, crs=WGS84))
    if ext == ".csv":
        _write_csv(data, path)
        return path
    if ext == ".shp":
        # GDAL cuts longer names at 10 bytes, which can split a UTF-8 Chinese
        # character and leave a file that cannot be read back.
        long = [
            c
            for c in data.columns
            if c != data.geometry.name and len(str(c).encode("utf-8")) > 10
        ]
        if long:
            raise VectorFileError(
                f"Shapefile field names are limited to 10 bytes; rename {long} "
                "or write a GeoPackage (.gpkg)"
            )
    options: dict[str, Any] = {}
    if SUPPORTED[ext] == "GeoJSON":
        # RFC7946=YES: no "crs" member, 7 decimals, right-hand-rule rings.
        options["RFC7946"] = "YES"
        if path.exists():
            path.unlink()
    try:
        with warnings.catch_warnings(record=True) as caught:
            # GDAL reports recoverable changes (e.g. laundered field names) as
            # warnings; log them rather than fail where warnings are errors.
            warnings.simplefilter("always")
            data.to_file(
                path, driver=SUPPORTED[ext], layer=layer, engine="pyogrio", **options
            )
        for w in caught:
            LOGGER.warning("writing %s: %s", path.name, w.message)
    except (
        pyogrio.errors.DataSourceError,
        pyogrio.errors.DataLayerError,
        pyogrio.errors.FieldError,
        pyogrio.errors.GeometryError,
    ) as exc:
        raise VectorFileError(f"cannot write {path.name!r}: {exc}") from None
    return path


def _write_csv(data: gpd.GeoDataFrame, path: Path) -> None:
    """Write lon/lat (points) or WKT (other types) columns plus attributes."""
    geoms = data.geometry
    attrs = pd.DataFrame(data.drop(columns=[data.geometry.name]))
    present = geoms[~(geoms.isna() | geoms.is_empty)]
    if len(present) == len(geoms) and (present.geom_type == "Point").all():
        coords = pd.DataFrame(
            {
                "lon": np.round(geoms.x.to_numpy(), 7),
                "lat": np.round(geoms.y.to_numpy(), 7),
            },
            index=data.index,
        )
    else:
        coords = pd.DataFrame(
            {"wkt": shapely.to_wkt(geoms.to_numpy(), rounding_precision=7)},
            index=data.index,
        )
    clash = set(coords.columns) & set(attrs.columns)
    if clash:
        raise VectorFileError(
            f"attribute columns {sorted(clash)} clash with the CSV coordinate columns"
        )
    pd.concat([coords, attrs], axis=1).to_csv(path, index=False, encoding="utf-8-sig")
