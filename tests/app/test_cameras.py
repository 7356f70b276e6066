"""Video access points against PostGIS: the API, field-of-view answers worked out by hand,
occlusion by buildings, import/export and video-sourced cases.

Positions are storage-CRS metres from the test grid's south-west corner (x0, y0); the grid is
300 m × 200 m. Azimuths are clockwise from north, so 90° looks east (+x).
"""

from __future__ import annotations

import json
import math

import geopandas as gpd
import pytest
import sqlalchemy as sa
from geoalchemy2.shape import to_shape
from shapely.geometry import Point, box

from app.models import Camera
from app.services import cameras as camera_service
from app.services.audit import SYSTEM
from app.services.categories import load_categories
from app.services.layer_io import ImportRefused, export_layer, import_layer
from app.services.workcal import seed_calendar
from gis.crs import from_wgs84
from grid.deviceid import format_device_id
from tests.app.conftest import assert_problem, count, lonlat_of, origin_xy, token_for

CATEGORY = "E06010"  # 暴露垃圾


def dev(n: int) -> str:
    return format_device_id("410199", n)


@pytest.fixture
def env(grid, client, settings):
    """The six-cell grid, role tokens and a helper placing points by offset from the grid corner."""
    x0, y0 = origin_xy(settings)
    tokens = {role: token_for(client, f"t_{role}") for role in ("inspector", "operator", "leader", "admin")}

    def at(dx, dy):
        return x0 + dx, y0 + dy

    return {"tokens": tokens, "at": at, "x0": x0, "y0": y0}


def body(settings, xy, n=1, **fields):
    lon, lat = lonlat_of(settings, *xy)
    return {"device_id": dev(n), "name": f"测试摄像机{n}", "lon": lon, "lat": lat, "azimuth_deg": 90,
            "hfov_deg": 60, "range_m": 100, "ptz_type": 3, "height_m": 8,
            "stream_url": f"https://video.example.invalid/live/{dev(n)}.m3u8", **fields}


def post(client, env, settings, xy, n=1, role="admin", **fields):
    return client.post("/api/v1/cameras", json=body(settings, xy, n, **fields), headers=env["tokens"][role])


def add(client, env, settings, xy, n=1, **fields) -> dict:
    resp = post(client, env, settings, xy, n, **fields)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def seeing(client, env, settings, xy, **extra) -> list[dict]:
    lon, lat = lonlat_of(settings, *xy)
    resp = client.get("/api/v1/cameras/seeing", query_string={"lon": lon, "lat": lat, **extra},
                      headers=env["tokens"]["inspector"])
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["cameras"]


def seen_by(client, env, settings, xy) -> list[str]:
    return [c["device_id"] for c in seeing(client, env, settings, xy)]


def add_building(db_session, settings, geom, code="B-T1"):
    db_session.execute(sa.text(
        "INSERT INTO buildings (code, district_code, name, use, underground_floors, geom) "
        "VALUES (:code, :d, '测试楼', 'other', 0, ST_Multi(ST_GeomFromText(:wkt, :srid)))"),
        {"code": code, "d": settings.district_code, "wkt": geom.wkt, "srid": settings.storage_srid})


def audit_rows(db_session, action):
    return db_session.execute(sa.text(
        "SELECT entity, entity_id, actor, detail FROM audit_log WHERE action = :a ORDER BY id"), {"a": action}).all()


# -- which cameras see a point --------------------------------------------------------------------


def test_a_camera_looking_east_sees_what_lies_east_within_range(client, env, settings):
    # At (50, 100) looking east with a 60° FOV and 100 m range.
    add(client, env, settings, env["at"](50, 100))
    assert seen_by(client, env, settings, env["at"](100, 100)) == [dev(1)]   # 50 m east
    assert seen_by(client, env, settings, env["at"](0, 100)) == []           # 50 m west
    assert seen_by(client, env, settings, env["at"](200, 100)) == []         # 150 m east
    # 29° off the axis at 80 m is inside the 60° sector, 31° off is not.
    for off, seen in ((29, True), (31, False)):
        b = math.radians(90 - off)
        point = env["at"](50 + 80 * math.sin(b), 100 + 80 * math.cos(b))
        assert seen_by(client, env, settings, point) == ([dev(1)] if seen else []), off
    found = seeing(client, env, settings, env["at"](100, 100))[0]
    assert found["distance_m"] == 50.0
    assert found["bearing_deg"] == 90.0
    assert found["stream_url"] == f"https://video.example.invalid/live/{dev(1)}.m3u8"
    assert found["status"] == "online" and found["name"] == "测试摄像机1"


def test_seeing_is_nearest_first_and_leaves_out_retired_cameras(client, env, settings):
    target = env["at"](200, 100)
    add(client, env, settings, env["at"](200, 130), 1, hfov_deg=360, azimuth_deg=None, range_m=50)  # dome, 30 m
    add(client, env, settings, env["at"](150, 100), 2)            # 50 m west, looking east
    add(client, env, settings, env["at"](120, 100), 3)            # 80 m west, looking east
    add(client, env, settings, env["at"](190, 100), 4, status="retired")   # 10 m, retired
    add(client, env, settings, env["at"](210, 100), 5)            # 10 m east, looking away
    found = seeing(client, env, settings, target)
    assert [(c["device_id"], c["distance_m"], c["bearing_deg"]) for c in found] == [
        (dev(1), 30.0, 180.0), (dev(2), 50.0, 90.0), (dev(3), 80.0, 90.0)]
    assert [c["device_id"] for c in seeing(client, env, settings, target, limit=2)] == [dev(1), dev(2)]


def test_seeing_takes_gcj02_points(client, env, settings):
    add(client, env, settings, env["at"](50, 100))
    lon, lat = lonlat_of(settings, *env["at"](100, 100))
    glon, glat = from_wgs84(lon, lat, "gcj02")
    assert abs(glon - lon) > 1e-4  # the offset is real (hundreds of metres)
    resp = client.get("/api/v1/cameras/seeing", query_string={"lon": glon, "lat": glat, "crs": "gcj02"},
                      headers=env["tokens"]["leader"])
    assert [c["device_id"] for c in resp.get_json()["cameras"]] == [dev(1)]
    raw = client.get("/api/v1/cameras/seeing", query_string={"lon": glon, "lat": glat},
                     headers=env["tokens"]["leader"])
    assert raw.get_json()["cameras"] == []


@pytest.mark.parametrize("query, field", [
    ({"lat": 34.77}, "lon"), ({"lon": 113.78, "lat": 95}, "lat"), ({"lon": 113.78, "lat": 34.77, "crs": "mars"}, "crs"),
    ({"lon": 113.78, "lat": 34.77, "limit": 101}, "limit"),
])
def test_seeing_bad_queries(client, env, query, field):
    assert_problem(client.get("/api/v1/cameras/seeing", query_string=query, headers=env["tokens"]["inspector"]),
                   400, field=field)


# -- occlusion ------------------------------------------------------------------------------------

WALL = box(70, 95, 80, 105)  # a 10 m × 10 m block 20 m east of the camera, across its axis
BEHIND, FRONT = (100, 100), (60, 100)
# 60 m away at bearing 65°: inside the 60° FOV (60°–120°) but outside the block's shadow
# (the block subtends atan(5/20) = 14° either side of east at its near face).
SIDE = (50 + 60 * math.sin(math.radians(65)), 100 + 60 * math.cos(math.radians(65)))


def _wall(env):
    return box(*env["at"](70, 95), *env["at"](80, 105))


def test_an_occluded_camera_does_not_see_behind_a_building(client, env, settings, db_session):
    add_building(db_session, settings, _wall(env))
    add(client, env, settings, env["at"](50, 100), 1, occluded=True)
    add(client, env, settings, env["at"](50, 100.5), 2, occluded=False)  # same view, no occlusion
    assert seen_by(client, env, settings, env["at"](*BEHIND)) == [dev(2)]
    assert seen_by(client, env, settings, env["at"](*FRONT)) == [dev(1), dev(2)]
    assert set(seen_by(client, env, settings, env["at"](*SIDE))) == {dev(1), dev(2)}


def test_building_changes_redraw_occluded_views(client, env, settings, db_session):
    cam = add(client, env, settings, env["at"](50, 100), 1, occluded=True)
    assert seen_by(client, env, settings, env["at"](*BEHIND)) == [dev(1)]
    add_building(db_session, settings, _wall(env))
    far = box(*env["at"](250, 150), *env["at"](260, 160))  # out of every camera's reach
    assert camera_service.recompute_occluded_near(db_session, settings, [far]) == 0
    assert camera_service.recompute_occluded_near(db_session, settings, [_wall(env)]) == 1
    assert seen_by(client, env, settings, env["at"](*BEHIND)) == []
    db_session.execute(sa.text("DELETE FROM buildings"))
    assert camera_service.recompute_occluded_near(db_session, settings, [_wall(env)]) == 1
    assert seen_by(client, env, settings, env["at"](*BEHIND)) == [dev(1)]
    # Turning occlusion off and on again through the API follows the buildings present.
    add_building(db_session, settings, _wall(env))
    patch = client.patch(f"/api/v1/cameras/{cam['id']}", json={"occluded": False}, headers=env["tokens"]["admin"])
    assert patch.status_code == 200
    assert seen_by(client, env, settings, env["at"](*BEHIND)) == [dev(1)]
    client.patch(f"/api/v1/cameras/{cam['id']}", json={"occluded": True}, headers=env["tokens"]["admin"])
    assert seen_by(client, env, settings, env["at"](*BEHIND)) == []


# -- CRUD, roles, audit ---------------------------------------------------------------------------


def test_create_read_update_delete_with_roles_and_audit(client, env, settings, db_session):
    assert_problem(post(client, env, settings, env["at"](50, 150), role="operator"), 403)
    # Without credentials a write is refused (CSRF first, as for every cookie-less form post).
    assert client.post("/api/v1/cameras", json=body(settings, env["at"](50, 150))).status_code in (400, 401)
    assert count(db_session, "cameras") == 0

    resp = post(client, env, settings, env["at"](50, 150))
    assert resp.status_code == 201
    assert resp.mimetype == "application/geo+json"
    feature = resp.get_json()
    cid = feature["id"]
    assert isinstance(cid, int) and resp.headers["Location"].endswith(f"/api/v1/cameras/{cid}")
    props = feature["properties"]
    assert props["cell_code"] == settings.district_code + "001001001"  # the north-west cell
    assert props["district_code"] == settings.district_code
    assert props["status"] == "online" and props["occluded"] is False
    assert feature["geometry"]["type"] == "Point"
    lon, lat = lonlat_of(settings, *env["at"](50, 150))
    assert feature["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-7)
    assert props["fov"]["type"] == "Polygon"
    ring = props["fov"]["coordinates"][0]
    assert ring[0] == pytest.approx([lon, lat], abs=1e-7)  # the sector's apex is the camera
    assert max(p[0] for p in ring) > lon + 0.0009  # reaches ~100 m (≈0.0011°) east
    assert audit_rows(db_session, "camera.create")[0][:3] == ("camera", str(cid), "t_admin")

    for role in ("inspector", "operator", "leader"):
        got = client.get(f"/api/v1/cameras/{cid}", headers=env["tokens"][role])
        assert got.status_code == 200 and got.get_json()["properties"]["device_id"] == dev(1)
    assert_problem(client.get("/api/v1/cameras/999999", headers=env["tokens"]["inspector"]), 404)

    assert_problem(client.patch(f"/api/v1/cameras/{cid}", json={"name": "x"},
                                headers=env["tokens"]["operator"]), 403)
    resp = client.patch(f"/api/v1/cameras/{cid}", json={"name": "东风路口东向", "status": "fault"},
                        headers=env["tokens"]["admin"])
    assert resp.status_code == 200
    assert resp.get_json()["properties"]["name"] == "东风路口东向"
    entity, entity_id, _actor, detail = audit_rows(db_session, "camera.update")[0]
    assert detail["changes"] == {"name": ["测试摄像机1", "东风路口东向"], "status": ["online", "fault"]}

    assert_problem(client.delete(f"/api/v1/cameras/{cid}", headers=env["tokens"]["inspector"]), 403)
    assert client.delete(f"/api/v1/cameras/{cid}", headers=env["tokens"]["admin"]).status_code == 204
    assert_problem(client.get(f"/api/v1/cameras/{cid}", headers=env["tokens"]["admin"]), 404)
    assert audit_rows(db_session, "camera.delete")[0][3]["device_id"] == dev(1)
    assert_problem(client.delete(f"/api/v1/cameras/{cid}", headers=env["tokens"]["admin"]), 404)


def test_patch_recomputes_the_fov(client, env, settings, db_session):
    cam = add(client, env, settings, env["at"](150, 100))
    east, west = env["at"](200, 100), env["at"](100, 100)
    assert (seen_by(client, env, settings, east), seen_by(client, env, settings, west)) == ([dev(1)], [])
    resp = client.patch(f"/api/v1/cameras/{cam['id']}", json={"azimuth_deg": 270}, headers=env["tokens"]["admin"])
    assert resp.status_code == 200
    assert (seen_by(client, env, settings, east), seen_by(client, env, settings, west)) == ([], [dev(1)])
    assert resp.get_json()["properties"]["fov"] != cam["properties"]["fov"]
    # Narrower range: the west point (50 m) drops out at 40 m.
    client.patch(f"/api/v1/cameras/{cam['id']}", json={"range_m": 40}, headers=env["tokens"]["admin"])
    assert seen_by(client, env, settings, west) == []
    # Moving the camera moves its view and its cell.
    lon, lat = lonlat_of(settings, *env["at"](150, 50))
    resp = client.patch(f"/api/v1/cameras/{cam['id']}", json={"lon": lon, "lat": lat, "range_m": 100},
                        headers=env["tokens"]["admin"])
    assert resp.get_json()["properties"]["cell_code"] == settings.district_code + "001001004"
    assert seen_by(client, env, settings, env["at"](100, 50)) == [dev(1)]
    assert seen_by(client, env, settings, west) == []
    stored = db_session.scalar(sa.select(Camera).where(Camera.id == cam["id"]))
    fov = to_shape(stored.fov)
    assert fov.equals_exact(camera_service.field_of_view(db_session, settings.storage_srid, *env["at"](150, 50),
                                                         270, 60, 100, False), 1e-6)
    changes = [r[3]["changes"] for r in audit_rows(db_session, "camera.update")]
    assert changes[0] == {"azimuth_deg": [90.0, 270.0]}
    assert set(changes[-1]) == {"range_m", "geometry"}


def test_a_feature_body_round_trips(client, env, settings):
    cam = add(client, env, settings, env["at"](50, 50))
    feature = client.get(f"/api/v1/cameras/{cam['id']}", headers=env["tokens"]["admin"]).get_json()
    feature["properties"]["name"] = "改名"
    resp = client.patch(f"/api/v1/cameras/{cam['id']}", json=feature, headers=env["tokens"]["admin"])
    assert resp.status_code == 200
    assert resp.get_json()["properties"]["name"] == "改名"
    assert resp.get_json()["geometry"] == feature["geometry"]
    new = {"type": "Feature", "geometry": feature["geometry"],
           "properties": {**feature["properties"], "device_id": dev(2)}}
    resp = client.post("/api/v1/cameras", json=new, headers=env["tokens"]["admin"])
    assert resp.status_code == 201, resp.get_json()
    # A flat body may carry the point as a GeoJSON geometry, here in GCJ-02.
    lon, lat = feature["geometry"]["coordinates"]
    glon, glat = from_wgs84(lon, lat, "gcj02")
    flat = {**{k: v for k, v in feature["properties"].items() if k in camera_service.FIELD_NAMES},
            "device_id": dev(3), "geometry": {"type": "Point", "coordinates": [glon, glat]}, "crs": "gcj02"}
    resp = client.post("/api/v1/cameras", json=flat, headers=env["tokens"]["admin"])
    assert resp.status_code == 201, resp.get_json()
    assert resp.get_json()["geometry"]["coordinates"] == pytest.approx([lon, lat], abs=1e-6)
    assert_problem(client.post("/api/v1/cameras", json={**new, "geometry": {"type": "LineString",
                                                                            "coordinates": [[113.78, 34.77], [113.781, 34.771]]}},
                               headers=env["tokens"]["admin"]), 400, field="geometry")


@pytest.mark.parametrize("fields, field, says", [
    ({"device_id": "41019900081996000001"}, "device_id", "type code 199 (positions 11–13)"),
    ({"device_id": "4101990008132600001"}, "device_id", "19 characters"),
    ({"device_id": "41019900991326000001"}, "device_id", "industry code 99"),
    ({"device_id": None}, "device_id", "required"),
    ({"azimuth_deg": 361}, "azimuth_deg", "at most 360"),
    ({"azimuth_deg": -1}, "azimuth_deg", "at least 0"),
    ({"azimuth_deg": None}, "azimuth_deg", "required"),
    ({"hfov_deg": 0}, "hfov_deg", "greater than 0"),
    ({"hfov_deg": 361}, "hfov_deg", "at most 360"),
    ({"range_m": -5}, "range_m", "greater than 0"),
    ({"range_m": 0}, "range_m", "greater than 0"),
    ({"range_m": 501}, "range_m", "at most 500"),
    ({"range_m": "far"}, "range_m", "expected a number"),
    ({"height_m": -1}, "height_m", "at least 0"),
    ({"ptz_type": 8}, "ptz_type", "at most 7"),
    ({"ptz_type": 1.5}, "ptz_type", "whole number"),
    ({"status": "broken"}, "status", "not one of"),
    ({"stream_url": "javascript:alert(1)"}, "stream_url", "scheme"),
    ({"stream_url": "ftp://nvr.example.invalid/a"}, "stream_url", "scheme"),
    ({"stream_url": "https://"}, "stream_url", "no host"),
    ({"stream_url": "https://a b"}, "stream_url", "spaces"),
    ({"occluded": "maybe"}, "occluded", "true or false"),
    ({"name": ""}, "name", "required"),
    ({"name": "x" * 201}, "name", "longer than 200"),
    ({"lon": 113.5, "lat": 34.5}, "lon", "outside every unit grid cell"),
    ({"lon": "east"}, "lon", "number"),
    ({"crs": "mars"}, "crs", "unknown CRS"),
    ({"colour": "red"}, "colour", "unknown field"),
])
def test_bad_input_names_the_field_and_writes_nothing(client, env, settings, db_session, fields, field, says):
    audits = count(db_session, "audit_log")
    problem = assert_problem(client.post("/api/v1/cameras", json=body(settings, env["at"](50, 150), **fields),
                                         headers=env["tokens"]["admin"]), 400, field=field)
    assert says in problem["detail"]
    assert count(db_session, "cameras") == 0
    assert count(db_session, "audit_log") == audits


def test_duplicate_device_ids_and_bad_patches_write_nothing(client, env, settings, db_session):
    first = add(client, env, settings, env["at"](50, 150), 1)
    second = add(client, env, settings, env["at"](150, 150), 2)
    problem = assert_problem(post(client, env, settings, env["at"](250, 150), 1), 400, field="device_id")
    assert f"already used by camera {first['id']}" in problem["detail"]
    assert count(db_session, "cameras") == 2
    audits = count(db_session, "audit_log")
    for change, field in (({"device_id": dev(1)}, "device_id"), ({"azimuth_deg": 361}, "azimuth_deg"),
                          ({"lon": 113.5, "lat": 34.5}, "lon"), ({"lon": 113.78}, "lat"),
                          ({"fov": "x"}, "fov")):
        assert_problem(client.patch(f"/api/v1/cameras/{second['id']}", json=change,
                                    headers=env["tokens"]["admin"]), 400, field=field)
    after = client.get(f"/api/v1/cameras/{second['id']}", headers=env["tokens"]["admin"]).get_json()
    assert after == second
    assert count(db_session, "audit_log") == audits
    assert_problem(client.post("/api/v1/cameras", data="{not json", content_type="application/json",
                               headers=env["tokens"]["admin"]), 400, field="body")
    big = body(settings, env["at"](50, 50), 3, address="x" * 70_000)
    assert_problem(client.post("/api/v1/cameras", json=big, headers=env["tokens"]["admin"]), 413)


# -- the layer by bbox ------------------------------------------------------------------------------


def test_list_by_bbox(client, env, settings):
    ids = [add(client, env, settings, env["at"](dx, 150), n)["id"] for n, dx in ((1, 50), (2, 150), (3, 250))]
    add(client, env, settings, env["at"](250, 50), 4, status="retired")
    w, s = lonlat_of(settings, *env["at"](0, 100))
    e, n = lonlat_of(settings, *env["at"](200, 200))
    resp = client.get("/api/v1/cameras", query_string={"bbox": f"{w},{s},{e},{n}"}, headers=env["tokens"]["inspector"])
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    fc = resp.get_json()
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == ids[:2]
    assert (fc["numberMatched"], fc["numberReturned"]) == (2, 2)
    assert fc["features"][0]["properties"]["fov"]["type"] == "Polygon"
    whole = _whole(settings, env)
    fc = client.get("/api/v1/cameras", query_string={"bbox": whole, "limit": 2},
                    headers=env["tokens"]["inspector"]).get_json()
    assert (fc["numberMatched"], fc["numberReturned"]) == (4, 2)
    assert fc["links"][0]["rel"] == "next"
    nxt = client.get(fc["links"][0]["href"], headers=env["tokens"]["inspector"]).get_json()
    assert [f["properties"]["device_id"] for f in nxt["features"]] == [dev(3), dev(4)]
    fc = client.get("/api/v1/cameras", query_string={"bbox": whole, "status": "online,fault"},
                    headers=env["tokens"]["inspector"]).get_json()
    assert fc["numberMatched"] == 3
    # A bbox given in GCJ-02 finds the same cameras.
    (gw, gs), (ge, gn) = from_wgs84(w, s, "gcj02"), from_wgs84(e, n, "gcj02")
    fc = client.get("/api/v1/cameras", query_string={"bbox": f"{gw},{gs},{ge},{gn}", "bbox-crs": "gcj02"},
                    headers=env["tokens"]["inspector"]).get_json()
    assert [f["id"] for f in fc["features"]] == ids[:2]


def _whole(settings, env) -> str:
    """The test district's extent as a bbox."""
    w, s = lonlat_of(settings, *env["at"](0, 0))
    e, n = lonlat_of(settings, *env["at"](300, 200))
    return f"{w},{s},{e},{n}"


@pytest.mark.parametrize("query, field", [
    ({}, "bbox"),
    ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "113.8,34.77,113.7,34.78"}, "bbox"),
    ({"bbox": "a,b,c,d"}, "bbox"),
    ({"bbox": "113.5,34.5,114.0,35.0"}, "bbox"),  # far larger than any district view
    ({"bbox": "WHOLE", "limit": 5001}, "limit"),
    ({"bbox": "WHOLE", "limit": 0}, "limit"),
    ({"bbox": "WHOLE", "status": "lost"}, "status"),
    ({"bbox": "WHOLE", "bbox-crs": "EPSG:3857"}, "bbox-crs"),
])
def test_list_bad_queries(client, env, settings, query, field):
    query = {k: _whole(settings, env) if v == "WHOLE" else v for k, v in query.items()}
    assert_problem(client.get("/api/v1/cameras", query_string=query, headers=env["tokens"]["inspector"]),
                   400, field=field)


def test_list_needs_sign_in(client, env, settings):
    assert_problem(client.get("/api/v1/cameras", query_string={"bbox": _whole(settings, env)}), 401)


# -- import / export ----------------------------------------------------------------------------


def _feature(settings, xy, n, **props):
    lon, lat = lonlat_of(settings, *xy)
    return {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon, lat]},
            "properties": {"device_id": dev(n), "name": f"导入{n}", "azimuth_deg": 90, "hfov_deg": 60,
                           "range_m": 100, **props}}


def _refused(db_session, settings, path, **kw) -> list[tuple]:
    with pytest.raises(ImportRefused) as err:
        import_layer(db_session, SYSTEM, "cameras", path, settings, **kw)
    return [(r.row, r.field) for r in err.value.rows]


def test_import_geojson_refuses_a_file_with_a_bad_row(env, settings, db_session, tmp_path):
    path = tmp_path / "cams.geojson"
    features = [_feature(settings, env["at"](50, 150), 1), _feature(settings, env["at"](150, 150), 2, azimuth_deg=361),
                _feature(settings, env["at"](250, 150), 3, hfov_deg=0)]
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    assert _refused(db_session, settings, path) == [(2, "azimuth_deg"), (3, "hfov_deg")]
    assert count(db_session, "cameras") == 0
    features[1]["properties"]["azimuth_deg"] = 180
    features[2]["properties"]["hfov_deg"] = 360
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    result = import_layer(db_session, SYSTEM, "cameras", path, settings)
    assert (result.inserted, result.updated) == (3, 0)
    assert count(db_session, "cameras") == 3
    assert db_session.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = 'import' AND entity = 'cameras'")) == 1
    # The imported cameras answer "who sees this point" like API-made ones.
    cells = dict(db_session.execute(sa.text("SELECT device_id, cell_code FROM cameras")).all())
    assert cells[dev(3)] == settings.district_code + "001002001"
    found = camera_service.cameras_seeing(db_session, settings, *env["at"](100, 150))
    assert [c["device_id"] for c in found] == [dev(1)]


def test_import_csv_with_the_standard_column_names(env, settings, db_session, tmp_path):
    rows = [("DeviceID", "Name", "Longitude", "Latitude", "PTZType", "Direction", "FOV", "Range", "Status")]
    for n, dx in ((1, 50), (2, 150)):
        lon, lat = lonlat_of(settings, *env["at"](dx, 50))
        rows.append((dev(n), f"路口{n}", f"{lon:.9f}", f"{lat:.9f}", "1", "45", "90", "120", "ON"))
    lon, lat = lonlat_of(settings, *env["at"](250, 50))
    rows.append(("4101990008132600000X", "坏编码", f"{lon:.9f}", f"{lat:.9f}", "9", "45", "90", "120", "OFF"))
    path = tmp_path / "cams.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    assert _refused(db_session, settings, path) == [(3, "device_id")]
    rows[3] = (dev(3),) + rows[3][1:4] + ("3",) + rows[3][5:]
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    import_layer(db_session, SYSTEM, "cameras", path, settings)
    got = {c.device_id: c for c in db_session.scalars(sa.select(Camera))}
    assert (got[dev(1)].ptz_type, got[dev(1)].azimuth_deg, got[dev(1)].hfov_deg, got[dev(1)].range_m) == (1, 45, 90, 120)
    assert (got[dev(1)].status, got[dev(3)].status, got[dev(3)].ptz_type) == ("online", "offline", 3)


def test_import_gpkg_refuses_duplicates_and_existing_ids(env, settings, db_session, tmp_path):
    frame = gpd.GeoDataFrame(
        {"device_id": [dev(1), dev(1), dev(2)], "name": ["a", "b", "c"], "azimuth": [0.0, 90.0, 180.0],
         "hfov": [60.0, 60.0, 60.0], "range_m": [50.0, 50.0, 50.0]},
        geometry=[Point(env["at"](50, 50)), Point(env["at"](150, 50)), Point(env["at"](250, 50))],
        crs=f"EPSG:{settings.storage_srid}")
    path = tmp_path / "cams.gpkg"
    frame.to_file(path, driver="GPKG")
    assert _refused(db_session, settings, path) == [(2, "device_id")]
    frame.loc[1, "device_id"] = dev(3)
    frame.to_file(path, driver="GPKG")
    import_layer(db_session, SYSTEM, "cameras", path, settings)
    assert count(db_session, "cameras") == 3
    # Appending the same ids again is refused row by row; upsert updates them.
    frame.loc[0, "name"] = "改名"
    frame.to_file(path, driver="GPKG")
    assert _refused(db_session, settings, path) == [(1, "device_id"), (2, "device_id"), (3, "device_id")]
    result = import_layer(db_session, SYSTEM, "cameras", path, settings, mode="upsert")
    assert (result.inserted, result.updated) == (0, 3)
    assert db_session.scalar(sa.select(Camera.name).where(Camera.device_id == dev(1))) == "改名"
    outside = frame.copy()
    outside.loc[0, "geometry"] = Point(env["at"](-500, 50))
    outside.to_file(path, driver="GPKG")
    assert _refused(db_session, settings, path, mode="upsert") == [(1, "geometry")]


@pytest.mark.parametrize("suffix", [".gpkg", ".geojson", ".csv", ".shp"])
def test_export_then_import_round_trips(client, env, settings, db_session, tmp_path, suffix):
    add(client, env, settings, env["at"](50, 150), 1, occluded=True, address="东风南路与商务外环路交叉口")
    add(client, env, settings, env["at"](150, 50), 2, ptz_type=None, height_m=None, stream_url=None, status="fault")
    add(client, env, settings, env["at"](250, 150), 3, hfov_deg=360, azimuth_deg=None, range_m=50,
        stream_url="rtsp://10.0.0.8:554/ch1")
    before = {c.device_id: (camera_service.camera_values(c), to_shape(c.geom), to_shape(c.fov))
              for c in db_session.scalars(sa.select(Camera))}
    path = tmp_path / f"cams{suffix}"
    assert export_layer(db_session, "cameras", path, settings) == 3
    db_session.execute(sa.delete(Camera))
    result = import_layer(db_session, SYSTEM, "cameras", path, settings)
    assert (result.inserted, result.unmapped_columns) == (3, [])
    after = {c.device_id: (camera_service.camera_values(c), to_shape(c.geom), to_shape(c.fov))
             for c in db_session.scalars(sa.select(Camera))}
    assert set(after) == set(before)
    # GeoJSON and CSV hold CRS84 to 7 decimals (about 1 cm); GeoPackage and Shapefile the storage CRS.
    tolerance = 0.02 if suffix in (".geojson", ".csv") else 1e-6
    for key, (values, point, fov) in before.items():
        assert after[key][0] == values, key
        assert after[key][1].distance(point) < tolerance
        assert after[key][2].symmetric_difference(fov).area < fov.length * tolerance  # a sliver at most
    again = import_layer(db_session, SYSTEM, "cameras", path, settings, mode="upsert")
    assert (again.inserted, again.updated) == (0, 3)


# -- video-sourced cases and the case's cameras -----------------------------------------------------


@pytest.fixture
def intake(env, db_session):
    load_categories(db_session, SYSTEM)
    seed_calendar(db_session, SYSTEM)
    db_session.commit()
    return env


def video_case(client, env, settings, xy, **fields):
    lon, lat = lonlat_of(settings, *xy)
    payload = {"lon": lon, "lat": lat, "category": CATEGORY, "description": "视频巡查发现暴露垃圾",
               "source": "video", **fields}
    return client.post("/api/v1/cases", json=payload, headers=env["tokens"]["operator"])


def test_a_video_case_names_a_known_working_camera(client, intake, settings, db_session):
    env = intake
    add(client, env, settings, env["at"](50, 150), 1)
    add(client, env, settings, env["at"](250, 150), 2, status="retired")
    before = count(db_session, "cases")
    next_id = db_session.scalar(sa.text(
        "SELECT CASE WHEN is_called THEN last_value + 1 ELSE last_value END FROM cases_id_seq"))
    assert_problem(video_case(client, env, settings, env["at"](100, 150)), 400, field="camera_id")
    problem = assert_problem(video_case(client, env, settings, env["at"](100, 150), camera_id=dev(9)), 400,
                             field="camera_id")
    assert "not a known camera" in problem["detail"]
    problem = assert_problem(video_case(client, env, settings, env["at"](100, 150), camera_id=dev(2)), 400,
                             field="camera_id")
    assert "retired" in problem["detail"]
    assert_problem(video_case(client, env, settings, env["at"](100, 150), camera_id="41019900081996000001"),
                   400, field="camera_id")
    assert_problem(video_case(client, env, settings, env["at"](100, 150), camera_id=dev(1), source="hotline"),
                   400, field="camera_id")
    assert count(db_session, "cases") == before
    resp = video_case(client, env, settings, env["at"](100, 150), camera_id=dev(1))
    assert resp.status_code == 201, resp.get_json()
    case_id = resp.get_json()["case"]["id"]
    assert case_id == next_id  # the refused reports drew no case number
    assert db_session.scalar(sa.text("SELECT camera_id FROM cases WHERE id = :i"), {"i": case_id}) == dev(1)


def test_case_detail_lists_the_cameras_that_see_it(client, intake, settings, db_session):
    env = intake
    point = env["at"](100, 150)
    add(client, env, settings, env["at"](50, 150), 1)                       # 50 m west looking east: sees it
    add(client, env, settings, env["at"](100, 120), 2, azimuth_deg=0)       # 30 m south looking north: sees it
    add(client, env, settings, env["at"](250, 150), 3, azimuth_deg=0)       # reports it, but looks elsewhere
    add(client, env, settings, env["at"](150, 150), 4, azimuth_deg=90)      # looks away
    resp = video_case(client, env, settings, point, camera_id=dev(3))
    case_id = resp.get_json()["case"]["id"]
    detail = client.get(f"/api/v1/cases/{case_id}", headers=env["tokens"]["inspector"]).get_json()
    assert detail["camera_id"] == dev(3)
    assert [(c["device_id"], c["distance_m"], c["reported"], c["sees"]) for c in detail["cameras"]] == [
        (dev(3), 150.0, True, False), (dev(2), 30.0, False, True), (dev(1), 50.0, False, True)]
    assert detail["cameras"][1]["stream_url"] == f"https://video.example.invalid/live/{dev(2)}.m3u8"
    # A case that no camera watches has none.
    lon, lat = lonlat_of(settings, *env["at"](280, 20))
    other = client.post("/api/v1/cases", json={"lon": lon, "lat": lat, "category": CATEGORY, "description": "d"},
                        headers=env["tokens"]["inspector"]).get_json()["case"]
    assert client.get(f"/api/v1/cases/{other['id']}", headers=env["tokens"]["inspector"]).get_json()["cameras"] == []
