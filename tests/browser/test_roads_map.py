"""The roads base map in headless Chromium over the small demo: names legible at zoom 17 on a phone
without any tiles, and GCJ-02 tiles shifted onto our WGS84 layers."""

from __future__ import annotations

import math

import pytest
from shapely.geometry import shape

from gis.crs import wgs84_to_gcj02
from tests.browser.conftest import serving, set_view, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def _longest_arterial(pg, base: str) -> tuple[str, float, float]:
    """Name and midpoint (lon, lat) of the demo's longest arterial, fetched with the page's session."""
    bounds = pg.evaluate("JSON.parse(document.getElementById('cg-roads-config').textContent).bounds")
    resp = pg.request.get(f"{base}/api/v1/roads", params={"bbox": ",".join(f"{v:.6f}" for v in bounds),
                                                          "class": "arterial"})
    assert resp.ok, resp.text()
    feature = max(resp.json()["features"], key=lambda f: shape(f["geometry"]).length)
    line = max(shape(feature["geometry"]).geoms, key=lambda g: g.length)
    mid = line.interpolate(0.5, normalized=True)
    return feature["properties"]["name"], mid.x, mid.y


def test_road_names_are_legible_at_zoom_17_on_a_phone_without_tiles(live_server, browser, artifacts):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        pg = context.new_page()
        requests: list[str] = []
        pg.on("request", lambda r: requests.append(r.url))
        sign_in(pg, live_server, "/map", "inspector1")
        pg.wait_for_function("() => window.citygridMap && window.citygridRoads"
                             " && window.citygridRoads.maps.length === 1", timeout=20_000)
        assert pg.evaluate("JSON.parse(document.getElementById('cg-roads-config').textContent).mode") == "base"
        name, lon, lat = _longest_arterial(pg, live_server)
        set_view(pg, lat, lon, 17)
        pg.wait_for_function("() => window.citygridMap.ready()", timeout=20_000)
        # The road's name is on screen, inside the map, horizontal text at least 15 px tall.
        pg.wait_for_function(
            """(name) => {
                const box = document.querySelector('.folium-map').getBoundingClientRect();
                return Array.from(document.querySelectorAll('.cg-road-name')).some(el => {
                    const r = el.getBoundingClientRect();
                    return el.textContent === name && r.left >= box.left && r.right <= box.right
                        && r.top >= box.top && r.bottom <= box.bottom;
                });
            }""", arg=name, timeout=15_000)
        assert pg.evaluate("parseFloat(getComputedStyle(document.querySelector('.cg-road-name')).fontSize)") >= 13
        # Drawn under the page's layers, as wide as the road is (50 m ≈ 50 px at zoom 17 here).
        roads = pg.evaluate("""(() => { const r = window.citygridRoads.maps[0];
            const d = r.drawn.filter(x => x.style.rank === 3)[0];
            return {n: r.drawn.length, weight: d.fill.options.weight,
                    pane: getComputedStyle(r.map.getPane('cgRoads')).zIndex}; })()""")
        assert roads["n"] > 3 and 35 < roads["weight"] < 70 and int(roads["pane"]) < 400, roads
        # No tiles at all, and nothing fetched from outside the machine.
        assert pg.locator(".leaflet-tile").count() == 0
        assert not [u for u in requests if not u.startswith(live_server) and not u.startswith("data:")]
        pg.screenshot(path=str(artifacts / "map-roads-z17-phone.png"))
    finally:
        context.close()


@pytest.fixture(scope="module")
def gcj02_server(browser_settings):
    """The app again, configured with GCJ-02 tiles from a loopback port nobody serves."""
    settings = browser_settings.with_overrides(tile_url="http://127.0.0.1:9/t/{z}/{x}/{y}.png", tile_crs="gcj02")
    with serving(settings, "gcj02-server") as url:
        yield url


def _world_px(lon: float, lat: float, zoom: int) -> tuple[float, float]:
    """Web Mercator world pixel of a lon/lat at ``zoom`` (256-px tiles)."""
    scale = 256 * 2 ** zoom
    s = math.sin(math.radians(lat))
    return (lon + 180) / 360 * scale, (0.5 - math.log((1 + s) / (1 - s)) / (4 * math.pi)) * scale


def test_gcj02_tiles_are_shifted_onto_the_wgs84_layers_and_roads_are_an_overlay(gcj02_server, page):
    pg = page.page
    sign_in(pg, gcj02_server, "/map", "inspector1")
    pg.wait_for_function("() => window.citygridMap && window.citygridRoads"
                         " && window.citygridRoads.maps.length === 1", timeout=20_000)
    # With tiles the roads are an overlay in the layer control, off until switched on.
    assert pg.evaluate("JSON.parse(document.getElementById('cg-roads-config').textContent).mode") == "overlay"
    labels = pg.evaluate("Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
                         ".map(l => [l.textContent.trim(), l.querySelector('input').checked])")
    assert ["道路", False] in labels, labels

    # A known point: where its GCJ-02 position falls in its tile must be where the map draws it.
    lon, lat, zoom = 113.7512, 34.7634, 17
    set_view(pg, lat, lon, zoom)
    pg.evaluate("() => { window.citygridMap.map.fire('moveend'); }")
    gx, gy = _world_px(*wgs84_to_gcj02(lon, lat), zoom)
    src = f"/t/{zoom}/{int(gx // 256)}/{int(gy // 256)}.png"
    tile = pg.locator(f".leaflet-tile[src$='{src}']")
    tile.wait_for(state="attached", timeout=10_000)
    box = tile.bounding_box()
    drawn = pg.evaluate("""([lat, lon]) => { const m = window.citygridMap.map;
        const p = m.latLngToContainerPoint([lat, lon]); const r = m.getContainer().getBoundingClientRect();
        return [r.left + p.x, r.top + p.y]; }""", [lat, lon])
    in_tile = (box["x"] + gx % 256, box["y"] + gy % 256)
    assert abs(in_tile[0] - drawn[0]) <= 1.5 and abs(in_tile[1] - drawn[1]) <= 1.5, (in_tile, drawn)
    # Unshifted, the tiles would be off by the GCJ-02 offset: hundreds of pixels at zoom 17.
    wx, wy = _world_px(lon, lat, zoom)
    assert math.hypot(gx - wx, gy - wy) > 300
