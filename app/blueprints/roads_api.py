"""Roads API: the base map's roads by bbox (paged GeoJSON), one road, and admin writes (checked by
the same function as file import)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, url_for

from ..db import get_session
from ..errors import NotFound
from ..models.assets import ROAD_CLASSES
from ..security import current_actor, roles_required
from ..services import roads as road_service
from . import layer_http
from .buildings_api import BBOX_PARAMS

bp = Blueprint("roads_api", __name__, url_prefix="/api/v1/roads")

#: Feature properties a client may send back unchanged (GET → edit → PATCH); they are derived.
READ_ONLY = frozenset({"id", "class_name", "cell_code", "district_code", "length_m"})


def _settings():
    return current_app.config["SETTINGS"]


def _found(road_id: int) -> dict[str, Any]:
    feature = road_service.feature(get_session(), road_id)
    if feature is None:
        raise NotFound(f"road {road_id} does not exist")
    return feature


def _body(*, geometry_required: bool):
    """Values and storage-CRS centreline of a Feature (or flat object); derived properties dropped."""
    data = layer_http.json_object()
    if isinstance(data.get("properties"), dict):
        data = {**data, "properties": {k: v for k, v in data["properties"].items() if k not in READ_ONLY}}
    elif data.get("type") != "Feature":
        data = {k: v for k, v in data.items() if k not in READ_ONLY}
    return layer_http.feature_input(data, road_service.WRITABLE, geometry_required=geometry_required)


def _write(action) -> None:
    layer_http.write(action, key_field="code", taken="the road code was taken by a concurrent write")


@bp.get("")
@roles_required()
def list_roads():
    """Roads meeting a CRS84 bbox (optionally of some classes) as GeoJSON, narrow classes first."""
    db = get_session()
    box = layer_http.bbox(db)
    aliases = {k: v for k, v in road_service.CLASS_ALIASES.items()} | {c: c for c in ROAD_CLASSES}
    classes = layer_http.codes("class", ROAD_CLASSES, aliases=aliases)
    lim, off = layer_http.limit(), layer_http.offset()
    features, total = road_service.in_bbox(db, _settings(), box, limit=lim, offset=off, classes=classes)
    return layer_http.collection(features, total, "roads_api.list_roads", lim, off)


@bp.get("/<id:road_id>")
@roles_required()
def read_road(road_id: int):
    """One road as a GeoJSON Feature."""
    return layer_http.geojson(_found(road_id))


@bp.post("")
@roles_required("admin")
def create_road():
    """Add a road: a GeoJSON Feature with a LineString or MultiLineString centreline (admin)."""
    db = get_session()
    values, geom = _body(geometry_required=True)
    rec = layer_http.checked(road_service, values, geom)
    created: list[int] = []
    _write(lambda: created.append(road_service.create(db, _settings(), current_actor(), rec)))
    resp = layer_http.geojson(_found(created[0]), 201)
    resp.headers["Location"] = url_for("roads_api.read_road", road_id=created[0])
    return resp


@bp.patch("/<id:road_id>")
@roles_required("admin")
def update_road(road_id: int):
    """Change some attributes and/or the centreline (admin); the whole result is checked again."""
    db = get_session()
    try:
        current, old_geom = road_service.current_values(db, road_id)
    except road_service.RoadNotFound:
        raise NotFound(f"road {road_id} does not exist") from None
    values, geom = _body(geometry_required=False)
    rec = layer_http.checked(road_service, {**current, **values}, old_geom if geom is None else geom)
    changed = sorted(values) + (["geometry"] if geom is not None else [])
    _write(lambda: road_service.update(db, _settings(), current_actor(), road_id, rec, changed))
    return layer_http.geojson(_found(road_id))


@bp.delete("/<id:road_id>")
@roles_required("admin")
def delete_road(road_id: int):
    """Remove a road (admin)."""
    db = get_session()
    try:
        road_service.delete(db, current_actor(), road_id)
    except road_service.RoadNotFound:
        raise NotFound(f"road {road_id} does not exist") from None
    db.commit()
    return "", 204


# -- OpenAPI ---------------------------------------------------------------------------------

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_SEC = [{"bearer": []}, {"session": []}]
_GEO = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}
_FEATURE = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/Road"}}}
_ID = {"name": "road_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RoadInput"}}}}
_CLASS = {"name": "class", "in": "query", "schema": {"type": "string"},
          "description": "comma-separated road classes (CJJ 37): " + ", ".join(
              f"{c} {road_service.CLASS_NAMES_ZH[c]}" for c in ROAD_CLASSES)}

OPENAPI_PATHS = {
    "/api/v1/roads": {
        "get": {"summary": "Roads meeting a bbox (GeoJSON, CRS84; narrow classes first, so wide roads draw on "
                           "top): the base map", "tags": ["roads"], "security": _SEC,
                "parameters": [*BBOX_PARAMS, _CLASS],
                "responses": {"200": {"description": "FeatureCollection", "content": _GEO},
                              "400": _PROBLEM, "401": _PROBLEM}},
        "post": {"summary": "Add a road (admin)", "tags": ["roads"], "security": _SEC, "requestBody": _BODY,
                 "responses": {"201": {"description": "Created", "content": _FEATURE}, "400": _PROBLEM,
                               "401": _PROBLEM, "403": _PROBLEM, "409": _PROBLEM}},
    },
    "/api/v1/roads/{road_id}": {
        "get": {"summary": "One road (GeoJSON Feature)", "tags": ["roads"], "security": _SEC, "parameters": [_ID],
                "responses": {"200": {"description": "Feature", "content": _FEATURE},
                              "401": _PROBLEM, "404": _PROBLEM}},
        "patch": {"summary": "Change a road (admin); the merged result is checked again", "tags": ["roads"],
                  "security": _SEC, "parameters": [_ID], "requestBody": _BODY,
                  "responses": {"200": {"description": "Updated", "content": _FEATURE}, "400": _PROBLEM,
                                "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "409": _PROBLEM}},
        "delete": {"summary": "Remove a road (admin)", "tags": ["roads"], "security": _SEC, "parameters": [_ID],
                   "responses": {"204": {"description": "Deleted"}, "401": _PROBLEM, "403": _PROBLEM,
                                 "404": _PROBLEM}},
    },
}

_ROAD_PROPS = {
    "code": {"type": "string", "maxLength": 32, "description": "unique; generated when missing"},
    "name": {"type": "string", "maxLength": 100, "description": "road name (Chinese)"},
    "name_en": {"type": ["string", "null"], "maxLength": 200},
    "road_class": {"type": "string", "enum": list(ROAD_CLASSES),
                   "description": "CJJ 37 class (or 快速路/主干路/次干路/支路/街巷, or an OSM highway value)"},
    "width_m": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": road_service.MAX_WIDTH_M,
                "description": "metres; the class's usual width when missing"},
    "lanes": {"type": ["integer", "null"], "minimum": 1, "maximum": road_service.MAX_LANES},
    "one_way": {"type": "boolean"},
}
OPENAPI_SCHEMAS = {
    "Road": {
        "type": "object", "description": "GeoJSON Feature (CRS84) with a MultiLineString centreline",
        "properties": {
            "type": {"const": "Feature"}, "id": {"type": "integer"}, "geometry": {"type": "object"},
            "properties": {"type": "object", "properties": {
                **_ROAD_PROPS, "class_name": {"type": "string"}, "cell_code": {"type": ["string", "null"]},
                "district_code": {"type": "string"}, "length_m": {"type": "number"}}},
        },
    },
    "RoadInput": {
        "type": "object",
        "description": "A GeoJSON Feature (or a flat object with 'geometry'); geometry is a LineString or "
                       "MultiLineString in CRS84 unless 'crs' names gcj02/bd09",
        "properties": {"type": {"const": "Feature"}, "geometry": {"type": "object"},
                       "crs": {"type": "string"}, "properties": {"type": "object", "properties": _ROAD_PROPS}},
    },
}
