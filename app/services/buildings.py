"""Buildings 楼宇: one check for API and import, writes that keep cells and links current, reads.

A building's ``cell_code`` is the current cell holding a point on its footprint's surface
(the locate rule: lowest code among covering cells). After footprints change, the
components standing in them are re-linked (``components.building_id``: the smallest
footprint covering the component) and cameras near them get their occluded view redrawn.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import geopandas as gpd
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import Building, Case, Component
from ..models.assets import BUILDING_USES
from .bbox_query import page_in_bbox
from . import layer_io
from .audit import Actor, record
from .layer_io import Field, LayerSpec, RowError, integer, number, text

#: Accepted Chinese (and a few English) names of each use, besides the codes themselves.
USE_ALIASES = {
    "住宅": "residential", "居住": "residential", "住宅楼": "residential",
    "办公": "office", "写字楼": "office", "办公楼": "office",
    "商业": "commercial", "商场": "commercial", "商铺": "commercial",
    "学校": "school", "教育": "school",
    "医院": "hospital", "医疗": "hospital", "医疗卫生": "hospital",
    "市场": "market", "农贸市场": "market",
    "工业": "industrial", "厂房": "industrial",
    "公共": "public", "公共建筑": "public", "公共服务": "public",
    "综合": "mixed", "混合": "mixed", "商住": "mixed", "商住混合": "mixed",
    "其他": "other", "其它": "other",
}
USE_NAMES_ZH = {
    "residential": "住宅", "office": "办公", "commercial": "商业", "school": "学校", "hospital": "医院",
    "market": "市场", "industrial": "工业", "public": "公共建筑", "mixed": "综合", "other": "其他",
}

#: Footprint limits: smaller than a kiosk or larger than a big factory is a drawing error.
MIN_FOOTPRINT_M2 = 1.0
MAX_FOOTPRINT_M2 = 1_000_000.0
MAX_VERTICES = 10_000
MAX_FLOORS = 200
MAX_UNDERGROUND_FLOORS = 20
MAX_HEIGHT_M = 700.0
MAX_GFA_M2 = 10_000_000.0
MIN_BUILD_YEAR = 1000
MAX_CODE = 32

FIELDS = (
    Field("code", "code", ("building_code", "jzwbm")),
    Field("name", "name", ("building_name", "jzwmc")),
    Field("address", "address", ("addr", "dz")),
    Field("floors", "floors", ("dscs",)),
    Field("underground_floors", "ug_floors", ("dxcs",)),
    Field("height_m", "height_m", ("height", "jzgd")),
    Field("gross_floor_area_m2", "gfa_m2", ("gross_floor_area", "jzmj")),
    Field("use", "use", ("jzyt", "usage")),
    Field("build_year", "build_year", ("jcnd",)),
    # Computed from the footprint on every write; exported for reference, ignored on import.
    Field("cell_code", "cell_code", ("szdywgbsm",)),
)
#: Fields a client may write (the rest are computed).
WRITABLE = tuple(f.name for f in FIELDS if f.name != "cell_code")


# -- checking --------------------------------------------------------------------------------


def parse_use(value: Any) -> str:
    """A use code from a code or its Chinese name; RowError names ``use`` otherwise."""
    raw = text({"use": value}, "use", max_len=20)
    if raw is None:
        return "other"
    code = raw.lower() if raw.lower() in BUILDING_USES else USE_ALIASES.get(raw)
    if code is None:
        raise RowError("use", f"{raw!r} is not a known use; one of {', '.join(BUILDING_USES)} "
                              f"(or {', '.join(USE_NAMES_ZH.values())})")
    return code


def check_footprint(geom: BaseGeometry | None) -> MultiPolygon:
    """A footprint in the storage CRS as a valid MultiPolygon; RowError names ``geometry``."""
    if geom is None or geom.is_empty:
        raise RowError("geometry", "a footprint polygon is required")
    if geom.geom_type not in ("Polygon", "MultiPolygon"):
        raise RowError("geometry", f"{geom.geom_type}: a building footprint is a Polygon or MultiPolygon")
    vertices = shapely.get_num_coordinates(geom)
    if vertices > MAX_VERTICES:
        raise RowError("geometry", f"{vertices} vertices; at most {MAX_VERTICES}")
    if not geom.is_valid:
        raise RowError("geometry", f"invalid footprint: {shapely.is_valid_reason(geom)}")
    area = geom.area
    if not MIN_FOOTPRINT_M2 <= area <= MAX_FOOTPRINT_M2:
        raise RowError("geometry", f"footprint area {area:.1f} m² is outside "
                                   f"{MIN_FOOTPRINT_M2:g}–{MAX_FOOTPRINT_M2:g} m²")
    return MultiPolygon([geom]) if isinstance(geom, Polygon) else geom


#: Checking a building needs nothing from the database.
Context = layer_io.SettingsContext
prepare = layer_io.settings_context


def validate(ctx: Context, values: Mapping[str, Any], geom: BaseGeometry | None) -> dict[str, Any]:
    """One building from raw values and a storage-CRS footprint; RowError names the bad field.

    The API and the importer both call this, so their rules cannot drift.
    """
    floors = integer(values, "floors", minimum=0, maximum=MAX_FLOORS)
    height = number(values, "height_m", minimum=0, maximum=MAX_HEIGHT_M)
    max_year = date.today().year + 10  # planned buildings carry their planned year
    return {
        "code": layer_io.code(values, max_len=MAX_CODE),
        "name": text(values, "name", required=True, max_len=200),
        "address": text(values, "address", max_len=255),
        "floors": floors,
        "underground_floors": integer(values, "underground_floors", minimum=0,
                                      maximum=MAX_UNDERGROUND_FLOORS) or 0,
        "height_m": height,
        "gross_floor_area_m2": number(values, "gross_floor_area_m2", minimum=0, maximum=MAX_GFA_M2),
        "use": parse_use(values.get("use")),
        "build_year": integer(values, "build_year", minimum=MIN_BUILD_YEAR, maximum=max_year),
        "geom": check_footprint(geom),
    }


# -- writing ---------------------------------------------------------------------------------

# A point on the footprint's surface decides the cell (contract: polygons by point-on-surface).
_CELL_OF = """(SELECT c.code FROM cells c
               WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_PointOnSurface(src.g))
               ORDER BY c.code LIMIT 1)"""
_SRC = "WITH src AS (SELECT ST_Multi(ST_SetSRID(ST_GeomFromWKB(:wkb), :srid)) AS g)"
_COLUMNS = ("name", "address", "floors", "underground_floors", "height_m", "gross_floor_area_m2",
            "use", "build_year")

_INSERT_SQL = f"""
    {_SRC}, ids AS (SELECT nextval(pg_get_serial_sequence('buildings', 'id')) AS id)
    INSERT INTO buildings (id, code, district_code, {', '.join(_COLUMNS)}, cell_code, geom)
    SELECT ids.id, COALESCE(:code, :district_code || 'B' || lpad(ids.id::text, 8, '0')), :district_code,
           {', '.join(':' + c for c in _COLUMNS)}, {_CELL_OF}, src.g
    FROM src, ids
"""
_UPDATE_SQL = f"""
    {_SRC}
    UPDATE buildings b SET {', '.join(f'{c} = :{c}' for c in _COLUMNS)}, code = COALESCE(:code, b.code),
           cell_code = {_CELL_OF}, geom = src.g, updated_at = now()
    FROM src
    WHERE {{where}}
"""


def _params(settings: Settings, rec: Mapping[str, Any]) -> dict[str, Any]:
    return {**{c: rec[c] for c in _COLUMNS}, "code": rec["code"], "wkb": shapely.to_wkb(rec["geom"]),
            "srid": settings.storage_srid, "district_code": settings.district_code}


def _envelope(geoms: Iterable[BaseGeometry]) -> tuple[float, float, float, float] | None:
    geoms = [g for g in geoms if g is not None and not g.is_empty]
    if not geoms:
        return None
    bounds = shapely.total_bounds(geoms)
    return tuple(float(v) for v in bounds)  # type: ignore[return-value]


def after_footprints_changed(session: Session, settings: Settings, geoms: Iterable[BaseGeometry]) -> None:
    """Re-link components standing in these footprints and redraw nearby cameras' views.

    ``geoms`` are the footprints before and after the change (storage CRS).
    """
    geoms = list(geoms)
    env = _envelope(geoms)
    if env is None:
        return
    session.execute(sa.text(
        """
        UPDATE components k SET building_id = s.bid, updated_at = now()
        FROM (
            SELECT k2.id,
                   (SELECT b.id FROM buildings b
                    WHERE ST_Covers(b.geom, ST_PointOnSurface(k2.geom))
                    ORDER BY ST_Area(b.geom), b.id LIMIT 1) AS bid
            FROM components k2
            WHERE k2.geom && ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, :srid)
        ) s
        WHERE k.id = s.id AND k.building_id IS DISTINCT FROM s.bid
        """
    ), {"minx": env[0], "miny": env[1], "maxx": env[2], "maxy": env[3], "srid": settings.storage_srid})
    _recompute_camera_views(session, settings, geoms)


def _recompute_camera_views(session: Session, settings: Settings, geoms: list[BaseGeometry]) -> None:
    """Cameras whose view these footprints block (or stop blocking) get their FOV redrawn."""
    from .cameras import recompute_occluded_near  # the camera layer owns FOV geometry

    recompute_occluded_near(session, settings, geoms)


def _existing_codes(session: Session, codes: list[str]) -> set[str]:
    if not codes:
        return set()
    return set(session.scalars(sa.text("SELECT code FROM buildings WHERE code = ANY(:codes)"),
                               {"codes": codes}))


def write(session: Session, settings: Settings, actor: Actor, records: list[dict[str, Any]],
          mode: str) -> tuple[int, int]:
    """Insert (append) or insert-or-update by code (upsert); LayerSpec.write."""
    existing = _existing_codes(session, [r["code"] for r in records if r["code"]])
    if existing and mode == "append":
        clash = next(r for r in records if r["code"] in existing)
        raise RowError("code", f"row {clash['_row']}: building {clash['code']} already exists "
                               f"({len(existing)} in all); import with --mode upsert to update them")
    old = _footprints_by_code(session, settings, existing)
    inserts = [_params(settings, r) for r in records if r["code"] not in existing]
    updates = [_params(settings, r) for r in records if r["code"] in existing]
    if inserts:
        session.execute(sa.text(_INSERT_SQL), inserts)
    if updates:
        session.execute(sa.text(_UPDATE_SQL.format(where="b.code = :code")), updates)
    after_footprints_changed(session, settings, [r["geom"] for r in records] + old)
    return len(inserts), len(updates)


def _footprints_by_code(session: Session, settings: Settings, codes: Iterable[str]) -> list[BaseGeometry]:
    codes = list(codes)
    if not codes:
        return []
    rows = session.scalars(sa.text("SELECT ST_AsBinary(geom) FROM buildings WHERE code = ANY(:codes)"),
                           {"codes": codes})
    return [shapely.from_wkb(bytes(r)) for r in rows]


class BuildingNotFound(LookupError):
    """No building has this id."""


def create(session: Session, settings: Settings, actor: Actor, rec: dict[str, Any]) -> int:
    """Insert one checked building; returns its id. A taken code raises RowError('code')."""
    if rec["code"] and _existing_codes(session, [rec["code"]]):
        raise RowError("code", f"building code {rec['code']} is already taken")
    new_id = session.scalar(sa.text(_INSERT_SQL + " RETURNING id"), _params(settings, rec))
    after_footprints_changed(session, settings, [rec["geom"]])
    record(session, actor, "building.create", "building", new_id, {"code": rec["code"], "name": rec["name"]})
    return new_id


def current_values(session: Session, settings: Settings, building_id: int) -> tuple[dict[str, Any], BaseGeometry]:
    """The stored writable values and footprint of a building (for a PATCH to merge into)."""
    row = session.execute(sa.text(
        f"SELECT code, {', '.join(_COLUMNS)}, ST_AsBinary(geom) AS wkb FROM buildings WHERE id = :id"
    ), {"id": building_id}).mappings().first()
    if row is None:
        raise BuildingNotFound(building_id)
    values = {k: row[k] for k in WRITABLE}
    return values, shapely.from_wkb(bytes(row["wkb"]))


def update(session: Session, settings: Settings, actor: Actor, building_id: int, rec: dict[str, Any],
           old_geom: BaseGeometry, changed: list[str]) -> None:
    """Write a checked, merged building over the stored one."""
    if rec["code"]:
        taken = session.scalar(sa.text("SELECT id FROM buildings WHERE code = :code AND id <> :id"),
                               {"code": rec["code"], "id": building_id})
        if taken is not None:
            raise RowError("code", f"building code {rec['code']} is already taken by building {taken}")
    session.execute(sa.text(_UPDATE_SQL.format(where="b.id = :id")),
                    {**_params(settings, rec), "id": building_id})
    if "geometry" in changed:
        after_footprints_changed(session, settings, [old_geom, rec["geom"]])
    record(session, actor, "building.update", "building", building_id, {"changed": changed})


def delete(session: Session, settings: Settings, actor: Actor, building_id: int) -> None:
    """Remove a building; its components lose (or change) their building link."""
    _values, geom = current_values(session, settings, building_id)
    code = session.scalar(sa.text("DELETE FROM buildings WHERE id = :id RETURNING code"), {"id": building_id})
    after_footprints_changed(session, settings, [geom])
    record(session, actor, "building.delete", "building", building_id, {"code": code})


# -- reading ---------------------------------------------------------------------------------

_PROPS_SQL = """b.id, b.code, b.name, b.address, b.floors, b.underground_floors, b.height_m,
                b.gross_floor_area_m2, b.use, b.build_year, b.cell_code, b.district_code,
                round(ST_Area(b.geom)::numeric, 1)::float AS footprint_m2,
                ST_AsGeoJSON(ST_Transform(b.geom, 4326), 7) AS g"""
PROPERTIES = ("code", "name", "address", "floors", "underground_floors", "height_m",
              "gross_floor_area_m2", "use", "build_year", "cell_code", "district_code", "footprint_m2")


def _feature(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["g"]),
            "properties": {k: row[k] for k in PROPERTIES}}


def in_bbox(session: Session, settings: Settings, bbox: tuple[float, float, float, float], *,
            limit: int, offset: int = 0, uses: list[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """CRS84 features of the buildings meeting a lon/lat box, and how many match in all."""
    where, params = [], {}
    if uses:
        where.append("b.use = ANY(:uses)")
        params["uses"] = uses
    rows, total = page_in_bbox(session, settings.storage_srid, bbox, table="buildings", alias="b",
                               select=_PROPS_SQL, where=where, params=params, order_by="b.id",
                               limit=limit, offset=offset)
    return [_feature(r) for r in rows], total


def feature(session: Session, building_id: int) -> dict[str, Any] | None:
    """One building as a CRS84 GeoJSON Feature."""
    row = session.execute(sa.text(f"SELECT {_PROPS_SQL} FROM buildings b WHERE b.id = :id"),
                          {"id": building_id}).mappings().first()
    return None if row is None else _feature(row)


def building_at(session: Session, settings: Settings, x: float, y: float) -> dict[str, Any] | None:
    """The building whose footprint covers storage point (x, y); the smallest when nested."""
    row = session.execute(sa.text(
        f"""SELECT {_PROPS_SQL} FROM buildings b
            WHERE ST_Covers(b.geom, ST_SetSRID(ST_MakePoint(:x, :y), :srid))
            ORDER BY ST_Area(b.geom), b.id LIMIT 1"""
    ), {"x": x, "y": y, "srid": settings.storage_srid}).mappings().first()
    return None if row is None else _feature(row)


def cameras_of(session: Session, building_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Cameras whose field of view meets the footprint, or that stand inside it."""
    rows = session.execute(sa.text(
        """
        SELECT c.id, c.device_id, c.name, c.status, c.stream_url, c.cell_code,
               ST_Covers(b.geom, c.geom) AS inside,
               round(ST_Distance(c.geom, b.geom)::numeric, 1)::float AS distance_m,
               round(ST_X(ST_Transform(c.geom, 4326))::numeric, 7)::float AS lon,
               round(ST_Y(ST_Transform(c.geom, 4326))::numeric, 7)::float AS lat
        FROM buildings b JOIN cameras c ON (c.fov && b.geom AND ST_Intersects(c.fov, b.geom))
                                        OR (c.geom && b.geom AND ST_Covers(b.geom, c.geom))
        WHERE b.id = :id
        ORDER BY ST_Distance(c.geom, b.geom), c.id
        LIMIT :limit
        """
    ), {"id": building_id, "limit": limit}).mappings()
    return [dict(r) for r in rows]


def components_of(session: Session, building_id: int, limit: int = 500) -> list[dict[str, Any]]:
    """Components linked to the building (inside it or attached to it)."""
    rows = session.execute(sa.text(
        """
        SELECT k.id, k.component_id, k.name, k.status, k.category_code, cat.name AS category_name,
               round(ST_X(ST_Transform(ST_PointOnSurface(k.geom), 4326))::numeric, 7)::float AS lon,
               round(ST_Y(ST_Transform(ST_PointOnSurface(k.geom), 4326))::numeric, 7)::float AS lat
        FROM components k JOIN categories cat ON cat.id = k.category_id
        WHERE k.building_id = :id
        ORDER BY k.category_code, k.component_id
        LIMIT :limit
        """
    ), {"id": building_id, "limit": limit}).mappings()
    return [dict(r) for r in rows]


def cases_clause(building_id: int) -> sa.ColumnElement[bool]:
    """Cases of a building: located on its footprint, or about one of its components."""
    footprint = sa.select(Building.geom).where(Building.id == building_id).scalar_subquery()
    return sa.or_(
        sa.func.ST_Covers(footprint, Case.geom),
        Case.component_id.in_(sa.select(Component.id).where(Component.building_id == building_id)),
    )


# -- export ----------------------------------------------------------------------------------


def frame(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """The layer in the storage CRS with the canonical columns (LayerSpec.frame)."""
    rows = session.execute(sa.text(
        f"SELECT code, {', '.join(_COLUMNS)}, cell_code, ST_AsBinary(geom) AS wkb FROM buildings ORDER BY id"
    )).mappings().all()
    columns = [f.name for f in FIELDS]
    data = {c: [r[c] for r in rows] for c in columns}
    geoms = [shapely.from_wkb(bytes(r["wkb"])) for r in rows]
    return gpd.GeoDataFrame(data, geometry=geoms, crs=f"EPSG:{settings.storage_srid}")


SPEC = layer_io.register(LayerSpec(
    name="buildings",
    title="Buildings 楼宇",
    fields=FIELDS,
    key="code",
    geometry_types=("Polygon", "MultiPolygon"),
    prepare=prepare,
    validate=validate,
    write=write,
    frame=frame,
))
