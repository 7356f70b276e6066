"""Management components API: the layer by bbox/class/status, one component with its cases, and
writes (admin; a department may change the status of the components it maintains)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, url_for

from .. import params
from ..db import get_session
from ..errors import Forbidden, NotFound
from ..models import Case
from ..models.assets import COMPONENT_STATUSES
from ..security import current_actor, current_user, roles_required
from ..services import components as component_service
from ..services.asset_cases import case_items
from ..services.cases import Caller
from ..services.layer_io import RowError
from ..services.workcal import load_calendar
from . import layer_http
from .buildings_api import BBOX_PARAMS, with_links

bp = Blueprint("components_api", __name__, url_prefix="/api/v1")

#: What a client may send (identifiers of the cell and building are computed).
API_FIELDS = (*component_service.WRITABLE, "owner_department_name")
#: What a department may change on a component it maintains.
DEPARTMENT_FIELDS = ("status", "changed_on")
MAX_CASES_PAGE = 100


def _settings():
    return current_app.config["SETTINGS"]


def _found(component_id: int) -> dict[str, Any]:
    feature = component_service.feature(get_session(), component_id)
    if feature is None:
        raise NotFound(f"component {component_id} does not exist")
    return feature


def _write(action) -> None:
    layer_http.write(action, key_field="component_id",
                     taken="the component id was taken by a concurrent write")


@bp.get("/components")
@roles_required()
def list_components():
    """Components meeting a CRS84 bbox, optionally of some classes and statuses, as GeoJSON."""
    db = get_session()
    settings = _settings()
    box = layer_http.bbox(db)
    lim, off = layer_http.limit(), layer_http.offset()
    categories = [c[1:] if c[:1] in ("C", "c") and c[1:].isdigit() else c for c in layer_http.codes("category")]
    for code in categories:
        if not (code.isascii() and code.isdigit() and len(code) in (4, 5)):
            raise layer_http.refused(RowError("category", f"{code!r} is not a class code such as 01001 or C01001"))
    statuses = layer_http.codes("status", COMPONENT_STATUSES, aliases={v: k for k, v in
                                                                        component_service.STATUS_NAMES_ZH.items()})
    features, total = component_service.in_bbox(db, settings, box, limit=lim, offset=off,
                                                 categories=categories, statuses=statuses)
    return layer_http.collection(features, total, "components_api.list_components", lim, off)


@bp.get("/components/<bigid:component_id>")
@roles_required()
def read_component(component_id: int):
    """One component with its cases (newest first, paged)."""
    db = get_session()
    feature = _found(component_id)
    page = params.integer("cases_page", 1, 100_000, 1)
    size = params.integer("cases_page_size", 1, MAX_CASES_PAGE, 20)
    items, total = case_items(db, Caller.of(current_user()), load_calendar(db), Case.component_id == component_id,
                              limit=size, offset=(page - 1) * size)
    feature["cases"] = {"items": with_links(items), "total": total, "page": page, "page_size": size}
    if feature["properties"]["building_id"]:
        feature["links"] = [{"rel": "building", "type": "text/html",
                             "href": url_for("pages.building_page",
                                             building_id=feature["properties"]["building_id"])}]
    return layer_http.geojson(feature)


@bp.post("/components")
@roles_required("admin")
def create_component():
    """Add a component; without a component_id it gets the next serial of its class."""
    values, geom = layer_http.feature_input(layer_http.json_object(), API_FIELDS, geometry_required=True)
    rec = layer_http.checked(component_service, values, geom)
    created: list[int] = []
    _write(lambda: created.append(component_service.create(get_session(), _settings(), current_actor(), rec)))
    resp = layer_http.geojson(_found(created[0]), 201)
    resp.headers["Location"] = url_for("components_api.read_component", component_id=created[0])
    return resp


@bp.patch("/components/<bigid:component_id>")
@roles_required("admin", "department")
def update_component(component_id: int):
    """Change a component (admin), or the status of one the caller's department maintains."""
    db = get_session()
    user = current_user()
    try:
        current, old_geom, facts = component_service.current_values(db, component_id)
    except component_service.ComponentNotFound:
        raise NotFound(f"component {component_id} does not exist") from None
    values, geom = layer_http.feature_input(layer_http.json_object(), API_FIELDS, geometry_required=False)
    if user.role == "department":
        if facts["maintainer_department_id"] != user.department_id:
            raise Forbidden("your department does not maintain this component", field="maintainer_department")
        other = sorted(set(values) - set(DEPARTMENT_FIELDS)) + (["geometry"] if geom is not None else [])
        if other:
            raise Forbidden(f"a department may change only {', '.join(DEPARTMENT_FIELDS)}; not {other[0]}",
                            field=other[0])
    rec = layer_http.checked(component_service, {**current, **values}, geom if geom is not None else old_geom)
    if rec["status"] != current["status"] and "changed_on" not in values:
        rec["changed_on"] = component_service.today_local()  # BGRQ: the date the state changed
    changed = sorted(values) + (["geometry"] if geom is not None else [])
    _write(lambda: component_service.update(db, _settings(), current_actor(), component_id, rec, changed, current))
    return layer_http.geojson(_found(component_id))


@bp.delete("/components/<bigid:component_id>")
@roles_required("admin")
def delete_component(component_id: int):
    """Remove a component (cases about it keep their history)."""
    try:
        _write(lambda: component_service.delete(get_session(), current_actor(), component_id))
    except component_service.ComponentNotFound:
        get_session().rollback()
        raise NotFound(f"component {component_id} does not exist") from None
    return "", 204


# -- OpenAPI ---------------------------------------------------------------------------------

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_SEC = [{"bearer": []}, {"session": []}]
_GEO = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}
_FEATURE = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/Component"}}}
_ID = {"name": "component_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_BODY = {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ComponentInput"}}}}

OPENAPI_PATHS = {
    "/api/v1/components": {
        "get": {"summary": "Management components meeting a bbox (GeoJSON, CRS84), by class and status",
                "security": _SEC,
                "parameters": [*BBOX_PARAMS,
                               {"name": "category", "in": "query", "schema": {"type": "string"},
                                "description": "comma-separated class codes (01001 or C01001)"},
                               {"name": "status", "in": "query", "schema": {"type": "string"},
                                "description": "comma-separated: intact, damaged, missing, abandoned, removed "
                                               "(or 完好/破损/丢失/废弃/移除)"}],
                "responses": {"200": {"description": "FeatureCollection", "content": _GEO},
                              "400": _PROBLEM, "401": _PROBLEM}},
        "post": {"summary": "Add a component (admin); the id is allocated when missing", "security": _SEC,
                 "requestBody": _BODY,
                 "responses": {"201": {"description": "Created", "content": _FEATURE}, "400": _PROBLEM,
                               "401": _PROBLEM, "403": _PROBLEM, "409": _PROBLEM}},
    },
    "/api/v1/components/{component_id}": {
        "get": {"summary": "A component with its cases (newest first, paged)", "security": _SEC,
                "parameters": [_ID, {"name": "cases_page", "in": "query", "schema": {"type": "integer"}},
                               {"name": "cases_page_size", "in": "query", "schema": {"type": "integer"}}],
                "responses": {"200": {"description": "Feature with cases", "content": _FEATURE},
                              "401": _PROBLEM, "404": _PROBLEM}},
        "patch": {"summary": "Change a component (admin), or its status (the maintaining department)",
                  "security": _SEC, "parameters": [_ID], "requestBody": _BODY,
                  "responses": {"200": {"description": "Updated", "content": _FEATURE}, "400": _PROBLEM,
                                "401": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM, "409": _PROBLEM}},
        "delete": {"summary": "Remove a component (admin)", "security": _SEC, "parameters": [_ID],
                   "responses": {"204": {"description": "Deleted"}, "401": _PROBLEM, "403": _PROBLEM,
                                 "404": _PROBLEM}},
    },
}

_INPUT_PROPS = {
    "component_id": {"type": "string", "pattern": "^[0-9]{16,17}$",
                     "description": "管理部件标识码 (GLBJBSM): 17 digits (2026) or 16 (legacy); allocated when missing"},
    "category": {"type": "string", "description": "component class code (01001 or C01001); optional when "
                                                  "component_id is given"},
    "name": {"type": "string", "maxLength": 100},
    "status": {"type": "string", "enum": list(COMPONENT_STATUSES), "description": "or 完好/破损/丢失/废弃/移除"},
    "owner_department": {"type": "string", "description": "主管部门: department code or id"},
    "owner_department_name": {"type": "string", "description": "主管部门名称, used when no code is given"},
    "owner_name": {"type": "string", "description": "权属单位名称"},
    "maintainer_department": {"type": "string", "description": "养护单位: department code or id"},
    "maintainer_name": {"type": "string", "description": "养护单位名称"},
    "surveyed_on": {"type": "string", "format": "date"},
    "changed_on": {"type": "string", "format": "date"},
    "data_source": {"type": "string", "maxLength": 30},
    "note": {"type": "string", "maxLength": 1000},
}
OPENAPI_SCHEMAS = {
    "Component": {
        "type": "object",
        "description": "GeoJSON Feature (CRS84, Point or LineString); the single-component answer adds cases",
        "properties": {"type": {"const": "Feature"}, "id": {"type": "integer"}, "geometry": {"type": "object"},
                       "properties": {"type": "object"}, "cases": {"type": "object"}},
    },
    "ComponentInput": {
        "type": "object",
        "description": "A GeoJSON Feature (or a flat object with 'geometry': Point or LineString, CRS84)",
        "properties": {"type": {"const": "Feature"}, "geometry": {"type": "object"}, "crs": {"type": "string"},
                       "properties": {"type": "object", "properties": _INPUT_PROPS}},
    },
}
