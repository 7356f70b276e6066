"""Roads 道路: the base map's named centrelines — one check for API and import, writes, reads.

A road is a LineString or MultiLineString centreline with its Chinese name (an English one
optional), its class, width, lanes and one-way flag. Classes are the urban road classes of
CJJ 37-2012 (2016 edition) §3.1 — 快速路 expressway, 主干路 arterial, 次干路 secondary,
支路 branch — plus 街巷 alley for the lanes below 支路 that a street map still names.
Import accepts the codes, the Chinese names and OpenStreetMap ``highway`` values (an OSM
extract is the usual source for a real district).

``cell_code`` follows the pipelines' rule: the current cell holding the midpoint of the
road's (first) line, lowest code on a shared edge.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, MultiLineString
from shapely.geometry.base import BaseGeometry
from sqlalchemy.orm import Session

from ..config import Settings
from ..models.assets import ROAD_CLASSES
from . import layer_io
from .audit import Actor, record
from .bbox_query import page_in_bbox
from .layer_io import Field, LayerSpec, RowError, blank, integer, number, text

#: CJJ 37 names of the classes (街巷 is below the standard's four).
CLASS_NAMES_ZH = {"expressway": "快速路", "arterial": "主干路", "secondary": "次干路", "branch": "支路",
                  "alley": "街巷"}
#: Accepted spellings besides the codes: Chinese names and OpenStreetMap ``highway`` values.
CLASS_ALIASES = {
    **{zh: code for code, zh in CLASS_NAMES_ZH.items()},
    "快速": "expressway", "主干道": "arterial", "主干": "arterial", "次干道": "secondary", "次干": "secondary",
    "支路": "branch", "巷道": "alley", "胡同": "alley", "小巷": "alley",
    "motorway": "expressway", "trunk": "expressway", "primary": "arterial", "tertiary": "branch",
    "unclassified": "branch", "residential": "branch", "living_street": "alley", "service": "alley",
    "motorway_link": "expressway", "trunk_link": "expressway", "primary_link": "arterial",
    "secondary_link": "secondary", "tertiary_link": "branch",
}
#: Width of a road of each class when the file gives none (m, red line to red line; CJJ 37
#: gives ranges, these are their middles).
DEFAULT_WIDTH_M = {"expressway": 50.0, "arterial": 45.0, "secondary": 30.0, "branch": 18.0, "alley": 7.0}
_TRUE = frozenset({"1", "true", "yes", "y", "t", "是", "单行", "单向", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "f", "否", "双行", "双向", "off"})

MAX_WIDTH_M = 200.0
MAX_LANES = 20
MAX_VERTICES = 10_000
MIN_LENGTH_M = 0.5
MAX_CODE = 32

FIELDS = (
    Field("code", "code", ("road_code", "dlbm", "道路编码")),
    Field("name", "name", ("road_name", "dlmc", "道路名称", "名称")),
    Field("name_en", "name_en", ("name:en", "ywmc", "英文名称")),
    Field("road_class", "class", ("highway", "fclass", "dldj", "道路等级", "等级")),
    Field("width_m", "width_m", ("width", "dlkd", "道路宽度", "宽度")),
    Field("lanes", "lanes", ("cds", "车道数")),
    Field("one_way", "one_way", ("oneway", "dxx", "单行")),
    # Computed from the line on every write; exported for reference, ignored on import.
    Field("cell_code", "cell_code", ("szdywgbsm",)),
)
#: Fields a client may write (the rest are computed).
WRITABLE = tuple(f.name for f in FIELDS if f.name != "cell_code")


# -- checking --------------------------------------------------------------------------------


def parse_class(value: Any) -> str:
    """A class code from a code, its CJJ 37 name or an OSM ``highway`` value."""
    raw = text({"road_class": value}, "road_class", max_len=30)
    if raw is None:
        raise RowError("road_class", f"is required; one of {_class_choices()}")
    code = raw.lower() if raw.lower() in ROAD_CLASSES else CLASS_ALIASES.get(raw.lower(), CLASS_ALIASES.get(raw))
    if code is None:
        raise RowError("road_class", f"{raw!r} is not a road class; one of {_class_choices()}")
    return code


def _class_choices() -> str:
    return ", ".join(f"{c} {CLASS_NAMES_ZH[c]}" for c in ROAD_CLASSES)


def _flag(values: Mapping[str, Any], name: str) -> bool:
    raw = values.get(name)
    if blank(raw):
        return False
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, (int, float)) and raw in (0, 1):
        return bool(raw)
    word = str(raw).strip().lower()
    if word in _TRUE or word == "-1":  # OSM's oneway=-1: one-way against the drawing direction
        return True
    if word in _FALSE:
        return False
    raise RowError(name, f"expected yes/no (true/false, 1/0, 是/否), got {raw!r}")


def check_line(geom: BaseGeometry | None) -> MultiLineString:
    """A centreline in the storage CRS as a 2D MultiLineString of real length."""
    if geom is None or geom.is_empty:
        raise RowError("geometry", "a road centreline (LineString or MultiLineString) is required")
    if not isinstance(geom, (LineString, MultiLineString)):
        raise RowError("geometry", f"{geom.geom_type}: a road is a LineString or MultiLineString")
    geom = shapely.force_2d(geom)
    coords = shapely.get_coordinates(geom)
    if len(coords) > MAX_VERTICES:
        raise RowError("geometry", f"{len(coords)} vertices; at most {MAX_VERTICES}")
    if not np.isfinite(coords).all():
        raise RowError("geometry", "coordinates must be finite numbers")
    if geom.length < MIN_LENGTH_M:
        raise RowError("geometry", f"has almost no length ({geom.length:.3g} m); at least {MIN_LENGTH_M} m")
    return MultiLineString([geom]) if isinstance(geom, LineString) else geom


#: Checking a road needs nothing from the database.
Context = layer_io.SettingsContext
prepare = layer_io.settings_context


def validate(ctx: Context, values: Mapping[str, Any], geom: BaseGeometry | None) -> dict[str, Any]:
    """One road from raw values and a storage-CRS centreline; RowError names the bad field.

    The API and the importer both call this, so their rules cannot drift.
    """
    code = layer_io.code(values, max_len=MAX_CODE)
    name = text(values, "name", required=True, max_len=100)
    road_class = parse_class(values.get("road_class"))
    width = number(values, "width_m", minimum=0, exclusive_minimum=True, maximum=MAX_WIDTH_M)
    return {
        "code": code,
        "name": name,
        "name_en": text(values, "name_en", max_len=200),
        "road_class": road_class,
        "width_m": DEFAULT_WIDTH_M[road_class] if width is None else width,
        "lanes": integer(values, "lanes", minimum=1, maximum=MAX_LANES),
        "one_way": _flag(values, "one_way"),
        "geom": check_line(geom),
    }


# -- writing ---------------------------------------------------------------------------------

_COLUMNS = ("name", "name_en", "road_class", "width_m", "lanes", "one_way")
_SRC = "WITH src AS (SELECT ST_Multi(ST_SetSRID(ST_GeomFromWKB(:wkb), :srid)) AS g)"
# The pipelines' rule (app.services.pipelines): the cell holding the line's midpoint.
_CELL_OF = """(SELECT c.code FROM cells c
               WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_LineInterpolatePoint(ST_GeometryN(src.g, 1), 0.5))
               ORDER BY c.code LIMIT 1)"""
_INSERT_SQL = f"""
    {_SRC}, ids AS (SELECT nextval(pg_get_serial_sequence('roads', 'id')) AS id)
    INSERT INTO roads (id, code, district_code, {', '.join(_COLUMNS)}, cell_code, geom)
    SELECT ids.id, COALESCE(:code, :district_code || 'R' || lpad(ids.id::text, 8, '0')), :district_code,
           {', '.join(':' + c for c in _COLUMNS)}, {_CELL_OF}, src.g
    FROM src, ids
    RETURNING id
"""
_UPDATE_SQL = f"""
    {_SRC}
    UPDATE roads r SET {', '.join(f'{c} = :{c}' for c in _COLUMNS)}, code = COALESCE(:code, r.code),
           cell_code = {_CELL_OF}, geom = src.g, updated_at = now()
    FROM src
    WHERE {{where}}
"""


def _params(settings: Settings, rec: Mapping[str, Any]) -> dict[str, Any]:
    return {**{c: rec[c] for c in _COLUMNS}, "code": rec["code"], "wkb": shapely.to_wkb(rec["geom"]),
            "srid": settings.storage_srid, "district_code": settings.district_code}


def existing_codes(session: Session, codes: Sequence[str]) -> dict[str, int]:
    """code → id of the given codes that are already stored."""
    if not codes:
        return {}
    rows = session.execute(sa.text("SELECT code, id FROM roads WHERE code = ANY(:codes)"), {"codes": list(codes)})
    return dict(rows.all())


def write(session: Session, settings: Settings, actor: Actor, records: list[dict[str, Any]],
          mode: str) -> tuple[int, int]:
    """File import: insert, or insert-or-update by code (``mode="upsert"``); LayerSpec.write."""
    existing = existing_codes(session, [r["code"] for r in records if r["code"]])
    if existing and mode != "upsert":
        clash = [f"row {r['_row']}: {r['code']}" for r in records if r["code"] in existing]
        raise RowError("code", f"{len(clash)} code(s) already stored ({'; '.join(clash[:5])}"
                               f"{'; …' if len(clash) > 5 else ''}); use --mode upsert to update them")
    inserts = [_params(settings, r) for r in records if r["code"] not in existing]
    updates = [{**_params(settings, r), "id": existing[r["code"]]} for r in records if r["code"] in existing]
    for row in inserts:  # one statement each: the generated code needs the row's own id
        session.execute(sa.text(_INSERT_SQL), row)
    if updates:
        session.execute(sa.text(_UPDATE_SQL.format(where="r.id = :id")), updates)
    return len(inserts), len(updates)


class RoadNotFound(LookupError):
    """No road has this id."""


def create(session: Session, settings: Settings, actor: Actor, rec: Mapping[str, Any]) -> int:
    """Insert one checked road (API) with its audit row; a taken code raises RowError('code')."""
    if rec["code"] and existing_codes(session, [rec["code"]]):
        raise RowError("code", f"road code {rec['code']} is already taken")
    new_id = session.scalar(sa.text(_INSERT_SQL), _params(settings, rec))
    record(session, actor, "road.create", "road", new_id, {"code": rec["code"], "name": rec["name"]})
    return new_id


def current_values(session: Session, road_id: int) -> tuple[dict[str, Any], BaseGeometry]:
    """The stored writable values and centreline of a road (for a PATCH to merge into)."""
    row = session.execute(sa.text(
        f"SELECT code, {', '.join(_COLUMNS)}, ST_AsBinary(geom) AS wkb FROM roads WHERE id = :id"
    ), {"id": road_id}).mappings().first()
    if row is None:
        raise RoadNotFound(road_id)
    return {k: row[k] for k in WRITABLE}, shapely.from_wkb(bytes(row["wkb"]))


def update(session: Session, settings: Settings, actor: Actor, road_id: int, rec: Mapping[str, Any],
           changed: Sequence[str]) -> None:
    """Write a checked, merged road over the stored one."""
    if rec["code"]:
        taken = existing_codes(session, [rec["code"]]).get(rec["code"])
        if taken is not None and taken != road_id:
            raise RowError("code", f"road code {rec['code']} is already taken by road {taken}")
    session.execute(sa.text(_UPDATE_SQL.format(where="r.id = :id")), {**_params(settings, rec), "id": road_id})
    record(session, actor, "road.update", "road", road_id, {"changed": sorted(changed)})


def delete(session: Session, actor: Actor, road_id: int) -> None:
    """Remove a road."""
    code = session.scalar(sa.text("DELETE FROM roads WHERE id = :id RETURNING code"), {"id": road_id})
    if code is None:
        raise RoadNotFound(road_id)
    record(session, actor, "road.delete", "road", road_id, {"code": code})


# -- reading ---------------------------------------------------------------------------------

_PROPS_SQL = """r.id, r.code, r.name, r.name_en, r.road_class, r.width_m, r.lanes, r.one_way, r.cell_code,
                r.district_code, round(ST_Length(r.geom)::numeric, 1)::float AS length_m"""
PROPERTIES = ("code", "name", "name_en", "road_class", "width_m", "lanes", "one_way", "cell_code",
              "district_code", "length_m")
#: Drawing order: wide roads last, so they cross over the narrow ones.
_ORDER = "array_position(ARRAY['alley','branch','secondary','arterial','expressway']::text[], r.road_class), r.id"


def _feature(row: Mapping[str, Any]) -> dict[str, Any]:
    props = {k: row[k] for k in PROPERTIES}
    props["class_name"] = CLASS_NAMES_ZH[row["road_class"]]
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["g"]), "properties": props}


def in_bbox(session: Session, settings: Settings, bbox: tuple[float, float, float, float], *,
            limit: int, offset: int = 0, classes: Sequence[str] = ()) -> tuple[list[dict[str, Any]], int]:
    """CRS84 features of the roads meeting a lon/lat box (narrow classes first), and how many match."""
    where, params = ["r.district_code = :district"], {"district": settings.district_code}
    if classes:
        where.append("r.road_class = ANY(:classes)")
        params["classes"] = list(classes)
    rows, total = page_in_bbox(session, settings.storage_srid, bbox, table="roads", alias="r",
                               select=f"{_PROPS_SQL}, ST_AsGeoJSON(ST_Transform(r.geom, 4326), 7) AS g",
                               where=where, params=params, order_by=_ORDER, limit=limit, offset=offset)
    return [_feature(r) for r in rows], total


def feature(session: Session, road_id: int) -> dict[str, Any] | None:
    """One road as a CRS84 GeoJSON Feature."""
    row = session.execute(sa.text(
        f"SELECT {_PROPS_SQL}, ST_AsGeoJSON(ST_Transform(r.geom, 4326), 7) AS g FROM roads r WHERE r.id = :id"),
        {"id": road_id}).mappings().first()
    return None if row is None else _feature(row)


# -- export ----------------------------------------------------------------------------------


def frame(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """The layer in the storage CRS with the canonical columns (LayerSpec.frame)."""
    sql = sa.text(f"SELECT code, {', '.join(_COLUMNS)}, cell_code, geom FROM roads"
                  " WHERE district_code = :district ORDER BY id")
    return gpd.read_postgis(sql, session.connection(), geom_col="geom",
                            params={"district": settings.district_code}, crs=f"EPSG:{settings.storage_srid}")


SPEC = layer_io.register(LayerSpec(
    name="roads",
    title="Roads 道路",
    fields=FIELDS,
    key="code",
    geometry_types=("LineString", "MultiLineString"),
    prepare=prepare,
    validate=validate,
    write=write,
    frame=frame,
))
