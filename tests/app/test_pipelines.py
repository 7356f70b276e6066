"""Underground pipelines against PostGIS: the excavation check, crossings and per-cell statistics
with answers worked out by hand, bad input refused naming the field, import and export.

Positions are storage-CRS metres from the test grid's south-west corner (x0, y0). The grid is
300 m × 200 m of 100 m cells::

    y 100–200   001-001 | 001-002 | 002-001
    y   0–100   001-003 | 001-004 | 002-002
                x 0–100   100–200   200–300
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import sqlalchemy as sa
from shapely.geometry import LineString

from app.services import pipelines as pipeline_service
from app.services.audit import SYSTEM
from app.services.layer_io import ImportRefused, export_layer, import_layer
from gis.crs import storage_to_lonlat, wgs84_to_gcj02
from tests.app.conftest import assert_problem, count, lonlat_of, origin_xy, token_for

URL = "/api/v1/pipelines"


@pytest.fixture
def env(grid, client, settings):
    """The six-cell grid, role tokens and ``at(dx, dy)`` placing points from the grid corner."""
    x0, y0 = origin_xy(settings)
    tokens = {role: token_for(client, f"t_{role}") for role in ("inspector", "leader", "department", "admin")}
    cells = {code[-6:]: code for code, _ in grid["layer"]}

    def at(dx, dy):
        return x0 + dx, y0 + dy

    return {"tokens": tokens, "at": at, "cells": cells, "x0": x0, "y0": y0}


def line(settings, env, *points) -> dict:
    """A GeoJSON LineString (CRS84) through points given as offsets from the grid corner."""
    return {"type": "LineString",
            "coordinates": [list(lonlat_of(settings, *env["at"](dx, dy))) for dx, dy in points]}


def pipe(settings, env, code, points, cls="JS", sub="JP", start=1.0, end=1.0, **fields) -> dict:
    return {"code": code, "class_abbr": cls, "subclass_abbr": sub, "material_code": "QM",
            "burial_code": "ZM", "diameter_mm": 300, "start_depth_m": start, "end_depth_m": end,
            "owner": "郑东新区供水公司", "geometry": line(settings, env, *points), **fields}


def add(client, env, settings, code, points, **kw) -> dict:
    resp = client.post(URL, json=pipe(settings, env, code, points, **kw), headers=env["tokens"]["admin"])
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()


def audit_rows(db, action) -> int:
    return db.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action = :a"), {"a": action})


# -- the excavation check ------------------------------------------------------------------------


def test_near_gives_distance_fraction_and_interpolated_depth(client, env, settings):
    # A straight 100 m pipe from depth 1.0 m to 2.0 m, west to east along y = 40.
    a = add(client, env, settings, "JS-A", [(20, 40), (120, 40)], start=1.0, end=2.0)
    # A second pipe 30 m from the test point, a third 80 m away.
    b = add(client, env, settings, "PS-B", [(0, 80), (200, 80)], cls="PS", sub="WS", start=3.0, end=3.0)
    add(client, env, settings, "DL-C", [(0, 130), (200, 130)], cls="DL", sub="GD", voltage_kv=10)
    # 30 m along the first pipe and 10 m north of it: distance 10, depth 1.0 + 0.3 × 1.0 = 1.3.
    lon, lat = lonlat_of(settings, *env["at"](50, 50))
    leader = env["tokens"]["leader"]

    resp = client.get(f"{URL}/near", query_string={"lon": lon, "lat": lat, "radius": 20}, headers=leader)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert [p["code"] for p in body["pipelines"]] == ["JS-A"]
    hit = body["pipelines"][0]
    assert hit["id"] == a["id"]
    assert hit["distance_m"] == pytest.approx(10.0, abs=1e-3)
    assert hit["fraction"] == pytest.approx(0.3, abs=1e-6)
    assert hit["depth_m"] == pytest.approx(1.3, abs=1e-3)
    assert hit["class_abbr"] == "JS" and hit["class_name"] == "给水" and hit["color"] == "#00ffff"
    assert hit["material_name"] == "球墨铸铁" and hit["diameter_mm"] == 300 and hit["owner"] == "郑东新区供水公司"
    foot = lonlat_of(settings, *env["at"](50, 40))
    assert hit["nearest"] == pytest.approx(list(foot), abs=1e-7)

    # A wider radius takes the drainage pipe 30 m away too, nearest first; 80 m stays out.
    body = client.get(f"{URL}/near", query_string={"lon": lon, "lat": lat, "radius": 35}, headers=leader).get_json()
    assert [(p["code"], round(p["distance_m"], 3)) for p in body["pipelines"]] == [("JS-A", 10.0), ("PS-B", 30.0)]
    assert body["pipelines"][1]["id"] == b["id"]
    assert body["pipelines"][1]["depth_m"] == pytest.approx(3.0)
    assert body["pipelines"][1]["color"] == "#4c3926"

    # The same point given in GCJ-02 (as an Amap phone reports it) finds the same answer.
    glon, glat = wgs84_to_gcj02(lon, lat)
    body = client.get(f"{URL}/near", query_string={"lon": glon, "lat": glat, "radius": 20, "crs": "gcj02"},
                      headers=env["tokens"]["inspector"]).get_json()
    assert body["point"]["input_crs"] == "gcj02"
    assert body["pipelines"][0]["distance_m"] == pytest.approx(10.0, abs=0.01)


def test_near_radius_over_the_configured_maximum_is_refused(client, env, settings):
    lon, lat = lonlat_of(settings, *env["at"](50, 50))
    leader = env["tokens"]["leader"]
    ok = client.get(f"{URL}/near", query_string={"lon": lon, "lat": lat, "radius": settings.max_pipe_radius_m},
                    headers=leader)
    assert ok.status_code == 200
    for radius in (settings.max_pipe_radius_m + 1, -1, "wide"):
        resp = client.get(f"{URL}/near", query_string={"lon": lon, "lat": lat, "radius": radius}, headers=leader)
        assert_problem(resp, 400, "radius")
    assert_problem(client.get(f"{URL}/near", query_string={"lon": lon, "radius": 10}, headers=leader), 400, "lat")
    assert_problem(client.get(f"{URL}/near", query_string={"lon": lon, "lat": lat}), 401)


# -- crossings -------------------------------------------------------------------------------------


def test_crossings_between_different_classes_with_depths_and_clearance(client, env, settings):
    # Water main along y = 50 from x 10 to 190, depth 1.0 → 1.9 m.
    add(client, env, settings, "W", [(10, 50), (190, 50)], start=1.0, end=1.9)
    # Sewer along x = 110 from y 10 to 190, depth 2.0 → 3.8 m: crosses the main at (110, 50).
    add(client, env, settings, "P", [(110, 10), (110, 190)], cls="PS", sub="WS", start=2.0, end=3.8)
    # Another water pipe crossing the main: same class, not a crossing to report.
    add(client, env, settings, "W2", [(150, 10), (150, 90)], cls="JS", sub="XS")
    # A gas pipe ending on the main: a junction, not a crossing.
    add(client, env, settings, "G", [(60, 50), (60, 90)], cls="RQ", sub="TR", pressure_mpa=0.4)
    # A power cable crossing the main at (75, 50) and ending on the sewer at (110, 70).
    add(client, env, settings, "E", [(40, 30), (110, 70)], cls="DL", sub="GD", start=0.8, end=0.8)
    # A telecom duct crossing the sewer at (110, 120), bending round and ending on it at (110, 140).
    add(client, env, settings, "T", [(90, 120), (130, 120), (130, 140), (110, 140)], cls="TX", sub="XX",
        start=0.5, end=0.5, diameter_mm=None, section="400x300")

    def w_depth(x):  # along the main: 180 m from x = 10
        return 1.0 + 0.9 * (x - 10) / 180

    def p_depth(y):  # along the sewer: 180 m from y = 10
        return 2.0 + 1.8 * (y - 10) / 180

    west, south = lonlat_of(settings, *env["at"](-5, -5))
    east, north = lonlat_of(settings, *env["at"](305, 205))
    resp = client.get(f"{URL}/crossings", query_string={"bbox": f"{west},{south},{east},{north}"},
                      headers=env["tokens"]["department"])
    assert resp.status_code == 200, resp.get_json()
    assert resp.mimetype == "application/geo+json"
    found = {}
    for f in resp.get_json()["features"]:
        a, b = f["properties"]["a"], f["properties"]["b"]
        found[tuple(sorted((a["code"], b["code"])))] = (f, {a["code"]: a, b["code"]: b})
    assert set(found) == {("P", "W"), ("E", "W"), ("P", "T")}

    f, sides = found[("P", "W")]
    assert f["geometry"]["coordinates"] == pytest.approx(list(lonlat_of(settings, *env["at"](110, 50))), abs=2e-7)
    assert sides["W"]["depth_m"] == pytest.approx(w_depth(110), abs=1e-3)   # 1.5
    assert sides["P"]["depth_m"] == pytest.approx(p_depth(50), abs=1e-3)    # 2.4
    assert f["properties"]["clearance_m"] == pytest.approx(p_depth(50) - w_depth(110), abs=2e-3)  # 0.9
    assert sides["P"]["class_name"] == "排水" and sides["W"]["color"] == "#00ffff"

    f, sides = found[("E", "W")]
    assert f["geometry"]["coordinates"] == pytest.approx(list(lonlat_of(settings, *env["at"](75, 50))), abs=2e-7)
    assert sides["W"]["depth_m"] == pytest.approx(w_depth(75), abs=1e-3)    # 1.325
    assert f["properties"]["clearance_m"] == pytest.approx(w_depth(75) - 0.8, abs=2e-3)

    f, sides = found[("P", "T")]
    assert f["geometry"]["coordinates"] == pytest.approx(list(lonlat_of(settings, *env["at"](110, 120))), abs=2e-7)
    assert f["properties"]["clearance_m"] == pytest.approx(p_depth(120) - 0.5, abs=2e-3)  # 2.6

    # By cell: the south-west cell holds only the (75, 50) crossing; 001-002 only (110, 120).
    by_cell = client.get(f"{URL}/crossings", query_string={"cell": env["cells"]["001003"]},
                         headers=env["tokens"]["leader"]).get_json()
    assert [sorted((f["properties"]["a"]["code"], f["properties"]["b"]["code"])) for f in by_cell["features"]] \
        == [["E", "W"]]
    by_cell = client.get(f"{URL}/crossings", query_string={"cell": env["cells"]["001002"]},
                         headers=env["tokens"]["leader"]).get_json()
    assert [sorted((f["properties"]["a"]["code"], f["properties"]["b"]["code"])) for f in by_cell["features"]] \
        == [["P", "T"]]


def test_crossings_parameters(client, env, settings):
    h = env["tokens"]["leader"]
    assert_problem(client.get(f"{URL}/crossings", headers=h), 400, "bbox")
    assert_problem(client.get(f"{URL}/crossings", query_string={"bbox": "113,34,113.1,34.1",
                                                                 "cell": env["cells"]["001001"]}, headers=h), 400, "cell")
    assert_problem(client.get(f"{URL}/crossings", query_string={"cell": "4101990010019"}, headers=h), 400, "cell")
    assert_problem(client.get(f"{URL}/crossings", query_string={"cell": "410199001009999"}, headers=h), 404, "cell")


# -- per-cell statistics -----------------------------------------------------------------------------


def test_length_per_class_per_cell_and_old_pipes(client, env, settings, db_session):
    year = pipeline_service.this_year()
    # 100 m of water pipe across the 001-003 | 001-004 edge: 50 m in each; built 40 years ago.
    add(client, env, settings, "S1", [(50, 20), (150, 20)], build_year=year - 40)
    # 100 m of sewer across the 001-004 | 002-002 edge: 50 m in each; built 10 years ago.
    add(client, env, settings, "S2", [(150, 30), (250, 30)], cls="PS", sub="YS", build_year=year - 10)
    # A cable with no build year in 002-001 only.
    add(client, env, settings, "S3", [(220, 150), (280, 150)], cls="DL", sub="LD")
    west, south = lonlat_of(settings, *env["at"](1, 1))
    east, north = lonlat_of(settings, *env["at"](299, 199))
    resp = client.get(f"{URL}/stats", query_string={"bbox": f"{west},{south},{east},{north}", "older_than": 30},
                      headers=env["tokens"]["leader"])
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["year"] == year and body["older_than"] == 30
    cells = {c["cell_code"][-6:]: c for c in body["cells"]}
    assert set(cells) == {"001003", "001004", "002002", "002001"}

    def lengths(c):
        return {k["class_abbr"]: k["length_m"] for k in c["classes"]}

    assert lengths(cells["001003"]) == {"JS": pytest.approx(50.0, abs=1e-6)}
    assert lengths(cells["001004"]) == {"JS": pytest.approx(50.0, abs=1e-6), "PS": pytest.approx(50.0, abs=1e-6)}
    assert lengths(cells["002002"]) == {"PS": pytest.approx(50.0, abs=1e-6)}
    assert lengths(cells["002001"]) == {"DL": pytest.approx(60.0, abs=1e-6)}
    assert cells["001004"]["length_m"] == pytest.approx(100.0, abs=1e-6)
    # Older than 30 years: only the 40-year-old water pipe, by cell.
    assert (cells["001003"]["old_pipes"], cells["001003"]["old_length_m"]) == (1, pytest.approx(50.0))
    assert (cells["001004"]["old_pipes"], cells["001004"]["old_length_m"]) == (1, pytest.approx(50.0))
    assert (cells["002002"]["old_pipes"], cells["002002"]["old_length_m"]) == (0, 0)
    assert (cells["002001"]["old_pipes"], cells["002001"]["old_length_m"]) == (0, 0)
    # Exactly 40 years old is not older than 40.
    body = client.get(f"{URL}/stats", query_string={"cell": env["cells"]["001003"], "older_than": 40},
                      headers=env["tokens"]["leader"]).get_json()
    assert [(c["old_pipes"], c["length_m"]) for c in body["cells"]] == [(0, pytest.approx(50.0))]
    body = client.get(f"{URL}/stats", query_string={"cell": env["cells"]["001003"], "older_than": 39},
                      headers=env["tokens"]["leader"]).get_json()
    assert body["cells"][0]["old_pipes"] == 1
    # A cell without pipes is answered with nothing in it; without older_than no old counts.
    body = client.get(f"{URL}/stats", query_string={"cell": env["cells"]["001001"]},
                      headers=env["tokens"]["leader"]).get_json()
    assert body["cells"] == [{"cell_code": env["cells"]["001001"], "length_m": 0, "classes": []}]
    assert_problem(client.get(f"{URL}/stats", query_string={"cell": env["cells"]["001001"], "older_than": -1},
                              headers=env["tokens"]["leader"]), 400, "older_than")


# -- the layer by bbox, one segment, the classes ---------------------------------------------------


def test_list_by_bbox_with_colours_filters_and_limits(client, env, settings):
    a = add(client, env, settings, "L1", [(10, 10), (90, 10)])
    b = add(client, env, settings, "L2", [(10, 20), (90, 20)], cls="RQ", sub="TR", pressure_mpa=0.2)
    add(client, env, settings, "L3", [(210, 150), (290, 150)], cls="RL", sub="RS")
    h = env["tokens"]["inspector"]
    west, south = lonlat_of(settings, *env["at"](0, 0))
    east, north = lonlat_of(settings, *env["at"](100, 100))
    bbox = f"{west},{south},{east},{north}"
    resp = client.get(URL, query_string={"bbox": bbox}, headers=h)
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    body = resp.get_json()
    assert (body["numberMatched"], body["numberReturned"]) == (2, 2)
    assert [f["id"] for f in body["features"]] == [a["id"], b["id"]]
    gas = body["features"][1]
    assert gas["geometry"]["type"] == "LineString"
    assert gas["properties"]["color"] == "#ff00ff" and gas["properties"]["subclass_name"] == "天然气"
    assert gas["properties"]["cell_code"] == env["cells"]["001003"]
    assert gas["properties"]["district_code"] == settings.district_code
    assert gas["properties"]["length_m"] == pytest.approx(80.0, abs=1e-3)

    body = client.get(URL, query_string={"bbox": bbox, "limit": 1}, headers=h).get_json()
    assert (body["numberMatched"], body["numberReturned"]) == (2, 1)
    body = client.get(URL, query_string={"bbox": bbox, "class": "rq,RL"}, headers=h).get_json()
    assert [f["properties"]["code"] for f in body["features"]] == ["L2"]

    assert_problem(client.get(URL, query_string={"bbox": bbox, "limit": 5001}, headers=h), 400, "limit")
    assert_problem(client.get(URL, query_string={"bbox": bbox, "class": "XX"}, headers=h), 400, "class")
    assert_problem(client.get(URL, headers=h), 400, "bbox")
    assert_problem(client.get(URL, query_string={"bbox": "1,2,3"}, headers=h), 400, "bbox")
    assert_problem(client.get(URL, query_string={"bbox": "113.9,34.7,113.7,34.8"}, headers=h), 400, "bbox")
    assert_problem(client.get(URL, query_string={"bbox": "100,20,120,40"}, headers=h), 400, "bbox")
    assert_problem(client.get(URL, query_string={"bbox": bbox, "crs": "utm"}, headers=h), 400, "crs")
    assert_problem(client.get(URL, query_string={"bbox": bbox}), 401)


def test_read_one_and_the_class_table(client, env, settings):
    a = add(client, env, settings, "R1", [(10, 10), (90, 10)], cls="PS", sub="YS", section="1000x800",
            diameter_mm=None)
    resp = client.get(f"{URL}/{a['id']}", headers=env["tokens"]["leader"])
    assert resp.status_code == 200 and resp.mimetype == "application/geo+json"
    f = resp.get_json()
    assert f["type"] == "Feature" and f["id"] == a["id"]
    assert f["properties"]["section"] == "1000x800" and f["properties"]["diameter_mm"] is None
    assert_problem(client.get(f"{URL}/999999", headers=env["tokens"]["leader"]), 404)

    body = client.get(f"{URL}/classes", headers=env["tokens"]["inspector"]).get_json()
    classes = {c["class_abbr"]: c for c in body["classes"]}
    assert list(classes) == ["JS", "PS", "RQ", "RL", "DL", "TX", "GY", "QT"]
    assert (classes["PS"]["name"], classes["PS"]["color"], classes["PS"]["class_code"]) == ("排水", "#4c3926", 2)
    assert [(s["subclass_abbr"], s["code"]) for s in classes["PS"]["subclasses"]] == \
        [("YS", "201"), ("WS", "202"), ("HS", "203")]
    assert {s["subclass_abbr"]: s["color"] for s in classes["QT"]["subclasses"]} == {"ZH": "#000000", "BM": "#6600cc"}
    assert {m["code"] for m in body["materials"]} >= {"QM", "PE", "ZT"}
    assert {b["code"] for b in body["burials"]} >= {"ZM", "GK", "DG"}


# -- writes --------------------------------------------------------------------------------------------


def test_admin_creates_a_segment_with_its_cell_and_an_audit_row(client, env, settings, db_session):
    before = audit_rows(db_session, "pipeline.create")
    # Standard numeric class code 202 (排水/污水), a material by name, the census-style size.
    body = pipe(settings, env, "PS-0001", [(20, 150), (160, 150)], cls="202", sub=None, material_code="混凝土",
                diameter_mm="DN600", start_depth_m=2.5, end_depth_m=3.1, build_year="2008-06")
    resp = client.post(URL, json=body, headers=env["tokens"]["admin"])
    assert resp.status_code == 201, resp.get_json()
    f = resp.get_json()
    assert resp.headers["Location"].endswith(f"{URL}/{f['id']}")
    p = f["properties"]
    assert (p["class_abbr"], p["subclass_abbr"], p["material_code"], p["diameter_mm"], p["build_year"]) == \
        ("PS", "WS", "T", 600, 2008)
    # Its cell is the one holding its midpoint (90, 150).
    assert p["cell_code"] == env["cells"]["001001"]
    assert p["status"] == "in_use"
    assert audit_rows(db_session, "pipeline.create") == before + 1

    # A GeoJSON Feature with GCJ-02 coordinates is converted before it is stored.
    coords = [wgs84_to_gcj02(*lonlat_of(settings, *env["at"](dx, 60))) for dx in (210, 290)]
    feature = {"type": "Feature", "crs": "gcj02",
               "geometry": {"type": "LineString", "coordinates": [list(c) for c in coords]},
               "properties": {"code": "GCJ-1", "class_abbr": "TX", "subclass_abbr": "DH", "section": "300×200",
                              "start_depth_m": 0.7, "end_depth_m": 0.7}}
    f = client.post(URL, json=feature, headers=env["tokens"]["admin"]).get_json()
    assert f["properties"]["length_m"] == pytest.approx(80.0, abs=0.05)
    assert f["properties"]["cell_code"] == env["cells"]["002002"]
    assert f["properties"]["section"] == "300x200"


BAD_INPUTS = [
    ({"class_abbr": "XX"}, "class_abbr", "PS 排水"),
    ({"class_abbr": "PS", "subclass_abbr": "JY"}, "subclass_abbr", "WS 污水"),
    ({"subclass_abbr": None}, "subclass_abbr", "JP 配水"),
    ({"material_code": "ZZZ"}, "material_code", "QM 球墨铸铁"),
    ({"burial_code": "XX"}, "burial_code", "ZM 直埋"),
    ({"start_depth_m": -0.5}, "start_depth_m", "at least 0"),
    ({"end_depth_m": None}, "end_depth_m", "required"),
    ({"end_depth_m": "deep"}, "end_depth_m", "number"),
    ({"diameter_mm": 0}, "diameter_mm", "greater than 0"),
    ({"diameter_mm": None}, "diameter_mm", "section"),
    ({"section": "400*abc"}, "section", "WxH"),
    ({"build_year": 1899}, "build_year", "1900"),
    ({"build_year": 2999}, "build_year", "out of range"),
    ({"pressure_mpa": 0.3, "class_abbr": "PS", "subclass_abbr": "YS"}, "pressure_mpa", "water supply"),
    ({"voltage_kv": 10}, "voltage_kv", "DL"),
    ({"status": "broken"}, "status", "in_use"),
    ({"code": ""}, "code", "required"),
    ({"code": "X" * 41}, "code", "40"),
    ({"colour": "red"}, "colour", "unknown"),
    ({"crs": "utm"}, "crs", "utm"),
    ({"owner": {"name": "x"}}, "owner", "plain value"),
]


@pytest.mark.parametrize(("change", "field", "says"), BAD_INPUTS, ids=[b[1] + ":" + str(i) for i, b in enumerate(BAD_INPUTS)])
def test_bad_input_is_refused_naming_the_field_and_nothing_is_written(client, env, settings, db_session,
                                                                      change, field, says):
    before = (count(db_session, "pipelines"), count(db_session, "audit_log"))
    body = {**pipe(settings, env, "BAD-1", [(10, 10), (90, 10)]), **change}
    problem = assert_problem(client.post(URL, json=body, headers=env["tokens"]["admin"]), 400, field)
    assert says in problem["detail"]
    assert (count(db_session, "pipelines"), count(db_session, "audit_log")) == before


@pytest.mark.parametrize("geometry", [
    # A bow tie: the line crosses itself.
    [(10, 10), (90, 90), (90, 10), (10, 90)],
    # Zero length.
    [(10, 10), (10, 10)],
    # A single position.
    [(10, 10)],
])
def test_bad_geometry_is_refused(client, env, settings, db_session, geometry):
    before = count(db_session, "pipelines")
    body = pipe(settings, env, "GEOM-1", [(0, 0), (1, 1)])
    body["geometry"] = {"type": "LineString",
                        "coordinates": [list(lonlat_of(settings, *env["at"](*p))) for p in geometry]}
    problem = assert_problem(client.post(URL, json=body, headers=env["tokens"]["admin"]), 400, "geometry")
    if len(geometry) == 4:
        assert "crosses" in problem["detail"]
    assert count(db_session, "pipelines") == before
    point = {**body, "geometry": {"type": "Point", "coordinates": body["geometry"]["coordinates"][0]}}
    assert_problem(client.post(URL, json=point, headers=env["tokens"]["admin"]), 400, "geometry")


def test_only_admin_writes_and_codes_stay_unique(client, env, settings, db_session):
    body = pipe(settings, env, "U-1", [(10, 10), (90, 10)])
    for role in ("inspector", "leader", "department"):
        assert_problem(client.post(URL, json=body, headers=env["tokens"][role]), 403)
    first = client.post(URL, json=body, headers=env["tokens"]["admin"]).get_json()
    before = count(db_session, "pipelines")
    problem = assert_problem(client.post(URL, json=body, headers=env["tokens"]["admin"]), 409, "code")
    assert problem["existing_id"] == first["id"]
    assert count(db_session, "pipelines") == before
    assert_problem(client.delete(f"{URL}/{first['id']}", headers=env["tokens"]["leader"]), 403)
    assert_problem(client.patch(f"{URL}/{first['id']}", json={"owner": "x"}, headers=env["tokens"]["inspector"]), 403)


def test_patch_rechecks_the_whole_segment_and_delete_removes_it(client, env, settings, db_session):
    a = add(client, env, settings, "P-1", [(10, 10), (90, 10)], cls="RQ", sub="TR", pressure_mpa=0.4)
    add(client, env, settings, "P-2", [(10, 30), (90, 30)])
    admin = env["tokens"]["admin"]
    url = f"{URL}/{a['id']}"

    resp = client.patch(url, json={"start_depth_m": 1.4, "owner": "郑州华润燃气"}, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    p = resp.get_json()["properties"]
    assert (p["start_depth_m"], p["owner"], p["pressure_mpa"], p["code"]) == (1.4, "郑州华润燃气", 0.4, "P-1")
    entry = db_session.execute(sa.text(
        "SELECT entity_id, detail FROM audit_log WHERE action = 'pipeline.update' ORDER BY id DESC LIMIT 1")).one()
    assert entry.entity_id == str(a["id"]) and entry.detail["fields"] == ["owner", "start_depth_m"]

    # Turning it into a sewer while it still carries a pressure is refused, naming the pressure.
    assert_problem(client.patch(url, json={"class_abbr": "PS", "subclass_abbr": "WS"}, headers=admin),
                   400, "pressure_mpa")
    assert_problem(client.patch(url, json={"code": "P-2"}, headers=admin), 409, "code")
    assert_problem(client.patch(url, json={"end_depth_m": -1}, headers=admin), 400, "end_depth_m")
    assert client.get(url, headers=admin).get_json()["properties"]["end_depth_m"] == 1.0

    # Moving it into another cell moves its cell code; a Feature from GET can be sent back.
    moved = client.get(url, headers=admin).get_json()
    moved["geometry"] = line(settings, env, (210, 150), (290, 150))
    resp = client.patch(url, json=moved, headers=admin)
    assert resp.status_code == 200, resp.get_json()
    assert resp.get_json()["properties"]["cell_code"] == env["cells"]["002001"]

    before = audit_rows(db_session, "pipeline.delete")
    assert client.delete(url, headers=admin).status_code == 204
    assert audit_rows(db_session, "pipeline.delete") == before + 1
    assert_problem(client.get(url, headers=admin), 404)
    assert_problem(client.delete(url, headers=admin), 404)
    assert_problem(client.patch(url, json={"owner": "x"}, headers=admin), 404)


# -- import and export -----------------------------------------------------------------------------------


def _rows(settings, env):
    """Three segments as (fields, storage-CRS line)."""
    at = env["at"]
    return [
        ({"code": "IMP-1", "class_abbr": "JS", "subclass_abbr": "JP", "material_code": "QM", "burial_code": "ZM",
          "diameter_mm": 300.0, "start_depth_m": 1.2, "end_depth_m": 1.5, "build_year": 1998,
          "owner": "郑东新区供水公司", "pressure_mpa": 0.35, "status": "in_use"},
         LineString([at(10, 10), at(90, 15)])),
        ({"code": "IMP-2", "class_abbr": "PS", "subclass_abbr": "YS", "material_code": "T", "burial_code": "ZM",
          "section": "1200x1000", "start_depth_m": 2.0, "end_depth_m": 2.6, "build_year": 2012,
          "owner": "市政排水", "status": "in_use"},
         LineString([at(110, 10), at(190, 10), at(190, 90)])),
        ({"code": "IMP-3", "class_abbr": "DL", "subclass_abbr": "GD", "material_code": "TZ", "burial_code": "GK",
          "diameter_mm": 150.0, "start_depth_m": 0.8, "end_depth_m": 0.8, "voltage_kv": 10.0,
          "owner": "国网郑州供电", "status": "planned"},
         LineString([at(210, 110), at(290, 190)])),
    ]


def _stored(db):
    rows = db.execute(sa.text(
        f"SELECT {', '.join(pipeline_service.FIELD_NAMES)}, cell_code, ST_AsBinary(geom) AS wkb"
        " FROM pipelines ORDER BY code")).mappings().all()
    return [dict(r) for r in rows]


def test_import_geojson_then_export_and_import_back_unchanged(env, settings, db_session, tmp_path):
    import shapely

    rows = _rows(settings, env)
    frame = gpd.GeoDataFrame([r for r, _ in rows], geometry=[g for _, g in rows], crs=f"EPSG:{settings.storage_srid}")
    path = tmp_path / "pipes.geojson"
    frame.to_crs(4326).to_file(path, driver="GeoJSON")
    result = import_layer(db_session, SYSTEM, "pipelines", path, settings)
    assert (result.inserted, result.updated) == (3, 0)
    stored = _stored(db_session)
    assert [r["code"] for r in stored] == ["IMP-1", "IMP-2", "IMP-3"]
    assert [r["cell_code"][-6:] for r in stored] == ["001003", "001004", "002001"]
    assert stored[1]["section"] == "1200x1000" and stored[2]["voltage_kv"] == 10.0
    assert shapely.from_wkb(bytes(stored[1]["wkb"])).length == pytest.approx(160.0, abs=1e-3)

    for suffix in (".gpkg", ".shp", ".csv"):
        out = tmp_path / f"export{suffix}"
        assert export_layer(db_session, "pipelines", out, settings) == 3
        if suffix == ".shp":
            columns = set(gpd.read_file(out).columns)
            assert {"start_dep", "end_dep", "diam_mm", "press_mpa", "volt_kv"} <= columns
        db_session.execute(sa.text("DELETE FROM pipelines"))
        result = import_layer(db_session, SYSTEM, "pipelines", out, settings)
        assert result.inserted == 3, suffix
        again = _stored(db_session)
        for old, new in zip(stored, again, strict=True):
            a, b = shapely.from_wkb(bytes(old.pop("wkb"))), shapely.from_wkb(bytes(new.pop("wkb")))
            assert a.hausdorff_distance(b) < 0.01, suffix  # CSV and GeoJSON go through 7-decimal lon/lat
            assert new == old, suffix
            old["wkb"] = shapely.to_wkb(a)


def test_import_shapefile_with_short_names_and_csv_with_census_columns(env, settings, db_session, tmp_path):
    rows = _rows(settings, env)[:2]
    # A cable along the 001-001 | 001-002 edge: its midpoint is on both cells, and the lower code
    # wins, as in /grid/locate (the storage CRS keeps the coordinates exact).
    rows.append(({"code": "EDGE", "class_abbr": "DL", "subclass_abbr": "LD", "diameter_mm": 50.0,
                  "start_depth_m": 0.7, "end_depth_m": 0.7}, LineString([env["at"](100, 120), env["at"](100, 180)])))
    spec_short = {f.name: f.short for f in pipeline_service.FIELDS}
    frame = gpd.GeoDataFrame([{spec_short[k]: v for k, v in r.items()} for r, _ in rows],
                             geometry=[g for _, g in rows], crs=f"EPSG:{settings.storage_srid}")
    frame.to_file(tmp_path / "pipes.shp")
    result = import_layer(db_session, SYSTEM, "pipelines", tmp_path / "pipes.shp", settings)
    assert (result.inserted, result.unmapped_columns) == (3, [])
    assert db_session.scalar(sa.text("SELECT cell_code FROM pipelines WHERE code = 'EDGE'")) == env["cells"]["001001"]

    # A 普查 export: Chinese class names, the CJJ 61 abbreviations as column names, 管径 as DN.
    line = LineString([env["at"](20, 120), env["at"](80, 120)])
    lonlat = LineString([storage_to_lonlat(x, y, settings.storage_srid) for x, y in line.coords])
    pd.DataFrame([{"GXDBH": "CEN-1", "大类": "燃气", "小类": "天然气", "CZ": "PE", "MSFS": "直埋", "GJ": "DN160",
                   "QDMS": "1.1", "ZDMS": "1.3", "JCNY": "201506", "QSDW": "华润燃气", "YL": "0.4",
                   "ZT": "在用", "wkt": lonlat.wkt}]).to_csv(tmp_path / "census.csv", index=False)
    result = import_layer(db_session, SYSTEM, "pipelines", tmp_path / "census.csv", settings)
    assert result.inserted == 1
    row = db_session.execute(sa.text("SELECT * FROM pipelines WHERE code = 'CEN-1'")).mappings().one()
    assert (row["class_abbr"], row["subclass_abbr"], row["material_code"], row["burial_code"], row["diameter_mm"],
            row["start_depth_m"], row["end_depth_m"], row["build_year"], row["owner"], row["pressure_mpa"],
            row["status"], row["cell_code"][-6:]) == \
        ("RQ", "TR", "PE", "ZM", 160.0, 1.1, 1.3, 2015, "华润燃气", 0.4, "in_use", "001001")


def test_import_with_a_bad_row_names_row_and_field_and_writes_nothing(env, settings, db_session, tmp_path):
    def lonlat_wkt(*points):
        return LineString([storage_to_lonlat(*env["at"](*p), settings.storage_srid) for p in points]).wkt

    good = {"code": "C-1", "class_abbr": "JS", "subclass_abbr": "JP", "diameter_mm": "200",
            "start_depth_m": "1", "end_depth_m": "1", "wkt": lonlat_wkt((10, 10), (90, 10))}
    table = [
        good,
        {**good, "code": "C-2", "class_abbr": "XX"},
        {**good, "code": "C-3", "start_depth_m": "-2"},
        {**good, "code": "C-4", "wkt": lonlat_wkt((10, 10), (90, 90), (90, 10), (10, 90))},
        {**good, "code": "C-1"},
    ]
    pd.DataFrame(table).to_csv(tmp_path / "bad.csv", index=False)
    before = (count(db_session, "pipelines"), count(db_session, "audit_log"))
    with pytest.raises(ImportRefused) as info:
        import_layer(db_session, SYSTEM, "pipelines", tmp_path / "bad.csv", settings)
    assert [(r.row, r.field) for r in info.value.rows] == \
        [(2, "class_abbr"), (3, "start_depth_m"), (4, "geometry"), (5, "code")]
    assert "PS 排水" in info.value.rows[0].message
    assert (count(db_session, "pipelines"), count(db_session, "audit_log")) == before

    # A code already stored is refused in append mode (naming the row) and updated in upsert mode.
    pd.DataFrame([good]).to_csv(tmp_path / "one.csv", index=False)
    import_layer(db_session, SYSTEM, "pipelines", tmp_path / "one.csv", settings)
    pd.DataFrame([{**good, "end_depth_m": "1.7"}]).to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(ImportRefused) as info:
        import_layer(db_session, SYSTEM, "pipelines", tmp_path / "one.csv", settings)
    assert info.value.rows[0].field == "code" and "row 1: C-1" in info.value.rows[0].message
    result = import_layer(db_session, SYSTEM, "pipelines", tmp_path / "one.csv", settings, mode="upsert")
    assert (result.inserted, result.updated) == (0, 1)
    assert db_session.scalar(sa.text("SELECT end_depth_m FROM pipelines WHERE code = 'C-1'")) == 1.7


def test_validate_accepts_the_standard_code_styles(settings, db_session):
    ctx = pipeline_service.prepare(db_session, settings)
    geom = LineString([(0, 0), (10, 0)])
    base = {"code": "V", "diameter_mm": 100, "start_depth_m": 1, "end_depth_m": 1}
    for given in ({"class_abbr": "PS", "subclass_abbr": "WS"}, {"class_abbr": "ps-ws"},
                  {"class_abbr": "PSWS"}, {"class_abbr": "202"}, {"class_abbr": "2", "subclass_abbr": "02"},
                  {"class_abbr": "排水", "subclass_abbr": "污水"}, {"subclass_abbr": "WS"}):
        rec = pipeline_service.validate(ctx, {**base, **given}, geom)
        assert (rec["class_abbr"], rec["subclass_abbr"]) == ("PS", "WS"), given
    # Only an unidentified line (不明管线) may lack a size.
    unknown = pipeline_service.validate(ctx, {**base, "class_abbr": "QT", "subclass_abbr": "BM", "diameter_mm": None},
                                        geom)
    assert unknown["diameter_mm"] is None and unknown["section"] is None
