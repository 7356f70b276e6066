"""GET /api/v1/grid/cells/<code>: what one cell holds, with answers laid out by hand on the test grid.

Cells are 100 m squares; 001-002 spans x 100–200 m, y 100–200 m from the grid's south-west corner.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, Point

from app.services.cases import now_utc
from tests.app.asset_support import add_camera, add_pipeline, at, geojson, lonlat, setup, square
from tests.app.conftest import assert_problem

NE = "001002"


@pytest.fixture
def env(grid, db_session, settings, client):
    return setup(grid, db_session, settings, client)


def code(settings, serial=NE) -> str:
    return settings.district_code + "001" + serial


def component(client, env, settings, dx, dy, category):
    body = {"geometry": geojson(settings, Point(*at(settings, dx, dy))), "category": category}
    resp = client.post("/api/v1/components", json=body, headers=env["tokens"]["admin"])
    assert resp.status_code == 201, resp.get_json()


def report(client, env, settings, dx, dy) -> int:
    lon, lat = lonlat(settings, dx, dy)
    resp = client.post("/api/v1/cases", headers=env["tokens"]["inspector"],
                       json={"lon": lon, "lat": lat, "category": "E06010", "description": "垃圾"})
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["case"]["id"]


def test_the_inventory_of_a_cell(client, env, settings, db_session):
    # Components: two water covers and a bin in the cell, a cover in the next cell.
    for dx, dy, cat in ((110, 110, "01001"), (120, 110, "01001"), (150, 150, "03005"), (50, 150, "01001")):
        component(client, env, settings, dx, dy, cat)
    # Cameras: one standing in the cell, one in the neighbour looking into it (counted where it stands).
    inside = add_camera(db_session, settings, "41019900001320000011", 150, 120, 90.0)
    add_camera(db_session, settings, "41019900001320000012", 50, 120, 90.0)
    # Pipelines: a water main crossing three cells (50 m + 100 m + 50 m), a drain 30 m long in the
    # cell, a gas line wholly outside it and a duct touching its edge (not in it).
    add_pipeline(db_session, settings, "JS-1", LineString([at(settings, 50, 150), at(settings, 250, 150)]))
    add_pipeline(db_session, settings, "PS-1", LineString([at(settings, 130, 180), at(settings, 160, 180)]),
                 "PS", "YS")
    add_pipeline(db_session, settings, "RQ-1", LineString([at(settings, 10, 10), at(settings, 90, 10)]),
                 "RQ", "TR")
    # A telecom duct that starts on the cell's east edge and runs away from it: it only touches.
    add_pipeline(db_session, settings, "TX-1", LineString([at(settings, 200, 130), at(settings, 260, 130)]),
                 "TX", "XX")
    db_session.commit()
    # Buildings: one whose footprint lies in the cell, one in the neighbour.
    admin = env["tokens"]["admin"]
    for name, shape in (("东楼", square(settings, 120, 120, 160, 160)), ("西楼", square(settings, 20, 120, 60, 160))):
        resp = client.post("/api/v1/buildings", headers=admin,
                           json={"geometry": geojson(settings, shape), "name": name, "use": "office"})
        assert resp.status_code == 201
    # Cases: two open in the cell (one made overdue), one closed-off elsewhere.
    overdue = report(client, env, settings, 130, 130)
    fresh = report(client, env, settings, 170, 170)
    report(client, env, settings, 50, 50)
    past = now_utc() - timedelta(days=30)
    db_session.execute(sa.text("UPDATE cases SET stage_deadline = :past, stage_started_at = :start WHERE id = :id"),
                       {"past": past, "start": past - timedelta(days=1), "id": overdue})

    resp = client.get(f"/api/v1/grid/cells/{code(settings)}", headers=env["tokens"]["leader"])
    assert resp.status_code == 200, resp.get_json()
    inv = resp.get_json()
    assert inv["cell"]["code"] == code(settings)
    assert inv["cell"]["area_m2"] == pytest.approx(10000.0, abs=1)
    assert inv["cell"]["community"]["name"] == "测试一社区"
    assert inv["cell"]["street"]["name"] == "测试街道"
    assert inv["components"] == {"total": 3, "by_class": [
        {"code": "01001", "name": "供水井盖", "count": 2}, {"code": "03005", "name": "垃圾箱", "count": 1}]}
    assert inv["cameras"]["count"] == 1 and [c["id"] for c in inv["cameras"]["items"]] == [inside]
    by_class = {p["code"]: p for p in inv["pipelines"]["by_class"]}
    assert set(by_class) == {"JS", "PS"}
    assert by_class["JS"]["length_m"] == pytest.approx(100.0, abs=0.1)
    assert by_class["PS"]["length_m"] == pytest.approx(30.0, abs=0.1)
    assert (by_class["JS"]["name"], by_class["JS"]["color"]) == ("给水", "#00ffff")
    assert inv["pipelines"]["length_m"] == pytest.approx(130.0, abs=0.2)
    assert inv["buildings"]["count"] == 1 and inv["buildings"]["items"][0]["name"] == "东楼"
    assert inv["open_cases"]["count"] == 2
    assert inv["open_cases"]["by_light"] == {"red": 1, "yellow": 0, "green": 1, "none": 0}
    assert [c["id"] for c in inv["open_cases"]["newest"]] == [fresh, overdue]


def test_a_department_counts_only_its_own_cases(client, env, settings):
    report(client, env, settings, 130, 130)
    inv = client.get(f"/api/v1/grid/cells/{code(settings)}", headers=env["tokens"]["department"]).get_json()
    assert inv["open_cases"]["count"] == 0
    assert inv["open_cases"]["by_light"] == {"red": 0, "yellow": 0, "green": 0, "none": 0}


def test_an_empty_cell_has_zero_everywhere(client, env, settings):
    inv = client.get(f"/api/v1/grid/cells/{code(settings, '002002')}", headers=env["tokens"]["inspector"]).get_json()
    assert inv["components"] == {"total": 0, "by_class": []}
    assert inv["cameras"] == {"count": 0, "items": []}
    assert inv["pipelines"] == {"length_m": 0, "by_class": []}
    assert inv["buildings"] == {"count": 0, "items": []}
    assert inv["open_cases"]["count"] == 0 and inv["open_cases"]["newest"] == []


def test_unknown_and_malformed_codes(client, env, settings):
    token = env["tokens"]["inspector"]
    assert_problem(client.get(f"/api/v1/grid/cells/{code(settings, '009009')}", headers=token), 404)
    body = assert_problem(client.get("/api/v1/grid/cells/12345", headers=token), 400, "code")
    assert "expected 15 digits" in body["detail"]
    assert_problem(client.get(f"/api/v1/grid/cells/{settings.district_code}001001000", headers=token), 400, "code")
    assert_problem(client.get(f"/api/v1/grid/cells/{code(settings)}"), 401)
