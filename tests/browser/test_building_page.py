"""The building page in headless Chromium, for a building made through the API: footprint on the
map, attributes, its case linking to the case page, a camera's stream link; nothing off-machine."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from shapely.geometry import box, mapping

from gis.crs import lonlat_to_storage, transform_geometry
from tests.browser.conftest import sign_in
from tests.browser.test_desk import api, token

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def building(live_server, browser_settings) -> dict:
    """A 40 m × 30 m office building made by admin1 in a demo cell, with a case reported on it."""
    from app.db import make_engine

    settings = browser_settings
    engine = make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            lon, lat = conn.execute(sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p"
                " FROM cells WHERE valid_to IS NULL ORDER BY code OFFSET 77 LIMIT 1) s")).one()
    finally:
        engine.dispose()
    x, y = lonlat_to_storage(float(lon), float(lat), settings.storage_srid)
    footprint = transform_geometry(box(x - 20, y - 15, x + 20, y + 15), settings.storage_srid, 4326)
    admin = token(live_server, "admin1")
    status, feature = api(live_server, "POST", "/api/v1/buildings", admin, {
        "type": "Feature", "geometry": mapping(footprint),
        "properties": {"name": "浏览器测试大厦", "code": "BROWSER-T1", "use": "办公", "floors": 12,
                       "height_m": 45, "address": "郑东新区测试路8号"}})
    assert status == 201, feature
    status, body = api(live_server, "POST", "/api/v1/cases", token(live_server, "operator1"), {
        "lon": float(lon), "lat": float(lat), "category": "E06010", "source": "hotline",
        "description": "大厦门前暴露垃圾"})
    assert status == 201, body
    return {"id": feature["id"], "case": body["case"], "cell": feature["properties"]["cell_code"]}


def test_building_page_shows_the_building_its_case_and_map(page, live_server, building, artifacts):
    pg = page.page
    sign_in(pg, live_server, f"/buildings/{building['id']}", "leader1")
    expect(pg.locator("#building-name")).to_have_text("浏览器测试大厦")
    facts = pg.locator("#building-facts")
    expect(facts).to_contain_text("BROWSER-T1")
    expect(facts).to_contain_text("45 m")
    expect(facts).to_contain_text(building["cell"])
    assert pg.locator("html").get_attribute("lang") == "zh-CN"
    # The footprint is drawn and the map fitted to it.
    pg.wait_for_function("() => window.citygridBuilding && window.citygridBuilding.state.ready")
    expect(pg.locator("#building-map path.cg-footprint")).to_have_count(1)
    markers = pg.evaluate("window.citygridBuilding.state.markers")
    expect(pg.locator("#building-map path.leaflet-interactive")).to_have_count(1 + markers)
    # Its case links to the case page.
    link = pg.locator(f'#building-cases tr[data-case-id="{building["case"]["id"]}"] a')
    expect(link).to_have_text(building["case"]["number"])
    pg.screenshot(path=str(artifacts / "building.png"), full_page=True)
    with pg.expect_navigation():
        link.click()
    assert pg.url.endswith(f"/cases/{building['case']['id']}")
    expect(pg.locator(".case-number")).to_have_text(building["case"]["number"])
    assert page.outside_requests() == []
    assert page.errors == []


def test_building_page_in_english_and_for_an_inspector(page, live_server, building):
    pg = page.page
    sign_in(pg, live_server, f"/buildings/{building['id']}", "inspector1")
    pg.click("text=English")
    expect(pg.locator("#h-cases")).to_contain_text("Cases")
    expect(pg.locator("#building-facts")).to_contain_text("Office")
    expect(pg.locator("#h-facts")).to_have_text("Attributes")
    assert page.errors == []


def test_unknown_building_is_a_404_page(page, live_server, building):
    pg = page.page
    sign_in(pg, live_server, f"/buildings/{building['id']}", "inspector1")
    resp = pg.goto(f"{live_server}/buildings/99999999")
    assert resp.status == 404
