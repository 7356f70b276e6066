"""GET /api/v1/grid/locate and /api/v1/grid/cells against PostGIS."""

import math

import pytest

from gis.crs import wgs84_to_bd09, wgs84_to_gcj02
from tests.app.conftest import CELL_M, assert_problem, lonlat_of, origin_xy, token_for


@pytest.fixture
def auth(client, grid):
    return token_for(client, "t_inspector")


def locate(client, auth, **params):
    return client.get("/api/v1/grid/locate", query_string=params, headers=auth)


def test_locate_returns_cell_hierarchy_and_inspector(client, auth, settings):
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 50, y0 + 150)  # middle of the north-west cell
    resp = locate(client, auth, lon=lon, lat=lat)
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    d = settings.district_code
    assert body["cell"]["code"] == d + "001001001"
    assert body["cell"]["area_m2"] == pytest.approx(CELL_M * CELL_M, rel=1e-6)
    assert body["community"] == {"code": d + "001001", "name": "测试一社区"}
    assert body["street"] == {"code": d + "001", "name": "测试街道"}
    assert body["district"]["code"] == d
    assert body["duty_grid"] == {"code": "T-D01", "name": "测试第1责任网格"}
    assert body["inspector"]["username"] == "t_inspector"
    assert body["point"]["lon"] == pytest.approx(lon, abs=1e-7)


def test_locate_in_a_cell_without_duty_grid(client, auth, settings):
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 250, y0 + 50)
    body = locate(client, auth, lon=lon, lat=lat).get_json()
    assert body["cell"]["code"] == settings.district_code + "001002002"
    assert body["duty_grid"] is None and body["inspector"] is None


@pytest.mark.parametrize(
    "dx, dy, expected",
    [
        (100, 150, "001001001"),  # on the edge shared by 001 and 002: the lower code
        (100, 100, "001001001"),  # on the vertex shared by four cells
        (200, 50, "001001004"),   # on the community boundary: the lower code
        (0, 50, "001001003"),     # on the outer edge of the grid: still inside
    ],
)
def test_boundary_rule_lowest_code(db_session, grid, settings, dx, dy, expected):
    """PostGIS applies the same shared-edge rule as grid.CellLocator (exact storage coordinates)."""
    from app.services.grid import locate as locate_xy
    from grid import CellLocator, CellSet

    x0, y0 = origin_xy(settings)
    found = locate_xy(db_session, x0 + dx, y0 + dy, settings.storage_srid)
    assert found["cell"]["code"] == settings.district_code + expected
    locator = CellLocator(CellSet.from_polygons(grid["layer"]))
    assert locator.locate(x0 + dx, y0 + dy) == settings.district_code + expected


def test_locate_accepts_gcj02_and_bd09(client, auth, settings):
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 150, y0 + 50)
    glon, glat = wgs84_to_gcj02(lon, lat)
    # The GCJ-02 shift here is ~500 m: read as WGS84 it would miss the grid entirely.
    assert math.hypot((glon - lon) * 91000, (glat - lat) * 111000) > 300
    body = locate(client, auth, lon=glon, lat=glat, crs="gcj02").get_json()
    assert body["cell"]["code"] == settings.district_code + "001001004"
    assert body["point"]["lon"] == pytest.approx(lon, abs=1e-6)
    blon, blat = wgs84_to_bd09(lon, lat)
    body = locate(client, auth, lon=blon, lat=blat, crs="bd09").get_json()
    assert body["cell"]["code"] == settings.district_code + "001001004"
    assert_problem(locate(client, auth, lon=glon, lat=glat), 404)


def test_point_outside_district_is_404_naming_extent(client, auth, settings):
    body = assert_problem(locate(client, auth, lon=113.5, lat=34.5), 404)
    assert body["type"] == "/problems/out-of-district"
    assert "113.7800" in body["detail"]  # the extent, in either language
    minx, miny, maxx, maxy = body["district_extent"]
    assert 113.77 < minx < maxx < 113.79 and 34.76 < miny < maxy < 34.78


@pytest.mark.parametrize(
    "params, field",
    [
        ({"lat": 34.77}, "lon"),
        ({"lon": 113.78}, "lat"),
        ({"lon": "abc", "lat": 34.77}, "lon"),
        ({"lon": "nan", "lat": 34.77}, "lon"),
        ({"lon": 113.78, "lat": "inf"}, "lat"),
        ({"lon": 200, "lat": 34.77}, "lon"),
        ({"lon": 113.78, "lat": -91}, "lat"),
        ({"lon": 113.78, "lat": 34.77, "crs": "epsg:3857"}, "crs"),
    ],
)
def test_bad_parameters_are_400_naming_the_field(client, auth, params, field):
    body = assert_problem(locate(client, auth, **params), 400, field=field)
    assert field in body["detail"]


def test_unknown_crs_lists_accepted_values(client, auth):
    body = assert_problem(locate(client, auth, lon=113.78, lat=34.77, crs="mars"), 400, field="crs")
    assert {"wgs84", "gcj02", "bd09"} <= set(body["accepted"])
    assert "gcj02" in body["detail"]


def test_locate_requires_authentication(client, grid):
    body = assert_problem(client.get("/api/v1/grid/locate?lon=113.78&lat=34.77"), 401)
    assert body["type"] == "/problems/unauthorized"


def test_cells_in_bbox_are_geojson(client, auth, settings):
    x0, y0 = origin_xy(settings)
    lon0, lat0 = lonlat_of(settings, x0 + 10, y0 + 10)
    lon1, lat1 = lonlat_of(settings, x0 + 190, y0 + 190)  # only community 001's block
    resp = client.get(f"/api/v1/grid/cells?bbox={lon0},{lat0},{lon1},{lat1}", headers=auth)
    assert resp.status_code == 200
    assert resp.mimetype == "application/geo+json"
    body = resp.get_json()
    codes = sorted(f["id"] for f in body["features"])
    assert codes == [settings.district_code + f"001001{n:03d}" for n in (1, 2, 3, 4)]
    assert body["numberMatched"] == 4 and body["numberReturned"] == 4
    feature = body["features"][0]
    assert feature["geometry"]["type"] == "MultiPolygon"
    ring = feature["geometry"]["coordinates"][0][0]
    assert all(113.7 < x < 113.9 and 34.7 < y < 34.9 for x, y in ring)
    assert feature["properties"]["community_name"] == "测试一社区"


def test_cells_are_paged_with_a_next_link(client, auth, settings):
    resp = client.get("/api/v1/grid/cells?bbox=113.7,34.7,113.9,34.9&limit=4", headers=auth)
    body = resp.get_json()
    assert body["numberMatched"] == 6 and body["numberReturned"] == 4
    nxt = next(link["href"] for link in body["links"] if link["rel"] == "next")
    rest = client.get(nxt, headers=auth).get_json()
    assert rest["numberReturned"] == 2 and not rest["links"]
    all_codes = {f["id"] for f in body["features"]} | {f["id"] for f in rest["features"]}
    assert len(all_codes) == 6


@pytest.mark.parametrize(
    "bbox",
    ["", "1,2,3", "a,b,c,d", "113.9,34.7,113.7,34.9", "113.7,34.7,113.9,95", "nan,1,2,3"],
)
def test_bad_bbox_is_400(client, auth, bbox):
    assert_problem(client.get("/api/v1/grid/cells", query_string={"bbox": bbox}, headers=auth), 400, field="bbox")


def test_streets_and_communities_layers(client, auth, settings):
    streets = client.get("/api/v1/grid/streets", headers=auth).get_json()
    assert [f["properties"]["name"] for f in streets["features"]] == ["测试街道"]
    comms = client.get("/api/v1/grid/communities", headers=auth).get_json()
    assert sorted(f["properties"]["name"] for f in comms["features"]) == ["测试一社区", "测试二社区"]
