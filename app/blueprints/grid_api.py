"""JSON API for the grid: locate a point, cells in a box, streets and communities."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, request, url_for
from flask_babel import gettext

from gis import crs as gcrs
from gis.errors import UnknownCRSError
from grid.codes import parse_grid_code
from grid.errors import InvalidGridCodeError

from .. import params
from ..db import get_session
from ..errors import BadRequest, NotFound, OutOfDistrict
from ..security import current_user, roles_required
from ..services import grid as grid_service
from ..services.cases import Caller
from ..services.inventory import cell_inventory as inventory_of
from ..services.workcal import load_calendar

bp = Blueprint("grid_api", __name__, url_prefix="/api/v1/grid")


def _input_crs() -> str:
    try:
        return gcrs.normalize_crs_name(request.args.get("crs"))
    except UnknownCRSError as exc:
        raise BadRequest(str(exc), field="crs", accepted=list(exc.accepted)) from None


@bp.get("/locate")
@roles_required()
def locate():
    """Find the unit grid cell, community, street, duty grid and inspector at a point."""
    lon, lat = params.lonlat()
    crs_name = _input_crs()
    settings = current_app.config["SETTINGS"]
    lon84, lat84 = gcrs.to_wgs84(lon, lat, crs_name)
    x, y = gcrs.lonlat_to_storage(lon84, lat84, settings.storage_srid)
    db = get_session()
    found = grid_service.locate(db, float(x), float(y), settings.storage_srid)
    if found is None:
        extent = grid_service.district_extent(db)
        where = (
            f"lon {extent.min_lon:.4f}–{extent.max_lon:.4f}, lat {extent.min_lat:.4f}–{extent.max_lat:.4f}"
            if extent
            else gettext("no unit grid cells are loaded")
        )
        raise OutOfDistrict(
            gettext("point lon=%(lon)s, lat=%(lat)s (CRS84) is outside every unit grid cell of %(district)s; "
                    "the district's extent is %(extent)s",
                    lon=f"{lon84:.6f}", lat=f"{lat84:.6f}", district=settings.district_name, extent=where),
            district_extent=extent.as_list() if extent else None,
        )
    found["point"] = {
        "lon": round(float(lon84), 7),
        "lat": round(float(lat84), 7),
        "crs": "OGC:CRS84",
        "input_crs": crs_name,
    }
    return jsonify(found)


def _bbox() -> tuple[float, float, float, float]:
    raw = params.required("bbox")
    parts = raw.split(",")
    if len(parts) != 4:
        raise BadRequest(f"'bbox' must be minLon,minLat,maxLon,maxLat; got {raw!r}", field="bbox")
    try:
        minx, miny, maxx, maxy = (float(p) for p in parts)
    except ValueError:
        raise BadRequest(f"'bbox' must hold 4 numbers; got {raw!r}", field="bbox") from None
    if not all(map(lambda v: v == v and abs(v) != float("inf"), (minx, miny, maxx, maxy))):
        raise BadRequest("'bbox' numbers must be finite", field="bbox")
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= 90 and -90 <= maxy <= 90):
        raise BadRequest("'bbox' is out of lon [-180,180] / lat [-90,90] range", field="bbox")
    if minx > maxx or miny > maxy:
        raise BadRequest("'bbox' minimum must not exceed maximum", field="bbox")
    return minx, miny, maxx, maxy


@bp.get("/cells")
@roles_required()
def list_cells():
    """Current cells meeting a lon/lat bbox as a GeoJSON FeatureCollection (paged)."""
    settings = current_app.config["SETTINGS"]
    bbox = _bbox()
    limit = params.integer("limit", 1, settings.max_bbox_cells, settings.max_bbox_cells)
    offset = params.integer("offset", 0, 10_000_000, 0)
    features, total = grid_service.cells_in_bbox(get_session(), bbox, settings.storage_srid, limit, offset)
    body = {
        "type": "FeatureCollection",
        "features": features,
        "numberMatched": total,
        "numberReturned": len(features),
        "links": [],
    }
    if offset + len(features) < total:
        body["links"].append(
            {
                "rel": "next",
                "type": "application/geo+json",
                "href": url_for(
                    "grid_api.list_cells",
                    bbox=request.args["bbox"],
                    limit=limit,
                    offset=offset + limit,
                    _external=False,
                ),
            }
        )
    resp = jsonify(body)
    resp.mimetype = "application/geo+json"
    return resp


@bp.get("/cells/<code>")
@roles_required()
def cell_inventory(code: str):
    """One cell and what it holds: components, cameras, pipelines, buildings, open cases."""
    try:
        parse_grid_code(code)
    except InvalidGridCodeError as exc:
        raise BadRequest(str(exc), field="code") from None
    db = get_session()
    found = inventory_of(db, Caller.of(current_user()), load_calendar(db), code)
    if found is None:
        raise NotFound(f"no unit grid cell has the code {code}")
    return jsonify(found)


@bp.get("/streets")
@roles_required()
def list_streets():
    """All streets (街道) as GeoJSON."""
    resp = jsonify(grid_service.areas_geojson(get_session(), "streets"))
    resp.mimetype = "application/geo+json"
    return resp


@bp.get("/communities")
@roles_required()
def list_communities():
    """All communities (社区) as GeoJSON."""
    resp = jsonify(grid_service.areas_geojson(get_session(), "communities"))
    resp.mimetype = "application/geo+json"
    return resp
