"""HTTP parsing shared by asset layer APIs (the layer contract): bbox, limit, bodies, collections.

Reads are ``GET /api/v1/<layer>?bbox=w,s,e,n[&bbox-crs=][&limit=][&offset=]`` answered with a
CRS84 ``application/geo+json`` FeatureCollection; writes take a GeoJSON Feature (or a flat
object with a ``geometry`` member) whose geometry is CRS84 unless ``crs`` says otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app, jsonify, request, url_for
from shapely.geometry.base import BaseGeometry

from gis import crs as gcrs
from gis.errors import GeoJSONError, UnknownCRSError
from gis.geojson import GeoJSONLimits, parse_bbox, parse_geometry

from .. import params
from ..errors import BadRequest
from ..services import grid as grid_service
from ..services import refcache
from ..services.layer_io import RowError

DEFAULT_LIMIT = 1000
MAX_LIMIT = 5000
#: A bbox may be this much larger than the district's extent (map views overshoot a little) …
BBOX_SLACK = 1.25
#: … and never needs to be smaller than this span (degrees) to be accepted.
MIN_BBOX_SPAN_DEG = 0.1
#: An asset written through the API is one feature: a small body.
MAX_BODY_BYTES = 1_000_000
GEOMETRY_LIMITS = GeoJSONLimits(max_vertices=10_000, max_parts=1_000, max_bytes=MAX_BODY_BYTES)


def _crs_name(value: str | None, field: str) -> str:
    try:
        return gcrs.normalize_crs_name(value)
    except UnknownCRSError as exc:
        raise BadRequest(str(exc), field=field, accepted=list(exc.accepted)) from None


def _district_extent(db) -> tuple[float, float, float, float] | None:
    extent = refcache.cached(("district_extent",), lambda: grid_service.district_extent(db))
    return None if extent is None else (extent.min_lon, extent.min_lat, extent.max_lon, extent.max_lat)


def bbox(db) -> tuple[float, float, float, float]:
    """The request's ``bbox`` as CRS84 (``bbox-crs`` or ``crs`` may name gcj02, bd09 …).

    Malformed boxes, and boxes larger than the district (with some slack), are 400s naming
    ``bbox``: a layer is read a view at a time, never the whole country.
    """
    raw = params.required("bbox")
    try:
        box = parse_bbox(raw)
    except GeoJSONError as exc:
        raise BadRequest(f"'bbox' {exc.reason}; expected minLon,minLat,maxLon,maxLat", field="bbox") from None
    field = "bbox-crs" if "bbox-crs" in request.args else "crs"
    name = _crs_name(request.args.get(field), field)
    if name not in ("wgs84", "cgcs2000"):
        box = gcrs.transform_bbox(box, name, 4326)
    extent = _district_extent(db)
    span_w = max((extent[2] - extent[0]) * BBOX_SLACK if extent else 0.0, MIN_BBOX_SPAN_DEG)
    span_h = max((extent[3] - extent[1]) * BBOX_SLACK if extent else 0.0, MIN_BBOX_SPAN_DEG)
    if box[2] - box[0] > span_w or box[3] - box[1] > span_h:
        raise BadRequest(
            f"'bbox' spans {box[2] - box[0]:.4f}° × {box[3] - box[1]:.4f}°; a request may span at most "
            f"{span_w:.4f}° × {span_h:.4f}° (about the district's extent)", field="bbox")
    return box


def limit() -> int:
    """``limit``: default 1000, at most 5000 (more is a 400 naming ``limit``)."""
    return params.integer("limit", 1, MAX_LIMIT, DEFAULT_LIMIT)


def offset() -> int:
    """``offset`` for paging through a large match."""
    return params.integer("offset", 0, 10_000_000, 0)


def codes(name: str, accepted: Iterable[str] | None = None, aliases: dict[str, str] | None = None) -> list[str]:
    """A comma-separated (or repeated) filter parameter, each value checked when ``accepted``."""
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]
    if aliases:
        values = [aliases.get(v, v) for v in values]
    if accepted is not None:
        allowed = list(accepted)
        bad = [v for v in values if v not in allowed]
        if bad:
            raise BadRequest(f"'{name}' value {bad[0]!r} is not one of {', '.join(allowed)}", field=name)
    return values


def collection(features: list[dict[str, Any]], total: int, endpoint: str, lim: int, off: int):
    """A CRS84 FeatureCollection response with counts and a ``next`` link while more match."""
    body: dict[str, Any] = {"type": "FeatureCollection", "features": features, "numberMatched": total,
                            "numberReturned": len(features), "links": []}
    if off + len(features) < total:
        args = {k: v for k, v in request.args.items() if k not in ("limit", "offset")}
        body["links"].append({"rel": "next", "type": "application/geo+json",
                              "href": url_for(endpoint, **args, limit=lim, offset=off + lim)})
    return geojson(body)


def geojson(body: dict[str, Any], status: int = 200):
    """A JSON response typed application/geo+json."""
    resp = jsonify(body)
    resp.status_code = status
    resp.mimetype = "application/geo+json"
    return resp


def storage_point(settings) -> tuple[float, float, float, float]:
    """Query ``lon``/``lat`` (+ ``crs``) → storage x, y and CRS84 lon, lat."""
    lon, lat = params.lonlat()
    name = _crs_name(request.args.get("crs"), "crs")
    lon84, lat84 = gcrs.to_wgs84(lon, lat, name)
    x, y = gcrs.lonlat_to_storage(lon84, lat84, settings.storage_srid)
    return float(x), float(y), float(lon84), float(lat84)


def json_object() -> dict[str, Any]:
    """The request body: one JSON object of modest size."""
    if request.content_length is not None and request.content_length > MAX_BODY_BYTES:
        raise BadRequest(f"body is {request.content_length} bytes; at most {MAX_BODY_BYTES}", field="body")
    if request.mimetype not in ("application/json", "application/geo+json"):
        raise BadRequest("send application/json (a GeoJSON Feature)", field="Content-Type")
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise BadRequest("body is not a JSON object", field="body")
    return data


def feature_input(data: dict[str, Any], writable: Iterable[str], *,
                  geometry_required: bool) -> tuple[dict[str, Any], BaseGeometry | None]:
    """Attribute values and the storage-CRS geometry of a Feature (or flat object) body.

    Unknown attributes are a 400 naming them; geometry problems name ``geometry``. The
    geometry's validity is left to the layer's own check, which import shares.
    """
    settings = current_app.config["SETTINGS"]
    if data.get("type") == "Feature":
        extra = sorted(set(data) - {"type", "geometry", "properties", "id", "crs"})
        if extra:
            raise BadRequest(f"unknown Feature member(s): {', '.join(extra)}", field=extra[0])
        props = data.get("properties") or {}
        if not isinstance(props, dict):
            raise BadRequest("'properties' must be an object", field="properties")
        geometry = data.get("geometry")
    else:
        props = {k: v for k, v in data.items() if k not in ("geometry", "crs")}
        geometry = data.get("geometry")
    allowed = set(writable)
    unknown = sorted(set(props) - allowed)
    if unknown:
        raise BadRequest(f"unknown or read-only field(s): {', '.join(unknown)}; writable: "
                         f"{', '.join(sorted(allowed))}", field=unknown[0])
    for key, value in props.items():
        if isinstance(value, (dict, list)):
            raise BadRequest(f"'{key}' must be a plain value", field=key)
    geom = None
    if geometry is not None:
        name = _crs_name(data.get("crs"), "crs")
        try:
            lonlat = parse_geometry(geometry, GEOMETRY_LIMITS, require_valid=False)
        except GeoJSONError as exc:
            raise BadRequest(f"{exc.path}: {exc.reason}", field="geometry") from None
        geom = gcrs.transform_geometry(lonlat, name, settings.storage_srid)
    elif geometry_required:
        raise BadRequest("'geometry' is required (GeoJSON, CRS84 lon/lat unless 'crs' says otherwise)",
                         field="geometry")
    return props, geom


def refused(exc: RowError) -> BadRequest:
    """The 400 problem for a value the layer's check refused, naming the field."""
    return BadRequest(f"{exc.field}: {exc.message}", field=exc.field)


def checked(service, values: dict[str, Any], geom) -> dict[str, Any]:
    """Run a layer service's import check on API input; a refused value is a 400 naming its field."""
    from ..db import get_session

    ctx = service.prepare(get_session(), current_app.config["SETTINGS"])
    try:
        return service.validate(ctx, values, geom)
    except RowError as exc:
        raise refused(exc) from None


def write(action, *, key_field: str, taken: str) -> None:
    """Run a write and commit; a refused value is a 400 naming its field, a key taken by a
    concurrent write a 409 naming ``key_field``; on any failure nothing stays half-written."""
    from sqlalchemy.exc import IntegrityError

    from ..db import get_session
    from ..errors import Conflict

    db = get_session()
    try:
        action()
    except RowError as exc:
        db.rollback()
        raise refused(exc) from None
    except IntegrityError as exc:
        db.rollback()
        raise Conflict(f"{taken}; try again", field=key_field) from exc
    except BaseException:
        db.rollback()
        raise
    db.commit()
