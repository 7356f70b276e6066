"""Buildings against PostGIS: API and file import share one check, point → building, the detail's
cases, cameras and components, and the links kept current when footprints change."""

from __future__ import annotations

import json
import re

import geopandas as gpd
import pytest
import sqlalchemy as sa
from shapely.geometry import MultiPolygon, Polygon

from app.services.audit import SYSTEM
from app.services.layer_io import ImportRefused, export_layer, import_layer
from tests.app.asset_support import add_camera, geojson, lonlat, setup, square
from tests.app.conftest import assert_problem, count

CELL_NW = "001001"  # serial part of the north-west cell: x 0–100 m, y 100–200 m


@pytest.fixture
def env(grid, db_session, settings, client):
    return setup(grid, db_session, settings, client)


def post(client, env, settings, footprint, role="admin", **props):
    body = {"type": "Feature", "geometry": geojson(settings, footprint),
            "properties": {"name": "测试大厦", **props}}
    return client.post("/api/v1/buildings", json=body, headers=env["tokens"][role])


def created(client, env, settings, footprint, **props) -> dict:
    resp = post(client, env, settings, footprint, **props)
    assert resp.status_code == 201, resp.get_json()
    assert resp.mimetype == "application/geo+json"
    return resp.get_json()


def test_create_computes_cell_and_code_and_accepts_chinese_use(client, env, settings, db_session):
    feature = created(client, env, settings, square(settings, 20, 120, 60, 160), use="住宅", floors=18,
                      underground_floors=2, height_m=54.5, gross_floor_area_m2=28800, build_year=2015,
                      address="郑东新区如意湖街道测试路1号")
    props = feature["properties"]
    assert props["cell_code"] == settings.district_code + "001" + CELL_NW
    assert props["use"] == "residential"
    assert re.fullmatch(settings.district_code + r"B\d{8}", props["code"])
    assert props["footprint_m2"] == pytest.approx(1600.0, abs=0.5)
    assert (props["floors"], props["underground_floors"], props["height_m"]) == (18, 2, 54.5)
    assert feature["geometry"]["type"] == "MultiPolygon"
    audit = db_session.execute(sa.text(
        "SELECT actor, action FROM audit_log WHERE entity = 'building' AND entity_id = :id"),
        {"id": str(feature["id"])}).all()
    assert [tuple(a) for a in audit] == [("t_admin", "building.create")]


def test_a_building_across_cells_belongs_to_the_cell_of_its_point_on_surface(client, env, settings):
    # 90 m of it lie in the west cell 001-001 and 10 m in 001-002: the point on the surface is west.
    props = created(client, env, settings, square(settings, 10, 130, 110, 170))["properties"]
    assert props["cell_code"].endswith(CELL_NW)


def test_self_intersecting_footprint_is_refused_naming_geometry(client, env, settings, db_session):
    (x0, y0), (x1, y1) = (square(settings, 10, 110, 50, 150).bounds[:2], square(settings, 10, 110, 50, 150).bounds[2:])
    bowtie = Polygon([(x0, y0), (x1, y1), (x1, y0), (x0, y1)])
    before = count(db_session, "buildings")
    body = assert_problem(post(client, env, settings, bowtie), 400, "geometry")
    assert "Self-intersection" in body["detail"]
    assert count(db_session, "buildings") == before


@pytest.mark.parametrize("props, field", [
    ({"use": "castle"}, "use"),
    ({"floors": -1}, "floors"),
    ({"floors": 2.5}, "floors"),
    ({"height_m": "tall"}, "height_m"),
    ({"gross_floor_area_m2": -10}, "gross_floor_area_m2"),
    ({"build_year": 3000}, "build_year"),
    ({"name": ""}, "name"),
    ({"code": "bad code!"}, "code"),
    ({"colour": "red"}, "colour"),
])
def test_bad_attributes_are_refused_naming_the_field(client, env, settings, db_session, props, field):
    before = count(db_session, "buildings")
    assert_problem(post(client, env, settings, square(settings, 10, 110, 50, 150), **props), 400, field)
    assert count(db_session, "buildings") == before


@pytest.mark.parametrize("geometry", [
    {"type": "Point", "coordinates": [113.78, 34.77]},
    {"type": "Polygon", "coordinates": [[[113.78, 34.77], [113.79, 34.77]]]},
    None,
])
def test_wrong_or_missing_geometry_is_refused(client, env, settings, geometry):
    body = {"type": "Feature", "geometry": geometry, "properties": {"name": "x"}}
    assert_problem(client.post("/api/v1/buildings", json=body, headers=env["tokens"]["admin"]), 400, "geometry")


def test_footprint_area_limits(client, env, settings):
    tiny = square(settings, 10, 110, 10.5, 110.5)  # 0.25 m²
    huge = square(settings, -600, -600, 600, 600)  # 1.44 km²
    for shape in (tiny, huge):
        assert "area" in assert_problem(post(client, env, settings, shape), 400, "geometry")["detail"]


def test_duplicate_code_is_refused(client, env, settings):
    created(client, env, settings, square(settings, 10, 110, 30, 130), code="ZD-001")
    assert_problem(post(client, env, settings, square(settings, 40, 110, 60, 130), code="ZD-001"), 400, "code")


def test_roles(client, env, settings):
    assert_problem(post(client, env, settings, square(settings, 10, 110, 30, 130), role="inspector"), 403)
    assert_problem(post(client, env, settings, square(settings, 10, 110, 30, 130), role="department"), 403)
    bid = created(client, env, settings, square(settings, 10, 110, 30, 130))["id"]
    for role in ("inspector", "department", "leader", "tax_officer", "operator"):
        assert client.get(f"/api/v1/buildings/{bid}", headers=env["tokens"][role]).status_code == 200
    assert_problem(client.get(f"/api/v1/buildings/{bid}"), 401)
    assert_problem(client.delete(f"/api/v1/buildings/{bid}", headers=env["tokens"]["dispatcher"]), 403)


def test_point_to_building_picks_the_smallest_covering_footprint(client, env, settings):
    outer = created(client, env, settings, square(settings, 10, 110, 90, 190), name="综合体")["id"]
    inner = created(client, env, settings, square(settings, 40, 140, 60, 160), name="塔楼")["id"]
    token = env["tokens"]["inspector"]

    def at(dx, dy):
        lon, lat = lonlat(settings, dx, dy)
        return client.get(f"/api/v1/buildings/at?lon={lon}&lat={lat}", headers=token)

    assert at(50, 150).get_json()["id"] == inner
    assert at(20, 120).get_json()["id"] == outer
    assert at(40.5, 150).get_json()["id"] == inner  # covered by both: the smaller wins
    assert at(39.5, 150).get_json()["id"] == outer
    assert_problem(at(95, 150), 404)
    assert_problem(client.get("/api/v1/buildings/at?lon=113.78", headers=token), 400, "lat")


def test_list_by_bbox_with_counts_filters_and_limits(client, env, settings):
    a = created(client, env, settings, square(settings, 10, 110, 30, 130), use="office")["id"]
    b = created(client, env, settings, square(settings, 210, 10, 240, 40), use="school")["id"]
    token = env["tokens"]["leader"]
    w, s = lonlat(settings, 0, 100)
    e, n = lonlat(settings, 100, 200)
    west = client.get(f"/api/v1/buildings?bbox={w},{s},{e},{n}", headers=token)
    assert west.mimetype == "application/geo+json"
    body = west.get_json()
    assert [f["id"] for f in body["features"]] == [a]
    assert (body["numberMatched"], body["numberReturned"]) == (1, 1)
    w, s = lonlat(settings, -50, -50)
    e, n = lonlat(settings, 350, 250)
    both = client.get(f"/api/v1/buildings?bbox={w},{s},{e},{n}&limit=1", headers=token).get_json()
    assert (both["numberMatched"], both["numberReturned"]) == (2, 1)
    assert both["links"][0]["rel"] == "next"
    schools = client.get(f"/api/v1/buildings?bbox={w},{s},{e},{n}&use=学校", headers=token).get_json()
    assert [f["id"] for f in schools["features"]] == [b]
    assert_problem(client.get(f"/api/v1/buildings?bbox={w},{s},{e},{n}&limit=5001", headers=token), 400, "limit")
    assert_problem(client.get("/api/v1/buildings?bbox=1,2,3", headers=token), 400, "bbox")
    assert_problem(client.get("/api/v1/buildings?bbox=73,18,135,53", headers=token), 400, "bbox")
    assert_problem(client.get(f"/api/v1/buildings?bbox={e},{s},{w},{n}", headers=token), 400, "bbox")
    assert_problem(client.get(f"/api/v1/buildings?bbox={w},{s},{e},{n}&use=castle", headers=token), 400, "use")


def test_bbox_in_gcj02_is_shifted_before_the_query(client, env, settings):
    from gis.crs import wgs84_to_gcj02

    bid = created(client, env, settings, square(settings, 40, 140, 60, 160))["id"]
    lon, lat = lonlat(settings, 50, 150)
    glon, glat = wgs84_to_gcj02(lon, lat)  # ~ 500 m away from the WGS84 point
    d = 0.0001  # about 10 m
    box_ = f"{glon - d},{glat - d},{glon + d},{glat + d}"
    token = env["tokens"]["leader"]
    shifted = client.get(f"/api/v1/buildings?bbox={box_}&bbox-crs=gcj02", headers=token).get_json()
    assert [f["id"] for f in shifted["features"]] == [bid]
    plain = client.get(f"/api/v1/buildings?bbox={box_}", headers=token).get_json()
    assert plain["features"] == []


def test_patch_merges_checks_again_and_audits(client, env, settings, db_session):
    bid = created(client, env, settings, square(settings, 10, 110, 50, 150), floors=5, use="office")["id"]
    token = env["tokens"]["admin"]
    resp = client.patch(f"/api/v1/buildings/{bid}", json={"properties": {"name": "新名字", "floors": 6},
                                                          "type": "Feature", "geometry": None},
                        headers=token)
    assert resp.status_code == 200, resp.get_json()
    props = resp.get_json()["properties"]
    assert (props["name"], props["floors"], props["use"]) == ("新名字", 6, "office")
    assert_problem(client.patch(f"/api/v1/buildings/{bid}", json={"floors": -3}, headers=token), 400, "floors")
    moved = client.patch(f"/api/v1/buildings/{bid}",
                         json={"geometry": geojson(settings, square(settings, 210, 110, 250, 150))}, headers=token)
    assert moved.get_json()["properties"]["cell_code"].endswith("002001")
    assert moved.get_json()["properties"]["floors"] == 6
    assert_problem(client.patch("/api/v1/buildings/999999", json={"floors": 1}, headers=token), 404)
    actions = db_session.scalars(sa.text(
        "SELECT action FROM audit_log WHERE entity = 'building' AND entity_id = :id ORDER BY id"),
        {"id": str(bid)}).all()
    assert actions == ["building.create", "building.update", "building.update"]


def test_detail_lists_cases_on_the_footprint_cameras_that_see_it_and_its_components(client, env, settings,
                                                                                     db_session):
    bid = created(client, env, settings, square(settings, 30, 130, 70, 170), name="监控大楼")["id"]
    # Cameras: 25 m south looking north (sees it), the same spot looking south (does not),
    # one inside looking away (stands in it), one 300 m away looking at it but out of range.
    seeing = add_camera(db_session, settings, "41019900001320000001", 50, 105, 0.0, stream_url="rtsp://10.0.0.1/live")
    add_camera(db_session, settings, "41019900001320000002", 50, 105, 180.0)
    inside = add_camera(db_session, settings, "41019900001320000003", 50, 150, 180.0, range_m=20)
    add_camera(db_session, settings, "41019900001320000004", 50, -150, 0.0, range_m=100)
    db_session.commit()
    # Cases: one on the footprint, one 20 m outside it.
    tok = env["tokens"]["inspector"]
    on, off = (client.post("/api/v1/cases", headers=tok, json={
        "lon": lonlat(settings, *p)[0], "lat": lonlat(settings, *p)[1], "category": "E06010",
        "description": "楼前垃圾"}).get_json()["case"]["id"] for p in ((50, 150), (50, 190)))
    # A component inside the building is linked to it.
    comp = client.post("/api/v1/components", headers=env["tokens"]["admin"], json={
        "type": "Feature", "geometry": geojson(settings, square(settings, 40, 140, 40, 140).centroid),
        "properties": {"category": "C01013", "name": "室内消火栓"}}).get_json()
    assert comp["properties"]["building_id"] == bid

    detail = client.get(f"/api/v1/buildings/{bid}", headers=env["tokens"]["leader"]).get_json()
    assert [c["id"] for c in detail["cases"]["items"]] == [on]
    assert detail["cases"]["total"] == 1 and off != on
    assert detail["cases"]["items"][0]["page"] == f"/cases/{on}"
    assert {c["id"]: c["inside"] for c in detail["cameras"]} == {seeing: False, inside: True}
    assert [c["stream_url"] for c in detail["cameras"] if c["id"] == seeing] == ["rtsp://10.0.0.1/live"]
    assert [k["id"] for k in detail["components"]] == [comp["id"]]
    assert detail["links"][0]["href"] == f"/buildings/{bid}"


def test_a_department_sees_only_its_own_cases_of_a_building(client, env, settings, db_session):
    bid = created(client, env, settings, square(settings, 30, 130, 70, 170))["id"]
    lon, lat = lonlat(settings, 50, 150)
    client.post("/api/v1/cases", headers=env["tokens"]["inspector"],
                json={"lon": lon, "lat": lat, "category": "E06010", "description": "垃圾"})
    leader = client.get(f"/api/v1/buildings/{bid}", headers=env["tokens"]["leader"]).get_json()
    department = client.get(f"/api/v1/buildings/{bid}", headers=env["tokens"]["department"]).get_json()
    assert (leader["cases"]["total"], department["cases"]["total"]) == (1, 0)


def test_components_follow_footprints_as_buildings_come_and_go(client, env, settings, db_session):
    admin = env["tokens"]["admin"]
    comp = client.post("/api/v1/components", headers=admin, json={
        "geometry": geojson(settings, square(settings, 50, 150, 50, 150).centroid), "category": "C01013"}).get_json()
    assert comp["properties"]["building_id"] is None
    bid = created(client, env, settings, square(settings, 30, 130, 70, 170))["id"]

    def link():
        return db_session.scalar(sa.text("SELECT building_id FROM components WHERE id = :id"), {"id": comp["id"]})

    assert link() == bid
    client.patch(f"/api/v1/buildings/{bid}", headers=admin,
                 json={"geometry": geojson(settings, square(settings, 130, 130, 170, 170))})
    assert link() is None
    client.patch(f"/api/v1/buildings/{bid}", headers=admin,
                 json={"geometry": geojson(settings, square(settings, 30, 130, 70, 170))})
    assert link() == bid
    assert client.delete(f"/api/v1/buildings/{bid}", headers=admin).status_code == 204
    assert link() is None
    assert_problem(client.get(f"/api/v1/buildings/{bid}", headers=admin), 404)
    assert_problem(client.delete(f"/api/v1/buildings/{bid}", headers=admin), 404)


def test_a_new_building_cuts_the_view_of_an_occluded_camera_behind_it(client, env, settings, db_session):
    cam = add_camera(db_session, settings, "41019900001320000009", 50, 105, 0.0, range_m=90, occluded=True)
    db_session.commit()

    def fov_area():
        return db_session.scalar(sa.text("SELECT ST_Area(fov) FROM cameras WHERE id = :id"), {"id": cam})

    full = fov_area()
    created(client, env, settings, square(settings, 35, 130, 65, 150))
    assert fov_area() < 0.8 * full


# -- file import and export ---------------------------------------------------------------------


def write_file(path, settings, rows):
    frame = gpd.GeoDataFrame([r[0] for r in rows], geometry=[r[1] for r in rows], crs=f"EPSG:{settings.storage_srid}")
    frame.to_file(path, driver="GPKG")
    return path


def test_import_with_one_bad_row_writes_nothing_and_names_row_and_field(env, settings, db_session, tmp_path):
    path = write_file(tmp_path / "b.gpkg", settings, [
        ({"code": "ZD-1", "name": "一号楼", "floors": 10, "jzyt": "办公"}, square(settings, 10, 110, 30, 130)),
        ({"code": "ZD-2", "name": "二号楼", "floors": -2, "jzyt": "住宅"}, square(settings, 40, 110, 60, 130)),
        ({"code": "ZD-3", "name": "三号楼", "floors": 3, "jzyt": "城堡"}, square(settings, 70, 110, 90, 130)),
    ])
    before = count(db_session, "buildings")
    with pytest.raises(ImportRefused) as err:
        import_layer(db_session, SYSTEM, "buildings", path, settings)
    problems = {(r.row, r.field) for r in err.value.rows}
    assert problems == {(2, "floors"), (3, "use")}
    assert count(db_session, "buildings") == before


def test_append_refuses_existing_codes_and_upsert_updates_them(env, settings, db_session, tmp_path):
    rows = [({"code": "ZD-1", "name": "一号楼", "use": "office"}, square(settings, 10, 110, 30, 130))]
    import_layer(db_session, SYSTEM, "buildings", write_file(tmp_path / "a.gpkg", settings, rows), settings)
    rows = [({"code": "ZD-1", "name": "一号楼(改)", "use": "office"}, square(settings, 10, 110, 30, 130)),
            ({"code": "ZD-2", "name": "二号楼", "use": "other"}, square(settings, 40, 110, 60, 130))]
    path = write_file(tmp_path / "b.gpkg", settings, rows)
    with pytest.raises(ImportRefused) as err:
        import_layer(db_session, SYSTEM, "buildings", path, settings)
    assert err.value.rows[0].field == "code"
    assert count(db_session, "buildings") == 1
    result = import_layer(db_session, SYSTEM, "buildings", path, settings, mode="upsert")
    assert (result.inserted, result.updated) == (1, 1)
    assert db_session.scalar(sa.text("SELECT name FROM buildings WHERE code = 'ZD-1'")) == "一号楼(改)"


@pytest.mark.parametrize("suffix", [".gpkg", ".shp", ".geojson"])
def test_export_import_round_trip(env, settings, db_session, tmp_path, suffix):
    rows = [
        ({"code": "ZD-1", "name": "一号楼", "floors": 10, "underground_floors": 2, "height_m": 33.0,
          "gross_floor_area_m2": 12000.0, "use": "office", "build_year": 2012, "address": "测试路1号"},
         square(settings, 10, 110, 30, 130)),
        ({"code": "ZD-2", "name": "二号楼", "use": "mixed"},
         MultiPolygon([square(settings, 40, 110, 60, 130), square(settings, 210, 10, 230, 30)])),
    ]
    import_layer(db_session, SYSTEM, "buildings", write_file(tmp_path / "in.gpkg", settings, rows), settings)
    first = tmp_path / f"out1{suffix}"
    assert export_layer(db_session, "buildings", first, settings) == 2
    before = db_session.execute(sa.text(
        "SELECT code, name, address, floors, underground_floors, height_m, gross_floor_area_m2, use, build_year, "
        "cell_code, round(ST_Area(geom)) FROM buildings ORDER BY code")).all()
    db_session.execute(sa.text("DELETE FROM buildings"))
    result = import_layer(db_session, SYSTEM, "buildings", first, settings)
    assert result.inserted == 2 and not result.unmapped_columns
    after = db_session.execute(sa.text(
        "SELECT code, name, address, floors, underground_floors, height_m, gross_floor_area_m2, use, build_year, "
        "cell_code, round(ST_Area(geom)) FROM buildings ORDER BY code")).all()
    assert after == before


# -- geometries that GEOS cannot even build (issue 9, point 13) --------------------------------


def _ring(settings, footprint, close: bool = True) -> list[list[float]]:
    ring = geojson(settings, footprint)["coordinates"][0]
    return ring if close else ring[:-1]


def test_import_of_an_unclosed_ring_names_the_row_and_writes_nothing(env, settings, db_session, tmp_path):
    features = [{"type": "Feature", "properties": {"code": f"ZD-{i}", "name": f"{i}号楼"},
                 "geometry": {"type": "Polygon", "coordinates": [_ring(settings, square(settings, x, 110, x + 20, 130),
                                                                      close=i != 2)]}}
                for i, x in ((1, 10), (2, 40), (3, 70))]
    path = tmp_path / "unclosed.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    before = count(db_session, "buildings")
    with pytest.raises(ImportRefused) as err:
        import_layer(db_session, SYSTEM, "buildings", path, settings)
    assert [(r.row, r.field) for r in err.value.rows] == [(2, "geometry")]
    assert "closed" in err.value.rows[0].message
    assert count(db_session, "buildings") == before


def test_api_refuses_an_unclosed_ring_naming_geometry(client, env, settings, db_session):
    body = {"type": "Feature", "properties": {"name": "开口楼"},
            "geometry": {"type": "Polygon", "coordinates": [_ring(settings, square(settings, 10, 110, 30, 130),
                                                                  close=False)]}}
    before = count(db_session, "buildings")
    problem = assert_problem(client.post("/api/v1/buildings", json=body, headers=env["tokens"]["admin"]),
                             400, "geometry")
    assert "not closed" in problem["detail"]
    assert count(db_session, "buildings") == before
