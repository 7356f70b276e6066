"""Video access points (GB/T 28181 cameras): the checks shared by the API and file import, the
field-of-view polygon kept in ``cameras.fov``, and which cameras see a point.

The FOV is a sector (``gis.fov.fov_sector``) and, for cameras marked ``occluded``, that sector
cut by the footprints of the buildings it meets (``gis.fov.occluded_sector``). It is stored, so
"who sees this point" is one ``ST_Intersects`` on the GiST-indexed ``fov`` column. It is
recomputed when a camera's position, azimuth, FOV, range or ``occluded`` flag change, and —
through :func:`recompute_occluded_near`, which the buildings service calls — when buildings
near an occluded camera change.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import geopandas as gpd
import shapely
import sqlalchemy as sa
from geoalchemy2.shape import from_shape, to_shape
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gis.crs import storage_to_lonlat
from gis.fov import fov_sector, occluded_sector
from grid.deviceid import InvalidDeviceIdError, parse_device_id

from ..config import Settings
from ..models import Camera
from ..models.assets import CAMERA_STATUSES
from .bbox_query import page_in_bbox
from . import grid as grid_service
from .audit import Actor, record
from .layer_io import (
    Field,
    ImportRefused,
    LayerSpec,
    ReportRow,
    RowError,
    blank,
    integer,
    number,
    register,
    text,
)

__all__ = [
    "FIELDS",
    "MAX_HEIGHT_M",
    "MAX_RANGE_M",
    "STREAM_SCHEMES",
    "CameraContext",
    "camera_feature",
    "camera_values",
    "cameras_for_case",
    "cameras_in_bbox",
    "cameras_seeing",
    "check_attributes",
    "create_camera",
    "delete_camera",
    "field_of_view",
    "recompute_occluded_near",
    "update_camera",
    "validate",
]

#: Longest viewing distance accepted: beyond ~500 m a city camera identifies nothing.
MAX_RANGE_M = 500.0
#: Highest mounting accepted (the tallest towers of the district are below 300 m).
MAX_HEIGHT_M = 500.0
#: Stream URL schemes a video platform hands out (WVP / ZLMediaKit: HLS/FLV over HTTP, RTSP, RTMP, WebRTC).
STREAM_SCHEMES = ("http", "https", "rtsp", "rtmp", "webrtc")
#: GB/T 28181 Catalog ``Status`` (ON/OFF) and Chinese words for our statuses.
STATUS_ALIASES = {
    "on": "online", "off": "offline", "在线": "online", "离线": "offline", "故障": "fault",
    "停用": "retired", "报废": "retired", "撤除": "retired",
}
_TRUE = ("true", "t", "yes", "y", "1", "是")
_FALSE = ("false", "f", "no", "n", "0", "否", "")
#: Attributes that shape the field of view.
FOV_FIELDS = ("azimuth_deg", "hfov_deg", "range_m", "occluded")

#: Columns of a camera layer file: canonical name, ≤ 10-byte Shapefile name, other accepted
#: names (the GB/T 28181 Catalog's DeviceID / Name / Address / PTZType / Status, OSM's
#: camera:direction and common Chinese headings).
FIELDS = (
    Field("device_id", "device_id", ("deviceid", "gbid", "gb_id", "channelid", "设备编码", "国标编码")),
    Field("name", "name", ("mc", "设备名称", "名称")),
    Field("address", "address", ("dz", "安装地址", "地址")),
    Field("height_m", "height_m", ("height", "安装高度")),
    Field("azimuth_deg", "azimuth", ("direction", "camera:direction", "方位角")),
    Field("hfov_deg", "hfov", ("fov", "视场角")),
    Field("range_m", "range_m", ("range", "视距")),
    Field("ptz_type", "ptz_type", ("ptztype", "摄像机类型")),
    Field("status", "status", ("状态",)),
    Field("stream_url", "stream_url", ("url", "streamurl", "视频地址")),
    Field("occluded", "occluded", ("遮挡",)),
)
FIELD_NAMES = tuple(f.name for f in FIELDS)


# -- checks shared by the API and import ------------------------------------------------------


def _flag(values: Mapping[str, Any], name: str) -> bool:
    value = values.get(name)
    if isinstance(value, bool):
        return value
    if blank(value):
        return False
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    raw = str(value).strip().lower()
    if raw in _TRUE or raw in _FALSE:
        return raw in _TRUE
    raise RowError(name, f"expected true or false, got {value!r}")


def _status(values: Mapping[str, Any]) -> str:
    raw = text(values, "status", max_len=20)
    if raw is None:
        return "online"
    status = STATUS_ALIASES.get(raw.lower(), raw.lower())
    if status not in CAMERA_STATUSES:
        raise RowError("status", f"{raw!r} is not one of {', '.join(CAMERA_STATUSES)}")
    return status


def _stream_url(values: Mapping[str, Any]) -> str | None:
    url = text(values, "stream_url", max_len=500)
    if url is None:
        return None
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise RowError("stream_url", "must not contain spaces or control characters")
    try:
        parts = urlsplit(url)
    except ValueError as exc:
        raise RowError("stream_url", f"not a URL: {exc}") from None
    if parts.scheme.lower() not in STREAM_SCHEMES:
        raise RowError("stream_url", f"scheme {parts.scheme or '(none)'!r} is not one of {', '.join(STREAM_SCHEMES)}")
    if not parts.hostname:
        raise RowError("stream_url", "has no host")
    return url


def check_attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """A camera's attributes from raw values (canonical name → value), or RowError naming the field."""
    device_id = text(values, "device_id", required=True, max_len=40)
    try:
        device_id = str(parse_device_id(device_id))
    except InvalidDeviceIdError as exc:
        raise RowError("device_id", str(exc)) from None
    hfov = number(values, "hfov_deg", required=True, minimum=0, maximum=360, exclusive_minimum=True)
    # A full-circle dome has no centre of view: its azimuth may be left out.
    azimuth = number(values, "azimuth_deg", required=hfov < 360, minimum=0, maximum=360)
    return {
        "device_id": device_id,
        "name": text(values, "name", required=True, max_len=200),
        "address": text(values, "address", max_len=255),
        "height_m": number(values, "height_m", minimum=0, maximum=MAX_HEIGHT_M),
        "azimuth_deg": 0.0 if azimuth is None else azimuth,
        "hfov_deg": hfov,
        "range_m": number(values, "range_m", required=True, minimum=0, maximum=MAX_RANGE_M,
                          exclusive_minimum=True),
        "ptz_type": integer(values, "ptz_type", minimum=1, maximum=7),
        "status": _status(values),
        "stream_url": _stream_url(values),
        "occluded": _flag(values, "occluded"),
    }


@dataclass
class CameraContext:
    """What checking a camera needs: the session, settings and, for the API, the uniqueness rule.

    File import checks device ids against the table when it writes (it depends on the mode),
    so its context leaves ``check_unique`` off; the API turns it on, excluding the camera
    being edited.
    """

    session: Session
    settings: Settings
    check_unique: bool = False
    exclude_id: int | None = None


def prepare(session: Session, settings: Settings) -> CameraContext:
    """The context of one import file."""
    return CameraContext(session, settings)


def validate(ctx: CameraContext, values: Mapping[str, Any], geom: BaseGeometry | None) -> dict[str, Any]:
    """One camera checked: its attributes, its point (storage CRS) inside the district's grid,
    its cell code and, when ``ctx.check_unique``, a device id no other camera has."""
    rec = check_attributes(values)
    if geom is None or geom.is_empty or geom.geom_type != "Point":
        raise RowError("geometry", f"a camera is a Point, got {geom.geom_type if geom is not None else 'nothing'}")
    x, y = float(geom.x), float(geom.y)
    if not (math.isfinite(x) and math.isfinite(y)):
        raise RowError("geometry", "coordinates must be finite")
    srid = ctx.settings.storage_srid
    found = grid_service.locate(ctx.session, x, y, srid)
    if found is None:
        lon, lat = storage_to_lonlat(x, y, srid)
        raise RowError("geometry", f"lon={float(lon):.6f}, lat={float(lat):.6f} is outside every unit grid "
                                   f"cell of {ctx.settings.district_name}")
    if ctx.check_unique:
        other = ctx.session.scalar(sa.select(Camera.id).where(Camera.device_id == rec["device_id"]))
        if other is not None and other != ctx.exclude_id:
            raise RowError("device_id", f"{rec['device_id']} is already used by camera {other}")
    rec.update(x=x, y=y, cell_code=found["cell"]["code"], district_code=ctx.settings.district_code)
    return rec


# -- field of view ------------------------------------------------------------------------------

_BLOCKERS_SQL = sa.text(
    "SELECT ST_AsBinary(geom) FROM buildings "
    "WHERE geom && ST_GeomFromWKB(:sector, :srid) AND ST_Intersects(geom, ST_GeomFromWKB(:sector, :srid))"
)


def _as_polygon(geom: BaseGeometry, apex: Point) -> Polygon:
    """A valid single polygon (the column type), keeping the piece at the camera."""
    if geom.geom_type == "Polygon" and geom.is_valid:
        return geom
    fixed = shapely.make_valid(geom)
    pieces = [g for g in getattr(fixed, "geoms", [fixed]) if g.geom_type == "Polygon" and not g.is_empty]
    if not pieces:
        raise ValueError("the field of view is empty")
    near = [g for g in pieces if g.distance(apex) < 1e-6]
    return max(near or pieces, key=lambda g: g.area)


def field_of_view(session: Session, srid: int, x: float, y: float, azimuth_deg: float, hfov_deg: float,
                  range_m: float, occluded: bool) -> Polygon:
    """The FOV polygon of a camera at storage-CRS (x, y): its sector, cut by buildings if ``occluded``."""
    sector = fov_sector(x, y, azimuth_deg, hfov_deg, range_m)
    if not occluded:
        return sector
    blockers = [shapely.from_wkb(bytes(b)) for b in
                session.scalars(_BLOCKERS_SQL, {"sector": shapely.to_wkb(sector), "srid": srid})]
    if not blockers:
        return sector
    return _as_polygon(occluded_sector(sector, x, y, blockers), Point(x, y))


def _fov_of(session: Session, srid: int, rec: Mapping[str, Any]) -> Polygon:
    return field_of_view(session, srid, rec["x"], rec["y"], rec["azimuth_deg"], rec["hfov_deg"],
                         rec["range_m"], rec["occluded"])


def _apply(camera: Camera, rec: Mapping[str, Any], srid: int, fov: Polygon | None) -> None:
    for name in FIELD_NAMES:
        setattr(camera, name, rec[name])
    camera.cell_code = rec["cell_code"]
    camera.district_code = rec["district_code"]
    camera.geom = from_shape(Point(rec["x"], rec["y"]), srid=srid)
    if fov is not None:
        camera.fov = from_shape(fov, srid=srid)


_OCCLUDED_NEAR_SQL = sa.text(
    """
    SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y, azimuth_deg, hfov_deg, range_m
    FROM cameras
    WHERE occluded
      AND geom && ST_Expand(ST_GeomFromWKB(:area, :srid), :max_range)
      AND ST_DWithin(geom, ST_GeomFromWKB(:area, :srid), range_m)
    """
)


def recompute_occluded_near(session: Session, settings: Settings, footprints: Iterable[BaseGeometry]) -> int:
    """Recompute the FOV of every occluded camera whose view reaches one of ``footprints``.

    Call it after buildings are added, changed or deleted, with their footprints in the
    storage CRS — both the old and the new footprint of a moved building. Returns how many
    cameras were updated. Audit rows are the caller's (the building write that caused it).
    """
    shapes = [g for g in footprints if g is not None and not g.is_empty]
    if not shapes:
        return 0
    area = shapely.GeometryCollection(shapes) if len(shapes) > 1 else shapes[0]
    srid = settings.storage_srid
    rows = session.execute(_OCCLUDED_NEAR_SQL, {"area": shapely.to_wkb(area), "srid": srid,
                                                "max_range": MAX_RANGE_M}).mappings().all()
    for r in rows:
        fov = field_of_view(session, srid, r["x"], r["y"], r["azimuth_deg"], r["hfov_deg"], r["range_m"], True)
        session.execute(sa.update(Camera).where(Camera.id == r["id"]).values(fov=from_shape(fov, srid=srid)))
    return len(rows)


# -- API writes -----------------------------------------------------------------------------


def camera_values(camera: Camera) -> dict[str, Any]:
    """The canonical fields of a stored camera."""
    return {name: getattr(camera, name) for name in FIELD_NAMES}


def _flush_unique(session: Session, device_id: str) -> None:
    """Flush, turning a device id taken by a concurrent request into the usual field error."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        if "device_id" in str(exc.orig):
            raise RowError("device_id", f"{device_id} is already used by another camera") from None
        raise


def create_camera(session: Session, settings: Settings, actor: Actor, values: Mapping[str, Any],
                  geom: BaseGeometry | None) -> Camera:
    """Add a camera (API); RowError names the bad field and nothing is written."""
    ctx = CameraContext(session, settings, check_unique=True)
    rec = validate(ctx, values, geom)
    camera = Camera()
    _apply(camera, rec, settings.storage_srid, _fov_of(session, settings.storage_srid, rec))
    session.add(camera)
    _flush_unique(session, rec["device_id"])
    record(session, actor, "camera.create", "camera", camera.id,
           {"device_id": camera.device_id, "cell_code": camera.cell_code})
    return camera


def update_camera(session: Session, settings: Settings, actor: Actor, camera: Camera,
                  changes: Mapping[str, Any], geom: BaseGeometry | None) -> list[str]:
    """Change some fields (and/or the point) of a camera; the whole result is checked again.

    Returns the names of the fields that changed; the FOV is recomputed when the point or a
    field in :data:`FOV_FIELDS` changed.
    """
    srid = settings.storage_srid
    before = camera_values(camera)
    old_point = to_shape(camera.geom)
    merged = {**before, **changes}
    ctx = CameraContext(session, settings, check_unique=True, exclude_id=camera.id)
    rec = validate(ctx, merged, geom if geom is not None else old_point)
    changed = [name for name in FIELD_NAMES if rec[name] != before[name]]
    moved = not Point(rec["x"], rec["y"]).equals_exact(old_point, 0.0)
    if moved:
        changed.append("geometry")
    if not changed:
        return []
    refov = moved or any(name in FOV_FIELDS for name in changed)
    _apply(camera, rec, srid, _fov_of(session, srid, rec) if refov else None)
    _flush_unique(session, rec["device_id"])
    detail = {name: [_jsonable(before[name]), _jsonable(rec[name])] for name in changed if name != "geometry"}
    if moved:
        detail["geometry"] = [[round(old_point.x, 3), round(old_point.y, 3)], [round(rec["x"], 3), round(rec["y"], 3)]]
    record(session, actor, "camera.update", "camera", camera.id, {"device_id": camera.device_id, "changes": detail})
    return changed


def _jsonable(value: Any) -> Any:
    return value if value is None or isinstance(value, (str, int, float, bool)) else str(value)


def delete_camera(session: Session, actor: Actor, camera: Camera) -> None:
    """Remove a camera (cases keep the device id they were reported with)."""
    record(session, actor, "camera.delete", "camera", camera.id,
           {"device_id": camera.device_id, "name": camera.name})
    session.delete(camera)
    session.flush()


# -- reads ------------------------------------------------------------------------------------

_PROPS = ("device_id", "name", "address", "height_m", "azimuth_deg", "hfov_deg", "range_m", "ptz_type",
          "status", "stream_url", "occluded", "cell_code", "district_code")
_FEATURE_COLUMNS = (
    "c.id, " + ", ".join(f"c.{p}" for p in _PROPS) + ", c.updated_at, "
    "ST_AsGeoJSON(ST_Transform(c.geom, 4326), 7) AS g, ST_AsGeoJSON(ST_Transform(c.fov, 4326), 7) AS f"
)


def _feature(row: Mapping[str, Any]) -> dict[str, Any]:
    props = {p: row[p] for p in _PROPS}
    props["updated_at"] = row["updated_at"].isoformat() if row["updated_at"] else None
    props["fov"] = json.loads(row["f"])
    return {"type": "Feature", "id": row["id"], "geometry": json.loads(row["g"]), "properties": props}


def camera_feature(session: Session, camera_id: int) -> dict[str, Any] | None:
    """One camera as a CRS84 GeoJSON Feature (with ``properties.fov``), or None."""
    row = session.execute(sa.text(f"SELECT {_FEATURE_COLUMNS} FROM cameras c WHERE c.id = :id"),
                          {"id": camera_id}).mappings().first()
    return None if row is None else _feature(row)


def cameras_in_bbox(session: Session, settings: Settings, bbox: tuple[float, float, float, float], limit: int,
                    statuses: list[str] | None = None, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """Cameras whose point lies in a CRS84 bbox, as GeoJSON features by id, and how many match."""
    where = ["c.district_code = :district"]
    params: dict[str, Any] = {"district": settings.district_code}
    if statuses:
        where.append("c.status = ANY(:statuses)")
        params["statuses"] = list(statuses)
    rows, total = page_in_bbox(session, settings.storage_srid, bbox, table="cameras", alias="c",
                               select=_FEATURE_COLUMNS, where=where, params=params, order_by="c.id",
                               limit=limit, offset=offset)
    return [_feature(r) for r in rows], total


# Cameras whose stored FOV covers a point: the GiST index on fov finds the candidates.
_SEEING_SQL = sa.text(
    """
    SELECT c.id, c.device_id, c.name, c.address, c.status, c.stream_url, c.ptz_type, c.height_m,
           c.azimuth_deg, c.hfov_deg, c.range_m, c.cell_code,
           ST_Distance(c.geom, p.pt) AS distance_m,
           degrees(ST_Azimuth(c.geom, p.pt)) AS bearing_deg,
           ST_X(c.geom) AS x, ST_Y(c.geom) AS y
    FROM cameras c, (SELECT ST_SetSRID(ST_MakePoint(:x, :y), :srid) AS pt) p
    WHERE c.district_code = :district AND ST_Intersects(c.fov, p.pt) AND c.status <> 'retired'
    ORDER BY distance_m, c.id
    LIMIT :limit
    """
)


def _seen(row: Mapping[str, Any], srid: int) -> dict[str, Any]:
    bearing = row["bearing_deg"]
    lon, lat = storage_to_lonlat(row["x"], row["y"], srid)
    return {
        "id": row["id"], "device_id": row["device_id"], "name": row["name"], "address": row["address"],
        "status": row["status"], "stream_url": row["stream_url"], "ptz_type": row["ptz_type"],
        "height_m": row["height_m"], "azimuth_deg": row["azimuth_deg"], "hfov_deg": row["hfov_deg"],
        "range_m": row["range_m"], "cell_code": row["cell_code"],
        "distance_m": round(float(row["distance_m"]), 1),
        # The bearing from the camera to the point, clockwise from (grid) north; none when they coincide.
        "bearing_deg": None if bearing is None else round(float(bearing), 1),
        "location": {"lon": round(float(lon), 7), "lat": round(float(lat), 7)},
    }


def cameras_seeing(session: Session, settings: Settings, x: float, y: float, limit: int = 20) -> list[dict[str, Any]]:
    """Cameras (not retired) whose field of view covers storage-CRS point (x, y), nearest first."""
    rows = session.execute(_SEEING_SQL, {"x": x, "y": y, "srid": settings.storage_srid,
                                         "district": settings.district_code, "limit": limit}).mappings()
    return [_seen(r, settings.storage_srid) for r in rows]


# The cameras of a case: those that see its point, and the camera that reported it (even if it
# no longer sees the point or is retired), that one first.
_CASE_CAMERAS_SQL = sa.text(
    """
    SELECT c.id, c.device_id, c.name, c.address, c.status, c.stream_url, c.ptz_type, c.height_m,
           c.azimuth_deg, c.hfov_deg, c.range_m, c.cell_code,
           ST_Distance(c.geom, k.geom) AS distance_m,
           degrees(ST_Azimuth(c.geom, k.geom)) AS bearing_deg,
           ST_X(c.geom) AS x, ST_Y(c.geom) AS y,
           c.device_id IS NOT DISTINCT FROM k.camera_id AS reported,
           ST_Intersects(c.fov, k.geom) AND c.status <> 'retired' AS sees
    FROM cases k JOIN cameras c
      ON c.district_code = k.district_code
     AND ((ST_Intersects(c.fov, k.geom) AND c.status <> 'retired') OR c.device_id = k.camera_id)
    WHERE k.id = :case_id
    ORDER BY reported DESC, distance_m, c.id
    LIMIT :limit
    """
)


def cameras_for_case(session: Session, settings: Settings, case_id: int, limit: int = 20) -> list[dict[str, Any]]:
    """The cameras that see a case's point, nearest first; the reporting camera first and marked."""
    rows = session.execute(_CASE_CAMERAS_SQL, {"case_id": case_id, "limit": limit}).mappings()
    return [{**_seen(r, settings.storage_srid), "reported": bool(r["reported"]), "sees": bool(r["sees"])}
            for r in rows]


# -- import / export --------------------------------------------------------------------------


def _write(session: Session, settings: Settings, actor: Actor, records: list[dict[str, Any]],
           mode: str) -> tuple[int, int]:
    """Insert (append) or insert-or-update by device id (upsert) the checked rows of a file."""
    srid = settings.storage_srid
    ids = [r["device_id"] for r in records]
    existing: dict[str, Camera] = {}
    for start in range(0, len(ids), 5000):  # IN lists stay well under the driver's parameter limit
        chunk = ids[start:start + 5000]
        existing.update((c.device_id, c) for c in session.scalars(sa.select(Camera).where(Camera.device_id.in_(chunk))))
    if mode == "append" and existing:
        raise ImportRefused(
            f"{len(existing)} device ids already exist; nothing was imported (use --mode upsert to update them)",
            [ReportRow(r["_row"], r["device_id"], "device_id", "error",
                       f"{r['device_id']} already exists as camera {existing[r['device_id']].id}")
             for r in records if r["device_id"] in existing],
        )
    inserted = updated = 0
    for rec in records:
        fov = _fov_of(session, srid, rec)  # may query buildings: before a half-built row is in the session
        camera = existing.get(rec["device_id"])
        if camera is None:
            camera = Camera()
            _apply(camera, rec, srid, fov)
            session.add(camera)
            inserted += 1
        else:
            _apply(camera, rec, srid, fov)
            updated += 1
    session.flush()
    return inserted, updated


def _frame(session: Session, settings: Settings) -> gpd.GeoDataFrame:
    """Every camera with the canonical columns, in the storage CRS, by device id."""
    rows = session.execute(
        sa.select(*(getattr(Camera, n) for n in FIELD_NAMES), sa.func.ST_AsBinary(Camera.geom).label("wkb"))
        .order_by(Camera.device_id)
    ).mappings().all()
    data = {n: [r[n] for r in rows] for n in FIELD_NAMES}
    geoms = list(shapely.from_wkb([bytes(r["wkb"]) for r in rows])) if rows else []
    frame = gpd.GeoDataFrame(data, geometry=geoms, crs=f"EPSG:{settings.storage_srid}")
    # Whole numbers with gaps would become floats; keep the PTZ type an integer column.
    frame["ptz_type"] = frame["ptz_type"].astype("Int64")
    return frame


SPEC = register(LayerSpec(
    name="cameras",
    title="Video access points (GB/T 28181)",
    fields=FIELDS,
    key="device_id",
    geometry_types=("Point",),
    prepare=prepare,
    validate=validate,
    write=_write,
    frame=_frame,
))
