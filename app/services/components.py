"""Management components 管理部件: one check for API and import, identifier allocation, snapping, reads.

Identifiers follow the configured directory (``CITYGRID_CATEGORY_STANDARD``): 17 digits under
GB/T 47678.5-2026, 16 under the legacy GB/T 30428.2 (``grid.componentid``). Missing ones are
allocated from ``component_serials``, a per district + class counter that only grows: it is
raised past every serial ever written (imported ids included), so a serial is never handed
out twice even after its component is deleted, and the row lock of its upsert serialises
concurrent allocations.

A component's ``cell_code`` is the current cell holding a point on it (for a line, a point on
the line), its ``building_id`` the smallest footprint covering that point.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

import geopandas as gpd
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from grid.componentid import MAX_SERIAL, ComponentIdError, format_component_id, id_format, parse_component_id

from ..config import Settings
from ..models.assets import COMPONENT_STATUSES
from .bbox_query import page_in_bbox
from . import layer_io
from .audit import Actor, record
from .layer_io import Field, LayerSpec, RowError, day, text

#: The standard's state names (GLBJZT) for each status code.
STATUS_NAMES_ZH = {"intact": "完好", "damaged": "破损", "missing": "丢失", "abandoned": "废弃", "removed": "移除"}
_STATUS_OF = {**{v: k for k, v in STATUS_NAMES_ZH.items()}, **{s: s for s in COMPONENT_STATUSES}}

#: A case snaps to the nearest component of its class within this distance (m).
SNAP_RADIUS_M = 50.0
#: Event majors of GB/T 47678.5-2026 that are "<部件>异常", one per component class, same code.
FAULT_MAJORS = ("01", "02", "03", "04", "05")
SNAP_STANDARD = "GB/T 47678.5-2026"
MAX_LINE_M = 5_000.0
MAX_VERTICES = 10_000
MAX_NOTE = 1000

FIELDS = (
    Field("component_id", "GLBJBSM", ("objid", "bjbsm")),
    Field("name", "GLBJMC", ("objname",)),
    Field("category", "category", ("category_code", "class_code")),
    Field("status", "GLBJZT", ("objstate",)),
    Field("owner_department", "ZGBMDM", ("deptcode1",)),
    Field("owner_department_name", "ZGBMMC", ("deptname1",)),
    Field("owner_name", "QSDWMC", ("deptname2",)),
    Field("maintainer_department", "YHDWDM", ("deptcode3",)),
    Field("maintainer_name", "YHDWMC", ("deptname3",)),
    Field("surveyed_on", "CSRQ", ("ordate",)),
    Field("changed_on", "BGRQ", ("chdate",)),
    Field("data_source", "SJLY", ("datasource",)),
    Field("note", "BZ", ("note",)),
    # Computed from the geometry on every write; exported for reference, ignored on import.
    Field("cell_code", "SZDYWGBSM", ("bgid",)),
    Field("building_code", "building", ()),
)
COMPUTED = ("cell_code", "building_code", "owner_department_name")
WRITABLE = tuple(f.name for f in FIELDS if f.name not in COMPUTED)


# -- checking --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentClass:
    """A component category of the active directory."""

    id: int
    code: str
    name: str


@dataclass(frozen=True)
class Context:
    """Reference data for checking components (loaded once per file or request)."""

    settings: Settings
    classes: dict[str, ComponentClass]
    departments: dict[str, int]  # code, and str(id), → id
    department_names: dict[str, int]  # name → id (unique names only)


def prepare(session: Session, settings: Settings) -> Context:
    """The component classes of the configured standard and the departments (LayerSpec.prepare)."""
    classes = {
        code: ComponentClass(cid, code, name)
        for cid, code, name in session.execute(sa.text(
            "SELECT id, code, name FROM categories WHERE standard_ref = :std AND kind = 'component'"
        ), {"std": settings.category_standard})
    }
    departments: dict[str, int] = {}
    names: dict[str, list[int]] = {}
    for did, code, name in session.execute(sa.text("SELECT id, code, name FROM departments")):
        departments[code] = did
        departments[str(did)] = did
        names.setdefault(name, []).append(did)
    return Context(settings, classes, departments, {n: ids[0] for n, ids in names.items() if len(ids) == 1})


def parse_status(value: Any) -> str:
    """A status code from a code or the standard's Chinese state; RowError names ``status``."""
    raw = text({"status": value}, "status", max_len=10)
    if raw is None:
        return "intact"
    status = _STATUS_OF.get(raw.lower() if raw.isascii() else raw)
    if status is None:
        raise RowError("status", f"{raw!r} is not a component status; one of "
                                 f"{', '.join(COMPONENT_STATUSES)} ({'/'.join(STATUS_NAMES_ZH.values())})")
    return status


def _class(ctx: Context, values: Mapping[str, Any]) -> ComponentClass | None:
    raw = text(values, "category", max_len=8)
    if raw is None:
        return None
    width = id_format(ctx.settings.category_standard).class_width
    code = raw[1:] if raw[:1] in ("C", "c") and len(raw) == width + 1 else raw
    if code.isdigit() and len(code) < width:
        code = code.zfill(width)  # a spreadsheet dropped the leading zero of "01001"
    cls = ctx.classes.get(code)
    if cls is None:
        raise RowError("category", f"{raw!r} is not a component class (部件) of "
                                   f"{ctx.settings.category_standard}; see /api/v1/categories?kind=component")
    return cls


def _department(ctx: Context, values: Mapping[str, Any], name: str, name_field: str | None = None) -> int | None:
    raw = text(values, name, max_len=32)
    if raw is None:
        by_name = text(values, name_field, max_len=100) if name_field else None
        if by_name is None:
            return None
        if by_name not in ctx.department_names:
            raise RowError(name_field, f"no department is called {by_name!r}; give {name} (a department code)")
        return ctx.department_names[by_name]
    if raw not in ctx.departments:
        raise RowError(name, f"unknown department {raw!r}; see /api/v1/departments")
    return ctx.departments[raw]


def check_geometry(geom: BaseGeometry | None) -> BaseGeometry:
    """A component's geometry: a Point or a LineString of sensible size (storage CRS)."""
    if geom is None or geom.is_empty:
        raise RowError("geometry", "a Point or LineString is required")
    if geom.geom_type not in ("Point", "LineString"):
        raise RowError("geometry", f"{geom.geom_type}: a component is a Point or a LineString")
    if geom.geom_type == "LineString":
        if shapely.get_num_coordinates(geom) > MAX_VERTICES:
            raise RowError("geometry", f"more than {MAX_VERTICES} vertices")
        if not 0 < geom.length <= MAX_LINE_M:
            raise RowError("geometry", f"line length {geom.length:.1f} m must be > 0 and ≤ {MAX_LINE_M:g} m")
    if not geom.is_valid:
        raise RowError("geometry", f"invalid geometry: {shapely.is_valid_reason(geom)}")
    return geom


def validate(ctx: Context, values: Mapping[str, Any], geom: BaseGeometry | None) -> dict[str, Any]:
    """One component from raw values and a storage-CRS geometry; RowError names the bad field.

    The API and the importer both call this. The class comes from ``category`` or from the
    identifier's class digits; when both are given they must agree.
    """
    settings = ctx.settings
    cls = _class(ctx, values)
    raw_id = text(values, "component_id", max_len=40)
    serial = None
    if raw_id is not None:
        try:
            cid = parse_component_id(raw_id, settings.category_standard, district=settings.district_code,
                                     known_classes=ctx.classes)
        except ComponentIdError as exc:
            raise RowError("component_id", exc.message) from None
        if cls is not None and cls.code != cid.class_code:
            raise RowError("category", f"category {cls.code} does not match class {cid.class_code} "
                                       f"in component_id {raw_id}")
        cls = ctx.classes[cid.class_code]
        raw_id, serial = str(cid), cid.serial
    if cls is None:
        raise RowError("category", "is required when component_id is not given")
    surveyed = day(values, "surveyed_on")
    changed = day(values, "changed_on")
    if surveyed and changed and changed < surveyed:
        raise RowError("changed_on", f"{changed} is before the survey date {surveyed}")
    return {
        "component_id": raw_id,
        "serial": serial,
        "class_code": cls.code,
        "category_id": cls.id,
        "name": text(values, "name", max_len=100) or cls.name,
        "status": parse_status(values.get("status")),
        "owner_department_id": _department(ctx, values, "owner_department", "owner_department_name"),
        "maintainer_department_id": _department(ctx, values, "maintainer_department"),
        "owner_name": text(values, "owner_name", max_len=100),
        "maintainer_name": text(values, "maintainer_name", max_len=100),
        "surveyed_on": surveyed,
        "changed_on": changed,
        "data_source": text(values, "data_source", max_len=30),
        "note": text(values, "note", max_len=MAX_NOTE),
        "geom": check_geometry(geom),
    }


# -- identifiers -----------------------------------------------------------------------------

# Raise the counter of one district + class to at least ``floor``, then by ``n``; returns the
# new top. The row lock of the UPDATE (or of the upsert's conflict) makes concurrent callers
# queue. A class's first allocation starts past every serial already stored.
_BUMP_SQL = sa.text(
    """
    UPDATE component_serials SET last_serial = GREATEST(last_serial, :floor) + :n
    WHERE district_code = :district AND class_code = :class_code
    RETURNING last_serial
    """
)
_FIRST_SQL = sa.text(
    """
    INSERT INTO component_serials AS s (district_code, class_code, last_serial)
    SELECT CAST(:district AS varchar), CAST(:class_code AS varchar), GREATEST(:floor, coalesce(max(right(k.component_id, 6)::int), 0)) + :n
    FROM components k
    WHERE k.district_code = :district AND k.category_code = :class_code AND length(k.component_id) = :length
    ON CONFLICT (district_code, class_code)
    DO UPDATE SET last_serial = GREATEST(s.last_serial + :n, EXCLUDED.last_serial)
    RETURNING last_serial
    """
)


def _allocate(session: Session, settings: Settings, class_code: str, n: int, floor: int = 0) -> int:
    params = {"district": settings.district_code, "class_code": class_code, "floor": floor, "n": n,
              "length": id_format(settings.category_standard).length}
    top = session.scalar(_BUMP_SQL, params)
    if top is None:
        top = session.scalar(_FIRST_SQL, params)
    if top > MAX_SERIAL:
        raise RowError("component_id", f"class {class_code} has no serials left ({MAX_SERIAL} are used)")
    return top


def assign_ids(session: Session, settings: Settings, records: list[dict[str, Any]]) -> None:
    """Give records without an identifier the next serials of their class; record given ones."""
    by_class: dict[str, list[dict[str, Any]]] = {}
    given: dict[str, int] = {}
    for rec in records:
        if rec["component_id"] is None:
            by_class.setdefault(rec["class_code"], []).append(rec)
        else:
            given[rec["class_code"]] = max(given.get(rec["class_code"], 0), rec["serial"])
    for class_code, top in sorted(given.items()):
        _allocate(session, settings, class_code, 0, top)
    for class_code, recs in sorted(by_class.items()):
        top = _allocate(session, settings, class_code, len(recs))
        for serial, rec in enumerate(recs, start=top - len(recs) + 1):
            rec["component_id"] = format_component_id(settings.district_code, class_code, serial,
                                                      settings.category_standard)


# -- writing ---------------------------------------------------------------------------------

_COLUMNS = ("category_id", "name", "status", "owner_department_id", "maintainer_department_id",
            "owner_name", "maintainer_name", "surveyed_on", "changed_on", "data_source", "note")
_SRC = "WITH src AS (SELECT ST_SetSRID(ST_GeomFromWKB(:wkb), :srid) AS g)"
_CELL_OF = """(SELECT c.code FROM cells c
               WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_PointOnSurface(src.g))
               ORDER BY c.code LIMIT 1)"""
_BUILDING_OF = """(SELECT b.id FROM buildings b
                   WHERE ST_Covers(b.geom, ST_PointOnSurface(src.g))
                   ORDER BY ST_Area(b.geom), b.id LIMIT 1)"""
_INSERT_SQL = f"""
    {_SRC}
    INSERT INTO components (component_id, district_code, category_code, standard_ref,
                            {', '.join(_COLUMNS)}, cell_code, building_id, geom)
    SELECT :component_id, :district_code, :class_code, :standard_ref, {', '.join(':' + c for c in _COLUMNS)},
           {_CELL_OF}, {_BUILDING_OF}, src.g
    FROM src
"""
_UPDATE_SQL = f"""
    {_SRC}
    UPDATE components k SET component_id = :component_id, category_code = :class_code,
           standard_ref = :standard_ref, {', '.join(f'{c} = :{c}' for c in _COLUMNS)},
           cell_code = {_CELL_OF}, building_id = {_BUILDING_OF}, geom = src.g, updated_at = now()
    FROM src
    WHERE {{where}}
"""


def _params(settings: Settings, rec: Mapping[str, Any]) -> dict[str, Any]:
    return {**{c: rec[c] for c in _COLUMNS}, "component_id": rec["component_id"],
            "class_code": rec["class_code"], "standard_ref": settings.category_standard,
            "district_code": settings.district_code, "wkb": shapely.to_wkb(rec["geom"]),
            "srid": settings.storage_srid}


def write(session: Session, settings: Settings, actor: Actor, records: list[dict[str, Any]],
          mode: str) -> tuple[int, int]:
    """Insert (append) or insert-or-update by component_id (upsert); LayerSpec.write."""
    given = [r["component_id"] for r in records if r["component_id"]]
    existing = set(session.scalars(sa.text("SELECT component_id FROM components WHERE component_id = ANY(:ids)"),
                                   {"ids": given})) if given else set()
    if existing and mode == "append":
        clash = next(r for r in records if r["component_id"] in existing)
        raise RowError("component_id", f"row {clash['_row']}: component {clash['component_id']} already exists "
                                       f"({len(existing)} in all); import with --mode upsert to update them")
    assign_ids(session, settings, records)
    inserts = [_params(settings, r) for r in records if r["component_id"] not in existing]
    updates = [_params(settings, r) for r in records if r["component_id"] in existing]
    if inserts:
        session.execute(sa.text(_INSERT_SQL), inserts)
    if updates:
        session.execute(sa.text(_UPDATE_SQL.format(where="k.component_id = :component_id")), updates)
    return len(inserts), len(updates)


class ComponentNotFound(LookupError):
    """No component has this id."""


def create(session: Session, settings: Settings, actor: Actor, rec: dict[str, Any]) -> int:
    """Insert one checked component (allocating its identifier when missing); returns its row id."""
    if rec["component_id"] and session.scalar(sa.text("SELECT 1 FROM components WHERE component_id = :c"),
                                              {"c": rec["component_id"]}):
        raise RowError("component_id", f"component {rec['component_id']} already exists")
    assign_ids(session, settings, [rec])
    new_id = session.scalar(sa.text(_INSERT_SQL + " RETURNING id"), _params(settings, rec))
    record(session, actor, "component.create", "component", new_id,
           {"component_id": rec["component_id"], "category": rec["class_code"]})
    return new_id


def current_values(session: Session, component_id: int) -> tuple[dict[str, Any], BaseGeometry, dict[str, Any]]:
    """The stored writable values and geometry of a component, and facts for access checks."""
    row = session.execute(sa.text(
        """SELECT k.component_id, cat.code AS category, k.name, k.status, od.code AS owner_department,
                  md.code AS maintainer_department, k.owner_name, k.maintainer_name, k.surveyed_on,
                  k.changed_on, k.data_source, k.note, k.maintainer_department_id, k.standard_ref,
                  ST_AsBinary(k.geom) AS wkb
           FROM components k JOIN categories cat ON cat.id = k.category_id
           LEFT JOIN departments od ON od.id = k.owner_department_id
           LEFT JOIN departments md ON md.id = k.maintainer_department_id
           WHERE k.id = :id"""
    ), {"id": component_id}).mappings().first()
    if row is None:
        raise ComponentNotFound(component_id)
    values = {k: row[k] for k in WRITABLE}
    facts = {"maintainer_department_id": row["maintainer_department_id"], "standard_ref": row["standard_ref"]}
    return values, shapely.from_wkb(bytes(row["wkb"])), facts


def update(session: Session, settings: Settings, actor: Actor, component_id: int, rec: dict[str, Any],
           changed: list[str], before: Mapping[str, Any]) -> None:
    """Write a checked, merged component over the stored one; the audit row lists what changed."""
    if rec["component_id"] is not None and session.scalar(
            sa.text("SELECT 1 FROM components WHERE component_id = :c AND id <> :id"),
            {"c": rec["component_id"], "id": component_id}):
        raise RowError("component_id", f"component {rec['component_id']} already exists")
    assign_ids(session, settings, [rec])
    session.execute(sa.text(_UPDATE_SQL.format(where="k.id = :id")), {**_params(settings, rec), "id": component_id})
    detail: dict[str, Any] = {"changed": changed}
    if "status" in changed:
        detail["status"] = {"from": before.get("status"), "to": rec["status"]}
    record(session, actor, "component.update", "component", component_id, detail)


def delete(session: Session, actor: Actor, component_id: int) -> None:
    """Remove a component; cases about it keep their history (their link is cleared)."""
    cid = session.scalar(sa.text("DELETE FROM components WHERE id = :id RETURNING component_id"),
                         {"id": component_id})
    if cid is None:
        raise ComponentNotFound(component_id)
    record(session, actor, "component.delete", "component", component_id, {"component_id": cid})


def today_local() -> date:
    """Today in China time (change dates are local dates)."""
    return datetime.now(timezone(timedelta(hours=8))).date()


# -- snapping cases --------------------------------------------------------------------------


_FAULT_MAJORS_SQL = "(" + ", ".join(f"'{m}'" for m in FAULT_MAJORS) + ")"

#: The scalar subquery intake puts in its INSERT, so snapping costs no extra round trip: the
#: nearest component within the radius (removed ones excluded) of the case's component class.
#: A component category is its own class; under GB/T 47678.5-2026 an event of majors 01–05
#: (``<部件>异常``) is about the component class with the same 5-digit code; other events have
#: none (the CASE yields NULL and nothing matches). Reads the case's :kind, :category_id,
#: :category_code, :standard_ref, :district_code, :x, :y, :srid and :snap_radius.
SNAP_SUBQUERY = f"""(
    SELECT k.id FROM components k
    WHERE k.category_id = (CASE
            WHEN CAST(:kind AS varchar) = 'component' THEN :category_id
            WHEN CAST(:standard_ref AS varchar) = '{SNAP_STANDARD}'
                 AND left(CAST(:category_code AS varchar), 2) IN {_FAULT_MAJORS_SQL}
            THEN (SELECT cc.id FROM categories cc
                  WHERE cc.standard_ref = CAST(:standard_ref AS varchar) AND cc.kind = 'component'
                    AND cc.code = CAST(:category_code AS varchar))
          END)
      AND k.district_code = CAST(:district_code AS varchar) AND k.status <> 'removed'
      AND ST_DWithin(k.geom, ST_SetSRID(ST_MakePoint(:x, :y), :srid), :snap_radius)
    ORDER BY k.geom <-> ST_SetSRID(ST_MakePoint(:x, :y), :srid), k.id
    LIMIT 1)"""


# -- reading ---------------------------------------------------------------------------------

_PROPS_SQL = """k.id, k.component_id, k.name, k.category_code AS category, cat.name AS category_name,
                k.standard_ref, k.status, od.code AS owner_department, od.name AS owner_department_name,
                k.owner_name, md.code AS maintainer_department, md.name AS maintainer_department_name,
                k.maintainer_name, k.cell_code, k.building_id, b.code AS building_code,
                k.surveyed_on, k.changed_on, k.data_source, k.note, k.district_code,
                ST_AsGeoJSON(ST_Transform(k.geom, 4326), 7) AS g"""
_JOINS_SQL = """JOIN categories cat ON cat.id = k.category_id
               LEFT JOIN departments od ON od.id = k.owner_department_id
               LEFT JOIN departments md ON md.id = k.maintainer_department_id
               LEFT JOIN buildings b ON b.id = k.building_id"""
_FROM_SQL = f"components k {_JOINS_SQL}"
PROPERTIES = ("component_id", "name", "category", "category_name", "standard_ref", "status",
              "owner_department", "owner_department_name", "owner_name", "maintainer_department",
              "maintainer_department_name", "maintainer_name", "cell_code", "building_id", "building_code",
              "surveyed_on", "changed_on", "data_source", "note", "district_code")


def _feature(row: Mapping[str, Any]) -> dict[str, Any]:
    props = {k: row[k] for k in PROPERTIES}
    for k in ("surveyed_on", "changed_on"):
        props[k] = props[k].isoformat() if props[k] else None
    props["status_name"] = STATUS_NAMES_ZH[row["status"]]
    props["category_code"] = row["category"]  # the row's column name, as the map overlay reads it
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["g"]), "properties": props}


def in_bbox(session: Session, settings: Settings, bbox: tuple[float, float, float, float], *, limit: int,
            offset: int = 0, categories: list[str] | None = None,
            statuses: list[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """CRS84 features of the components meeting a lon/lat box (filtered), and the total match."""
    where: list[str] = []
    params: dict[str, Any] = {}
    if categories:
        where.append("k.category_code = ANY(:categories) AND k.standard_ref = :std")
        params.update(categories=categories, std=settings.category_standard)
    if statuses:
        where.append("k.status = ANY(:statuses)")
        params["statuses"] = statuses
    rows, total = page_in_bbox(session, settings.storage_srid, bbox, table="components", alias="k",
                               select=_PROPS_SQL, joins=_JOINS_SQL, where=where, params=params, order_by="k.id",
                               limit=limit, offset=offset)
    return [_feature(r) for r in rows], total


def feature(session: Session, component_id: int) -> dict[str, Any] | None:
    """One component as a CRS84 GeoJSON Feature."""
    row = session.execute(sa.text(f"SELECT {_PROPS_SQL} FROM {_FROM_SQL} WHERE k.id = :id"),
                          {"id": component_id}).mappings().first()
    return None if row is None else _feature(row)


def case_component(session: Session, component_id: int | None) -> dict[str, Any] | None:
    """What a case shows of the component it is about."""
    if component_id is None:
        return None
    row = session.execute(sa.text(
        "SELECT id, component_id, name, status, category_code FROM components WHERE id = :id"
    ), {"id": component_id}).mappings().first()
    return None if row is None else {**dict(row), "status_name": STATUS_NAMES_ZH[row["status"]]}


# -- export ----------------------------------------------------------------------------------


def frame(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """The layer in the storage CRS with the canonical columns (LayerSpec.frame)."""
    rows = session.execute(sa.text(
        f"""SELECT k.component_id, k.name, k.category_code AS category, k.status,
                   od.code AS owner_department, od.name AS owner_department_name, k.owner_name,
                   md.code AS maintainer_department, k.maintainer_name, k.surveyed_on, k.changed_on,
                   k.data_source, k.note, k.cell_code, b.code AS building_code, ST_AsBinary(k.geom) AS wkb
            FROM {_FROM_SQL} ORDER BY k.id"""
    )).mappings().all()
    data = {f.name: [r[f.name] for r in rows] for f in FIELDS}
    for k in ("surveyed_on", "changed_on"):
        # The standard's date form (YYYYMMDD) reads back in every format, Shapefile included.
        data[k] = [d.strftime("%Y%m%d") if d else None for d in data[k]]
    geoms = [shapely.from_wkb(bytes(r["wkb"])) for r in rows]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=f"EPSG:{settings.storage_srid}")


SPEC = layer_io.register(LayerSpec(
    name="components",
    title="Management components 管理部件",
    fields=FIELDS,
    key="component_id",
    geometry_types=("Point", "LineString"),
    prepare=prepare,
    validate=validate,
    write=write,
    frame=frame,
))
