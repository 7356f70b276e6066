"""Roads against PostGIS: the bbox query (GeoJSON, names, paging), admin-only writes checked by the
same function as file import, and an all-or-nothing import/export round trip.

Positions are storage-CRS metres from the six-cell test grid's south-west corner (x0, y0)::

    y 100–200   001-001 | 001-002 | 002-001
    y   0–100   001-003 | 001-004 | 002-002
                x 0–100   100–200   200–300
"""

from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, MultiLineString

from app.services.audit import SYSTEM
from app.services.layer_io import ImportRefused, export_layer, import_layer
from gis.crs import storage_to_lonlat
from tests.app.asset_support import at, geojson, lonlat
from tests.app.conftest import assert_problem, count, token_for

URL = "/api/v1/roads"


@pytest.fixture
def tokens(grid, client):
    return {role: token_for(client, f"t_{role}") for role in ("inspector", "admin")}


def _bbox(settings) -> str:
    (x0, y0), (x1, y1) = lonlat(settings, -10, -10), lonlat(settings, 310, 210)
    return f"{x0},{y0},{x1},{y1}"


def _road(settings, name, points, **props) -> dict:
    return {"type": "Feature", "geometry": geojson(settings, LineString([at(settings, *p) for p in points])),
            "properties": {"name": name, **props}}


def test_bbox_query_pages_geojson_with_names_and_only_admin_writes(client, settings, tokens, db_session):
    admin, inspector = tokens["admin"], tokens["inspector"]
    body = _road(settings, "如意湖路", [(10, 150), (290, 150)], road_class="主干路", width_m=40, lanes=6)
    assert_problem(client.post(URL, json=body, headers=inspector), 403)
    created = client.post(URL, json=body, headers=admin)
    assert created.status_code == 201, created.get_json()
    first = created.get_json()
    assert first["properties"]["road_class"] == "arterial" and first["properties"]["class_name"] == "主干路"
    # The midpoint (150, 150) is in 001-002; the code is generated from the district and the id.
    assert first["properties"]["cell_code"].endswith("001002")
    assert first["properties"]["code"] == f"{settings.district_code}R{first['id']:08d}"
    assert first["properties"]["length_m"] == pytest.approx(280.0, abs=0.1)
    # Width defaults to the class's usual width; OSM highway values are understood.
    alley = client.post(URL, json=_road(settings, "商务里", [(50, 20), (50, 90)], road_class="service",
                                        one_way="yes"), headers=admin).get_json()
    assert (alley["properties"]["road_class"], alley["properties"]["width_m"], alley["properties"]["one_way"]) == \
        ("alley", 7.0, True)
    client.post(URL, json=_road(settings, "通泰路", [(250, 10), (250, 190)], road_class="secondary",
                                name_en="Tongtai Road"), headers=admin)

    # Any signed-in role reads; narrow classes come first so wide roads are drawn on top.
    page = client.get(URL, query_string={"bbox": _bbox(settings), "limit": 2}, headers=inspector)
    assert page.status_code == 200 and page.mimetype == "application/geo+json"
    data = page.get_json()
    assert (data["numberMatched"], data["numberReturned"]) == (3, 2)
    assert [f["properties"]["name"] for f in data["features"]] == ["商务里", "通泰路"]
    assert data["features"][0]["geometry"]["type"] == "MultiLineString"
    rest = client.get(data["links"][0]["href"], headers=inspector).get_json()
    assert [f["properties"]["name"] for f in rest["features"]] == ["如意湖路"] and rest["links"] == []
    only = client.get(URL, query_string={"bbox": _bbox(settings), "class": "次干路"}, headers=inspector).get_json()
    assert [f["properties"]["name_en"] for f in only["features"]] == ["Tongtai Road"]
    assert_problem(client.get(URL, query_string={"bbox": _bbox(settings), "class": "lane"}, headers=inspector),
                   400, "class")
    assert_problem(client.get(URL, headers=inspector), 400, "bbox")

    # PATCH re-checks the merged road (a GET Feature can be sent back); DELETE is admin-only.
    road_id = first["id"]
    assert_problem(client.patch(f"{URL}/{road_id}", json={"width_m": 10}, headers=inspector), 403)
    assert_problem(client.patch(f"{URL}/{road_id}", json={"width_m": -1}, headers=admin), 400, "width_m")
    assert_problem(client.patch(f"{URL}/{road_id}", json={"road_class": "highway"}, headers=admin), 400,
                   "road_class")
    sent_back = {**first, "properties": {**first["properties"], "name": "如意湖北路"}}
    changed = client.patch(f"{URL}/{road_id}", json=sent_back, headers=admin)
    assert changed.status_code == 200, changed.get_json()
    assert client.get(f"{URL}/{road_id}", headers=inspector).get_json()["properties"]["name"] == "如意湖北路"
    assert_problem(client.post(URL, json={**body, "properties": {**body["properties"], "code": first["properties"]["code"]}},
                               headers=admin), 400, "code")
    assert_problem(client.post(URL, json=_road(settings, "点", [(5, 5), (5, 5)], road_class="branch"),
                               headers=admin), 400, "geometry")
    assert_problem(client.delete(f"{URL}/{road_id}", headers=inspector), 403)
    assert client.delete(f"{URL}/{road_id}", headers=admin).status_code == 204
    assert_problem(client.get(f"{URL}/{road_id}", headers=inspector), 404)
    assert db_session.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action LIKE 'road.%'")) == 5


def test_import_is_all_or_nothing_and_export_imports_back_unchanged(grid, settings, db_session, tmp_path):
    def wkt(*points):
        return LineString([storage_to_lonlat(*at(settings, *p), settings.storage_srid) for p in points]).wkt

    good = {"code": "R-1", "道路名称": "心怡路", "道路等级": "次干路", "dlkd": "30", "cds": "4", "wkt": wkt((10, 10), (90, 10))}
    table = [
        good,
        {**good, "code": "R-2", "道路等级": "高速"},
        {**good, "code": "R-3", "道路名称": ""},
        {**good, "code": "R-4", "dlkd": "-5"},
        {**good, "code": "R-5", "wkt": "POINT (113.75 34.75)"},
    ]
    pd.DataFrame(table).to_csv(tmp_path / "bad.csv", index=False)
    before = (count(db_session, "roads"), count(db_session, "audit_log"))
    with pytest.raises(ImportRefused) as info:
        import_layer(db_session, SYSTEM, "roads", tmp_path / "bad.csv", settings)
    assert [(r.row, r.field) for r in info.value.rows] == \
        [(2, "road_class"), (3, "name"), (4, "width_m"), (5, "geometry")]
    assert "branch 支路" in info.value.rows[0].message
    assert (count(db_session, "roads"), count(db_session, "audit_log")) == before

    frame = gpd.GeoDataFrame(
        [{"code": "R-1", "name": "心怡路", "name_en": "Xinyi Road", "road_class": "secondary", "width_m": 30.0,
          "lanes": 4, "one_way": False},
         {"code": "R-2", "name": "商务外环路", "road_class": "快速路", "width_m": 50.0, "one_way": True}],
        geometry=[LineString([at(settings, 10, 10), at(settings, 90, 10)]),
                  MultiLineString([[at(settings, 110, 120), at(settings, 190, 120)],
                                   [at(settings, 210, 120), at(settings, 290, 180)]])],
        crs=f"EPSG:{settings.storage_srid}")
    frame.to_crs(4326).to_file(tmp_path / "roads.geojson", driver="GeoJSON")
    result = import_layer(db_session, SYSTEM, "roads", tmp_path / "roads.geojson", settings)
    assert (result.inserted, result.updated) == (2, 0)

    def stored():
        rows = db_session.execute(sa.text(
            "SELECT code, name, name_en, road_class, width_m, lanes, one_way, cell_code, ST_AsBinary(geom) AS wkb"
            " FROM roads ORDER BY code")).mappings().all()
        return [dict(r) for r in rows]

    first = stored()
    assert [(r["road_class"], r["cell_code"][-6:]) for r in first] == [("secondary", "001003"), ("expressway", "001002")]
    for suffix in (".gpkg", ".shp"):
        out = tmp_path / f"export{suffix}"
        assert export_layer(db_session, "roads", out, settings) == 2
        db_session.execute(sa.text("DELETE FROM roads"))
        assert import_layer(db_session, SYSTEM, "roads", out, settings).inserted == 2, suffix
        for old, new in zip(first, stored(), strict=True):
            a, b = shapely.from_wkb(bytes(old["wkb"])), shapely.from_wkb(bytes(new["wkb"]))
            assert a.hausdorff_distance(b) < 0.01, suffix
            assert {k: v for k, v in new.items() if k != "wkb"} == {k: v for k, v in old.items() if k != "wkb"}, suffix


def _roads_config(client, path) -> dict:
    import json
    import re

    resp = client.get(path)
    assert resp.status_code == 200, path
    found = re.search(r'<script type="application/json" id="cg-roads-config">(.*?)</script>', resp.get_data(as_text=True))
    assert found, path
    return json.loads(found.group(1))


def test_map_pages_carry_the_roads_base_layer_or_an_overlay_with_tiles(grid, settings, engine, db_session):
    from app import create_app
    from gis.crs import wgs84_to_gcj02
    from tests.app.conftest import login

    def pages(**overrides):
        app = create_app({"SETTINGS": settings.with_overrides(**overrides), "ENGINE": engine,
                          "SESSION_FACTORY": lambda: db_session, "TESTING": True})
        client = app.test_client()
        login(client, "t_dispatcher")
        return {path: _roads_config(client, path) for path in ("/map", "/command")}

    for path, cfg in pages().items():
        assert (cfg["mode"], cfg["tileCrs"], cfg["gcj02"]) == ("base", "wgs84", None), path
        assert cfg["url"] == "/api/v1/roads" and cfg["text"]["layer"] == "道路"
    tiled = pages(tile_url="https://t.example/{z}/{x}/{y}.png")
    assert {cfg["mode"] for cfg in tiled.values()} == {"overlay"}
    assert {cfg["gcj02"] is None for cfg in tiled.values()} == {True}

    # GCJ-02 tiles: the page gets the exact offsets of gis/crs.py on a grid around the district.
    cfg = pages(tile_url="https://t.example/{z}/{x}/{y}.png", tile_crs="gcj02")["/map"]
    g = cfg["gcj02"]
    assert cfg["tileCrs"] == "gcj02" and g["n"] ** 2 == len(g["dlon"]) == len(g["dlat"])
    lo, la = cfg["bounds"][0], cfg["bounds"][1]
    assert g["bounds"][0] < lo < g["bounds"][2] and g["bounds"][1] < la < g["bounds"][3]
    k = g["n"] * 3 + 5  # row 3, column 5
    lon = g["bounds"][0] + (g["bounds"][2] - g["bounds"][0]) * 5 / (g["n"] - 1)
    lat = g["bounds"][1] + (g["bounds"][3] - g["bounds"][1]) * 3 / (g["n"] - 1)
    glon, glat = wgs84_to_gcj02(lon, lat)
    assert (g["dlon"][k], g["dlat"][k]) == (pytest.approx(glon - lon, abs=1e-8), pytest.approx(glat - lat, abs=1e-8))
    # About 500 m east and 100 m south in Zhengdong: the shift the tiles need.
    assert 0.004 < g["dlon"][k] < 0.008 and -0.002 < g["dlat"][k] < 0


def test_tile_crs_setting(tmp_path):
    from app.config import SettingsError, load_settings

    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path)}).tile_crs == "wgs84"
    assert load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_TILE_CRS": "gcj02"}).tile_crs == "gcj02"
    with pytest.raises(SettingsError, match="CITYGRID_TILE_CRS"):
        load_settings({"CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_TILE_CRS": "bd09"})
