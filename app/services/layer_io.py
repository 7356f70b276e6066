"""Import and export of the asset layers: one file, all or nothing, a report naming each bad row.

Each layer (cameras, pipelines, buildings, components) registers a :class:`LayerSpec` that
says which columns it reads, how one row is checked and how the checked rows are written;
this module does the rest the same way for every layer: read the file (GeoPackage,
GeoJSON, Shapefile, CSV) with reprojection into the storage CRS, map columns (the
standard's abbreviations and ``--map`` overrides), check every row, refuse the whole file
if any row is bad, else write all rows in the caller's transaction.

A layer module registers itself at import time; :data:`LAYER_MODULES` lists them so the
CLI and tests see every layer without importing the web app.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.io import ROW_FIELD, write_vector
from gis.validation import geometry_problem

from ..config import Settings
from .audit import Actor, record
from .cell_import import ImportRefused, ReportRow, _write_rows, read_import_file

#: Modules that register asset layers (imported on first use of :func:`layer`).
LAYER_MODULES = (
    "app.services.buildings",
    "app.services.cameras",
    "app.services.pipelines",
    "app.services.components",
    "app.services.roads",
)

#: Rows per file at most: a file is one transaction and one report.
MAX_ROWS = 200_000


class RowError(ValueError):
    """One field of one row is wrong; ``field`` is the canonical field name."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Field:
    """A column of a layer file.

    ``name`` is the canonical (API) name, ``short`` the ≤ 10-character Shapefile name,
    ``aliases`` other accepted column names (lower case), e.g. the standard's abbreviations.
    """

    name: str
    short: str
    aliases: tuple[str, ...] = ()

    def names(self) -> tuple[str, ...]:
        """Every accepted column name, lower case."""
        return (self.name.lower(), self.short.lower(), *self.aliases)


@dataclass(frozen=True)
class LayerSpec:
    """How one asset layer is read, checked, written and exported.

    ``prepare(session, settings)`` loads what checking needs once per file (code tables,
    existing keys) and returns a context; ``validate(ctx, values, geom)`` turns one row's
    raw values (canonical name → value, ``None`` when absent or empty) and its geometry in
    the storage CRS into a record, raising :class:`RowError`; ``write(session, settings,
    actor, records, mode)`` inserts (``mode="append"``) or inserts-or-updates by key
    (``mode="upsert"``) and returns ``(inserted, updated)``; ``frame(session, settings)``
    returns the layer as a GeoDataFrame in the storage CRS with the canonical columns.
    """

    name: str
    title: str
    fields: tuple[Field, ...]
    key: str
    geometry_types: tuple[str, ...]
    prepare: Callable[[Session, Settings], Any]
    validate: Callable[[Any, dict[str, Any], BaseGeometry], dict[str, Any]]
    write: Callable[[Session, Settings, Actor, list[dict[str, Any]], str], tuple[int, int]]
    frame: Callable[[Session, Settings], gpd.GeoDataFrame]

    def field(self, name: str) -> Field:
        """The field called ``name``."""
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(name)


_REGISTRY: dict[str, LayerSpec] = {}


def register(spec: LayerSpec) -> LayerSpec:
    """Add a layer (called by the layer's service module at import time)."""
    shorts = [f.short for f in spec.fields]
    too_long = [s for s in shorts if len(s.encode()) > 10]
    if too_long or len(set(shorts)) != len(shorts):
        raise ValueError(f"layer {spec.name}: Shapefile names must be unique and ≤ 10 bytes: {shorts}")
    _REGISTRY[spec.name] = spec
    return spec


def layers() -> dict[str, LayerSpec]:
    """Every registered asset layer by name."""
    for module in LAYER_MODULES:
        importlib.import_module(module)
    return dict(sorted(_REGISTRY.items()))


def layer(name: str) -> LayerSpec:
    """The layer called ``name``; KeyError lists the known ones."""
    known = layers()
    if name not in known:
        raise KeyError(f"unknown layer {name!r}; known: cells, {', '.join(known)}")
    return known[name]


# -- value parsing shared by the layers (and their API endpoints) -----------------------------


def blank(value: Any) -> bool:
    """True for None, NaN, NaT and empty or whitespace-only strings."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    if isinstance(value, str) and not value.strip():
        return True
    try:
        import pandas as pd

        return bool(pd.isna(value)) if not isinstance(value, (list, tuple, dict)) else False
    except (TypeError, ValueError):
        return False


def text(values: Mapping[str, Any], name: str, *, required: bool = False, max_len: int = 255,
         choices: Iterable[str] | None = None) -> str | None:
    """A trimmed string field; ``choices`` restricts it to known codes."""
    value = values.get(name)
    if blank(value):
        if required:
            raise RowError(name, "is required")
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)  # a spreadsheet turned a code into a number
    result = str(value).strip()
    if len(result) > max_len:
        raise RowError(name, f"longer than {max_len} characters")
    if choices is not None:
        allowed = list(choices)
        if result not in allowed:
            raise RowError(name, f"{result!r} is not one of {', '.join(allowed)}")
    return result


def code(values: Mapping[str, Any], name: str = "code", *, max_len: int) -> str | None:
    """A layer's own optional identifier: letters, digits, '-', '_' and '.' only."""
    value = text(values, name, max_len=max_len)
    if value is not None and not all(ch.isalnum() or ch in "-_." for ch in value):
        raise RowError(name, f"{value!r} may hold only letters, digits, '-', '_' and '.'")
    return value


@dataclass(frozen=True)
class SettingsContext:
    """The per-file context of a layer whose check needs nothing from the database."""

    settings: Settings


def settings_context(session: Session, settings: Settings) -> SettingsContext:
    """``LayerSpec.prepare`` for such a layer."""
    return SettingsContext(settings)


def number(values: Mapping[str, Any], name: str, *, required: bool = False,
           minimum: float | None = None, maximum: float | None = None,
           exclusive_minimum: bool = False) -> float | None:
    """A finite float field within bounds (``exclusive_minimum`` makes ``minimum`` open)."""
    value = values.get(name)
    if blank(value):
        if required:
            raise RowError(name, "is required")
        return None
    if isinstance(value, bool):
        raise RowError(name, f"expected a number, got {value!r}")
    try:
        result = float(str(value).strip()) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise RowError(name, f"expected a number, got {value!r}") from None
    if not math.isfinite(result):
        raise RowError(name, f"expected a finite number, got {value!r}")
    if minimum is not None and (result < minimum or (exclusive_minimum and result == minimum)):
        bound = f"greater than {minimum:g}" if exclusive_minimum else f"at least {minimum:g}"
        raise RowError(name, f"{result:g} is out of range: must be {bound}")
    if maximum is not None and result > maximum:
        raise RowError(name, f"{result:g} is out of range: must be at most {maximum:g}")
    return result


def integer(values: Mapping[str, Any], name: str, *, required: bool = False,
            minimum: int | None = None, maximum: int | None = None) -> int | None:
    """A whole-number field within bounds."""
    result = number(values, name, required=required, minimum=minimum, maximum=maximum)
    if result is None:
        return None
    if not float(result).is_integer():
        raise RowError(name, f"expected a whole number, got {values.get(name)!r}")
    return int(result)


def day(values: Mapping[str, Any], name: str, *, required: bool = False) -> date | None:
    """A date field: ISO ``YYYY-MM-DD`` or the standard's ``YYYYMMDD``."""
    value = values.get(name)
    if blank(value):
        if required:
            raise RowError(name, "is required")
        return None
    if isinstance(value, date):
        return value
    raw = str(value).strip()
    try:
        if len(raw) == 8 and raw.isdigit():
            return date(int(raw[:4]), int(raw[4:6]), int(raw[6:]))
        return date.fromisoformat(raw[:10])
    except ValueError:
        raise RowError(name, f"expected a date (YYYY-MM-DD or YYYYMMDD), got {raw!r}") from None


# -- import ---------------------------------------------------------------------------------------


@dataclass
class LayerImportResult:
    """What a layer import did."""

    path: str
    layer: str
    mode: str
    inserted: int = 0
    updated: int = 0
    unmapped_columns: list[str] = field(default_factory=list)

    def describe(self) -> str:
        """One paragraph for the CLI."""
        text_ = (f"imported {self.path} into {self.layer} ({self.mode}): "
                 f"{self.inserted} new, {self.updated} updated")
        if self.unmapped_columns:
            text_ += f"\ncolumns not used: {', '.join(self.unmapped_columns)}"
        return text_

    def write_csv(self, path: Path) -> None:
        """Write the (empty) problem report as CSV, so scripts always get a file."""
        _write_rows([], path)


def _column_map(spec: LayerSpec, columns: Iterable[str], overrides: Mapping[str, str]) -> tuple[dict[str, str], list[str]]:
    """Canonical field → file column, and the file columns nothing reads."""
    lower = {c.lower(): c for c in columns if c not in (ROW_FIELD, "geometry")}
    mapping: dict[str, str] = {}
    unknown_targets = [t for t in overrides.values() if t not in {f.name for f in spec.fields}]
    if unknown_targets:
        raise ImportRefused(
            f"--map names unknown {spec.name} fields",
            [ReportRow(0, None, t, "error",
                       f"no field {t!r}; fields: {', '.join(f.name for f in spec.fields)}")
             for t in unknown_targets],
        )
    for source, target in overrides.items():
        if source.lower() not in lower:
            raise ImportRefused(f"--map names a column the file does not have: {source}",
                                [ReportRow(0, None, target, "error",
                                           f"column {source!r} not in file; columns: "
                                           f"{', '.join(lower.values())}")])
        mapping[target] = lower[source.lower()]
    for f in spec.fields:
        if f.name in mapping:
            continue
        for candidate in f.names():
            if candidate in lower and lower[candidate] not in mapping.values():
                mapping[f.name] = lower[candidate]
                break
    used = set(mapping.values())
    return mapping, sorted(c for c in lower.values() if c not in used)


def import_layer(
    session: Session,
    actor: Actor,
    layer_name: str,
    path: Path,
    settings: Settings,
    *,
    file_layer: str | None = None,
    assume_crs: str | None = None,
    field_map: Mapping[str, str] | None = None,
    mode: str = "append",
) -> LayerImportResult:
    """Import ``path`` into asset layer ``layer_name``; raises ImportRefused, writing nothing.

    ``field_map`` maps file columns to canonical field names where the automatic match
    (canonical name, Shapefile short name, the standard's abbreviations) is not enough.
    ``mode="append"`` refuses keys that already exist; ``"upsert"`` updates them.
    """
    if mode not in ("append", "upsert"):
        raise ValueError(f"mode {mode!r}: expected append or upsert")
    spec = layer(layer_name)
    frame = read_import_file(path, settings, layer=file_layer, assume_crs=assume_crs)
    if len(frame) > MAX_ROWS:
        raise ImportRefused(f"{path} has {len(frame)} features",
                            [ReportRow(0, None, None, "error",
                                       f"at most {MAX_ROWS} features per file; split it")])

    mapping, unmapped = _column_map(spec, frame.columns, field_map or {})
    ctx = spec.prepare(session, settings)
    problems: list[ReportRow] = []
    records: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    columns = {name: frame[col].tolist() for name, col in mapping.items()}
    for i, (rownum, geom) in enumerate(zip(frame[ROW_FIELD].tolist(), frame.geometry.tolist())):
        values = {name: (None if blank(col[i]) else col[i]) for name, col in columns.items()}
        key = text(values, spec.key, max_len=200) if spec.key in values else None
        bad_geometry = geometry_problem(geom, spec.geometry_types)
        if bad_geometry:
            problems.append(ReportRow(rownum, key, "geometry", "error", bad_geometry))
            continue
        try:
            rec = spec.validate(ctx, values, geom)
        except RowError as exc:
            problems.append(ReportRow(rownum, key, exc.field, "error", exc.message))
            continue
        rec_key = rec.get(spec.key)
        if rec_key is not None:
            if rec_key in seen:
                problems.append(ReportRow(rownum, str(rec_key), spec.key, "error",
                                          f"duplicate {spec.key}: also on row {seen[rec_key]}"))
                continue
            seen[rec_key] = rownum
        rec["_row"] = rownum
        records.append(rec)
    if problems:
        raise ImportRefused(f"{path}: {len(problems)} bad rows; nothing was imported", problems)

    try:
        with session.begin_nested():
            inserted, updated = spec.write(session, settings, actor, records, mode)
    except RowError as exc:
        raise ImportRefused(f"{path}: nothing was imported",
                            [ReportRow(0, None, exc.field, "error", exc.message)]) from None
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else str(exc)
        raise ImportRefused(f"{path}: the database refused the rows; nothing was imported",
                            [ReportRow(0, None, None, "error", reason)]) from None
    record(session, actor, "import", spec.name, None,
           {"path": str(path), "mode": mode, "inserted": inserted, "updated": updated})
    return LayerImportResult(str(path), spec.name, mode, inserted, updated, unmapped)


# -- export -------------------------------------------------------------------------------------


def export_layer(session: Session, layer_name: str, path: Path, settings: Settings, *,
                 to_crs: str | None = None) -> int:
    """Write asset layer ``layer_name`` to ``path`` (format by extension); returns the row count.

    Shapefiles get the 10-character short names (the DBF limit); other formats the
    canonical names, so an export imports back unchanged.
    """
    spec = layer(layer_name)
    frame = spec.frame(session, settings)
    if Path(path).suffix.lower() in (".shp", ".zip"):
        frame = frame.rename(columns={f.name: f.short for f in spec.fields})
    write_vector(frame, path, layer=spec.name, to_crs=to_crs)
    return len(frame)


__all__ = [
    "Field",
    "ImportRefused",
    "LayerImportResult",
    "LayerSpec",
    "ReportRow",
    "RowError",
    "blank",
    "day",
    "export_layer",
    "import_layer",
    "integer",
    "layer",
    "layers",
    "number",
    "register",
    "text",
]
