"""JSON API of the video access points: cameras in a box, one camera, admin writes, and which
cameras see a point."""

from __future__ import annotations

import math
from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from gis import crs as gcrs
from gis.errors import GeoJSONError, UnknownCRSError
from gis.geojson import parse_geometry

from .. import params
from ..db import get_session
from ..errors import BadRequest, NotFound, PayloadTooLarge
from ..models import Camera
from ..models.assets import CAMERA_STATUSES
from ..security import current_actor, roles_required
from ..services import cameras as camera_service
from ..services.layer_io import RowError
from . import layer_http

bp = Blueprint("cameras_api", __name__, url_prefix="/api/v1/cameras")

MAX_SEEING = 100
#: A camera is a few hundred bytes of JSON; anything much bigger is not a camera.
MAX_BODY_BYTES = 64 * 1024
#: Properties a GET answers that a client may send back in a Feature but cannot set.
READ_ONLY = {"fov", "cell_code", "district_code", "updated_at"}


# -- request parsing ----------------------------------------------------------------------


def _crs_name(raw: str | None, field: str) -> str:
    try:
        return gcrs.normalize_crs_name(raw)
    except UnknownCRSError as exc:
        raise BadRequest(str(exc), field=field, accepted=list(exc.accepted)) from None


def _json_body() -> dict[str, Any]:
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"a camera body is at most {MAX_BODY_BYTES} bytes", field="body")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object (a camera's fields, or a GeoJSON Feature)", field="body")
    return data


def _crs_of(data: dict[str, Any]) -> str:
    raw = data.get("crs")
    if raw is not None and not isinstance(raw, str):
        raise BadRequest("'crs' must be text", field="crs")
    return _crs_name(raw, "crs")


def _point(geometry: Any, crs_name: str, srid: int) -> Point:
    """A GeoJSON Point (lon/lat in ``crs_name``) in the storage CRS."""
    try:
        point = parse_geometry(geometry, allowed_types=("Point",))
    except GeoJSONError as exc:
        raise BadRequest(f"{exc.path}: {exc.reason}", field="geometry") from None
    lon84, lat84 = gcrs.to_wgs84(point.x, point.y, crs_name)
    x, y = gcrs.lonlat_to_storage(lon84, lat84, srid)
    return Point(float(x), float(y))


def _camera_input(partial: bool) -> tuple[dict[str, Any], BaseGeometry | None, str]:
    """Fields, the point in the storage CRS (None if not given) and the name of the location field.

    A body is a GeoJSON Feature with a Point geometry and the fields as properties (as GET
    returns it; read-only properties such as ``fov`` are ignored), or a flat object of the
    fields with the point as ``lon``/``lat`` or as a GeoJSON ``geometry``. Coordinates are
    CRS84 unless ``crs`` names another datum (gcj02, bd09 ...).
    """
    data = _json_body()
    srid = current_app.config["SETTINGS"].storage_srid
    allowed = set(camera_service.FIELD_NAMES)
    if data.get("type") == "Feature":
        unknown = sorted(set(data) - {"type", "id", "geometry", "properties", "bbox", "crs"})
        if unknown:
            raise BadRequest(f"unknown Feature member(s): {', '.join(unknown)}", field=unknown[0])
        props = data.get("properties") or {}
        if not isinstance(props, dict):
            raise BadRequest("'properties' must be an object", field="properties")
        values = {k: v for k, v in props.items() if k not in READ_ONLY}
        where = "geometry"
    else:
        values = {k: v for k, v in data.items() if k not in ("lon", "lat", "crs", "geometry")}
        where = "geometry" if "geometry" in data else "lon"
    _reject_unknown(values, allowed)
    crs_name = _crs_of(data)
    if data.get("geometry") is not None:
        return values, _point(data["geometry"], crs_name, srid), where
    if where == "lon" and ("lon" in data or "lat" in data):
        lon = params.body_number(data, "lon", -180, 180)
        lat = params.body_number(data, "lat", -90, 90)
        lon84, lat84 = gcrs.to_wgs84(lon, lat, crs_name)
        x, y = gcrs.lonlat_to_storage(lon84, lat84, srid)
        return values, Point(float(x), float(y)), where
    if not partial:
        raise BadRequest("a camera needs its point: 'lon' and 'lat', or a GeoJSON Point 'geometry'",
                         field=where)
    if "crs" in data:
        raise BadRequest("'crs' goes with the camera's point", field="crs")
    return values, None, where


def _reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; accepted: {', '.join(sorted(allowed))}",
                         field=unknown[0])


def _field_error(exc: RowError, location_field: str) -> BadRequest:
    field = location_field if exc.field == "geometry" else exc.field
    return BadRequest(f"{field}: {exc.message}", field=field)


def _camera_or_404(db, camera_id: int) -> Camera:
    camera = db.get(Camera, camera_id)
    if camera is None:
        raise NotFound(f"camera {camera_id} does not exist")
    return camera


# -- views --------------------------------------------------------------------------------


@bp.get("")
@roles_required()
def list_cameras():
    """Cameras in a CRS84 bbox as a GeoJSON FeatureCollection; each carries its FOV polygon."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    bbox = layer_http.bbox(db)
    limit, offset = layer_http.limit(), layer_http.offset()
    statuses = layer_http.codes("status", CAMERA_STATUSES)
    features, total = camera_service.cameras_in_bbox(db, settings, bbox, limit, statuses, offset)
    return layer_http.collection(features, total, "cameras_api.list_cameras", limit, offset)


@bp.get("/<id:camera_id>")
@roles_required()
def read_camera(camera_id: int):
    """One camera as a GeoJSON Feature."""
    feature = camera_service.camera_feature(get_session(), camera_id)
    if feature is None:
        raise NotFound(f"camera {camera_id} does not exist")
    return layer_http.geojson(feature)


@bp.get("/seeing")
@roles_required()
def seeing():
    """Cameras whose field of view covers a point, nearest first (retired cameras left out)."""
    settings = current_app.config["SETTINGS"]
    limit = params.integer("limit", 1, MAX_SEEING, 20)
    x, y, lon84, lat84 = layer_http.storage_point(settings)
    found = camera_service.cameras_seeing(get_session(), settings, x, y, limit)
    return jsonify({
        "point": {"lon": round(lon84, 7), "lat": round(lat84, 7), "crs": "OGC:CRS84"},
        "cameras": found,
        "numberReturned": len(found),
    })


@bp.post("")
@roles_required("admin")
def create_camera():
    """Add a camera (admin); answers the stored Feature."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    values, geom, where = _camera_input(partial=False)
    try:
        camera = camera_service.create_camera(db, settings, current_actor(), values, geom)
        db.commit()
    except RowError as exc:
        db.rollback()
        raise _field_error(exc, where) from None
    except BaseException:
        db.rollback()
        raise
    resp = layer_http.geojson(camera_service.camera_feature(db, camera.id), 201)
    resp.headers["Location"] = url_for("cameras_api.read_camera", camera_id=camera.id)
    return resp


@bp.patch("/<id:camera_id>")
@roles_required("admin")
def update_camera(camera_id: int):
    """Change fields and/or the point of a camera (admin); the FOV follows."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    camera = _camera_or_404(db, camera_id)
    changes, geom, where = _camera_input(partial=True)
    try:
        camera_service.update_camera(db, settings, current_actor(), camera, changes, geom)
        db.commit()
    except RowError as exc:
        db.rollback()
        raise _field_error(exc, where) from None
    except BaseException:
        db.rollback()
        raise
    return layer_http.geojson(camera_service.camera_feature(db, camera_id))


@bp.delete("/<id:camera_id>")
@roles_required("admin")
def delete_camera(camera_id: int):
    """Remove a camera (admin)."""
    db = get_session()
    camera = _camera_or_404(db, camera_id)
    try:
        camera_service.delete_camera(db, current_actor(), camera)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    return "", 204


# -- OpenAPI --------------------------------------------------------------------------------

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_SECURITY = [{"bearer": []}, {"session": []}]
_ID = {"name": "camera_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_FEATURE = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/CameraFeature"}}}
_CRS_PARAM = {"name": "crs", "in": "query",
              "description": "Datum of lon/lat: wgs84 (CRS84, default), cgcs2000, gcj02 (Amap/Tencent) or bd09 (Baidu).",
              "schema": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]}}
_WRITE_BODY = {"required": True, "content": {"application/json": {"schema": {"oneOf": [
    {"$ref": "#/components/schemas/CameraInput"},
    {"$ref": "#/components/schemas/CameraFeature"},
]}}}}

OPENAPI_PATHS: dict = {
    "/api/v1/cameras": {
        "get": {
            "summary": "Video access points in a bounding box (GeoJSON, CRS84); properties.fov is the field of view",
            "security": _SECURITY,
            "parameters": [
                {"name": "bbox", "in": "query", "required": True, "schema": {"type": "string"},
                 "description": "minLon,minLat,maxLon,maxLat; no larger than the district"},
                {"name": "bbox-crs", "in": "query", "schema": {"type": "string"},
                 "description": "Datum of bbox (as crs; default CRS84)"},
                _CRS_PARAM,
                {"name": "status", "in": "query", "schema": {"type": "string"},
                 "description": "Comma-separated: " + ", ".join(CAMERA_STATUSES)},
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": layer_http.MAX_LIMIT,
                            "default": layer_http.DEFAULT_LIMIT}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
            "responses": {"200": {"description": "FeatureCollection with numberMatched / numberReturned",
                                  "content": {"application/geo+json": {
                                      "schema": {"$ref": "#/components/schemas/FeatureCollection"}}}},
                          "400": _PROBLEM, "401": _PROBLEM},
        },
        "post": {
            "summary": "Add a camera (admin): flat fields with lon/lat[/crs], or a GeoJSON Feature",
            "security": _SECURITY,
            "requestBody": _WRITE_BODY,
            "responses": {"201": {"description": "Created", "content": _FEATURE},
                          "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "413": _PROBLEM},
        },
    },
    "/api/v1/cameras/{camera_id}": {
        "get": {
            "summary": "One camera as a GeoJSON Feature",
            "security": _SECURITY,
            "parameters": [_ID],
            "responses": {"200": {"description": "OK", "content": _FEATURE}, "401": _PROBLEM, "404": _PROBLEM},
        },
        "patch": {
            "summary": "Change a camera (admin); the field of view is recomputed when it depends on the change",
            "security": _SECURITY,
            "parameters": [_ID],
            "requestBody": _WRITE_BODY,
            "responses": {"200": {"description": "Updated", "content": _FEATURE}, "400": _PROBLEM,
                          "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "413": _PROBLEM},
        },
        "delete": {
            "summary": "Remove a camera (admin)",
            "security": _SECURITY,
            "parameters": [_ID],
            "responses": {"204": {"description": "Deleted"}, "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM},
        },
    },
    "/api/v1/cameras/seeing": {
        "get": {
            "summary": "Cameras whose field of view covers a point, nearest first (retired cameras left out)",
            "security": _SECURITY,
            "parameters": [
                {"name": "lon", "in": "query", "required": True,
                 "schema": {"type": "number", "minimum": -180, "maximum": 180}},
                {"name": "lat", "in": "query", "required": True,
                 "schema": {"type": "number", "minimum": -90, "maximum": 90}},
                _CRS_PARAM,
                {"name": "limit", "in": "query",
                 "schema": {"type": "integer", "minimum": 1, "maximum": MAX_SEEING, "default": 20}},
            ],
            "responses": {"200": {"description": "The point and the cameras seeing it",
                                  "content": {"application/json": {"schema": {
                                      "type": "object",
                                      "properties": {"point": {"type": "object"},
                                                     "cameras": {"type": "array",
                                                                 "items": {"$ref": "#/components/schemas/CameraSeeing"}},
                                                     "numberReturned": {"type": "integer"}}}}}},
                          "400": _PROBLEM, "401": _PROBLEM},
        },
    },
}

_CAMERA_FIELDS = {
    "device_id": {"type": "string", "pattern": "^[0-9]{20}$",
                  "description": "GB/T 28181 id: 8 centre + 2 industry + 3 type + 1 network + 6 serial"},
    "name": {"type": "string", "maxLength": 200},
    "address": {"type": ["string", "null"], "maxLength": 255},
    "height_m": {"type": ["number", "null"], "minimum": 0, "maximum": camera_service.MAX_HEIGHT_M},
    "azimuth_deg": {"type": "number", "minimum": 0, "maximum": 360,
                    "description": "Centre of view, clockwise from north; optional when hfov_deg is 360"},
    "hfov_deg": {"type": "number", "exclusiveMinimum": 0, "maximum": 360},
    "range_m": {"type": "number", "exclusiveMinimum": 0, "maximum": camera_service.MAX_RANGE_M},
    "ptz_type": {"type": ["integer", "null"], "minimum": 1, "maximum": 7,
                 "description": "GB/T 28181 PTZType: 1 dome, 2 half-dome, 3 fixed bullet, 4 remote bullet, ..."},
    "status": {"type": "string", "enum": list(CAMERA_STATUSES), "default": "online"},
    "stream_url": {"type": ["string", "null"], "maxLength": 500,
                   "description": "URL with scheme " + ", ".join(camera_service.STREAM_SCHEMES)},
    "occluded": {"type": "boolean", "default": False,
                 "description": "Cut the field of view by the footprints of the buildings in it"},
}

OPENAPI_SCHEMAS: dict = {
    "CameraInput": {
        "type": "object",
        "required": ["device_id", "name", "hfov_deg", "range_m", "lon", "lat"],
        "properties": {**_CAMERA_FIELDS, "lon": {"type": "number"}, "lat": {"type": "number"},
                       "crs": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]}},
    },
    "CameraFeature": {
        "type": "object",
        "properties": {
            "type": {"const": "Feature"},
            "id": {"type": "integer"},
            "geometry": {"type": "object", "description": "GeoJSON Point, CRS84"},
            "properties": {"type": "object", "properties": {
                **_CAMERA_FIELDS,
                "cell_code": {"type": "string"}, "district_code": {"type": "string"},
                "updated_at": {"type": "string", "format": "date-time"},
                "fov": {"type": "object", "description": "GeoJSON Polygon, CRS84 (read only)"},
            }},
        },
    },
    "CameraSeeing": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"}, "device_id": {"type": "string"}, "name": {"type": "string"},
            "status": {"type": "string"}, "stream_url": {"type": ["string", "null"]},
            "distance_m": {"type": "number"},
            "bearing_deg": {"type": ["number", "null"], "description": "From the camera to the point"},
            "location": {"type": "object", "properties": {"lon": {"type": "number"}, "lat": {"type": "number"}}},
        },
    },
}

__all__ = ["OPENAPI_PATHS", "OPENAPI_SCHEMAS", "bp"]
