"""The API description at /api/v1/openapi.json (OpenAPI 3.1), kept beside the routes it documents."""

from __future__ import annotations

from flask import Blueprint, jsonify

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
        "/api/v1/grid/streets": _get("All streets (街道) as GeoJSON", content=_GEOJSON),
        "/api/v1/grid/communities": _get("All communities (社区) as GeoJSON", content=_GEOJSON),
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


@bp.get("/api/v1/openapi.json")
def openapi():
    """The OpenAPI description of the JSON API."""
    return jsonify(SPEC)
