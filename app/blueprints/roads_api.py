"""Roads API: the base map's roads by bbox (paged GeoJSON), one road, and admin writes (checked by
the same function as file import)."""

from __future__ import annotations

from typing import Any

import numpy as np
from flask import Blueprint, current_app, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from gis.crs import wgs84_to_gcj02

from ..db import get_session
from ..errors import NotFound
from ..models.assets import ROAD_CLASSES
from ..security import current_actor, roles_required
from ..services import roads as road_service
from . import layer_http
from .buildings_api import BBOX_PARAMS

bp = Blueprint("roads_api", __name__, url_prefix="/api/v1/roads")

#: The map pages include templates/_roads_layer.html, which reads :func:`roads_layer_config`.
#: Roads load from MIN_ZOOM (expressways and arterials only below ALL_CLASSES_ZOOM) and are named
#: from LABEL_ZOOM on.
MIN_ZOOM = 12
ALL_CLASSES_ZOOM = 14
LABEL_ZOOM = 13
PAGE_SIZE = 2000
#: Samples per side of the GCJ-02 offset grid sent to GCJ-02 tile pages (bilinear between them
#: is within a metre: the offset changes by about 2.5 m per km).
GCJ02_SAMPLES = 17

#: Feature properties a client may send back unchanged (GET → edit → PATCH); they are derived.
READ_ONLY = frozenset({"id", "class_name", "cell_code", "district_code", "length_m"})


def _settings():
    return current_app.config["SETTINGS"]


def gcj02_offsets(bounds: tuple[float, float, float, float], n: int = GCJ02_SAMPLES) -> dict[str, Any]:
    """GCJ-02 minus WGS84 (degrees) on an n × n grid over ``bounds``, row by row from the south-west.

    The exact conversion of gis/crs.py, sampled so the page can shift GCJ-02 tiles without a
    second copy of the formula.
    """
    lons, lats = np.meshgrid(np.linspace(bounds[0], bounds[2], n), np.linspace(bounds[1], bounds[3], n))
    glon, glat = wgs84_to_gcj02(lons.ravel(), lats.ravel())
    return {"bounds": [round(float(v), 7) for v in bounds], "n": n,
            "dlon": [round(float(v), 9) for v in glon - lons.ravel()],
            "dlat": [round(float(v), 9) for v in glat - lats.ravel()]}


def roads_layer_config() -> dict[str, Any]:
    """What roads.js needs on a map page (a template global, so any map page can include it)."""
    settings = _settings()
    extent = layer_http._district_extent(get_session())
    config: dict[str, Any] = {
        "url": f"{request.script_root}/api/v1/roads",
        # Without base tiles the roads are the base map; with them, a switchable overlay.
        "mode": "overlay" if settings.tile_url else "base",
        "tileCrs": settings.tile_crs,
        "bounds": list(extent) if extent else None,
        "minZoom": MIN_ZOOM, "allClassesZoom": ALL_CLASSES_ZOOM, "labelZoom": LABEL_ZOOM, "pageSize": PAGE_SIZE,
        "english": get_locale().language != "zh",
        "text": {"layer": _("Roads")},
        "gcj02": None,
    }
    if settings.tile_url and settings.tile_crs == "gcj02" and extent:
        # A margin of half the district each way: a view panned off the district still lines up.
        w, h = extent[2] - extent[0], extent[3] - extent[1]
        config["gcj02"] = gcj02_offsets((extent[0] - w / 2, extent[1] - h / 2, extent[2] + w / 2, extent[3] + h / 2))
    return config


bp.add_app_template_global(roads_layer_config, "roads_layer_config")


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
    aliases = dict(road_service.CLASS_ALIASES) | {c: c for c in ROAD_CLASSES}
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
