"""Underground pipelines 地下管线: checking, writing, file import/export and the spatial queries.

:func:`validate` is the one check of a pipeline segment, used by the API and by file import
alike, so their rules cannot drift. Codes are the CJJ 61-2017 tables seeded by migration 0003
(class / subclass App. B, material Table C.0.1, burial method Table C.0.2).

Queries work in the metric storage CRS with GiST-friendly predicates (``&&``, ``ST_DWithin``):
the excavation check (:func:`near`), crossings between classes (:func:`crossings`) and per-cell
statistics (:func:`cell_stats`). Depths are interpolated linearly along the segment between its
start and end depth.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Pipeline
from .bbox_query import page_in_bbox
from . import refcache
from .audit import Actor, record
from .layer_io import Field, LayerSpec, RowError, blank, number, register, text

#: Lifecycle states of a segment (Chinese census values are accepted on input).
STATUSES = ("in_use", "building", "planned", "abandoned", "removed")
_STATUS_ALIASES = {"在用": "in_use", "使用": "in_use", "在建": "building", "规划": "planned",
                   "废弃": "abandoned", "停用": "abandoned", "拆除": "removed", "已拆除": "removed"}
#: Classes that carry a pressure (water supply, gas, heat) and the one that carries a voltage.
PRESSURE_CLASSES = ("JS", "RQ", "RL")
VOLTAGE_CLASSES = ("DL",)
#: Plausibility bounds: beyond them a value is almost surely in the wrong unit.
MAX_DEPTH_M = 100.0
MAX_SIZE_MM = 20_000.0
MAX_PRESSURE_MPA = 100.0
MAX_VOLTAGE_KV = 1_000.0
MIN_BUILD_YEAR = 1900
MIN_LENGTH_M = 0.01
MAX_VERTICES = 10_000
#: A crossing this close (m) to a segment's end is that segment ending on the other, not a crossing.
END_TOLERANCE_M = 0.001
#: Result caps of the queries.
MAX_NEAR_RESULTS = 500
MAX_CROSSINGS = 5_000

_CHINA = timezone(timedelta(hours=8))
_SEED = Path(__file__).resolve().parent.parent / "seed" / "pipeline_classes_cjj61.csv"
_SECTION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*[xX×*]\s*(\d+(?:\.\d+)?)\s*(?:mm)?\s*$")
_DIAMETER_PREFIX_RE = re.compile(r"^\s*(?:DN|DE|D|Φ|φ|Ø)\s*", re.IGNORECASE)
_YEAR_RE = re.compile(r"^(\d{4})(?:[-/.年]?(\d{1,2})(?:[-/.月]?\d{1,2}日?)?月?)?$")
_PAIR_RE = re.compile(r"^([A-Z]{2})[-_/ ]?([A-Z]{2})$")

FIELDS = (
    Field("code", "code", ("gxdbh", "gxbh", "管线段编号", "管线编号")),
    Field("class_abbr", "class", ("gxlb", "dl", "lb", "fcode", "管线类别", "大类")),
    Field("subclass_abbr", "subclass", ("gxxl", "xl", "小类")),
    Field("material_code", "material", ("cz", "gc", "材质", "管材")),
    Field("burial_code", "burial", ("msfs", "fsfs", "埋设方式", "敷设方式")),
    Field("diameter_mm", "diam_mm", ("gj", "dn", "管径")),
    Field("section", "section", ("dmcc", "断面尺寸")),
    Field("start_depth_m", "start_dep", ("qdms", "起点埋深")),
    Field("end_depth_m", "end_dep", ("zdms", "终点埋深")),
    Field("build_year", "build_year", ("jcny", "jcnd", "建成年月", "建成年份")),
    Field("owner", "owner", ("qsdw", "权属单位")),
    Field("pressure_mpa", "press_mpa", ("yl", "gwyl", "压力", "管网压力")),
    Field("voltage_kv", "volt_kv", ("dy", "dyz", "电压", "电压值")),
    Field("status", "status", ("zt", "gxzt", "状态", "管线状态")),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)


def this_year() -> int:
    """The current year in China (build years and ages count in local time)."""
    return datetime.now(_CHINA).year


def hex_colour(rgb: str) -> str:
    """``"76,57,38"`` (the seed's RGB) → ``"#4c3926"``."""
    return "#" + "".join(f"{int(v):02x}" for v in rgb.split(","))


# -- code tables ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PipeClass:
    """One CJJ 61 subclass row with its class."""

    class_abbr: str
    subclass_abbr: str
    class_code: int
    subclass_code: str
    class_name: str
    subclass_name: str
    color_name: str
    color: str


@dataclass(frozen=True)
class Codes:
    """The CJJ 61 code tables as loaded from the database."""

    classes: dict[tuple[str, str], PipeClass]
    materials: dict[str, str]
    burials: dict[str, str]

    def class_abbrs(self) -> dict[str, str]:
        """Class abbreviation → class name, in code order."""
        out: dict[str, str] = {}
        for c in sorted(self.classes.values(), key=lambda c: (c.class_code, c.subclass_code)):
            out.setdefault(c.class_abbr, c.class_name)
        return out

    def subclasses(self, class_abbr: str) -> list[PipeClass]:
        """The subclasses of a class, in code order."""
        return sorted((c for c in self.classes.values() if c.class_abbr == class_abbr),
                      key=lambda c: c.subclass_code)


def _standard_subclass_codes() -> dict[tuple[str, str], str]:
    """(class, subclass) → the standard's 2-digit subclass code.

    CJJ 61-2017 App. B numbers the subclasses of each class 01, 02, … in the order the seed
    file lists them (the table is transcribed in the standard's order).
    """
    counters: dict[str, int] = {}
    out: dict[tuple[str, str], str] = {}
    with _SEED.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            n = counters.get(row["class_abbr"], 0) + 1
            counters[row["class_abbr"]] = n
            out[(row["class_abbr"], row["subclass_abbr"])] = f"{n:02d}"
    return out


def load_codes(session: Session) -> Codes:
    """The code tables (cached per process for a minute; they are seed data)."""

    def load() -> Codes:
        numbers = _standard_subclass_codes()
        rows = session.execute(sa.text(
            "SELECT class_abbr, subclass_abbr, class_code, class_name, subclass_name, color_name, rgb"
            " FROM pipeline_classes")).mappings()
        classes = {
            (r["class_abbr"], r["subclass_abbr"]): PipeClass(
                r["class_abbr"], r["subclass_abbr"], int(r["class_code"]),
                numbers.get((r["class_abbr"], r["subclass_abbr"]), ""), r["class_name"],
                r["subclass_name"], r["color_name"], hex_colour(r["rgb"]))
            for r in rows
        }
        materials = dict(session.execute(sa.text("SELECT code, name FROM pipeline_materials ORDER BY code")).all())
        burials = dict(session.execute(sa.text("SELECT code, name FROM pipeline_burials ORDER BY code")).all())
        return Codes(classes, materials, burials)

    return refcache.cached(("pipeline_codes",), load)


# -- validation (shared by the API and file import) -------------------------------------------


@dataclass(frozen=True)
class Context:
    """What :func:`validate` needs, loaded once per request or file."""

    codes: Codes
    district_code: str
    year: int


def prepare(session: Session, settings: Settings) -> Context:
    """Load the code tables for checking rows."""
    return Context(load_codes(session), settings.district_code, this_year())


def _choices(pairs: Mapping[str, str]) -> str:
    return ", ".join(f"{k} {v}" for k, v in pairs.items())


def _resolve_class(codes: Codes, values: Mapping[str, Any]) -> PipeClass:
    """The class/subclass of a row: abbreviations (PS + WS), a pair (PSWS, PS-WS), the
    standard's numeric codes (2 + 02, or 202 as one code), or the Chinese names (排水 + 污水)."""
    raw_class = text(values, "class_abbr", max_len=20)
    raw_sub = text(values, "subclass_abbr", max_len=20)
    classes = codes.class_abbrs()
    class_abbr: str | None = None
    sub_hint: str | None = None
    if raw_class is not None:
        up = raw_class.upper()
        by_name = {name: abbr for abbr, name in classes.items()}
        pair = _PAIR_RE.match(up)
        if up in classes:
            class_abbr = up
        elif raw_class in by_name:
            class_abbr = by_name[raw_class]
        elif up.isdigit() and len(up) == 1:
            class_abbr = next((c.class_abbr for c in codes.classes.values() if str(c.class_code) == up), None)
        elif up.isdigit() and len(up) == 3:
            hit = next((c for c in codes.classes.values()
                        if f"{c.class_code}{c.subclass_code}" == up), None)
            if hit is not None:
                class_abbr, sub_hint = hit.class_abbr, hit.subclass_abbr
        elif pair and pair.group(1) in classes:
            class_abbr, sub_hint = pair.group(1), pair.group(2)
        if class_abbr is None:
            raise RowError("class_abbr", f"{raw_class!r} is not a CJJ 61 pipeline class; "
                                         f"valid: {_choices(classes)}")
    elif raw_sub is not None:
        # A subclass abbreviation is unique across classes, so it names its class.
        owners = [c for c in codes.classes.values() if c.subclass_abbr == raw_sub.upper()]
        if len(owners) != 1:
            raise RowError("class_abbr", f"is required; valid: {_choices(classes)}")
        class_abbr = owners[0].class_abbr
    else:
        raise RowError("class_abbr", f"is required; valid: {_choices(classes)}")

    subs = codes.subclasses(class_abbr)
    listing = ", ".join(f"{s.subclass_abbr} {s.subclass_name}" for s in subs)
    where = f"{class_abbr} {classes[class_abbr]}"
    if raw_sub is None:
        if sub_hint is None:
            raise RowError("subclass_abbr", f"is required; {where} has: {listing}")
        raw_sub = sub_hint
    elif sub_hint is not None and raw_sub.upper() != sub_hint:
        raise RowError("subclass_abbr", f"{raw_sub!r} contradicts class {raw_class!r}")
    up = raw_sub.upper()
    for s in subs:
        if up in (s.subclass_abbr, s.subclass_code, s.subclass_code.lstrip("0")) or raw_sub == s.subclass_name:
            return s
    raise RowError("subclass_abbr", f"{raw_sub!r} is not a subclass of {where}; valid: {listing}")


def _code_of(table: Mapping[str, str], values: Mapping[str, Any], name: str) -> str | None:
    """A material or burial code, given as its code (QM) or its name (球墨铸铁)."""
    raw = text(values, name, max_len=20)
    if raw is None:
        return None
    if raw.upper() in table:
        return raw.upper()
    for code, label in table.items():
        if raw == label:
            return code
    raise RowError(name, f"{raw!r} is not a CJJ 61 code; valid: {_choices(table)}")


def _section(raw: Any, name: str) -> str:
    """A rectangular section ``"WxH"`` in mm, normalised."""
    m = _SECTION_RE.match(str(raw))
    if not m:
        raise RowError(name, f"expected a section 'WxH' in mm such as 400x300, got {raw!r}")
    w, h = float(m.group(1)), float(m.group(2))
    if not (0 < w <= MAX_SIZE_MM and 0 < h <= MAX_SIZE_MM):
        raise RowError(name, f"{raw!r}: width and height must be greater than 0 and at most {MAX_SIZE_MM:g} mm")
    return f"{w:g}x{h:g}"


def _size(values: Mapping[str, Any], subclass: PipeClass) -> tuple[float | None, str | None]:
    """Diameter (mm) or section; the census column 管径 may hold either (DN300, 400×300)."""
    diameter_raw = values.get("diameter_mm")
    section = None if blank(values.get("section")) else _section(values.get("section"), "section")
    diameter = None
    if not blank(diameter_raw):
        if isinstance(diameter_raw, str):
            stripped = _DIAMETER_PREFIX_RE.sub("", diameter_raw).strip()
            if _SECTION_RE.match(stripped):
                if section is None:
                    return None, _section(stripped, "diameter_mm")
                raise RowError("diameter_mm", f"{diameter_raw!r} is a section; section is given too")
            diameter_raw = stripped.removesuffix("mm").strip()
        diameter = number({"diameter_mm": diameter_raw}, "diameter_mm", minimum=0,
                          exclusive_minimum=True, maximum=MAX_SIZE_MM)
    if diameter is None and section is None and subclass.subclass_abbr != "BM":
        # Only an unidentified line (不明管线) may lack a size: the excavation check needs it.
        raise RowError("diameter_mm", "give diameter_mm (round pipe) or section 'WxH' (duct), in mm")
    return diameter, section


def _build_year(values: Mapping[str, Any], year: int) -> int | None:
    """建成年月 as a year: 2015, 201506, 2015-06, 2015年6月 or a date."""
    raw = values.get("build_year")
    if blank(raw):
        return None
    if isinstance(raw, bool):
        raise RowError("build_year", f"expected a year, got {raw!r}")
    if isinstance(raw, (date, datetime)):
        result = raw.year
    else:
        raw = str(raw).strip()
        try:  # 1998.0 and 201506.0: a spreadsheet or a float column
            as_float = float(raw)
            if as_float.is_integer():
                raw = str(int(as_float))
        except ValueError:
            pass
        m = _YEAR_RE.match(raw)
        if not m or (m.group(2) and not 1 <= int(m.group(2)) <= 12):
            raise RowError("build_year", f"expected a year (YYYY or YYYYMM), got {raw!r}")
        result = int(m.group(1))
    if not MIN_BUILD_YEAR <= result <= year:
        raise RowError("build_year", f"{result} is out of range: must be {MIN_BUILD_YEAR}–{year}")
    return result


def _status(values: Mapping[str, Any]) -> str:
    raw = text(values, "status", max_len=20)
    if raw is None:
        return "in_use"
    if raw in _STATUS_ALIASES:
        return _STATUS_ALIASES[raw]
    if raw.lower() in STATUSES:
        return raw.lower()
    raise RowError("status", f"{raw!r} is not one of {', '.join(STATUSES)}")


def check_line(geom: BaseGeometry) -> LineString:
    """A segment's geometry in the storage CRS: one simple 2D line of non-zero length."""
    if geom is None or geom.is_empty:
        raise RowError("geometry", "is required (a LineString)")
    if isinstance(geom, MultiLineString):
        if len(geom.geoms) != 1:
            raise RowError("geometry", f"a segment is one line; this MultiLineString has "
                                       f"{len(geom.geoms)} parts: split it")
        geom = geom.geoms[0]
    if not isinstance(geom, LineString):
        raise RowError("geometry", f"{geom.geom_type}: a pipeline segment is a LineString")
    geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if len(coords) > MAX_VERTICES:
        raise RowError("geometry", f"{len(coords)} vertices; at most {MAX_VERTICES}")
    if not np.isfinite(coords).all():
        raise RowError("geometry", "coordinates must be finite numbers")
    if geom.length < MIN_LENGTH_M:
        raise RowError("geometry", f"has {'zero' if geom.length == 0 else 'almost no'} length "
                                   f"({geom.length:.3g} m); at least {MIN_LENGTH_M} m")
    if not geom.is_simple:
        raise RowError("geometry", "the line crosses or overlaps itself; split it into simple segments")
    return geom


def validate(ctx: Context, values: Mapping[str, Any], geom: BaseGeometry) -> dict[str, Any]:
    """Check one segment (canonical field → raw value, geometry in the storage CRS).

    Returns the record to write; raises :class:`RowError` naming the first bad field.
    """
    code = text(values, "code", required=True, max_len=40)
    cls = _resolve_class(ctx.codes, values)
    material = _code_of(ctx.codes.materials, values, "material_code")
    burial = _code_of(ctx.codes.burials, values, "burial_code")
    diameter, section = _size(values, cls)
    start = number(values, "start_depth_m", required=True, minimum=0, maximum=MAX_DEPTH_M)
    end = number(values, "end_depth_m", required=True, minimum=0, maximum=MAX_DEPTH_M)
    build_year = _build_year(values, ctx.year)
    owner = text(values, "owner", max_len=200)
    pressure = number(values, "pressure_mpa", minimum=0, maximum=MAX_PRESSURE_MPA)
    if pressure is not None and cls.class_abbr not in PRESSURE_CLASSES:
        raise RowError("pressure_mpa", f"only water supply, gas and heat pipes ({', '.join(PRESSURE_CLASSES)}) "
                                       f"carry a pressure; this is {cls.class_abbr} {cls.class_name}")
    voltage = number(values, "voltage_kv", minimum=0, maximum=MAX_VOLTAGE_KV)
    if voltage is not None and cls.class_abbr not in VOLTAGE_CLASSES:
        raise RowError("voltage_kv", f"only power cables (DL) carry a voltage; this is "
                                     f"{cls.class_abbr} {cls.class_name}")
    status = _status(values)
    line = check_line(geom)
    return {
        "code": code, "class_abbr": cls.class_abbr, "subclass_abbr": cls.subclass_abbr,
        "material_code": material, "burial_code": burial, "diameter_mm": diameter, "section": section,
        "start_depth_m": start, "end_depth_m": end, "build_year": build_year, "owner": owner,
        "pressure_mpa": pressure, "voltage_kv": voltage, "status": status,
        "district_code": ctx.district_code, "geom": line,
    }


# -- writing -------------------------------------------------------------------------------------

_COLUMNS = FIELD_NAMES + ("district_code",)

# The cell holding the segment's midpoint, by the same rule as /grid/locate (grid.locate):
# a point on a shared edge belongs to the lowest code among the current cells covering it.
_ASSIGN_CELLS = sa.text(
    """
    UPDATE pipelines p SET cell_code = (
        SELECT c.code FROM cells c
        WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_LineInterpolatePoint(p.geom, 0.5))
        ORDER BY c.code LIMIT 1)
    WHERE p.id = ANY(:ids)
    """
)


def _row(rec: Mapping[str, Any], srid: int) -> dict[str, Any]:
    row = {k: rec[k] for k in _COLUMNS}
    row["geom"] = from_shape(rec["geom"], srid=srid)
    return row


def existing_codes(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """code → id of the given codes that are already stored."""
    if not codes:
        return {}
    rows = session.execute(sa.text("SELECT code, id FROM pipelines WHERE code = ANY(:codes)"),
                           {"codes": list(codes)})
    return dict(rows.all())


def insert(session: Session, settings: Settings, records: Sequence[Mapping[str, Any]]) -> list[int]:
    """Insert checked records; returns their ids in order, with cell codes assigned."""
    if not records:
        return []
    table = Pipeline.__table__
    result = session.execute(
        sa.insert(table).returning(table.c.id, sort_by_parameter_order=True),
        [_row(r, settings.storage_srid) for r in records],
    )
    ids = [row[0] for row in result]
    session.execute(_ASSIGN_CELLS, {"ids": ids})
    return ids


def update(session: Session, settings: Settings, ids: Sequence[int],
           records: Sequence[Mapping[str, Any]]) -> None:
    """Replace the fields of the rows ``ids`` with checked records; reassign their cells."""
    if not records:
        return
    table = Pipeline.__table__
    # Bind names must differ from the column names in an UPDATE's SET clause.
    stmt = (sa.update(table).where(table.c.id == sa.bindparam("v_id"))
            .values({**{c: sa.bindparam(f"v_{c}", type_=table.c[c].type) for c in (*_COLUMNS, "geom")},
                     "updated_at": sa.func.now()}))
    session.execute(stmt, [{**{f"v_{k}": v for k, v in _row(r, settings.storage_srid).items()}, "v_id": i}
                           for i, r in zip(ids, records)])
    session.execute(_ASSIGN_CELLS, {"ids": list(ids)})


def write(session: Session, settings: Settings, actor: Actor, records: list[dict[str, Any]],
          mode: str) -> tuple[int, int]:
    """File import: insert, or insert-or-update by code (``mode="upsert"``)."""
    existing = existing_codes(session, [r["code"] for r in records])
    if existing and mode != "upsert":
        clash = [f"row {r['_row']}: {r['code']}" for r in records if r["code"] in existing]
        raise RowError("code", f"{len(clash)} code(s) already stored ({'; '.join(clash[:5])}"
                               f"{'; …' if len(clash) > 5 else ''}); use --mode upsert to update them")
    new = [r for r in records if r["code"] not in existing]
    old = [r for r in records if r["code"] in existing]
    insert(session, settings, new)
    update(session, settings, [existing[r["code"]] for r in old], old)
    return len(new), len(old)


def create(session: Session, settings: Settings, actor: Actor, rec: Mapping[str, Any]) -> int:
    """Insert one checked segment (API) with its audit row; returns the id."""
    [new_id] = insert(session, settings, [rec])
    record(session, actor, "pipeline.create", "pipeline", new_id, {"code": rec["code"]})
    return new_id


def change(session: Session, settings: Settings, actor: Actor, pipeline_id: int, rec: Mapping[str, Any],
           changed: Sequence[str]) -> None:
    """Replace one segment with a checked record (API) and audit which fields changed."""
    update(session, settings, [pipeline_id], [rec])
    record(session, actor, "pipeline.update", "pipeline", pipeline_id,
           {"code": rec["code"], "fields": sorted(changed)})


def delete(session: Session, actor: Actor, pipeline_id: int) -> bool:
    """Delete one segment (API); False when there is none."""
    code = session.scalar(sa.text("DELETE FROM pipelines WHERE id = :id RETURNING code"), {"id": pipeline_id})
    if code is None:
        return False
    record(session, actor, "pipeline.delete", "pipeline", pipeline_id, {"code": code})
    return True


def raw_values(session: Session, pipeline_id: int) -> tuple[dict[str, Any], LineString] | None:
    """A stored segment as canonical values and its geometry (the base a PATCH applies to)."""
    row = session.execute(
        sa.text(f"SELECT {', '.join(FIELD_NAMES)}, ST_AsBinary(geom) AS wkb FROM pipelines WHERE id = :id"),
        {"id": pipeline_id},
    ).mappings().first()
    if row is None:
        return None
    values = {k: row[k] for k in FIELD_NAMES}
    return values, shapely.from_wkb(bytes(row["wkb"]))


# -- reading ---------------------------------------------------------------------------------------

_FEATURE_COLUMNS = """
    p.id, p.code, p.district_code, p.cell_code, p.class_abbr, p.subclass_abbr,
           pc.class_name, pc.subclass_name, pc.rgb,
           p.material_code, m.name AS material_name, p.burial_code, b.name AS burial_name,
           p.diameter_mm, p.section, p.start_depth_m, p.end_depth_m, p.build_year, p.owner,
           p.pressure_mpa, p.voltage_kv, p.status, ST_Length(p.geom) AS length_m
"""
_SELECT = f"SELECT {_FEATURE_COLUMNS}"
_JOINS = """
    JOIN pipeline_classes pc ON pc.class_abbr = p.class_abbr AND pc.subclass_abbr = p.subclass_abbr
    LEFT JOIN pipeline_materials m ON m.code = p.material_code
    LEFT JOIN pipeline_burials b ON b.code = p.burial_code
"""
_FROM = f"FROM pipelines p {_JOINS}"
_ENVELOPE = "ST_Transform(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326), :srid)"


def properties(row: Mapping[str, Any]) -> dict[str, Any]:
    """A segment's feature properties: its canonical fields, names, colour, cell and length."""
    props = {k: row[k] for k in ("code", "class_abbr", "class_name", "subclass_abbr", "subclass_name")}
    props["color"] = hex_colour(row["rgb"])
    for k in ("material_code", "material_name", "burial_code", "burial_name", "diameter_mm", "section",
              "start_depth_m", "end_depth_m", "build_year", "owner", "pressure_mpa", "voltage_kv",
              "status", "cell_code", "district_code"):
        props[k] = row[k]
    props["length_m"] = round(float(row["length_m"]), 2)
    return props


def _feature(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["g"]), "properties": properties(row)}


def features_in_bbox(session: Session, settings: Settings, bbox: tuple[float, float, float, float],
                     limit: int, offset: int = 0,
                     classes: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """Segments meeting a CRS84 bbox as CRS84 features (ordered by id) and how many match."""
    where = ["p.district_code = :district"]
    params: dict[str, Any] = {"district": settings.district_code}
    if classes:
        where.append("p.class_abbr = ANY(:classes)")
        params["classes"] = list(classes)
    rows, total = page_in_bbox(session, settings.storage_srid, bbox, table="pipelines", alias="p",
                               select=f"{_FEATURE_COLUMNS}, ST_AsGeoJSON(ST_Transform(p.geom, 4326), 7) AS g",
                               joins=_JOINS, where=where, params=params, order_by="p.id",
                               limit=limit, offset=offset)
    return [_feature(r) for r in rows], total


def feature(session: Session, pipeline_id: int) -> dict[str, Any] | None:
    """One segment as a CRS84 feature, or None."""
    row = session.execute(sa.text(
        f"{_SELECT}, ST_AsGeoJSON(ST_Transform(p.geom, 4326), 7) AS g {_FROM} WHERE p.id = :id"),
        {"id": pipeline_id}).mappings().first()
    return None if row is None else _feature(row)


def class_table(session: Session) -> list[dict[str, Any]]:
    """The CJJ 61 classes with their subclasses and colours (the map legend)."""
    codes = load_codes(session)
    out = []
    for abbr, name in codes.class_abbrs().items():
        subs = codes.subclasses(abbr)
        out.append({
            "class_abbr": abbr, "class_code": subs[0].class_code, "name": name,
            "color": subs[0].color, "color_name": subs[0].color_name,
            "subclasses": [{"subclass_abbr": s.subclass_abbr, "code": f"{s.class_code}{s.subclass_code}",
                            "name": s.subclass_name, "color": s.color, "color_name": s.color_name}
                           for s in subs],
        })
    return out


# -- the excavation check -------------------------------------------------------------------------

_NEAR_SQL = sa.text(
    f"""
    WITH q AS (SELECT ST_SetSRID(ST_MakePoint(:x, :y), :srid) AS pt)
    {_SELECT}, ST_Distance(p.geom, q.pt) AS distance_m, ST_LineLocatePoint(p.geom, q.pt) AS fraction,
           ST_AsGeoJSON(ST_Transform(ST_ClosestPoint(p.geom, q.pt), 4326), 7) AS nearest_g
    {_FROM} CROSS JOIN q
    WHERE p.district_code = :district AND ST_DWithin(p.geom, q.pt, :radius)
    ORDER BY distance_m, p.id
    LIMIT :limit
    """
)


def depth_at(start_depth: float, end_depth: float, fraction: float) -> float:
    """Depth at ``fraction`` (0 = start, 1 = end) of the length, linear between the end depths."""
    return start_depth + (end_depth - start_depth) * fraction


def near(session: Session, settings: Settings, x: float, y: float, radius_m: float,
         limit: int = MAX_NEAR_RESULTS) -> list[dict[str, Any]]:
    """Segments within ``radius_m`` of storage point (x, y), nearest first, each with the distance
    to its nearest point, the fraction of its length there and the depth interpolated there."""
    rows = session.execute(_NEAR_SQL, {"x": x, "y": y, "srid": settings.storage_srid, "radius": radius_m,
                                       "district": settings.district_code, "limit": limit}).mappings()
    out = []
    for r in rows:
        item = {"id": r["id"], **properties(r)}
        item["distance_m"] = round(float(r["distance_m"]), 3)
        item["fraction"] = round(float(r["fraction"]), 6)
        item["depth_m"] = round(depth_at(r["start_depth_m"], r["end_depth_m"], float(r["fraction"])), 3)
        item["nearest"] = json.loads(r["nearest_g"])["coordinates"]
        out.append(item)
    return out


# -- crossings between classes --------------------------------------------------------------------

_CROSSINGS_SQL = """
    WITH area AS (SELECT {area} AS geom),
    hits AS (
        SELECT a.id AS a_id, b.id AS b_id, (ST_Dump(ST_Intersection(a.geom, b.geom))).geom AS x
        FROM area, pipelines a
        JOIN pipelines b ON b.geom && a.geom AND a.id < b.id AND b.class_abbr <> a.class_abbr
        WHERE a.district_code = :district AND b.district_code = :district
          AND a.geom && area.geom AND b.geom && area.geom
          AND ST_Crosses(a.geom, b.geom)
    )
    SELECT h.a_id, h.b_id, ST_AsGeoJSON(ST_Transform(h.x, 4326), 7) AS g,
           ST_LineLocatePoint(a.geom, h.x) AS fa, ST_LineLocatePoint(b.geom, h.x) AS fb
    FROM hits h
    JOIN pipelines a ON a.id = h.a_id
    JOIN pipelines b ON b.id = h.b_id
    CROSS JOIN area
    WHERE GeometryType(h.x) = 'POINT' AND ST_Intersects(area.geom, h.x)
      -- a segment ending on the other is a junction or a touch, not a crossing
      AND NOT ST_DWithin(h.x, ST_StartPoint(a.geom), :tol) AND NOT ST_DWithin(h.x, ST_EndPoint(a.geom), :tol)
      AND NOT ST_DWithin(h.x, ST_StartPoint(b.geom), :tol) AND NOT ST_DWithin(h.x, ST_EndPoint(b.geom), :tol)
    ORDER BY h.a_id, h.b_id, ST_X(h.x), ST_Y(h.x)
    LIMIT :limit
"""


def _area_sql(bbox: tuple[float, float, float, float] | None, cell: str | None,
              params: dict[str, Any]) -> str:
    if cell is not None:
        params["cell"] = cell
        return "(SELECT geom FROM cells WHERE code = :cell AND valid_to IS NULL)"
    assert bbox is not None
    params.update(minx=bbox[0], miny=bbox[1], maxx=bbox[2], maxy=bbox[3])
    return _ENVELOPE


def cell_exists(session: Session, code: str) -> bool:
    """Whether ``code`` is a current cell."""
    return session.scalar(sa.text("SELECT 1 FROM cells WHERE code = :c AND valid_to IS NULL"), {"c": code}) == 1


def crossings(session: Session, settings: Settings, *, bbox: tuple[float, float, float, float] | None = None,
              cell: str | None = None, limit: int = MAX_CROSSINGS) -> tuple[list[dict[str, Any]], bool]:
    """Points where segments of different classes cross inside a CRS84 bbox or a cell, as CRS84
    point features carrying both segments, their depths there and the vertical clearance
    (difference of the two depths). Touches at a segment's end are not crossings.

    Returns the features and whether ``limit`` cut the list short.
    """
    params: dict[str, Any] = {"srid": settings.storage_srid, "district": settings.district_code,
                              "tol": END_TOLERANCE_M, "limit": limit + 1}
    sql = _CROSSINGS_SQL.format(area=_area_sql(bbox, cell, params))
    hits = session.execute(sa.text(sql), params).mappings().all()
    truncated = len(hits) > limit
    hits = hits[:limit]
    ids = sorted({h["a_id"] for h in hits} | {h["b_id"] for h in hits})
    pipes = {}
    if ids:
        rows = session.execute(sa.text(f"{_SELECT} {_FROM} WHERE p.id = ANY(:ids)"), {"ids": ids}).mappings()
        pipes = {r["id"]: r for r in rows}
    out = []
    for h in hits:
        sides = {}
        for side, pid, frac in (("a", h["a_id"], h["fa"]), ("b", h["b_id"], h["fb"])):
            p = pipes[pid]
            sides[side] = {"id": pid, **properties(p), "fraction": round(float(frac), 6),
                           "depth_m": round(depth_at(p["start_depth_m"], p["end_depth_m"], float(frac)), 3)}
        clearance = round(abs(sides["a"]["depth_m"] - sides["b"]["depth_m"]), 3)
        out.append({"type": "Feature", "geometry": json.loads(h["g"]),
                    "properties": {"a": sides["a"], "b": sides["b"], "clearance_m": clearance}})
    return out, truncated


# -- per-cell statistics ---------------------------------------------------------------------------

_STATS_SQL = """
    WITH sel AS (
        SELECT c.code, c.geom FROM cells c
        WHERE c.valid_to IS NULL AND {cells}
    ),
    parts AS (
        SELECT s.code AS cell_code, p.class_abbr, p.build_year,
               ST_Length(ST_Intersection(p.geom, s.geom)) AS len
        FROM sel s JOIN pipelines p ON p.geom && s.geom AND ST_Intersects(p.geom, s.geom)
        WHERE p.district_code = :district
    )
    SELECT cell_code, class_abbr, count(*) AS pipes, sum(len) AS length_m,
           count(*) FILTER (WHERE build_year < :cutoff) AS old_pipes,
           coalesce(sum(len) FILTER (WHERE build_year < :cutoff), 0) AS old_length_m
    FROM parts WHERE len > 0
    GROUP BY cell_code, class_abbr
    ORDER BY cell_code, class_abbr
"""


def cell_stats(session: Session, settings: Settings, *, bbox: tuple[float, float, float, float] | None = None,
               cell: str | None = None, older_than: int | None = None) -> list[dict[str, Any]]:
    """Pipeline length per class in each current cell (lines clipped by the cells) and, with
    ``older_than`` N, the pipes older than N years there (built before this year − N).

    A segment crossing several cells counts in each with the length inside it. Cells without
    pipes are left out, except the one asked for by ``cell``.
    """
    params: dict[str, Any] = {"district": settings.district_code,
                              "cutoff": this_year() - older_than if older_than is not None else -1}
    if cell is not None:
        params["cell"] = cell
        cells_sql = "c.code = :cell"
    else:
        assert bbox is not None
        params.update(minx=bbox[0], miny=bbox[1], maxx=bbox[2], maxy=bbox[3], srid=settings.storage_srid)
        cells_sql = f"c.geom && {_ENVELOPE} AND ST_Intersects(c.geom, {_ENVELOPE})"
    rows = session.execute(sa.text(_STATS_SQL.format(cells=cells_sql)), params).mappings()
    codes = load_codes(session)
    classes = codes.class_abbrs()
    colours = {abbr: codes.subclasses(abbr)[0].color for abbr in classes}
    by_cell: dict[str, dict[str, Any]] = {}
    if cell is not None:
        by_cell[cell] = {"cell_code": cell, "length_m": 0.0, "classes": []}
    for r in rows:
        entry = by_cell.setdefault(r["cell_code"], {"cell_code": r["cell_code"], "length_m": 0.0, "classes": []})
        item = {"class_abbr": r["class_abbr"], "class_name": classes.get(r["class_abbr"]),
                "color": colours.get(r["class_abbr"]), "pipes": r["pipes"],
                "length_m": round(float(r["length_m"]), 2)}
        if older_than is not None:
            item["old_pipes"] = r["old_pipes"]
            item["old_length_m"] = round(float(r["old_length_m"]), 2)
        entry["classes"].append(item)
        entry["length_m"] += float(r["length_m"])
    out = []
    for entry in by_cell.values():
        entry["length_m"] = round(entry["length_m"], 2)
        if older_than is not None:
            entry["old_pipes"] = sum(c["old_pipes"] for c in entry["classes"])
            entry["old_length_m"] = round(sum(c["old_length_m"] for c in entry["classes"]), 2)
        out.append(entry)
    return out


# -- export ---------------------------------------------------------------------------------------


def frame(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """The layer in the storage CRS with the canonical columns (plus the derived cell code)."""
    sql = sa.text(f"SELECT {', '.join(FIELD_NAMES)}, cell_code, geom FROM pipelines"
                  " WHERE district_code = :district ORDER BY id")
    return gpd.read_postgis(sql, session.connection(), geom_col="geom",
                            params={"district": settings.district_code}, crs=f"EPSG:{settings.storage_srid}")


SPEC = register(LayerSpec(
    name="pipelines",
    title="Underground pipelines",
    fields=FIELDS,
    key="code",
    geometry_types=("LineString", "MultiLineString"),
    prepare=prepare,
    validate=validate,
    write=write,
    frame=frame,
))
