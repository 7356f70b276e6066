"""The asset overlays in headless Chromium: a pipeline created through the API is drawn in its
CJJ 61 class colour with the legend; inspectors get the overlays switched off."""

from __future__ import annotations

import uuid

import pytest
from shapely.geometry import shape
from shapely.ops import polylabel

from tests.browser.conftest import set_view
from tests.browser.conftest import sign_in as shared_sign_in
from tests.browser.test_command import Api

pytestmark = pytest.mark.browser

OVERLAYS = ("地下管线", "视频监控", "楼宇", "管理部件")
GAS_COLOUR = "#ff00ff"  # CJJ 61 燃气: 粉红 (255, 0, 255)


def wait_map(page) -> None:
    # Also wait for the opening zoom animation to end: Leaflet finishes it even after a later
    # setView, which would put the view back.
    page.wait_for_function(
        "() => window.citygridMap && (window.citygridMap.ready() || window.citygridMap.state.error)"
        " && window.citygridAssets && window.citygridAssets.instances.length === 1"
        " && !window.citygridMap.map._animatingZoom",
        timeout=20_000,
    )
    assert page.evaluate("window.citygridMap.state.error") is None


def overlay_labels(page) -> dict[str, bool]:
    """The layer control's overlays: label → checked."""
    page.locator(".leaflet-control-layers").hover()
    return page.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".reduce((o, l) => { o[l.textContent.trim()] = l.querySelector('input').checked; return o; }, {})"
    )


def toggle_overlay(page, name: str) -> None:
    page.locator(".leaflet-control-layers").hover()
    page.locator(".leaflet-control-layers-overlays label", has_text=name).click()


def layer_state(page, name: str) -> str:
    return page.evaluate(f"window.citygridAssets.instances[0].layers.{name}.state")


def wait_state(page, name: str, state: str) -> None:
    """Wait until overlay ``name`` reaches ``state``; on a timeout say where it is instead."""
    try:
        page.wait_for_function(f"() => window.citygridAssets.instances[0].layers.{name}.state === '{state}'",
                               timeout=20_000)
    except Exception:
        info = page.evaluate(f"(() => {{ const l = window.citygridAssets.instances[0].layers.{name};"
                             " return [l.state, l.error, window.citygridMap && window.citygridMap.map.getZoom()]; })()")
        raise AssertionError(f"{name} stayed {info} instead of {state!r}") from None


def quiet_spot(api: Api, page) -> tuple[float, float]:
    """A point deep inside a cell of the view with no demo pipeline within 25 m."""
    b = page.evaluate("(() => { const b = window.citygridMap.map.getBounds();"
                      " return [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]; })()")
    cells = api.get("/api/v1/grid/cells?limit=200&bbox=" + ",".join(f"{v:.6f}" for v in b))["features"]
    for cell in cells[len(cells) // 3:] + cells[:len(cells) // 3]:
        geom = shape(cell["geometry"])
        part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        p = polylabel(part, tolerance=1e-7)
        near = api.get(f"/api/v1/pipelines/near?lon={p.x:.7f}&lat={p.y:.7f}&radius=25")
        if not near["pipelines"]:
            return p.x, p.y
    raise AssertionError("no cell of the view is free of demo pipelines")


def test_pipelines_overlay_draws_class_colours_and_the_legend(live_server, page, artifacts):
    pg = page.page
    shared_sign_in(pg, live_server, "/map", "leader1")
    wait_map(pg)
    labels = overlay_labels(pg)
    assert all(labels.get(name) is False for name in OVERLAYS), labels

    admin = Api(live_server, "admin1")
    lon, lat = quiet_spot(admin, pg)
    code = f"BT-{uuid.uuid4().hex[:8]}"
    # A 30 m gas main, west to east through the point (0.00033° of longitude ≈ 30 m here).
    created = admin.post("/api/v1/pipelines", {
        "code": code, "class_abbr": "RQ", "subclass_abbr": "TR", "material_code": "PE", "diameter_mm": 160,
        "start_depth_m": 1.0, "end_depth_m": 1.2, "pressure_mpa": 0.4, "owner": "郑州华润燃气",
        "geometry": {"type": "LineString", "coordinates": [[lon - 0.000165, lat], [lon + 0.000165, lat]]},
    })
    assert created["properties"]["color"] == GAS_COLOUR

    # Zoomed out, turning the overlay on only asks to zoom in: nothing is fetched yet.
    set_view(pg, lat, lon, 14)
    toggle_overlay(pg, "地下管线")
    wait_state(pg, "pipelines", "zoom")
    status = pg.locator(".cg-assets-status")
    assert "地下管线" in status.inner_text() and "放大" in status.inner_text()
    assert not [u for u in page.requests if "/api/v1/pipelines?" in u]

    # Zoomed in, the line appears in the class colour and the legend lists the classes.
    set_view(pg, lat, lon, 18)
    wait_state(pg, "pipelines", "ok")
    drawn = pg.evaluate(
        "(code) => { let out = null; window.citygridAssets.instances[0].layers.pipelines.drawn.eachLayer(l => {"
        " if (l.feature.properties.code === code) out = {stroke: l._path.getAttribute('stroke'),"
        " width: l._path.getAttribute('stroke-width'), shown: l._path.getBoundingClientRect().width}; });"
        " return out; }",
        code,
    )
    assert drawn is not None, "the new pipeline is not drawn"
    assert drawn["stroke"] == GAS_COLOUR and drawn["width"] == "4"
    assert drawn["shown"] > 50  # 30 m at zoom 18 is about 120 px wide
    legend = pg.locator(".cg-assets-legend")
    legend.wait_for()
    assert "燃气" in legend.inner_text() and "排水" in legend.inner_text()
    swatch = legend.locator("li[data-class='RQ'] .cg-assets-line")
    assert swatch.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(255, 0, 255)"
    sewer = legend.locator("li[data-class='PS'] .cg-assets-line")
    assert sewer.evaluate("e => getComputedStyle(e).backgroundColor") == "rgb(76, 57, 38)"

    # A click on the line opens its popup (the cells underneath do not take the click).
    x, y = pg.evaluate("([lat, lon]) => { const p = window.citygridMap.map.latLngToContainerPoint([lat, lon]);"
                       " return [p.x, p.y]; }", [lat, lon])
    box = pg.locator(".folium-map").bounding_box()
    pg.mouse.click(box["x"] + x, box["y"] + y)
    popup = pg.locator(".leaflet-popup .cg-asset-popup")
    popup.wait_for()
    assert code in popup.inner_text() and "燃气" in popup.inner_text() and "DN160" in popup.inner_text()
    assert pg.evaluate("window.citygridMap.state.lastLocate") is None
    pg.wait_for_function("() => getComputedStyle(document.querySelector('.leaflet-popup')).opacity === '1'")
    pg.screenshot(path=str(artifacts / "map-pipelines.png"))

    # Off again: the lines and the legend go; the choice is remembered for the next visit.
    pg.keyboard.press("Escape")
    toggle_overlay(pg, "地下管线")
    wait_state(pg, "pipelines", "off")
    assert legend.count() == 0
    toggle_overlay(pg, "地下管线")
    pg.reload()
    wait_map(pg)
    assert overlay_labels(pg)["地下管线"] is True
    assert page.outside_requests() == []
    assert [e for e in page.errors if "Failed to load resource" not in e] == []


def test_inspector_map_keeps_the_overlays_off(live_server, page):
    pg = page.page
    shared_sign_in(pg, live_server, "/map", "inspector1")
    wait_map(pg)
    labels = overlay_labels(pg)
    assert all(labels.get(name) is False for name in OVERLAYS), labels
    pg.evaluate("() => { const m = window.citygridMap.map; m.setView(m.getCenter(), 18, {animate: false}); }")
    assert pg.evaluate("window.citygridMap.map.getZoom()") == 18
    wait_map(pg)
    assert not [u for u in page.requests if "/api/v1/pipelines" in u or "/api/v1/cameras?" in u]


def test_command_centre_map_has_the_overlays(live_server, page):
    pg = page.page
    shared_sign_in(pg, live_server, "/command", "dispatcher1")
    pg.wait_for_function("() => window.citygridCommand && window.citygridAssets"
                         " && window.citygridAssets.instances.length === 1"
                         " && !window.citygridCommand.map._animatingZoom", timeout=20_000)
    labels = pg.evaluate(
        "Array.from(document.querySelectorAll('.leaflet-control-layers-overlays label'))"
        ".map(l => l.textContent.trim())")
    assert all(name in labels for name in OVERLAYS), labels
    pg.evaluate("() => { const m = window.citygridCommand.map; m.setView(m.getCenter(), 17, {animate: false}); }")
    pg.locator(".leaflet-control-layers-overlays label", has_text="地下管线").click()
    wait_state(pg, "pipelines", "ok")
    assert pg.evaluate("window.citygridAssets.instances[0].layers.pipelines.shown") > 0


def test_cameras_with_their_view_components_and_a_missing_layer(live_server, page, artifacts):
    pg = page.page
    # The buildings endpoint answers 404 here, as on a deployment without that layer yet.
    pg.route("**/api/v1/buildings?*", lambda route: route.fulfill(
        status=404, content_type="application/problem+json",
        body='{"type": "about:blank", "title": "Not Found", "status": 404}'))
    shared_sign_in(pg, live_server, "/map", "leader1")
    wait_map(pg)
    api = Api(live_server, "leader1")
    c = pg.evaluate("(() => { const c = window.citygridMap.map.getCenter(); return [c.lng, c.lat]; })()")
    box = [c[0] - 0.01, c[1] - 0.01, c[0] + 0.01, c[1] + 0.01]
    cameras = api.get("/api/v1/cameras?limit=50&bbox=" + ",".join(f"{v:.6f}" for v in box))["features"]
    assert cameras, "the demo has no cameras near the centre of the district"
    camera = cameras[len(cameras) // 2]
    lon, lat = camera["geometry"]["coordinates"]
    set_view(pg, lat, lon, 18)

    toggle_overlay(pg, "视频监控")
    wait_state(pg, "cameras", "ok")
    drawn = pg.evaluate(
        "(id) => { const out = {polygons: 0, markers: 0};"
        " window.citygridAssets.instances[0].layers.cameras.drawn.eachLayer(l => {"
        "  if (l instanceof L.CircleMarker) out.markers += 1; else out.polygons += 1; });"
        " return out; }", camera["id"])
    assert drawn["markers"] >= 1 and drawn["polygons"] >= 1, drawn
    # A click on the camera opens its popup with the device id.
    x, y = pg.evaluate("([lat, lon]) => { const p = window.citygridMap.map.latLngToContainerPoint([lat, lon]);"
                       " return [p.x, p.y]; }", [lat, lon])
    box = pg.locator(".folium-map").bounding_box()
    pg.mouse.click(box["x"] + x, box["y"] + y)
    popup = pg.locator(".leaflet-popup .cg-asset-popup")
    popup.wait_for()
    assert "视频监控" in popup.inner_text()
    assert any(c["properties"]["device_id"] in popup.inner_text() for c in cameras)
    pg.keyboard.press("Escape")

    toggle_overlay(pg, "楼宇")
    wait_state(pg, "buildings", "unavailable")
    assert "暂不可用：楼宇" in pg.locator(".cg-assets-status").inner_text()
    toggle_overlay(pg, "管理部件")
    wait_state(pg, "components", "ok")
    assert pg.evaluate("window.citygridAssets.instances[0].layers.components.shown") > 0

    # Panning far asks the layers for the new view, but not the missing one again.
    def asked(layer):
        return len([u for u in page.requests if f"/api/v1/{layer}?" in u])

    before = {layer: asked(layer) for layer in ("cameras", "buildings", "components")}
    pg.evaluate("() => { window.citygridMap.map.panBy([900, 0], {animate: false}); }")
    # Requests are recorded in the order they are made, and components come after buildings.
    wait_state(pg, "components", "ok")
    assert asked("cameras") == before["cameras"] + 1 and asked("components") == before["components"] + 1
    assert asked("buildings") == before["buildings"]
    wait_state(pg, "cameras", "ok")
    pg.screenshot(path=str(artifacts / "map-assets.png"))
    assert [e for e in page.errors if "Failed to load resource" not in e and "404" not in e] == []
