"""The API description at /api/v1/openapi.json (OpenAPI 3.1), kept beside the routes it documents."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, jsonify

from ..caseflow.machine import ACTIONS

bp = Blueprint("openapi", __name__)

_PROBLEM = {"$ref": "#/components/responses/Problem"}
_LONLAT = [
    {"name": "lon", "in": "query", "required": True, "schema": {"type": "number", "minimum": -180, "maximum": 180}},
    {"name": "lat", "in": "query", "required": True, "schema": {"type": "number", "minimum": -90, "maximum": 90}},
    {
        "name": "crs",
        "in": "query",
        "description": "Datum of lon/lat: wgs84 (CRS84, default), cgcs2000, gcj02 (Amap/Tencent) or bd09 (Baidu).",
        "schema": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]},
    },
]
_GEOJSON = {"application/geo+json": {"schema": {"$ref": "#/components/schemas/FeatureCollection"}}}


def _ID(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


def _json(schema: dict) -> dict:
    return {"application/json": {"schema": schema}}


def _get(summary: str, params=None, content=None, extra=None) -> dict:
    op = {
        "summary": summary,
        "security": [{"bearer": []}, {"session": []}],
        "parameters": params or [],
        "responses": {
            "200": {"description": "OK", "content": content or _json({"type": "object"})},
            "400": _PROBLEM,
            "401": _PROBLEM,
        },
    }
    op["responses"].update(extra or {})
    return {"get": op}


SPEC = {
    "openapi": "3.1.0",
    "info": {
        "title": "citygrid API",
        "version": "1",
        "description": "City grid management: unit grid cells, cases, assets. Coordinates are CRS84 "
                       "lon/lat unless `crs` says otherwise. Errors are RFC 9457 problem+json.",
    },
    "servers": [{"url": "/"}],
    "paths": {
        "/api/v1/auth/token": {
            "post": {
                "summary": "Exchange a username and password for a bearer token",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {"username": {"type": "string"}, "password": {"type": "string"},
                                       "label": {"type": "string", "maxLength": 100}},
                    }}},
                },
                "responses": {
                    "201": {"description": "Token issued", "content": {"application/json": {"schema": {
                        "type": "object",
                        "properties": {"access_token": {"type": "string"}, "token_type": {"const": "Bearer"},
                                       "expires_at": {"type": "string", "format": "date-time"},
                                       "user": {"type": "object"}},
                    }}}},
                    "400": _PROBLEM, "401": _PROBLEM, "429": _PROBLEM,
                },
            }
        },
        "/api/v1/auth/me": _get("The caller's identity and role"),
        "/api/v1/auth/tokens": _get(
            "The caller's own API tokens: id, label, created, last used, expires, revoked (never the secret)",
            content=_json({"type": "object", "properties": {"tokens": {"type": "array", "items": {
                "type": "object", "properties": {
                    "id": {"type": "integer"}, "label": {"type": ["string", "null"]},
                    "created_at": {"type": "string", "format": "date-time"},
                    "last_used_at": {"type": ["string", "null"], "format": "date-time"},
                    "expires_at": {"type": "string", "format": "date-time"},
                    "revoked": {"type": "boolean"}}}}}}),
        ),
        "/api/v1/auth/tokens/{token_id}": {"delete": {
            "summary": "Revoke one of the caller's API tokens (an admin may revoke anyone's)",
            "security": [{"bearer": []}, {"session": []}],
            "parameters": [_ID("token_id")],
            "responses": {"204": {"description": "Revoked"}, "401": _PROBLEM, "404": _PROBLEM}}},
        "/api/v1/grid/locate": _get(
            "The unit grid cell, community, street, duty grid and inspector at a point",
            _LONLAT,
            _json({"$ref": "#/components/schemas/Location"}),
            extra={"404": _PROBLEM},
        ),
        "/api/v1/grid/cells": _get(
            "Current unit grid cells meeting a bounding box (GeoJSON, paged)",
            [
                {"name": "bbox", "in": "query", "required": True, "description": "minLon,minLat,maxLon,maxLat",
                 "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1}},
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
            ],
            _GEOJSON,
        ),
        "/api/v1/grid/cells/{code}": _get(
            "What one cell holds: components by class, cameras, pipeline length by class (clipped to "
            "the cell), buildings, open cases by warning light and the newest few",
            [{"name": "code", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]{15}$"}}],
            extra={"404": _PROBLEM},
        ),
        "/api/v1/grid/streets": _get("All streets (街道) as GeoJSON", content=_GEOJSON),
        "/api/v1/grid/communities": _get("All communities (社区) as GeoJSON", content=_GEOJSON),
        "/api/v1/cases": {
            "get": _get(
                "Cases the caller may see (a department sees only its own), newest first",
                [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
                 ("state", "source", "category", "street", "community", "cell", "department", "urgency",
                  "light", "from", "to", "mine", "page", "page_size")],
            )["get"],
            "post": {
                "summary": "Report a case (JSON, or multipart/form-data with up to 9 JPEG/PNG 'photos')",
                "security": [{"bearer": []}, {"session": []}],
                "parameters": [{"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "maxLength": 128},
                                "description": "A retried submission with the same key returns the first answer."}],
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/CaseReport"}},
                    "multipart/form-data": {"schema": {"type": "object", "properties": {
                        "data": {"type": "string", "description": "CaseReport as JSON"},
                        "photos": {"type": "array", "items": {"type": "string", "format": "binary"}, "maxItems": 9}}}},
                }},
                "responses": {"201": {"description": "Created; lists possible duplicates",
                                      "content": _json({"type": "object"})},
                              "400": _PROBLEM, "401": _PROBLEM, "403": _PROBLEM, "422": _PROBLEM},
            },
        },
        "/api/v1/cases/{case_id}": _get("A case with its timeline, photos, duplicates and allowed actions",
                                        [_ID("case_id")], extra={"404": _PROBLEM}),
        "/api/v1/cases/{case_id}/actions": {"post": {
            "summary": "Act on a case through the state machine",
            "security": [{"bearer": []}, {"session": []}],
            "parameters": [_ID("case_id")],
            "requestBody": {"required": True, "content": {"application/json": {"schema": {
                "type": "object", "required": ["action", "version"],
                "properties": {"action": {"type": "string", "enum": sorted(ACTIONS)},
                               "version": {"type": "integer"}, "note": {"type": "string"},
                               "outcome": {"type": "string"}, "department": {"type": "string"},
                               "inspector": {"type": "string"}, "hours": {"type": "number"},
                               "duplicate_of": {"type": ["integer", "string"]}}}}}},
            "responses": {"200": {"description": "The event and the updated case"}, "400": _PROBLEM,
                          "403": _PROBLEM, "404": _PROBLEM, "409": _PROBLEM},
        }},
        "/api/v1/cases/{case_id}/photos/{photo_id}": {"get": {
            "summary": "A case photo", "parameters": [_ID("case_id"), _ID("photo_id")],
            "responses": {"200": {"description": "JPEG or PNG", "content": {"image/jpeg": {}, "image/png": {}}},
                          "404": _PROBLEM}}},
        "/api/v1/inspectors/me/position": {"post": {
            "summary": "An inspector reports position and duty status",
            "requestBody": {"content": _json({"type": "object", "required": ["lon", "lat"], "properties": {
                "lon": {"type": "number"}, "lat": {"type": "number"}, "crs": {"type": "string"},
                "on_duty": {"type": "boolean"}}})},
            "responses": {"200": {"description": "Recorded"}, "400": _PROBLEM, "403": _PROBLEM}}},
        "/api/v1/categories": _get("The category tree (kind → major → minor) of the active standard; every "
                                   "name is in the request's language (English where one exists), name_zh and "
                                   "name_en are the stored names",
                                   [{"name": n, "in": "query", "schema": {"type": "string"}}
                                    for n in ("q", "kind", "standard")]),
        "/api/v1/categories/{category_id}": {
            "get": _get("A category with its time limits", [_ID("category_id")], extra={"404": _PROBLEM})["get"],
            "patch": {"summary": "Edit a category (admin): department, auto-dispatch, radius, time limits",
                      "parameters": [_ID("category_id")],
                      "requestBody": {"content": _json({"type": "object"})},
                      "responses": {"200": {"description": "Updated"}, "400": _PROBLEM, "403": _PROBLEM,
                                    "404": _PROBLEM, "422": _PROBLEM}},
        },
        "/api/v1/routing-rules": {
            "get": _get("Routing rules (admin, dispatcher)")["get"],
            "post": {"summary": "Add a routing rule category × area → department (admin)",
                     "requestBody": {"content": _json({"type": "object"})},
                     "responses": {"201": {"description": "Created"}, "400": _PROBLEM, "403": _PROBLEM,
                                   "422": _PROBLEM}},
        },
        "/api/v1/routing-rules/{rule_id}": {"delete": {
            "summary": "Delete a routing rule (admin)", "parameters": [_ID("rule_id")],
            "responses": {"204": {"description": "Deleted"}, "403": _PROBLEM, "404": _PROBLEM}}},
        "/api/v1/calendar": _get("Work windows per weekday and a year's holidays / make-up days",
                                 [{"name": "year", "in": "query", "schema": {"type": "integer"}}]),
        "/api/v1/calendar/windows": {"put": {
            "summary": "Replace the weekly work windows (admin)",
            "requestBody": {"content": _json({"type": "object"})},
            "responses": {"200": {"description": "The calendar"}, "400": _PROBLEM, "403": _PROBLEM}}},
        "/api/v1/calendar/days/{day}": {
            "put": {"summary": "Mark a date as holiday or make-up working day (admin)",
                    "parameters": [{"name": "day", "in": "path", "required": True,
                                    "schema": {"type": "string", "format": "date"}}],
                    "requestBody": {"content": _json({"type": "object"})},
                    "responses": {"200": {"description": "Saved"}, "400": _PROBLEM, "403": _PROBLEM}},
            "delete": {"summary": "Make a date ordinary again (admin)",
                       "parameters": [{"name": "day", "in": "path", "required": True,
                                       "schema": {"type": "string", "format": "date"}}],
                       "responses": {"204": {"description": "Deleted"}, "403": _PROBLEM, "404": _PROBLEM}},
        },
        "/api/v1/departments": _get("The handling departments; name is in the request's language, name_zh and "
                                    "name_en are the stored names"),
        "/api/v1/departments/{code}": {"patch": {
            "summary": "Edit a department (admin): names, phone, weekend work, active",
            "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
            "requestBody": {"content": _json({"type": "object"})},
            "responses": {"200": {"description": "Updated"}, "400": _PROBLEM, "403": _PROBLEM, "404": _PROBLEM}}},
        "/api/v1/stream": {"get": {
            "summary": "Server-Sent Events: case changes as they are committed (event: case / resync)",
            "security": [{"bearer": []}, {"session": []}],
            "responses": {"200": {"description": "text/event-stream", "content": {"text/event-stream": {}}},
                          "401": _PROBLEM, "403": _PROBLEM}}},
        "/api/v1/inspectors/positions": _get("Inspectors with a known position (command roles)"),
        "/api/v1/command/cases": _get(
            "Open cases for the command centre: per-light counts, map points or aggregates for a bbox, the cells "
            "holding them coloured by their worst light (map.cells: code, light, counts, GeoJSON geometry), a list page",
            [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
             ("state", "category", "street", "community", "department", "source", "urgency", "light", "from",
              "to", "bbox", "zoom", "sort", "page", "page_size", "in_view")],
        ),
        "/api/v1/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OK"}}}},
    },
    "components": {
        "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer"},
            "session": {"type": "apiKey", "in": "cookie", "name": "session"},
        },
        "responses": {
            "Problem": {
                "description": "RFC 9457 problem details",
                "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
            }
        },
        "schemas": {
            "Problem": {
                "type": "object",
                "required": ["type", "title", "status"],
                "properties": {
                    "type": {"type": "string"}, "title": {"type": "string"}, "status": {"type": "integer"},
                    "detail": {"type": "string"}, "instance": {"type": "string"},
                    "request_id": {"type": "string"}, "field": {"type": "string"},
                },
            },
            "Location": {
                "type": "object",
                "properties": {
                    "cell": {"type": "object", "properties": {
                        "code": {"type": "string", "pattern": "^[0-9]{15}$"},
                        "area_m2": {"type": "number"}, "area_class": {"type": "integer"}}},
                    "community": {"$ref": "#/components/schemas/Named"},
                    "street": {"$ref": "#/components/schemas/Named"},
                    "district": {"$ref": "#/components/schemas/Named"},
                    "duty_grid": {"oneOf": [{"$ref": "#/components/schemas/Named"}, {"type": "null"}]},
                    "inspector": {"type": ["object", "null"]},
                    "point": {"type": "object"},
                },
            },
            "CaseReport": {
                "type": "object",
                "required": ["lon", "lat", "category", "description"],
                "properties": {
                    "lon": {"type": "number"}, "lat": {"type": "number"},
                    "crs": {"type": "string", "enum": ["wgs84", "cgcs2000", "gcj02", "bd09"]},
                    "category": {"type": ["integer", "string"], "description": "id or code such as E06010"},
                    "description": {"type": "string", "maxLength": 4000},
                    "address": {"type": "string", "maxLength": 255},
                    "source": {"type": "string", "enum": ["inspector", "public", "hotline", "video", "sensor",
                                                          "upper_platform", "open311"]},
                    "urgency": {"type": "string", "enum": ["normal", "urgent"]},
                    "self_handled": {"type": "boolean"},
                    "camera_id": {"type": "string", "pattern": "^[0-9]{20}$"},
                    "reporter": {"type": "object", "properties": {
                        "name": {"type": "string"}, "phone": {"type": "string"}, "email": {"type": "string"}}},
                },
            },
            "Named": {"type": "object", "properties": {"code": {"type": "string"}, "name": {"type": "string"}}},
            "FeatureCollection": {
                "type": "object",
                "properties": {"type": {"const": "FeatureCollection"}, "features": {"type": "array"},
                               "numberMatched": {"type": "integer"}, "numberReturned": {"type": "integer"},
                               "links": {"type": "array"}},
            },
        },
    },
}


#: Blueprint modules that keep their own ``OPENAPI_PATHS`` (and optional ``OPENAPI_SCHEMAS``)
#: beside their routes; merged into SPEC on first request.
PATH_MODULES = ("cameras_api", "pipelines_api", "buildings_api", "components_api", "roads_api")
_merged = False


def spec() -> dict:
    """SPEC with every blueprint's own paths and schemas merged in."""
    global _merged
    if not _merged:
        import importlib

        for name in PATH_MODULES:
            module = importlib.import_module(f"{__package__}.{name}")
            SPEC["paths"].update(getattr(module, "OPENAPI_PATHS", {}))
            SPEC["components"]["schemas"].update(getattr(module, "OPENAPI_SCHEMAS", {}))
        _declare_security(SPEC["paths"])
        _merged = True
    return SPEC


_SECURITY = [{"bearer": []}, {"session": []}]


def _declare_security(paths: dict) -> None:
    """Every operation whose view requires a role (``roles_required`` marks it with
    ``allowed_roles``) says so, whether or not its entry above remembered to."""
    for rule in current_app.url_map.iter_rules():
        view = current_app.view_functions[rule.endpoint]
        if not hasattr(view, "allowed_roles"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = paths.get(path, {}).get(method.lower())
            if operation is not None:
                operation.setdefault("security", _SECURITY)
                operation["responses"].setdefault("401", _PROBLEM)


@bp.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI description of the JSON API."""
    return jsonify(spec())
