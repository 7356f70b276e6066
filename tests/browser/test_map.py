"""The inspector map in headless Chromium over the small demo: sign-in, cells, popups, languages."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from shapely.geometry import Point, shape
from shapely.ops import polylabel

from tests.browser.conftest import set_view
from tests.browser.conftest import sign_in as shared_sign_in

pytestmark = pytest.mark.browser

MAP = ".folium-map"
CODE_RE = re.compile(r"\b\d{15}\b")


def sign_in(page, base: str, username: str = "inspector1") -> None:
    """Sign in through the form on /login, starting from /map."""
    shared_sign_in(page, base, "/map", username)
    assert page.url == f"{base}/map"


def wait_ready(page) -> None:
    """Wait until the page script has drawn every cell of the current view."""
    page.wait_for_function(
        "() => window.citygridMap && (window.citygridMap.ready() || window.citygridMap.state.error)",
        timeout=20_000,
    )
    assert page.evaluate("window.citygridMap.state.error") is None


def a_cell(page) -> dict:
    """One cell of the demo as the API gives it (GeoJSON feature), fetched with the page's session."""
    extent = page.evaluate(
        "(() => { const b = window.citygridMap.map.getBounds();"
        " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()"
    )
    resp = page.request.get(
        f"{page.url.split('/map')[0]}/api/v1/grid/cells",
        params={"bbox": ",".join(f"{v:.6f}" for v in extent), "limit": "50"},
    )
    assert resp.ok, resp.text()
    features = resp.json()["features"]
    assert features, "the demo has no cells in the initial view"
    # A middle one: its neighbours are drawn around it too.
    return features[len(features) // 2]


def interior_point(geometry: dict) -> Point:
    """The point deepest inside a cell, far from its edges (so pixel rounding cannot matter)."""
    geom = shape(geometry)
    largest = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    return polylabel(largest, tolerance=1e-7)


def click_lonlat(page, lon: float, lat: float) -> None:
    """Click the map at a lon/lat that is in view."""
    x, y = page.evaluate(
        "([lon, lat]) => { const p = window.citygridMap.map.latLngToContainerPoint([lat, lon]);"
        " return [p.x, p.y]; }",
        [lon, lat],
    )
    box = page.locator(MAP).bounding_box()
    assert 0 < x < box["width"] and 0 < y < box["height"]
    page.mouse.click(box["x"] + x, box["y"] + y)


def no_page_errors(rec) -> list[str]:
    # The browser asks for /favicon.ico, which the app does not serve.
    return [e for e in rec.errors if "Failed to load resource" not in e]


def test_map_without_sign_in_goes_to_login(live_server, page):
    page.page.goto(f"{live_server}/map")
    assert re.fullmatch(rf"{re.escape(live_server)}/login\?next=/map", page.page.url)
    assert page.page.locator("h1").inner_text() == "登录"
    assert page.outside_requests() == []


def test_login_page_is_chinese_by_default_and_english_after_switch(live_server, page):
    pg = page.page
    pg.goto(f"{live_server}/login")
    assert pg.locator("html").get_attribute("lang") == "zh-CN"
    assert pg.locator("h1").inner_text() == "登录"
    assert pg.locator("label[for=username]").inner_text() == "用户名"
    pg.click("text=English")
    assert pg.url.endswith("/login")
    assert pg.locator("html").get_attribute("lang") == "en"
    assert pg.locator("h1").inner_text() == "Sign in"
    assert pg.locator("label[for=password]").inner_text() == "Password"


def test_inspector_clicks_a_cell_and_sees_its_details(live_server, page, artifacts):
    pg = page.page
    sign_in(pg, live_server)
    assert pg.locator(".topbar .who").inner_text().endswith("监督员")
    wait_ready(pg)
    # The inspector's map opens on their duty grid with its cells already drawn.
    assert pg.evaluate("window.citygridMap.map.getZoom()") >= 14
    assert pg.evaluate("window.citygridMap.state.drawnCells") > 0
    view_has_my_grid = pg.evaluate(
        "(() => { let ok = false; window.citygridMap.map.eachLayer(l => {"
        " if (l.feature && l.feature.properties && /-D\\d+$/.test(l.feature.properties.code || ''))"
        " ok = window.citygridMap.map.getBounds().pad(0.01).contains(l.getBounds()); });"
        " return ok; })()"
    )
    assert view_has_my_grid
    assert "我的责任网格" in pg.locator(".cg-legend").inner_text()
    pg.screenshot(path=str(artifacts / "map-initial.png"))

    cell = a_cell(pg)
    props = cell["properties"]
    inside = interior_point(cell["geometry"])
    set_view(pg, inside.y, inside.x, 17)
    pg.wait_for_function("() => window.citygridMap.map.getZoom() === 17")
    wait_ready(pg)
    drawn = pg.evaluate("window.citygridMap.state.drawnCells")
    assert drawn >= 4
    assert int(pg.locator(MAP).get_attribute("data-cells-drawn")) == drawn
    # Cells are drawn on the canvas renderer, not as SVG paths.
    assert pg.locator(f"{MAP} canvas").count() >= 1
    assert pg.locator(f"{MAP} svg path.leaflet-interactive").count() == 0

    click_lonlat(pg, inside.x, inside.y)
    code = pg.locator(".leaflet-popup-content .cg-code")
    code.wait_for(timeout=10_000)
    assert CODE_RE.fullmatch(code.inner_text())
    assert code.inner_text() == props["code"]
    popup = pg.locator(".leaflet-popup-content").inner_text()
    assert props["community_name"] in popup and props["community_code"] in popup
    assert props["street_name"] in popup and props["street_code"] in popup
    for label in ("社区", "街道", "责任网格", "责任监督员"):
        assert label in popup
    if props["inspector"]:
        assert props["inspector"] in popup
        assert "在岗" in popup or "不在岗" in popup
    pg.wait_for_function(
        "code => document.querySelector('.folium-map').dataset.highlight === code", arg=props["code"]
    )
    assert pg.locator(MAP).get_attribute("data-cells-shown") == "1"
    # Move the pointer off the map (no hover tooltip) and let the popup's pan settle.
    pg.mouse.move(400, 10)
    pg.wait_for_timeout(400)
    pg.screenshot(path=str(artifacts / "map-cell-popup.png"))

    # Zoomed out the cells go (communities only) and a hint says to zoom in.
    pg.evaluate("void window.citygridMap.map.setZoom(12)")
    expect(pg.locator(".cg-status")).to_have_text("放大以显示单元网格")
    assert pg.locator(MAP).get_attribute("data-cells-shown") == "0"
    pg.screenshot(path=str(artifacts / "map-zoomed-out.png"))

    assert page.outside_requests() == [], page.outside_requests()
    assert any("/api/v1/grid/cells?" in u for u in page.requests)
    assert any("/api/v1/grid/locate?" in u for u in page.requests)
    assert any(u.endswith("/static/vendor/leaflet/dist/leaflet.js") for u in page.requests)
    assert no_page_errors(page) == []


def test_map_in_english(live_server, page, artifacts):
    pg = page.page
    sign_in(pg, live_server)
    pg.goto(f"{live_server}/lang/en?next=/map")
    assert pg.url == f"{live_server}/map"
    assert pg.locator("html").get_attribute("lang") == "en"
    assert pg.locator(".topbar").inner_text().count("Sign out") == 1
    assert pg.locator(".topbar .who").inner_text().endswith("inspector")
    wait_ready(pg)
    assert pg.locator(".cg-legend h2").inner_text() == "Communities"
    assert pg.locator(".cg-legend li").count() == 8

    cell = a_cell(pg)
    inside = interior_point(cell["geometry"])
    set_view(pg, inside.y, inside.x, 16)
    pg.wait_for_function("() => window.citygridMap.map.getZoom() === 16")
    wait_ready(pg)
    click_lonlat(pg, inside.x, inside.y)
    pg.locator(".leaflet-popup-content .cg-code").wait_for()
    pg.wait_for_timeout(400)
    popup = pg.locator(".leaflet-popup-content").inner_text()
    assert cell["properties"]["code"] in popup
    for label in ("Community", "Street", "Duty grid", "Duty inspector"):
        assert label in popup
    pg.screenshot(path=str(artifacts / "map-cell-popup-en.png"))

    # The report form's kind chips and category names are English too.
    pg.keyboard.press("Escape")
    pg.click("#cg-report-btn")
    pg.click("#cg-use-centre")
    expect(pg.locator("#cg-kinds .cg-chip")).to_have_text(["All", "Components", "Matters"])
    pg.locator("#cg-cat-q").fill("暴露垃圾")  # Chinese names are still found
    expect(pg.locator("#cg-cat-list .cg-cat-item .cg-cat-name").first).to_have_text("Exposed rubbish")
    pg.keyboard.press("Escape")
    expect(pg.locator("#cg-sheet")).to_be_hidden()

    # A click outside the district says so instead of showing a cell.
    pg.evaluate("void window.citygridMap.map.setZoom(12)")
    expect(pg.locator(".cg-status")).to_have_text("Zoom in to see unit grid cells")
    box = pg.locator(MAP).bounding_box()
    pg.mouse.click(box["x"] + box["width"] * 0.12, box["y"] + box["height"] * 0.5)
    pg.locator(".leaflet-popup-content .error").wait_for()
    assert "outside the district" in pg.locator(".leaflet-popup-content").inner_text()

    assert page.outside_requests() == [], page.outside_requests()
    assert no_page_errors(page) == []
