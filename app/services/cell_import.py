"""Import and export of the unit grid cell layer: all or nothing, with a row-by-row report."""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pyproj
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import MultiPolygon
from sqlalchemy.orm import Session

from gis.errors import GisError, VectorFileError
from gis.io import ROW_FIELD, read_vector, write_vector
from gis.validation import POLYGONAL, geometry_problem
from grid import CellSet, check_topology, number_cells, parse_grid_code
from grid.errors import GridError

from ..config import Settings
from ..models import Cell, Community, District, DutyGridCell, Street
from .audit import Actor, record
from .cell_retirement import HELD_KINDS, Assessment, assess

# Column names accepted for each attribute, lower-cased; the standard's abbreviations
# (GB/T 47678.5 / CJ/T 213 exchange files) are included so real layers import unchanged.
FIELDS = {
    "code": ("code", "cell_code", "grid_code", "bgid", "szdywgbsm", "dywgbsm", "wgbm"),
    "community_code": ("community_code", "szsqdm", "sqdm"),
    "community_name": ("community_name", "szsqmc", "sqmc"),
    "street_name": ("street_name", "szjdmc", "jdmc"),
    "name": ("name", "mc", "wgmc"),
    "area_class": ("area_class", "qyfl"),
    "land_use": ("land_use", "ydlb"),
}


@dataclass
class ReportRow:
    """One problem or notice about one input row (row 0 = the layer as a whole)."""

    row: int | str
    code: str | None
    field: str | None
    severity: str
    message: str
    #: For a retired cell: what it holds, by :data:`~app.services.cell_retirement.HELD_KINDS`.
    held: dict[str, int] | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain dict for CSV and JSON."""
        return {
            "row": self.row,
            "code": self.code or "",
            "field": self.field or "",
            "severity": self.severity,
            "message": self.message,
            **(self.held or {}),
        }


def _write_rows(rows: list[ReportRow], path: Path) -> None:
    """CSV report; a report listing retired cells has a count column per held kind."""
    columns = ["row", "code", "field", "severity", "message"]
    if any(r.held for r in rows):
        columns += HELD_KINDS
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, restval="")
        writer.writeheader()
        for r in rows:
            writer.writerow(r.as_dict())


def _rows_text(rows: list[ReportRow]) -> str:
    return "\n".join(
        f"  row {r.row}{f' [{r.code}]' if r.code else ''}{f' {r.field}' if r.field else ''}: "
        f"{r.severity}: {r.message}"
        for r in rows
    )


class ImportRefused(Exception):
    """The file was not imported; ``rows`` says why, row by row."""

    def __init__(self, message: str, rows: list[ReportRow]):
        super().__init__(message)
        self.message = message
        self.rows = rows

    def report_text(self) -> str:
        """Human-readable report."""
        return f"{self.message}\n{_rows_text(self.rows)}"

    def write_csv(self, path: Path) -> None:
        """Write the report as CSV."""
        _write_rows(self.rows, path)


@dataclass
class ImportResult:
    """What an import did."""

    path: str
    mode: str
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    coded: int = 0
    created_communities: list[str] = field(default_factory=list)
    warnings: list[ReportRow] = field(default_factory=list)
    #: Replace: each retired cell with what it holds, and each part left uncovered.
    retirements: list[ReportRow] = field(default_factory=list)

    def describe(self) -> str:
        """One paragraph for the CLI."""
        lines = [
            f"imported {self.path} ({self.mode}): {self.inserted} new, {self.updated} changed, "
            f"{self.unchanged} unchanged, {self.retired} retired; {self.coded} codes assigned"
        ]
        if self.created_communities:
            lines.append(f"created communities: {', '.join(self.created_communities)}")
        if self.warnings:
            lines.append(f"{len(self.warnings)} warnings accepted with --force:")
            lines.append(_rows_text(self.warnings))
        if self.retirements:
            forced = sum(1 for r in self.retirements if r.severity == "warning")
            lines.append("retired and uncovered" + (f" ({forced} accepted with --force)" if forced else "") + ":")
            lines.append(_rows_text(self.retirements))
        return "\n".join(lines)

    def write_csv(self, path: Path) -> None:
        """Write the accepted warnings and the retired cells as CSV."""
        _write_rows(self.warnings + self.retirements, path)


def _column(frame: gpd.GeoDataFrame, key: str) -> str | None:
    lower = {c.lower(): c for c in frame.columns}
    for candidate in FIELDS[key]:
        if candidate in lower:
            return lower[candidate]
    return None


def _text(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _multi(geom) -> MultiPolygon:
    return geom if isinstance(geom, MultiPolygon) else MultiPolygon([geom])


def _expected_bounds(srid: int) -> tuple[float, float, float, float] | None:
    """The storage CRS's area of use: data far outside it is in the wrong CRS."""
    area = pyproj.CRS.from_epsg(srid).area_of_use
    if area is None:
        return None
    return (area.west, area.south, area.east, area.north)


def read_import_file(path: Path, settings: Settings, *, layer: str | None = None,
                     assume_crs: str | None = None) -> gpd.GeoDataFrame:
    """Read a file to import into the storage CRS; ImportRefused lists what makes it unreadable.

    Every layer's import reads through here, so a file's unreadable rows (bad CSV
    coordinates, rings that do not close, NaN coordinates ...) and a wrong CRS are reported
    the same way for cells and for every asset layer.
    """
    srid = settings.storage_srid
    try:
        frame = read_vector(path, layer=layer, to_srid=srid, assume_crs=assume_crs,
                            expected_bounds_lonlat=_expected_bounds(srid))
    except VectorFileError as exc:
        rows = [
            ReportRow(r.get("row", 0), None, r.get("field"), "error", r.get("message", ""))
            for r in exc.rows
        ] or [ReportRow(0, None, None, "error", str(exc))]
        raise ImportRefused(f"cannot read {path}: {exc}", rows) from None
    except GisError as exc:
        raise ImportRefused(f"cannot read {path}", [ReportRow(0, None, "crs", "error", str(exc))]) from None
    if frame.empty:
        raise ImportRefused(f"{path} has no features", [ReportRow(0, None, None, "error", "no features")])
    return frame


def import_cells(
    session: Session,
    actor: Actor,
    path: Path,
    settings: Settings,
    *,
    layer: str | None = None,
    assume_crs: str | None = None,
    mode: str = "replace",
    force: bool = False,
) -> ImportResult:
    """Import a cell layer; raises ImportRefused (nothing written) on any error.

    ``replace`` treats the file as the whole current layer: cells missing from it are
    retired (their codes are never reused); ``append`` only adds new cells. A replace that
    would retire cells holding open cases, or leave part of the current layer uncovered, is
    refused unless ``force``; either way ``ImportResult.retirements`` (or the refusal's rows)
    lists each retired cell with what it holds, and each uncovered part.
    """
    if mode not in ("replace", "append"):
        raise ValueError(f"mode {mode!r}: expected replace or append")
    frame = read_import_file(path, settings, layer=layer, assume_crs=assume_crs)
    problems: list[ReportRow] = []

    code_col = _column(frame, "code")
    comm_col = _column(frame, "community_code")
    comm_name_col = _column(frame, "community_name")
    street_name_col = _column(frame, "street_name")
    name_col = _column(frame, "name")
    class_col = _column(frame, "area_class")
    use_col = _column(frame, "land_use")

    communities = {
        c.code: c for c in session.scalars(sa.select(Community)).all()
    }
    community_geoms = {code: to_shape(c.geom) for code, c in communities.items()}
    comm_tree_codes = list(community_geoms)
    comm_tree = shapely.STRtree([community_geoms[c] for c in comm_tree_codes]) if comm_tree_codes else None

    ever = {
        code: valid_to
        for code, valid_to in session.execute(sa.select(Cell.code, Cell.valid_to)).all()
    }

    # -- row by row: geometry, code, community ------------------------------------------
    records: list[dict[str, Any]] = []
    seen_codes: dict[str, int] = {}
    for _, row in frame.iterrows():
        rownum = int(row[ROW_FIELD])
        geom = row.geometry
        raw_code = _text(row[code_col]) if code_col else None
        rec: dict[str, Any] = {"row": rownum, "code": raw_code}
        bad_geometry = geometry_problem(geom, POLYGONAL)
        if bad_geometry:
            problems.append(ReportRow(rownum, raw_code, "geometry", "error", bad_geometry))
            continue
        rec["geom"] = geom
        if raw_code:
            try:
                parsed = parse_grid_code(raw_code)
            except GridError as exc:
                problems.append(ReportRow(rownum, raw_code, "code", "error", str(exc)))
                continue
            code = str(parsed)
            if parsed.district != settings.district_code:
                problems.append(ReportRow(rownum, code, "code", "error",
                                          f"district part {parsed.district} is not this deployment's "
                                          f"district {settings.district_code}"))
                continue
            if code in seen_codes:
                problems.append(ReportRow(rownum, code, "code", "error",
                                          f"duplicate code: also on row {seen_codes[code]}"))
                continue
            seen_codes[code] = rownum
            if ever.get(code, None) is not None:
                problems.append(ReportRow(rownum, code, "code", "error",
                                          f"code was retired on {ever[code]}; codes are never reused"))
                continue
            if mode == "append" and code in ever:
                problems.append(ReportRow(rownum, code, "code", "error",
                                          "a current cell already has this code (use --mode replace)"))
                continue
            rec["code"] = code
            rec["community_code"] = parsed.community_code
            given = _text(row[comm_col]) if comm_col else None
            if given and given != parsed.community_code:
                problems.append(ReportRow(rownum, code, "community_code", "error",
                                          f"{given} disagrees with the code's community part {parsed.community_code}"))
                continue
        else:
            given = _text(row[comm_col]) if comm_col else None
            if given:
                if len(given) != 12 or not given.isdigit() or not given.startswith(settings.district_code):
                    problems.append(ReportRow(rownum, None, "community_code", "error",
                                              f"{given!r}: expected 12 digits starting with {settings.district_code}"))
                    continue
                rec["community_code"] = given
            elif comm_tree is not None:
                hits = comm_tree.query(geom.representative_point(), predicate="intersects")
                if len(hits) == 0:
                    problems.append(ReportRow(rownum, None, "code", "error",
                                              "no code, and the cell is not inside any known community; "
                                              "add a code or community_code column"))
                    continue
                rec["community_code"] = min(comm_tree_codes[i] for i in hits)
            else:
                problems.append(ReportRow(rownum, None, "code", "error",
                                          "no code and no community_code, and no communities are loaded"))
                continue
        rec["community_name"] = _text(row[comm_name_col]) if comm_name_col else None
        rec["street_name"] = _text(row[street_name_col]) if street_name_col else None
        rec["name"] = _text(row[name_col]) if name_col else None
        rec["land_use"] = _text(row[use_col]) if use_col else None
        area_class = _text(row[class_col]) if class_col else None
        if area_class not in (None, "1", "2", "1.0", "2.0", "一类", "二类"):
            problems.append(ReportRow(rownum, rec.get("code"), "area_class", "error",
                                      f"{area_class!r}: expected 1 (一类) or 2 (二类)"))
            continue
        rec["area_class"] = 2 if area_class in ("2", "2.0", "二类") else 1
        records.append(rec)

    if problems:
        raise ImportRefused(f"{path}: {len(problems)} rows cannot be imported", problems)

    # -- codes for rows that have none -------------------------------------------------
    result = ImportResult(path=str(path), mode=mode)
    max_serial: dict[str, int] = defaultdict(int)
    for code in ever:
        max_serial[code[:12]] = max(max_serial[code[:12]], int(code[12:]))
    for code in seen_codes:
        max_serial[code[:12]] = max(max_serial[code[:12]], int(code[12:]))
    uncoded: dict[str, list[dict]] = defaultdict(list)
    for rec in records:
        if not rec.get("code"):
            uncoded[rec["community_code"]].append(rec)
    for comm_code, recs in sorted(uncoded.items()):
        try:
            numbered = number_cells([r["geom"] for r in recs], comm_code, start=max_serial[comm_code] + 1)
        except GridError as exc:
            raise ImportRefused(f"{path}: cannot number cells of community {comm_code}",
                                [ReportRow(recs[0]["row"], None, "code", "error", str(exc))]) from None
        # number_cells may hand back the polygons in another order: match them by WKB.
        code_by_wkb = {shapely.to_wkb(g): c for c, g in numbered}
        for r in recs:
            r["code"] = code_by_wkb[shapely.to_wkb(r["geom"])]
        result.coded += len(recs)

    # -- the resulting layer and its topology -----------------------------------------
    file_codes = {r["code"] for r in records}
    current = {
        c.code: c for c in session.scalars(sa.select(Cell).where(Cell.valid_to.is_(None))).all()
    }
    current_geoms = {code: to_shape(c.geom) for code, c in current.items()}
    layer_pairs = [(r["code"], r["geom"]) for r in records]
    if mode == "append":
        layer_pairs += [(code, current_geoms[code]) for code in current if code not in file_codes]
    row_of = {r["code"]: r["row"] for r in records}
    try:
        cell_set = CellSet.from_polygons(layer_pairs)
    except GridError as exc:
        rows = [ReportRow(0, None, None, "error", p) for p in getattr(exc, "problems", [str(exc)])]
        raise ImportRefused(f"{path}: the cell layer is not valid", rows) from None

    # Communities missing from the database are made from their cells, so they fit exactly.
    new_communities: dict[str, list] = defaultdict(list)
    for code, geom in layer_pairs:
        if code[:12] not in communities:
            new_communities[code[:12]].append(geom)
    check_geoms = dict(community_geoms)
    for comm_code, geoms in new_communities.items():
        check_geoms[comm_code] = shapely.union_all(geoms)
    report = check_topology(cell_set, communities=check_geoms)
    for issue in report.issues:
        rows = [row_of.get(c, "db") for c in issue.codes] or [0]
        target = problems if issue.severity == "error" or not force else result.warnings
        for rownum, code in zip(rows, issue.codes or (None,)):
            target.append(ReportRow(rownum, code, issue.kind, issue.severity, issue.message))
    # A replace may not silently strand open cases or uncover part of the district.
    retirement = None
    if mode == "replace":
        retirement = assess(session, current_geoms, {r["code"]: r["geom"] for r in records})
        result.retirements = _retirement_rows(retirement)
    if problems:
        errors = sum(1 for p in problems if p.severity == "error")
        hint = "" if errors else " (only warnings: --force imports anyway)"
        raise ImportRefused(f"{path}: topology check failed{hint}", problems + result.retirements)
    if retirement is not None and retirement.blocking and not force:
        raise ImportRefused(f"{path}: {_retirement_summary(retirement)}; nothing was written "
                            "(--force imports anyway)", result.retirements)

    # -- write ---------------------------------------------------------------------------
    today = date.today()
    _ensure_hierarchy(session, settings, new_communities, records, result)
    for rec in records:
        code = rec["code"]
        geom = _multi(rec["geom"])
        values = {
            "district_code": code[:6],
            "street_code": code[:9],
            "community_code": code[:12],
            "serial": code[12:],
            "name": rec["name"],
            "area_m2": float(geom.area),
            "area_class": rec["area_class"],
            "land_use": rec["land_use"],
        }
        existing = current.get(code)
        if existing is None:
            session.add(Cell(code=code, valid_from=today, geom=from_shape(geom, srid=settings.storage_srid), **values))
            result.inserted += 1
        elif current_geoms[code].equals(geom) and all(getattr(existing, k) == v for k, v in values.items() if k != "area_m2"):
            result.unchanged += 1
        else:
            for k, v in values.items():
                setattr(existing, k, v)
            existing.geom = from_shape(geom, srid=settings.storage_srid)
            result.updated += 1
    if mode == "replace":
        gone = [code for code in current if code not in file_codes]
        if gone:
            session.execute(sa.delete(DutyGridCell).where(DutyGridCell.cell_code.in_(gone)))
            session.execute(sa.update(Cell).where(Cell.code.in_(gone)).values(valid_to=today))
            result.retired = len(gone)
    session.flush()
    detail = {
        "file": Path(path).name, "mode": mode, "inserted": result.inserted, "updated": result.updated,
        "retired": result.retired, "coded": result.coded, "warnings_forced": len(result.warnings),
    }
    if retirement is not None and retirement.blocking:
        detail["retirement_forced"] = {"open_cases": retirement.open_cases,
                                       "uncovered_m2": round(retirement.uncovered_m2, 1)}
    record(session, actor, "cells.import", "cells", None, detail)
    return result


def _retirement_summary(retirement: Assessment) -> str:
    """One line: how many cells a replace retires, the open cases they hold, the area it uncovers."""
    text = (f"replace would retire {len(retirement.retired)} cells holding "
            f"{retirement.open_cases} open cases")
    if retirement.uncovered:
        text += f" and leave {retirement.uncovered_m2:.1f} m² of the current layer uncovered"
    return text


def _retirement_rows(retirement: Assessment) -> list[ReportRow]:
    """A row per retired cell with what it holds, and a row per uncovered part.

    Retired cells holding open cases and uncovered parts are warnings (they refuse the
    replace unless forced); other retired cells are notices.
    """
    rows = []
    for code in retirement.retired:
        held = retirement.held[code]
        things = ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in held.items() if n)
        rows.append(ReportRow("db", code, "retired", "warning" if held["open_cases"] else "info",
                              f"not in the file, so retired; holds {things or 'nothing'}", held=held))
    for part in retirement.uncovered:
        x, y = shapely.point_on_surface(part).coords[0]
        rows.append(ReportRow(0, None, "coverage", "warning",
                              f"{part.area:.1f} m² covered by the current cells would be covered by "
                              f"none (around x {x:.1f}, y {y:.1f})"))
    return rows


def _ensure_hierarchy(session: Session, settings: Settings, new_communities: dict[str, list],
                      records: list[dict], result: ImportResult) -> None:
    """Create the district, streets and communities that the file introduces."""
    if session.get(District, settings.district_code) is None:
        session.add(District(code=settings.district_code, name=settings.district_name))
    names = {}
    street_names = {}
    for rec in records:
        names.setdefault(rec["code"][:12], rec.get("community_name"))
        street_names.setdefault(rec["code"][:9], rec.get("street_name"))
    by_street: dict[str, list] = defaultdict(list)
    for comm_code, geoms in new_communities.items():
        by_street[comm_code[:9]].extend(geoms)
    for street_code, geoms in by_street.items():
        street = session.get(Street, street_code)
        union = shapely.union_all(geoms)
        if street is None:
            session.add(Street(code=street_code, district_code=settings.district_code,
                               name=street_names.get(street_code) or f"街道 {street_code}",
                               geom=from_shape(_multi(union), srid=settings.storage_srid)))
        else:
            merged = shapely.union(to_shape(street.geom), union)
            street.geom = from_shape(_multi(merged), srid=settings.storage_srid)
    session.flush()
    for comm_code, geoms in sorted(new_communities.items()):
        session.add(Community(code=comm_code, street_code=comm_code[:9], district_code=settings.district_code,
                              name=names.get(comm_code) or f"社区 {comm_code}",
                              geom=from_shape(_multi(shapely.union_all(geoms)), srid=settings.storage_srid)))
        result.created_communities.append(comm_code)
    session.flush()


def cells_frame(session: Session, srid: int, include_retired: bool = False) -> gpd.GeoDataFrame:
    """Cells with their community and street names as a GeoDataFrame in the storage CRS."""
    query = (
        sa.select(
            Cell.code, Cell.district_code, Cell.street_code, Street.name.label("street_name"),
            Cell.community_code, Community.name.label("community_name"), Cell.serial, Cell.name,
            Cell.area_m2, Cell.area_class, Cell.land_use, Cell.valid_from, Cell.valid_to,
            sa.func.ST_AsBinary(Cell.geom).label("wkb"),
        )
        .join(Community, Community.code == Cell.community_code)
        .join(Street, Street.code == Cell.street_code)
        .order_by(Cell.code)
    )
    if not include_retired:
        query = query.where(Cell.valid_to.is_(None))
    rows = session.execute(query).mappings().all()
    data = {k: [r[k] for r in rows] for k in (
        "code", "district_code", "street_code", "street_name", "community_code", "community_name",
        "serial", "name", "area_m2", "area_class", "land_use")}
    data["valid_from"] = [r["valid_from"].isoformat() if r["valid_from"] else None for r in rows]
    data["valid_to"] = [r["valid_to"].isoformat() if r["valid_to"] else None for r in rows]
    geoms = shapely.from_wkb([bytes(r["wkb"]) for r in rows]) if rows else []
    return gpd.GeoDataFrame(data, geometry=list(geoms), crs=f"EPSG:{srid}")


# Shapefile field names are limited to 10 bytes: use the standard's abbreviations
# (GB/T 47678.5 attribute codes), which the importer reads back.
SHAPEFILE_NAMES = {
    "code": "SZDYWGBSM",
    "district_code": "XZQDM",
    "street_code": "SZJDDM",
    "street_name": "SZJDMC",
    "community_code": "SZSQDM",
    "community_name": "SZSQMC",
}


def export_cells(session: Session, path: Path, settings: Settings, *, to_crs: str | None = None,
                 include_retired: bool = False) -> int:
    """Write the cell layer to ``path`` (format by extension); return the number of cells."""
    frame = cells_frame(session, settings.storage_srid, include_retired)
    if Path(path).suffix.lower() == ".shp":
        frame = frame.rename(columns=SHAPEFILE_NAMES)
    write_vector(frame, path, to_crs=to_crs)
    return len(frame)
