"""App fixtures: a Flask app whose requests run in the test's rolled-back transaction."""

from __future__ import annotations

import re
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from shapely.geometry import box

from app import create_app
from app.models import Department, DutyGrid, DutyGridCell, User
from app.services.accounts import hash_password
from app.services.audit import SYSTEM
from app.services.cell_import import import_cells
from gis.crs import lonlat_to_storage, storage_to_lonlat

PASSWORD = "test-password-1"
# South-west corner of the test grid, in Zhengdong (CRS84).
ORIGIN_LONLAT = (113.78, 34.77)
CELL_M = 100.0


@pytest.fixture(autouse=True)
def fresh_calendar_cache():
    """Each test sees its own (rolled-back) calendar rows, not a cached one from another test."""
    from app.services import refcache, workcal

    workcal.invalidate()
    refcache.invalidate()
    yield
    workcal.invalidate()
    refcache.invalidate()


@pytest.fixture
def app(settings, engine, db_session):
    """The application, sharing the test's session."""
    application = create_app({
        "SETTINGS": settings,
        "ENGINE": engine,
        "SESSION_FACTORY": lambda: db_session,
        "TESTING": True,
    })
    return application


@pytest.fixture
def client(app):
    """A test client."""
    return app.test_client()


def origin_xy(settings) -> tuple[float, float]:
    """South-west corner of the test grid in the storage CRS."""
    x, y = lonlat_to_storage(*ORIGIN_LONLAT, settings.storage_srid)
    return float(x), float(y)


def make_layer(settings) -> list[tuple[str, object]]:
    """Six 1 ha cells: community 001 is a 2×2 block, community 002 two cells east of it.

    Layout (north up)::

        001-001 | 001-002 | 002-001
        001-003 | 001-004 | 002-002
    """
    x0, y0 = origin_xy(settings)
    d = settings.district_code + "001"
    s = CELL_M
    return [
        (d + "001001", box(x0, y0 + s, x0 + s, y0 + 2 * s)),
        (d + "001002", box(x0 + s, y0 + s, x0 + 2 * s, y0 + 2 * s)),
        (d + "001003", box(x0, y0, x0 + s, y0 + s)),
        (d + "001004", box(x0 + s, y0, x0 + 2 * s, y0 + s)),
        (d + "002001", box(x0 + 2 * s, y0 + s, x0 + 3 * s, y0 + 2 * s)),
        (d + "002002", box(x0 + 2 * s, y0, x0 + 3 * s, y0 + s)),
    ]


def write_layer(path, pairs, srid, extra=None):
    """Write (code, polygon) pairs with attributes as a GeoPackage in the storage CRS.

    The storage CRS keeps coordinates exact, so tests can probe shared edges and vertices.
    """
    import geopandas as gpd

    rows = []
    for i, (code, _geom) in enumerate(pairs):
        props = {"code": code or None, "community_code": None, "community_name": None, "street_name": None}
        if code:
            props.update(community_name="测试一社区" if code[9:12] == "001" else "测试二社区",
                         street_name="测试街道")
        props.update((extra or {}).get(i, {}))
        rows.append(props)
    frame = gpd.GeoDataFrame(rows, geometry=[g for _, g in pairs], crs=f"EPSG:{srid}")
    path = path.with_suffix(".gpkg")
    frame.to_file(path, driver="GPKG")
    return path


@pytest.fixture
def grid(settings, db_session, tmp_path):
    """The six-cell test layer imported through the real import path, plus users."""
    path = write_layer(tmp_path / "cells.geojson", make_layer(settings), settings.storage_srid)
    import_cells(db_session, SYSTEM, path, settings)
    dept = Department(code="municipal_roads", name="市政道路", district_code=settings.district_code)
    db_session.add(dept)
    users = {}
    password_hash = hash_password(PASSWORD)  # salted once: scrypt is slow on purpose
    for role in ("inspector", "operator", "shift_leader", "dispatcher", "department",
                 "tax_officer", "leader", "admin"):
        users[role] = User(username=f"t_{role}", display_name=f"测试{role}", password_hash=password_hash,
                           role=role, district_code=settings.district_code,
                           department=dept if role == "department" else None, phone="13800000000")
        db_session.add(users[role])
    db_session.flush()
    duty = DutyGrid(code="T-D01", name="测试第1责任网格", district_code=settings.district_code,
                    inspector_id=users["inspector"].id)
    db_session.add(duty)
    db_session.flush()
    for code, _ in make_layer(settings)[:4]:
        db_session.add(DutyGridCell(duty_grid_id=duty.id, cell_code=code))
    # Commit ends the savepoint, so a test's rollback keeps this data; the outer
    # transaction still discards it after the test.
    db_session.commit()
    return {"users": users, "layer": make_layer(settings)}


def lonlat_of(settings, x, y) -> tuple[float, float]:
    """CRS84 of a storage-CRS point."""
    lon, lat = storage_to_lonlat(x, y, settings.storage_srid)
    return float(lon), float(lat)


def login(client, username, password=PASSWORD):
    """Sign in through the real form, CSRF token included."""
    page = client.get("/login")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


def token_for(client, username, password=PASSWORD) -> dict:
    """Authorization header for an API token."""
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert resp.status_code == 201, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def assert_problem(resp, status, field=None):
    """The response is RFC 9457 problem+json with this status (and field)."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    body = resp.get_json()
    assert body["status"] == status
    assert body["type"] and body["title"] and body["detail"]
    assert body["request_id"] == resp.headers["X-Request-ID"]
    if field is not None:
        assert body.get("field") == field, body
    return body


def count(session, table) -> int:
    """Rows in a table."""
    return session.scalar(sa.text(f"SELECT count(*) FROM {table}"))


@contextmanager
def committed_database(name: str, tmp_path_factory, roles, prefix: str, departments=("municipal_roads",)):
    """A migrated database of its own, committed (not rolled back), for tests that need real
    concurrent connections: the six-cell layer, categories (暴露垃圾 E06010 → the first
    department), the calendar, and one user ``{prefix}{role}`` per role.

    Yields ``(settings, engine)``; the database is dropped afterwards.
    """
    import os

    from sqlalchemy.orm import Session

    from app.cli import run_migrations
    from app.config import load_settings
    from app.db import drop_database, make_engine
    from app.models import Category
    from app.services.categories import load_categories
    from app.services.workcal import seed_calendar
    from tests.conftest import fresh_database

    url = fresh_database(name)
    run_migrations(url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYGRID_") or k == "CITYGRID_PG_PORT"}
    env.update(DATABASE_URL=url, CITYGRID_ENV="test", CITYGRID_SECRET_KEY="x" * 32,
               CITYGRID_DATA_DIR=str(tmp_path_factory.mktemp("var")))
    settings = load_settings(env)
    engine = make_engine(url)
    with Session(engine) as session:
        import_cells(session, SYSTEM, write_layer(tmp_path_factory.mktemp("layer") / "cells",
                                                  make_layer(settings), settings.storage_srid), settings)
        load_categories(session, SYSTEM)
        seed_calendar(session, SYSTEM)
        depts = [Department(code=code, name=code, district_code=settings.district_code) for code in departments]
        session.add_all(depts)
        session.flush()
        for role in roles:
            session.add(User(username=f"{prefix}{role}", display_name=f"{prefix}{role}",
                             password_hash=hash_password(PASSWORD), role=role,
                             district_code=settings.district_code,
                             department_id=depts[0].id if role == "department" else None))
        category = session.scalar(sa.select(Category).where(
            Category.standard_ref == settings.category_standard, Category.kind == "event", Category.code == "06010"))
        category.default_department_id = depts[0].id
        session.commit()
    try:
        yield settings, engine
    finally:
        engine.dispose()
        drop_database(url)
