"""Management components against PostGIS: identifiers (checked, allocated, never reused, safe under
concurrency), one check for API and import, department status edits, and cases snapping to them."""

from __future__ import annotations

import threading
from datetime import date

import geopandas as gpd
import pytest
import sqlalchemy as sa
from shapely.geometry import LineString, Point
from sqlalchemy.orm import Session

from app.services import components as component_service
from app.services.audit import SYSTEM
from app.services.components import today_local
from app.services.layer_io import ImportRefused, export_layer, import_layer
from tests.app.asset_support import at, geojson, lonlat, setup
from tests.app.conftest import assert_problem, committed_database, count

WATER_COVER = "01001"  # 供水井盖
SEWER_COVER = "01002"  # 污水井盖


@pytest.fixture
def env(grid, db_session, settings, client):
    return setup(grid, db_session, settings, client)


def cid(settings, class_code, serial) -> str:
    return f"{settings.district_code}{class_code}{serial:06d}"


def post(client, env, settings, dx, dy, role="admin", **props):
    body = {"type": "Feature", "geometry": geojson(settings, Point(*at(settings, dx, dy))), "properties": props}
    return client.post("/api/v1/components", json=body, headers=env["tokens"][role])


def created(client, env, settings, dx, dy, **props) -> dict:
    resp = post(client, env, settings, dx, dy, **props)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


# -- identifiers ----------------------------------------------------------------------------


def test_missing_ids_get_the_next_serial_of_their_class(client, env, settings):
    a = created(client, env, settings, 10, 110, category="C01001")["properties"]
    b = created(client, env, settings, 20, 110, category=WATER_COVER)["properties"]
    c = created(client, env, settings, 30, 110, category=SEWER_COVER)["properties"]
    assert [a["component_id"], b["component_id"], c["component_id"]] == [
        cid(settings, WATER_COVER, 1), cid(settings, WATER_COVER, 2), cid(settings, SEWER_COVER, 1)]
    assert a["name"] == "供水井盖" and a["status"] == "intact" and a["status_name"] == "完好"
    assert a["cell_code"] == settings.district_code + "001001001"


def test_next_serial_after_an_import_of_serial_41_is_42(client, env, settings, db_session, tmp_path):
    path = tmp_path / "c.gpkg"
    gpd.GeoDataFrame([{"GLBJBSM": cid(settings, WATER_COVER, 41), "GLBJZT": "完好"}],
                     geometry=[Point(*at(settings, 10, 110))], crs=f"EPSG:{settings.storage_srid}").to_file(path)
    assert import_layer(db_session, SYSTEM, "components", path, settings).inserted == 1
    new = created(client, env, settings, 20, 110, category=WATER_COVER)
    assert new["properties"]["component_id"] == cid(settings, WATER_COVER, 42)


def test_serials_are_never_reused_after_a_delete(client, env, settings):
    first = created(client, env, settings, 10, 110, category=WATER_COVER)
    second = created(client, env, settings, 20, 110, category=WATER_COVER)
    assert client.delete(f"/api/v1/components/{second['id']}", headers=env["tokens"]["admin"]).status_code == 204
    third = created(client, env, settings, 30, 110, category=WATER_COVER)
    assert first["properties"]["component_id"].endswith("000001")
    assert third["properties"]["component_id"] == cid(settings, WATER_COVER, 3)


def test_a_given_id_is_checked_against_the_standard_district_and_directory(client, env, settings):
    good = created(client, env, settings, 10, 110, component_id=cid(settings, "03005", 7))["properties"]
    assert (good["category"], good["name"]) == ("03005", "垃圾箱")
    bad = {
        "4101990100100001": "component_id",                  # 16 digits: a legacy id under 2026
        "41010501001000001": "component_id",                  # another district
        cid(settings, "06010", 1): "component_id",            # 06010 is an event class, not a component
        cid(settings, WATER_COVER, 0): "component_id",        # serial 000000
    }
    for value, field in bad.items():
        detail = assert_problem(post(client, env, settings, 20, 110, component_id=value), 400, field)["detail"]
        assert value in detail
    assert_problem(post(client, env, settings, 20, 110, component_id=cid(settings, WATER_COVER, 1),
                        category=SEWER_COVER), 400, "category")
    assert_problem(post(client, env, settings, 20, 110, component_id=cid(settings, "03005", 7)), 400, "component_id")


@pytest.mark.parametrize("props, field", [
    ({"category": "E06010"}, "category"),
    ({"category": "06010"}, "category"),     # an event (事项) code, not a component class
    ({"category": "99999"}, "category"),
    ({}, "category"),
    ({"category": WATER_COVER, "status": "broken"}, "status"),
    ({"category": WATER_COVER, "status": "坏了"}, "status"),
    ({"category": WATER_COVER, "owner_department": "nope"}, "owner_department"),
    ({"category": WATER_COVER, "maintainer_department": "999999"}, "maintainer_department"),
    ({"category": WATER_COVER, "surveyed_on": "2025-13-01"}, "surveyed_on"),
    ({"category": WATER_COVER, "surveyed_on": "2025-06-01", "changed_on": "2025-05-01"}, "changed_on"),
    ({"category": WATER_COVER, "note": "x" * 1001}, "note"),
    ({"category": WATER_COVER, "cell_code": "410199001001001"}, "cell_code"),
])
def test_bad_values_are_refused_naming_the_field(client, env, settings, db_session, props, field):
    before = count(db_session, "components")
    assert_problem(post(client, env, settings, 10, 110, **props), 400, field)
    assert count(db_session, "components") == before


def test_geometry_must_be_a_point_or_a_sensible_line(client, env, settings):
    token = env["tokens"]["admin"]
    polygon = {"type": "Polygon", "coordinates": [[[113.78, 34.77], [113.781, 34.77], [113.781, 34.771],
                                                   [113.78, 34.77]]]}
    for geometry in (polygon, None):
        resp = client.post("/api/v1/components", json={"geometry": geometry, "category": WATER_COVER}, headers=token)
        assert_problem(resp, 400, "geometry")
    too_long = LineString([at(settings, 0, 0), at(settings, 6000, 0)])
    resp = client.post("/api/v1/components", json={"geometry": geojson(settings, too_long), "category": "02017"},
                       headers=token)
    assert_problem(resp, 400, "geometry")
    # A railing from x=10 to x=95 in cell 001-001, on to x=150 in 001-002: the point on the line
    # that decides its cell (the interior vertex at x=95) lies in 001-001.
    rail = LineString([at(settings, 10, 150), at(settings, 95, 150), at(settings, 150, 150)])
    resp = client.post("/api/v1/components", json={"geometry": geojson(settings, rail), "category": "02017"},
                       headers=token)
    assert resp.status_code == 201
    assert resp.get_json()["properties"]["cell_code"][-6:] == "001001"
    assert resp.get_json()["geometry"]["type"] == "LineString"


def test_chinese_status_and_departments_by_code_or_id(client, env, settings):
    water = env["water"]
    props = created(client, env, settings, 10, 110, category=WATER_COVER, status="破损",
                    owner_department="water", maintainer_department=str(water.id),
                    owner_name="郑州自来水公司", maintainer_name="管网养护所",
                    surveyed_on="20250301")["properties"]
    assert (props["status"], props["owner_department"], props["maintainer_department"]) == ("damaged", "water", "water")
    assert props["surveyed_on"] == "2025-03-01"


def test_roles_and_audit(client, env, settings, db_session):
    assert_problem(post(client, env, settings, 10, 110, role="inspector", category=WATER_COVER), 403)
    assert_problem(post(client, env, settings, 10, 110, role="water", category=WATER_COVER), 403)
    comp = created(client, env, settings, 10, 110, category=WATER_COVER)
    assert client.get(f"/api/v1/components/{comp['id']}", headers=env["tokens"]["tax_officer"]).status_code == 200
    assert_problem(client.get(f"/api/v1/components/{comp['id']}"), 401)
    assert_problem(client.get("/api/v1/components/99999999", headers=env["tokens"]["leader"]), 404)
    assert db_session.scalar(sa.text(
        "SELECT action FROM audit_log WHERE entity = 'component' AND entity_id = :id"),
        {"id": str(comp["id"])}) == "component.create"


# -- department status edits -----------------------------------------------------------------


def test_the_maintaining_department_may_change_the_status_only(client, env, settings, db_session):
    comp = created(client, env, settings, 10, 110, category=WATER_COVER, maintainer_department="water",
                   surveyed_on="2025-03-01")
    url = f"/api/v1/components/{comp['id']}"
    resp = client.patch(url, json={"status": "丢失"}, headers=env["tokens"]["water"])
    assert resp.status_code == 200, resp.get_json()
    props = resp.get_json()["properties"]
    assert (props["status"], props["changed_on"]) == ("missing", today_local().isoformat())
    detail = db_session.scalar(sa.text(
        "SELECT detail FROM audit_log WHERE entity = 'component' AND action = 'component.update' "
        "AND entity_id = :id AND actor = 't_water'"), {"id": str(comp["id"])})
    assert detail["status"] == {"from": "intact", "to": "missing"}
    assert_problem(client.patch(url, json={"name": "改名"}, headers=env["tokens"]["water"]), 403, "name")
    moved = {"geometry": geojson(settings, Point(*at(settings, 20, 120)))}
    assert_problem(client.patch(url, json=moved, headers=env["tokens"]["water"]), 403, "geometry")
    assert_problem(client.patch(url, json={"status": "damaged"}, headers=env["tokens"]["department"]), 403)
    assert_problem(client.patch(url, json={"status": "gone"}, headers=env["tokens"]["water"]), 400, "status")
    assert_problem(client.patch(url, json={"status": "damaged"}, headers=env["tokens"]["inspector"]), 403)
    assert db_session.scalar(sa.text("SELECT status FROM components WHERE id = :id"), {"id": comp["id"]}) == "missing"


def test_admin_patch_changes_attributes_and_moves_it(client, env, settings):
    comp = created(client, env, settings, 10, 110, category=WATER_COVER)
    resp = client.patch(f"/api/v1/components/{comp['id']}", headers=env["tokens"]["admin"], json={
        "name": "供水井盖(主干)", "geometry": geojson(settings, Point(*at(settings, 250, 50)))})
    props = resp.get_json()["properties"]
    assert (props["name"], props["cell_code"][-6:], props["component_id"]) == (
        "供水井盖(主干)", "002002", comp["properties"]["component_id"])
    assert props["changed_on"] is None  # the state did not change


# -- listing ----------------------------------------------------------------------------------


def test_list_by_bbox_class_and_status(client, env, settings):
    a = created(client, env, settings, 10, 110, category=WATER_COVER)["id"]
    b = created(client, env, settings, 20, 110, category=SEWER_COVER, status="damaged")["id"]
    created(client, env, settings, 250, 50, category=WATER_COVER)
    w, s = lonlat(settings, 0, 100)
    e, n = lonlat(settings, 100, 200)
    token = env["tokens"]["inspector"]

    def ids(query):
        resp = client.get(f"/api/v1/components?bbox={w},{s},{e},{n}{query}", headers=token)
        assert resp.mimetype == "application/geo+json"
        return sorted(f["id"] for f in resp.get_json()["features"])

    assert ids("") == sorted([a, b])
    assert ids("&category=C01001") == [a]
    assert ids("&status=破损") == [b]
    assert ids("&status=intact,damaged&category=01001,01002") == sorted([a, b])
    assert_problem(client.get(f"/api/v1/components?bbox={w},{s},{e},{n}&status=bad", headers=token), 400, "status")
    assert_problem(client.get(f"/api/v1/components?bbox={w},{s},{e},{n}&category=x", headers=token), 400, "category")
    assert_problem(client.get("/api/v1/components", headers=token), 400, "bbox")


# -- snapping cases ------------------------------------------------------------------------------


def report(client, env, settings, dx, dy, category):
    lon, lat = lonlat(settings, dx, dy)
    resp = client.post("/api/v1/cases", headers=env["tokens"]["inspector"],
                       json={"lon": lon, "lat": lat, "category": category, "description": "井盖问题"})
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["case"]["id"]
    return client.get(f"/api/v1/cases/{case_id}", headers=env["tokens"]["dispatcher"]).get_json()


def test_a_component_case_snaps_to_the_nearest_component_of_its_class_within_50_m(client, env, settings):
    cover = created(client, env, settings, 50, 150, category=WATER_COVER)
    created(client, env, settings, 45, 150, category=SEWER_COVER)  # closer, but another class
    near = report(client, env, settings, 50, 120, "E01001")          # 30 m: 供水井盖异常
    far = report(client, env, settings, 50, 90, "E01001")            # 60 m
    other = report(client, env, settings, 50, 149, "E06010")         # 暴露垃圾: no component class
    as_component = report(client, env, settings, 50, 160, "C01001")  # the component category itself
    assert near["component"] == {"id": cover["id"], "component_id": cover["properties"]["component_id"],
                                 "name": "供水井盖", "status": "intact", "category_code": WATER_COVER,
                                 "status_name": "完好"}
    assert far["component"] is None
    assert other["component"] is None
    assert as_component["component"]["id"] == cover["id"]
    listed = client.get(f"/api/v1/components/{cover['id']}", headers=env["tokens"]["leader"]).get_json()
    assert [c["id"] for c in listed["cases"]["items"]] == [as_component["id"], near["id"]]  # newest first
    assert listed["cases"]["total"] == 2


def test_the_nearest_of_two_components_wins_and_removed_ones_are_skipped(client, env, settings):
    a = created(client, env, settings, 50, 150, category=WATER_COVER)
    b = created(client, env, settings, 50, 170, category=WATER_COVER, status="removed")
    c = created(client, env, settings, 50, 110, category=WATER_COVER)
    case = report(client, env, settings, 50, 165, "E01001")  # b is 5 m away but removed; a is 15 m
    assert case["component"]["id"] == a["id"]
    case = report(client, env, settings, 50, 125, "E01001")  # c 15 m, a 25 m
    assert case["component"]["id"] == c["id"] and b["id"] not in (a["id"], c["id"])


def test_a_department_sees_only_its_cases_of_a_component(client, env, settings, db_session):
    cover = created(client, env, settings, 50, 150, category=WATER_COVER)
    report(client, env, settings, 50, 140, "E01001")
    seen = client.get(f"/api/v1/components/{cover['id']}", headers=env["tokens"]["water"]).get_json()
    assert seen["cases"]["total"] == 0


# -- file import and export ----------------------------------------------------------------------


def gpkg(path, settings, rows):
    frame = gpd.GeoDataFrame([r[0] for r in rows], geometry=[Point(*at(settings, *r[1])) for r in rows],
                             crs=f"EPSG:{settings.storage_srid}")
    frame.to_file(path, driver="GPKG")
    return path


def test_import_with_one_bad_row_is_refused_with_the_report_and_nothing_written(env, settings, db_session, tmp_path):
    path = gpkg(tmp_path / "c.gpkg", settings, [
        ({"GLBJBSM": cid(settings, WATER_COVER, 1), "GLBJZT": "完好"}, (10, 110)),
        ({"GLBJBSM": cid(settings, WATER_COVER, 2), "GLBJZT": "坏了"}, (20, 110)),
        ({"GLBJBSM": cid(settings, WATER_COVER, 1), "GLBJZT": "完好"}, (30, 110)),
        ({"category": "06010", "GLBJZT": "完好"}, (40, 110)),
    ])
    with pytest.raises(ImportRefused) as err:
        import_layer(db_session, SYSTEM, "components", path, settings)
    assert {(r.row, r.field) for r in err.value.rows} == {(2, "status"), (3, "component_id"), (4, "category")}
    assert count(db_session, "components") == 0
    assert db_session.scalar(sa.text("SELECT count(*) FROM component_serials")) == 0


def test_legacy_column_names_are_read(env, settings, db_session, tmp_path):
    path = gpkg(tmp_path / "legacy.gpkg", settings, [
        ({"ObjID": cid(settings, "01037", 5), "ObjName": "路灯", "ObjState": "破损", "DeptCode3": "water",
          "DeptName2": "市政", "ORDate": "20240102", "CHDate": "20250203", "DataSource": "实测", "Note": "灯罩破"},
         (10, 110)),
    ])
    import_layer(db_session, SYSTEM, "components", path, settings)
    row = db_session.execute(sa.text(
        "SELECT k.component_id, k.name, k.status, d.code, k.owner_name, k.surveyed_on, k.changed_on, "
        "k.data_source, k.note FROM components k JOIN departments d ON d.id = k.maintainer_department_id")).one()
    assert tuple(row) == (cid(settings, "01037", 5), "路灯", "damaged", "water", "市政", date(2024, 1, 2),
                          date(2025, 2, 3), "实测", "灯罩破")


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".csv"])
def test_export_import_round_trip(client, env, settings, db_session, tmp_path, suffix):
    created(client, env, settings, 10, 110, category=WATER_COVER, status="damaged", owner_department="water",
            maintainer_department="municipal_roads", owner_name="供水公司", maintainer_name="养护所",
            surveyed_on="2025-03-01", changed_on="2025-06-01", data_source="实测", note="盖板松动")
    created(client, env, settings, 250, 50, category="03005")
    rail = LineString([at(settings, 10, 150), at(settings, 60, 150)])
    client.post("/api/v1/components", headers=env["tokens"]["admin"],
                json={"geometry": geojson(settings, rail), "category": "02017"})
    columns = ("component_id, name, category_code, status, owner_department_id, maintainer_department_id, "
               "owner_name, maintainer_name, surveyed_on, changed_on, data_source, note, cell_code, "
               "round(ST_X(ST_PointOnSurface(geom))::numeric, 2), round(ST_Length(geom)::numeric, 2)")
    before = db_session.execute(sa.text(f"SELECT {columns} FROM components ORDER BY component_id")).all()
    path = tmp_path / f"components{suffix}"
    if suffix in (".csv", ".shp"):
        # A Shapefile holds one geometry type, and CSV carries lon/lat only for all-point layers.
        db_session.execute(sa.text("DELETE FROM components WHERE GeometryType(geom) = 'LINESTRING'"))
        before = [r for r in before if r[-1] == 0]
    assert export_layer(db_session, "components", path, settings) == len(before)
    db_session.execute(sa.text("DELETE FROM components"))
    result = import_layer(db_session, SYSTEM, "components", path, settings)
    assert result.inserted == len(before)
    after = db_session.execute(sa.text(f"SELECT {columns} FROM components ORDER BY component_id")).all()
    assert after == before


# -- concurrency ---------------------------------------------------------------------------------


def test_concurrent_allocations_never_share_a_serial(tmp_path_factory):
    with committed_database("citygrid_components", tmp_path_factory, ("admin",), "cc_") as (settings, engine):
        x0, y0 = at(settings, 50, 150)
        per_thread, threads = 15, 4
        barrier = threading.Barrier(threads)
        errors: list[BaseException] = []

        def work():
            try:
                with Session(engine) as session:
                    ctx = component_service.prepare(session, settings)
                    barrier.wait()
                    for i in range(per_thread):
                        rec = component_service.validate(ctx, {"category": WATER_COVER}, Point(x0 + i, y0))
                        component_service.create(session, settings, SYSTEM, rec)
                        session.commit()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        pool = [threading.Thread(target=work) for _ in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        assert not errors
        with Session(engine) as session:
            serials = sorted(int(c[-6:]) for c in session.scalars(sa.text("SELECT component_id FROM components")))
            top = session.scalar(sa.text("SELECT last_serial FROM component_serials"))
        assert serials == list(range(1, per_thread * threads + 1))
        assert top == per_thread * threads
