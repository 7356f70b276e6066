"""Pipelines API: the layer by bbox, one segment, admin writes, the excavation check, crossings
between classes, the CJJ 61 class table (map legend) and per-cell statistics."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request, url_for
from sqlalchemy.exc import IntegrityError

from gis import crs as gcrs

from .. import params
from ..db import get_session
from ..errors import BadRequest, Conflict, NotFound
from ..security import current_actor, roles_required
from ..services import grid as grid_service
from ..services import pipelines as svc
from ..services.layer_io import RowError
from . import layer_http
from .asset_layers import asset_layers_config

bp = Blueprint("pipelines_api", __name__, url_prefix="/api/v1/pipelines")
# The map pages include templates/_asset_layers.html, which reads this.
bp.add_app_template_global(asset_layers_config, "asset_layers_config")

MAX_OLDER_THAN = 200
#: Feature properties a client may send back unchanged (GET → edit → PATCH); they are derived.
READ_ONLY = frozenset({"id", "class_name", "subclass_name", "color", "material_name", "burial_name",
                       "cell_code", "district_code", "length_m"})


# -- parameters and bodies ---------------------------------------------------------------------


def _cell_param(db) -> str | None:
    raw = request.args.get("cell")
    if raw is None or not raw.strip():
        return None
    code = raw.strip()
    if not (len(code) == 15 and code.isdigit()):
        raise BadRequest(f"'cell' must be a 15-digit unit grid cell code, got {raw!r}", field="cell")
    if not svc.cell_exists(db, code):
        raise NotFound(f"no current unit grid cell {code}", field="cell")
    return code


def _area(db) -> tuple[tuple[float, float, float, float] | None, str | None]:
    """Exactly one of ``bbox`` and ``cell``."""
    has_bbox = bool((request.args.get("bbox") or "").strip())
    has_cell = bool((request.args.get("cell") or "").strip())
    if has_bbox == has_cell:
        raise BadRequest("give either 'bbox' or 'cell'", field="cell" if has_bbox else "bbox")
    return (layer_http.bbox(db), None) if has_bbox else (None, _cell_param(db))


def _body(*, geometry_required: bool) -> tuple[dict[str, Any], Any]:
    """Field values and storage-CRS geometry of a GeoJSON Feature (or flat object) body.

    The derived properties of a GET answer (names, colour, cell, length) may be sent back
    unchanged: they are dropped, so a client can edit the Feature it read.
    """
    data = layer_http.json_object()
    if isinstance(data.get("properties"), dict):
        data = {**data, "properties": {k: v for k, v in data["properties"].items() if k not in READ_ONLY}}
    elif data.get("type") != "Feature":
        data = {k: v for k, v in data.items() if k not in READ_ONLY}
    return layer_http.feature_input(data, svc.FIELD_NAMES, geometry_required=geometry_required)


def _checked(db, settings, values: dict[str, Any], geom) -> dict[str, Any]:
    try:
        return svc.validate(svc.prepare(db, settings), values, geom)
    except RowError as exc:
        raise layer_http.refused(exc) from None


def _code_free(db, code: str, own_id: int | None = None) -> None:
    other = svc.existing_codes(db, [code]).get(code)
    if other is not None and other != own_id:
        raise Conflict(f"pipeline segment code {code!r} is already used by segment {other}", field="code",
                       existing_id=other)


def _commit(db) -> None:
    """Commit a write; a code taken meanwhile by a concurrent write is a 409, nothing half-written."""
    try:
        db.commit()
    except IntegrityError as exc:
        db.rollback()
        raise Conflict("the segment code was taken by a concurrent write; try again", field="code") from exc


# -- views ----------------------------------------------------------------------------------------


@bp.get("")
@roles_required()
def list_pipelines():
    """Segments meeting a bbox as GeoJSON (CRS84), each with its CJJ 61 class colour."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    bbox = layer_http.bbox(db)
    known = svc.load_codes(db).class_abbrs()
    classes = layer_http.codes("class", known, aliases={k.lower(): k for k in known} | {v: k for k, v in known.items()})
    lim, off = layer_http.limit(), layer_http.offset()
    features, total = svc.features_in_bbox(db, settings, bbox, lim, off, classes)
    return layer_http.collection(features, total, "pipelines_api.list_pipelines", lim, off)


@bp.post("")
@roles_required("admin")
def create_pipeline():
    """Add a segment (admin)."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    values, geom = _body(geometry_required=True)
    rec = _checked(db, settings, values, geom)
    _code_free(db, rec["code"])
    new_id = svc.create(db, settings, current_actor(), rec)
    _commit(db)
    resp = layer_http.geojson(svc.feature(db, new_id), 201)
    resp.headers["Location"] = url_for("pipelines_api.read_pipeline", pipeline_id=new_id)
    return resp


@bp.get("/<id:pipeline_id>")
@roles_required()
def read_pipeline(pipeline_id: int):
    """One segment as a GeoJSON Feature."""
    found = svc.feature(get_session(), pipeline_id)
    if found is None:
        raise NotFound(f"no pipeline segment {pipeline_id}")
    return layer_http.geojson(found)


@bp.patch("/<id:pipeline_id>")
@roles_required("admin")
def update_pipeline(pipeline_id: int):
    """Change some fields and/or the geometry of a segment (admin); the whole result is re-checked."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    stored = svc.raw_values(db, pipeline_id)
    if stored is None:
        raise NotFound(f"no pipeline segment {pipeline_id}")
    base, old_geom = stored
    values, geom = _body(geometry_required=False)
    rec = _checked(db, settings, {**base, **values}, old_geom if geom is None else geom)
    _code_free(db, rec["code"], pipeline_id)
    changed = [k for k in values if values[k] != base.get(k)] + (["geometry"] if geom is not None else [])
    svc.change(db, settings, current_actor(), pipeline_id, rec, changed)
    _commit(db)
    return layer_http.geojson(svc.feature(db, pipeline_id))


@bp.delete("/<id:pipeline_id>")
@roles_required("admin")
def delete_pipeline(pipeline_id: int):
    """Remove a segment (admin)."""
    db = get_session()
    if not svc.delete(db, current_actor(), pipeline_id):
        raise NotFound(f"no pipeline segment {pipeline_id}")
    db.commit()
    return "", 204


@bp.get("/near")
@roles_required()
def near():
    """The excavation check: segments within a radius of a point, nearest first, with depths."""
    settings = current_app.config["SETTINGS"]
    x, y, lon84, lat84 = layer_http.storage_point(settings)
    radius = params.number("radius", 0.0, float(settings.max_pipe_radius_m), 30.0)
    limit = params.integer("limit", 1, svc.MAX_NEAR_RESULTS, 100)
    found = svc.near(get_session(), settings, x, y, radius, limit)
    return jsonify({
        "point": {"lon": round(lon84, 7), "lat": round(lat84, 7), "crs": "OGC:CRS84",
                  "input_crs": gcrs.normalize_crs_name(request.args.get("crs"))},
        "radius_m": radius,
        "numberReturned": len(found),
        "pipelines": found,
    })


@bp.get("/crossings")
@roles_required()
def crossings():
    """Points where segments of different classes cross in a bbox or a cell, with depths and clearance."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    bbox, cell = _area(db)
    limit = params.integer("limit", 1, svc.MAX_CROSSINGS, layer_http.DEFAULT_LIMIT)
    features, truncated = svc.crossings(db, settings, bbox=bbox, cell=cell, limit=limit)
    return layer_http.geojson({"type": "FeatureCollection", "features": features, "numberReturned": len(features),
                 "truncated": truncated})


@bp.get("/classes")
@roles_required()
def classes():
    """The CJJ 61-2017 code tables: classes with subclasses and colours, materials, burial methods."""
    db = get_session()
    codes = svc.load_codes(db)
    return jsonify({
        "standard": "CJJ 61-2017",
        "classes": svc.class_table(db),
        "materials": [{"code": k, "name": v} for k, v in codes.materials.items()],
        "burials": [{"code": k, "name": v} for k, v in codes.burials.items()],
        "statuses": list(svc.STATUSES),
    })


@bp.get("/stats")
@roles_required()
def stats():
    """Length per class per cell (clipped by the cells) and, with ``older_than``, the old pipes."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    bbox, cell = _area(db)
    older_than = None
    if (request.args.get("older_than") or "").strip():
        older_than = params.integer("older_than", 0, MAX_OLDER_THAN, 0)
    if bbox is not None:
        n = grid_service.cells_in_bbox(db, bbox, settings.storage_srid, 1)[1]
        if n > settings.max_bbox_cells:
            raise BadRequest(f"'bbox' covers {n} cells; at most {settings.max_bbox_cells}", field="bbox")
    cells = svc.cell_stats(db, settings, bbox=bbox, cell=cell, older_than=older_than)
    return jsonify({"year": svc.this_year(), "older_than": older_than, "cells": cells})


# -- OpenAPI ------------------------------------------------------------------------------------

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_SECURITY = [{"bearer": []}, {"session": []}]
_GEOJSON = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}
_FEATURE = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/PipelineFeature"}}}
_ID = {"name": "pipeline_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_BBOX = {"name": "bbox", "in": "query", "schema": {"type": "string"},
         "description": "minLon,minLat,maxLon,maxLat (CRS84 unless bbox-crs/crs say gcj02 or bd09); "
                        "no larger than the district"}
_CRS = {"name": "crs", "in": "query", "schema": {"type": "string", "enum": list(gcrs.INPUT_CRS)},
        "description": "Datum of the lon/lat given: wgs84 (CRS84, default), cgcs2000, gcj02 or bd09."}
_BBOX_CRS = {"name": "bbox-crs", "in": "query", "schema": {"type": "string"},
             "description": "CRS of bbox: the OGC CRS84 URI (default), or gcj02 / bd09; lon/lat order."}
_CELL = {"name": "cell", "in": "query", "schema": {"type": "string", "pattern": "^[0-9]{15}$"},
         "description": "A current unit grid cell code (instead of bbox)."}


def _limit(default: int, maximum: int) -> dict:
    return {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": maximum,
                                                       "default": default}}


def _op(summary: str, parameters: list, content: dict | None, *, status: str = "200",
        extra: tuple[str, ...] = (), body: bool = False) -> dict:
    responses: dict[str, Any] = {status: {"description": "OK", **({"content": content} if content else {})}}
    for code in ("400", "401", *extra):
        responses[code] = _PROBLEM
    op: dict[str, Any] = {"summary": summary, "tags": ["pipelines"], "security": _SECURITY,
                          "parameters": parameters, "responses": responses}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/PipelineInput"}}}}
    return op


OPENAPI_PATHS: dict = {
    "/api/v1/pipelines": {
        "get": _op("Underground pipeline segments meeting a bbox (GeoJSON, CRS84; properties carry the "
                   "CJJ 61 class colour)",
                   [{**_BBOX, "required": True}, _BBOX_CRS, _CRS, _limit(layer_http.DEFAULT_LIMIT, layer_http.MAX_LIMIT),
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                    {"name": "class", "in": "query", "schema": {"type": "string"},
                     "description": "CJJ 61 class abbreviations, comma-separated (e.g. PS,RQ)"}],
                   _GEOJSON),
        "post": _op("Add a pipeline segment (admin)", [], _FEATURE, status="201", extra=("403", "409"),
                    body=True),
    },
    "/api/v1/pipelines/{pipeline_id}": {
        "get": _op("One pipeline segment (GeoJSON Feature)", [_ID], _FEATURE, extra=("404",)),
        "patch": _op("Change a pipeline segment (admin); the merged segment is checked again", [_ID],
                     _FEATURE, extra=("403", "404", "409"), body=True),
        "delete": _op("Delete a pipeline segment (admin)", [_ID], None, status="204", extra=("403", "404")),
    },
    "/api/v1/pipelines/near": {
        "get": _op("Excavation check: segments within a radius of a point, nearest first, with the distance, "
                   "the fraction along the segment and the depth interpolated there",
                   [{"name": "lon", "in": "query", "required": True, "schema": {"type": "number"}},
                    {"name": "lat", "in": "query", "required": True, "schema": {"type": "number"}},
                    _CRS,
                    {"name": "radius", "in": "query", "schema": {"type": "number", "minimum": 0, "default": 30},
                     "description": "metres; at most CITYGRID_MAX_PIPE_RADIUS_M (200)"},
                    _limit(100, svc.MAX_NEAR_RESULTS)],
                   {"application/json": {"schema": {"type": "object", "properties": {
                       "point": {"type": "object"}, "radius_m": {"type": "number"},
                       "numberReturned": {"type": "integer"},
                       "pipelines": {"type": "array", "items": {"type": "object"}}}}}}),
    },
    "/api/v1/pipelines/crossings": {
        "get": _op("Crossings between segments of different classes in a bbox or a cell (GeoJSON points with "
                   "both segments, their depths there and the vertical clearance)",
                   [_BBOX, _BBOX_CRS, _CRS, _CELL, _limit(layer_http.DEFAULT_LIMIT, svc.MAX_CROSSINGS)], _GEOJSON,
                   extra=("404",)),
    },
    "/api/v1/pipelines/classes": {
        "get": _op("The CJJ 61-2017 pipeline classes with subclasses and colours (the map legend), "
                   "materials and burial methods", [], {"application/json": {"schema": {"type": "object"}}}),
    },
    "/api/v1/pipelines/stats": {
        "get": _op("Pipeline length per class per unit grid cell (lines clipped by current cells) and, with "
                   "older_than, the pipes older than N years (count and length)",
                   [_BBOX, _BBOX_CRS, _CRS, _CELL,
                    {"name": "older_than", "in": "query",
                     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OLDER_THAN}}],
                   {"application/json": {"schema": {"type": "object"}}}, extra=("404",)),
    },
}

_PROPERTIES = {
    "code": {"type": "string", "maxLength": 40, "description": "管线段编号 (unique)"},
    "class_abbr": {"type": "string", "description": "CJJ 61 class: JS PS RQ RL DL TX GY QT (also 2, 202, PSWS, 排水)"},
    "subclass_abbr": {"type": "string", "description": "CJJ 61 subclass, e.g. WS (also 02, 污水)"},
    "material_code": {"type": ["string", "null"], "description": "CJJ 61 Table C.0.1, e.g. QM"},
    "burial_code": {"type": ["string", "null"], "description": "CJJ 61 Table C.0.2, e.g. ZM"},
    "diameter_mm": {"type": ["number", "null"], "exclusiveMinimum": 0},
    "section": {"type": ["string", "null"], "pattern": "^[0-9.]+x[0-9.]+$", "description": "WxH in mm"},
    "start_depth_m": {"type": "number", "minimum": 0},
    "end_depth_m": {"type": "number", "minimum": 0},
    "build_year": {"type": ["integer", "null"], "minimum": svc.MIN_BUILD_YEAR},
    "owner": {"type": ["string", "null"], "maxLength": 200},
    "pressure_mpa": {"type": ["number", "null"], "minimum": 0, "description": "JS, RQ, RL only"},
    "voltage_kv": {"type": ["number", "null"], "minimum": 0, "description": "DL only"},
    "status": {"type": "string", "enum": list(svc.STATUSES), "default": "in_use"},
}

OPENAPI_SCHEMAS: dict = {
    "PipelineInput": {
        "description": "A GeoJSON Feature (fields in properties) or a flat object with geometry; "
                       "crs names the datum of the coordinates (wgs84 default, gcj02, bd09).",
        "type": "object",
        "properties": {"type": {"const": "Feature"},
                       "geometry": {"type": "object", "description": "GeoJSON LineString, lon/lat"},
                       "properties": {"type": "object", "properties": _PROPERTIES},
                       "crs": {"type": "string", "enum": list(gcrs.INPUT_CRS)},
                       **_PROPERTIES},
    },
    "PipelineFeature": {
        "type": "object",
        "properties": {
            "type": {"const": "Feature"}, "id": {"type": "integer"}, "geometry": {"type": "object"},
            "properties": {"type": "object", "properties": {
                **_PROPERTIES, "class_name": {"type": "string"}, "subclass_name": {"type": "string"},
                "color": {"type": "string", "pattern": "^#[0-9a-f]{6}$"}, "cell_code": {"type": ["string", "null"]},
                "district_code": {"type": "string"}, "length_m": {"type": "number"}}},
        },
    },
}
