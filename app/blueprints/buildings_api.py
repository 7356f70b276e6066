"""Buildings API: the layer by bbox, one building with its cases, cameras and components,
point → building, and admin writes (checked by the same function as file import)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, url_for

from .. import params
from ..db import get_session
from ..errors import NotFound
from ..models.assets import BUILDING_USES
from ..security import current_actor, current_user, roles_required
from ..services import buildings as building_service
from ..services.asset_cases import case_items
from ..services.cases import Caller
from ..services.layer_io import RowError
from ..services.workcal import load_calendar
from . import layer_http

bp = Blueprint("buildings_api", __name__, url_prefix="/api/v1")

MAX_CASES_PAGE = 100


def _settings():
    return current_app.config["SETTINGS"]


def _write(action) -> None:
    layer_http.write(action, key_field="code", taken="the building code was taken by a concurrent write")


def _found(building_id: int) -> dict[str, Any]:
    feature = building_service.feature(get_session(), building_id)
    if feature is None:
        raise NotFound(f"building {building_id} does not exist")
    return feature


def with_links(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Case items with their API and page URLs."""
    for item in items:
        item["url"] = url_for("cases_api.read_case", case_id=item["id"])
        item["page"] = url_for("desk.case_page", case_id=item["id"])
    return items


def building_detail(building_id: int, cases_page: int = 1, cases_page_size: int = 20) -> dict[str, Any]:
    """A building Feature with its cases (newest first, one page), cameras and components."""
    db = get_session()
    feature = _found(building_id)
    user = Caller.of(current_user())
    items, total = case_items(db, user, load_calendar(db), building_service.cases_clause(building_id),
                              limit=cases_page_size, offset=(cases_page - 1) * cases_page_size)
    feature["cases"] = {"items": with_links(items), "total": total, "page": cases_page,
                        "page_size": cases_page_size}
    feature["cameras"] = building_service.cameras_of(db, building_id)
    feature["components"] = building_service.components_of(db, building_id)
    for c in feature["components"]:
        c["url"] = url_for("components_api.read_component", component_id=c["id"])
    # Tax sources 税源 are not part of this answer: they come (a later issue) from their own
    # endpoint GET /api/v1/buildings/<id>/tax-sources, for tax roles only, each read audited.
    feature["links"] = [{"rel": "alternate", "type": "text/html",
                         "href": url_for("pages.building_page", building_id=building_id)}]
    return feature


@bp.get("/buildings")
@roles_required()
def list_buildings():
    """Buildings meeting a CRS84 bbox (optionally of some uses) as GeoJSON."""
    db = get_session()
    box = layer_http.bbox(db)
    lim, off = layer_http.limit(), layer_http.offset()
    uses = [building_service.USE_ALIASES.get(u, u) for u in layer_http.codes("use")]
    bad = [u for u in uses if u not in BUILDING_USES]
    if bad:
        raise layer_http.refused(RowError("use", f"{bad[0]!r} is not one of {', '.join(BUILDING_USES)}"))
    features, total = building_service.in_bbox(db, _settings(), box, limit=lim, offset=off, uses=uses)
    return layer_http.collection(features, total, "buildings_api.list_buildings", lim, off)


@bp.get("/buildings/at")
@roles_required()
def building_at():
    """The building whose footprint covers a lon/lat point (the smallest when nested)."""
    x, y, lon, lat = layer_http.storage_point(_settings())
    feature = building_service.building_at(get_session(), _settings(), x, y)
    if feature is None:
        raise NotFound(f"no building footprint covers lon={lon:.6f}, lat={lat:.6f}")
    return layer_http.geojson(feature)


@bp.get("/buildings/<id:building_id>")
@roles_required()
def read_building(building_id: int):
    """One building with its cases (paged), the cameras seeing it and its components."""
    page = params.integer("cases_page", 1, 100_000, 1)
    size = params.integer("cases_page_size", 1, MAX_CASES_PAGE, 20)
    return layer_http.geojson(building_detail(building_id, page, size))


@bp.post("/buildings")
@roles_required("admin")
def create_building():
    """Add a building: a GeoJSON Feature with a Polygon or MultiPolygon footprint."""
    db = get_session()
    values, geom = layer_http.feature_input(layer_http.json_object(), building_service.WRITABLE,
                                            geometry_required=True)
    rec = layer_http.checked(building_service, values, geom)
    created: list[int] = []
    _write(lambda: created.append(building_service.create(db, _settings(), current_actor(), rec)))
    new_id = created[0]
    resp = layer_http.geojson(_found(new_id), 201)
    resp.headers["Location"] = url_for("buildings_api.read_building", building_id=new_id)
    return resp


@bp.patch("/buildings/<id:building_id>")
@roles_required("admin")
def update_building(building_id: int):
    """Change some attributes and/or the footprint; the whole result is checked again."""
    db = get_session()
    settings = _settings()
    try:
        current, old_geom = building_service.current_values(db, settings, building_id)
    except building_service.BuildingNotFound:
        raise NotFound(f"building {building_id} does not exist") from None
    values, geom = layer_http.feature_input(layer_http.json_object(), building_service.WRITABLE,
                                            geometry_required=False)
    rec = layer_http.checked(building_service, {**current, **values}, geom if geom is not None else old_geom)
    changed = sorted(values) + (["geometry"] if geom is not None else [])
    _write(lambda: building_service.update(db, settings, current_actor(), building_id, rec, old_geom, changed))
    return layer_http.geojson(_found(building_id))


@bp.delete("/buildings/<id:building_id>")
@roles_required("admin")
def delete_building(building_id: int):
    """Remove a building (its components keep existing, unlinked)."""
    db = get_session()
    try:
        building_service.delete(db, _settings(), current_actor(), building_id)
    except building_service.BuildingNotFound:
        raise NotFound(f"building {building_id} does not exist") from None
    db.commit()
    return "", 204


# -- OpenAPI ---------------------------------------------------------------------------------

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_SEC = [{"bearer": []}, {"session": []}]
_GEO = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}
_FEATURE = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/Building"}}}
_ID = {"name": "building_id", "in": "path", "required": True, "schema": {"type": "integer"}}


def _q(name: str, schema: dict, description: str = "", required: bool = False) -> dict:
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": description}


BBOX_PARAMS = [
    _q("bbox", {"type": "string"}, "minLon,minLat,maxLon,maxLat (CRS84); at most the district's extent", True),
    _q("bbox-crs", {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]}, "datum of bbox"),
    _q("limit", {"type": "integer", "minimum": 1, "maximum": 5000, "default": 1000}),
    _q("offset", {"type": "integer", "minimum": 0}),
]
_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/BuildingInput"}}}}

OPENAPI_PATHS = {
    "/api/v1/buildings": {
        "get": {"summary": "Buildings meeting a bbox (GeoJSON, CRS84)", "security": _SEC,
                "parameters": [*BBOX_PARAMS, _q("use", {"type": "string"}, "comma-separated use codes")],
                "responses": {"200": {"description": "FeatureCollection", "content": _GEO},
                              "400": _PROBLEM, "401": _PROBLEM}},
        "post": {"summary": "Add a building (admin)", "security": _SEC, "requestBody": _BODY,
                 "responses": {"201": {"description": "Created", "content": _FEATURE},
                               "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM}},
    },
    "/api/v1/buildings/at": {
        "get": {"summary": "The building whose footprint covers a point (smallest when nested)",
                "security": _SEC,
                "parameters": [_q("lon", {"type": "number"}, required=True), _q("lat", {"type": "number"}, required=True),
                               _q("crs", {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]})],
                "responses": {"200": {"description": "Feature", "content": _FEATURE},
                              "400": _PROBLEM, "401": _PROBLEM, "404": _PROBLEM}},
    },
    "/api/v1/buildings/{building_id}": {
        "get": {"summary": "A building with its cases (newest first, paged), the cameras that see it or "
                           "stand in it, and its components", "security": _SEC,
                "parameters": [_ID, _q("cases_page", {"type": "integer", "minimum": 1}),
                               _q("cases_page_size", {"type": "integer", "minimum": 1, "maximum": MAX_CASES_PAGE})],
                "responses": {"200": {"description": "Feature with cases, cameras, components",
                                      "content": _FEATURE},
                              "401": _PROBLEM, "404": _PROBLEM}},
        "patch": {"summary": "Change a building (admin); the merged result is checked again",
                  "security": _SEC, "parameters": [_ID], "requestBody": _BODY,
                  "responses": {"200": {"description": "Updated", "content": _FEATURE}, "400": _PROBLEM,
                                "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM}},
        "delete": {"summary": "Remove a building (admin)", "security": _SEC, "parameters": [_ID],
                   "responses": {"204": {"description": "Deleted"}, "401": _PROBLEM, "403": _PROBLEM,
                                 "404": _PROBLEM}},
    },
}

_BUILDING_PROPS = {
    "code": {"type": "string", "maxLength": 32, "description": "unique; generated when missing"},
    "name": {"type": "string", "maxLength": 200},
    "address": {"type": ["string", "null"], "maxLength": 255},
    "floors": {"type": ["integer", "null"], "minimum": 0},
    "underground_floors": {"type": "integer", "minimum": 0},
    "height_m": {"type": ["number", "null"], "minimum": 0},
    "gross_floor_area_m2": {"type": ["number", "null"], "minimum": 0},
    "use": {"type": "string", "enum": list(BUILDING_USES), "description": "or its Chinese name (住宅, 办公 …)"},
    "build_year": {"type": ["integer", "null"]},
}
OPENAPI_SCHEMAS = {
    "Building": {
        "type": "object",
        "description": "GeoJSON Feature (CRS84); the single-building answer adds cases, cameras, components",
        "properties": {
            "type": {"const": "Feature"}, "id": {"type": "integer"},
            "geometry": {"type": "object", "description": "MultiPolygon footprint"},
            "properties": {"type": "object", "properties": {
                **_BUILDING_PROPS, "cell_code": {"type": ["string", "null"]}, "footprint_m2": {"type": "number"},
                "district_code": {"type": "string"}}},
            "cases": {"type": "object"}, "cameras": {"type": "array"}, "components": {"type": "array"},
        },
    },
    "BuildingInput": {
        "type": "object",
        "description": "A GeoJSON Feature (or a flat object with 'geometry'); geometry is a Polygon or "
                       "MultiPolygon in CRS84 unless 'crs' names gcj02/bd09",
        "properties": {"type": {"const": "Feature"}, "geometry": {"type": "object"},
                       "crs": {"type": "string"}, "properties": {"type": "object", "properties": _BUILDING_PROPS}},
    },
}
