"""Helpers for the building, component and cell-inventory tests: shapes placed in storage metres
on the six-cell test grid, sent to the API as CRS84 GeoJSON."""

from __future__ import annotations

import sqlalchemy as sa
from shapely.geometry import LineString, Polygon, box

from app.models import Department
from app.services.audit import SYSTEM
from app.services.categories import load_categories
from app.services.workcal import seed_calendar
from gis.crs import transform_geometry
from gis.fov import fov_sector
from tests.app.conftest import lonlat_of, origin_xy, token_for


def geojson(settings, geom) -> dict:
    """A storage-CRS shapely geometry as a CRS84 GeoJSON geometry."""
    from shapely.geometry import mapping

    lonlat = transform_geometry(geom, settings.storage_srid, 4326)
    return _lists(mapping(lonlat))


def _lists(value):
    if isinstance(value, dict):
        return {k: _lists(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_lists(v) for v in value]
    return value


def at(settings, dx: float, dy: float) -> tuple[float, float]:
    """Storage x, y at (dx, dy) metres from the grid's south-west corner."""
    x0, y0 = origin_xy(settings)
    return x0 + dx, y0 + dy


def square(settings, dx0, dy0, dx1, dy1) -> Polygon:
    """A storage-CRS box given in metres from the grid's south-west corner."""
    x0, y0 = origin_xy(settings)
    return box(x0 + dx0, y0 + dy0, x0 + dx1, y0 + dy1)


def lonlat(settings, dx, dy) -> tuple[float, float]:
    """CRS84 lon/lat of a point given in metres from the grid's south-west corner."""
    return lonlat_of(settings, *at(settings, dx, dy))


def setup(grid, db_session, settings, client) -> dict:
    """Categories, calendar, a water department (with a user) and tokens for every role."""
    load_categories(db_session, SYSTEM)
    seed_calendar(db_session, SYSTEM)
    water = Department(code="water", name="供水公司", district_code=settings.district_code)
    db_session.add(water)
    db_session.flush()
    from app.models import User

    db_session.add(User(username="t_water", display_name="供水处置员",
                        password_hash=grid["users"]["department"].password_hash, role="department",
                        department=water, district_code=settings.district_code))
    db_session.commit()
    tokens = {role: token_for(client, f"t_{role}") for role in
              ("inspector", "operator", "dispatcher", "department", "leader", "admin", "tax_officer")}
    tokens["water"] = token_for(client, "t_water")
    roads = db_session.scalar(sa.select(Department).where(Department.code == "municipal_roads"))
    return {"tokens": tokens, "water": water, "roads": roads}


def add_camera(db_session, settings, device_id: str, dx: float, dy: float, azimuth: float, *,
               hfov: float = 60.0, range_m: float = 80.0, occluded: bool = False,
               stream_url: str | None = None) -> int:
    """A camera row written directly (its field of view is the plain sector), returning its id."""
    x, y = at(settings, dx, dy)
    fov = fov_sector(x, y, azimuth, hfov, range_m)
    return db_session.scalar(sa.text(
        """INSERT INTO cameras (device_id, district_code, name, azimuth_deg, hfov_deg, range_m, status,
                                stream_url, occluded, geom, fov, cell_code)
           VALUES (:d, :district, :name, :az, :hfov, :range, 'online', :url, :occ,
                   ST_SetSRID(ST_MakePoint(:x, :y), :srid), ST_GeomFromWKB(:fov, :srid),
                   (SELECT code FROM cells WHERE ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), :srid))
                    ORDER BY code LIMIT 1))
           RETURNING id"""
    ), {"d": device_id, "district": settings.district_code, "name": f"摄像机{device_id[-3:]}", "az": azimuth,
        "hfov": hfov, "range": range_m, "url": stream_url, "occ": occluded, "x": x, "y": y,
        "srid": settings.storage_srid, "fov": fov.wkb})


def add_pipeline(db_session, settings, code: str, line: LineString, class_abbr="JS", subclass_abbr="JP") -> int:
    """A pipeline row written directly, returning its id."""
    return db_session.scalar(sa.text(
        """INSERT INTO pipelines (code, district_code, class_abbr, subclass_abbr, start_depth_m, end_depth_m,
                                  status, geom)
           VALUES (:code, :district, :ca, :sa, 1.2, 1.4, 'in_use', ST_GeomFromWKB(:g, :srid)) RETURNING id"""
    ), {"code": code, "district": settings.district_code, "ca": class_abbr, "sa": subclass_abbr,
        "g": line.wkb, "srid": settings.storage_srid})
