"""Hostile names in headless Chromium: a building, camera, component, pipeline owner, case text,
display names and a department name written as HTML stay text on every page, in every tooltip and
popup, and no page breaks its Content-Security-Policy."""

from __future__ import annotations

import uuid

import pytest
import sqlalchemy as sa
from shapely.geometry import box, mapping

from gis.crs import lonlat_to_storage, storage_to_lonlat, transform_geometry
from grid.deviceid import format_device_id
from tests.browser.conftest import set_view, sign_in
from tests.browser.test_assets_map import toggle_overlay, wait_map, wait_state
from tests.browser.test_desk import api, token

pytestmark = pytest.mark.browser

#: Markup that runs script wherever it is put into the page as HTML (or breaks out of a <script>).
PAYLOAD = "<img src=x onerror=__xss=1></script><script>__xss=2</script>"
NAMES = {kind: f"{tag}{PAYLOAD}" for kind, tag in (
    ("building", "楼"), ("camera", "摄"), ("component", "件"), ("owner", "权"), ("description", "述"),
    ("address", "址"), ("dispatcher", "调"), ("inspector", "巡"), ("department", "部"))}

#: Records what a hostile name could do: a script it ran, a dialog, a CSP violation.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + e.blockedURI + " " + (e.sample || ""));
});
"""

#: Opens every tooltip bound on the map ``m`` and returns what each shows.
OPEN_TOOLTIPS = """(m) => {
  const out = [];
  m.eachLayer((l) => {
    const t = l.getTooltip && l.getTooltip();
    if (!t) return;
    l.openTooltip();
    const node = t.getElement();
    if (node) out.push({text: node.textContent, markup: !!node.querySelector("img, script")});
  });
  return out;
}"""


def _offset(srid: int, lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    x, y = lonlat_to_storage(lon, lat, srid)
    lon2, lat2 = storage_to_lonlat(float(x) + east_m, float(y) + north_m, srid)
    return float(lon2), float(lat2)


@pytest.fixture(scope="module")
def hostile(live_server, browser_settings):
    """A dispatched demo case renamed, and assets, a department and two users named with HTML around it."""
    from app.db import make_engine

    srid = browser_settings.storage_srid
    admin, operator = token(live_server, "admin1"), token(live_server, "operator1")
    status, listing = api(live_server, "GET", "/api/v1/cases?state=dispatched&page_size=1", operator)
    assert status == 200 and listing["items"], listing
    case = listing["items"][0]
    lon, lat = case["location"]["lon"], case["location"]["lat"]
    engine = make_engine(browser_settings.database_url)
    made: list[str] = []
    with engine.begin() as conn:
        before_case = conn.execute(sa.text("SELECT description, address FROM cases WHERE id = :i"),
                                   {"i": case["id"]}).one()
        before_users = conn.execute(sa.text(
            "SELECT username, display_name, last_position, last_position_at FROM users"
            " WHERE username IN ('dispatcher1', 'inspector1')")).all()
        conn.execute(sa.text("UPDATE cases SET description = :d, address = :a WHERE id = :i"),
                     {"d": NAMES["description"], "a": NAMES["address"], "i": case["id"]})
        for username, kind in (("dispatcher1", "dispatcher"), ("inspector1", "inspector")):
            conn.execute(sa.text("UPDATE users SET display_name = :n WHERE username = :u"),
                         {"n": NAMES[kind], "u": username})
    status, dept = api(live_server, "GET", "/api/v1/departments", admin)
    old_dept = next(d for d in dept["departments"] if d["code"] == case["department"])
    try:
        status, body = api(live_server, "PATCH", f"/api/v1/departments/{case['department']}", admin,
                           {"name": NAMES["department"]})
        assert status == 200, body
        # A 40 m × 30 m building on the case, a camera 30 m west of it looking east, a manhole
        # cover inside it and a pipe 12 m north of it.
        x, y = lonlat_to_storage(lon, lat, srid)
        footprint = transform_geometry(box(float(x) - 20, float(y) - 15, float(x) + 20, float(y) + 15), srid, 4326)
        steps = [
            ("/api/v1/buildings", {"type": "Feature", "geometry": mapping(footprint), "properties": {
                "name": NAMES["building"], "code": f"XSS-{uuid.uuid4().hex[:6]}", "use": "办公", "floors": 3}}),
            ("/api/v1/cameras", {
                "device_id": format_device_id("41019901", uuid.uuid4().int % 1_000_000), "name": NAMES["camera"],
                "lon": _offset(srid, lon, lat, -30, 0)[0], "lat": _offset(srid, lon, lat, -30, 0)[1],
                "azimuth_deg": 90, "hfov_deg": 60, "range_m": 100}),
            ("/api/v1/components", {"type": "Feature", "properties": {"category": "01001", "name": NAMES["component"]},
                                    "geometry": {"type": "Point", "coordinates": _offset(srid, lon, lat, 10, 8)}}),
            ("/api/v1/pipelines", {
                "code": f"XSS-{uuid.uuid4().hex[:6]}", "class_abbr": "JS", "subclass_abbr": "SS", "material_code": "PE",
                "diameter_mm": 200, "start_depth_m": 1.0, "end_depth_m": 1.1, "owner": NAMES["owner"],
                "geometry": {"type": "LineString", "coordinates": [_offset(srid, lon, lat, -15, 12),
                                                                   _offset(srid, lon, lat, 15, 12)]}}),
        ]
        ids = {}
        for path, body in steps:
            status, created = api(live_server, "POST", path, admin, body)
            assert status == 201, (path, created)
            made.append(f"{path}/{created['id']}")
            ids[path.rsplit("/", 1)[1]] = created["id"]
        status, body = api(live_server, "POST", "/api/v1/inspectors/me/position", token(live_server, "inspector1"),
                           {"lon": _offset(srid, lon, lat, 0, -20)[0], "lat": _offset(srid, lon, lat, 0, -20)[1]})
        assert status == 200, body
        yield {"case": case, "lon": lon, "lat": lat, "building": ids["buildings"]}
    finally:
        for path in reversed(made):
            api(live_server, "DELETE", path, admin)
        api(live_server, "PATCH", f"/api/v1/departments/{case['department']}", admin,
            {"name": old_dept["name"]})
        with engine.begin() as conn:
            conn.execute(sa.text("UPDATE cases SET description = :d, address = :a WHERE id = :i"),
                         {"d": before_case.description, "a": before_case.address, "i": case["id"]})
            for row in before_users:
                conn.execute(sa.text("UPDATE users SET display_name = :n, last_position = :p, last_position_at = :t"
                                     " WHERE username = :u"),
                             {"n": row.display_name, "p": row.last_position, "t": row.last_position_at,
                              "u": row.username})
        engine.dispose()


def _harmless(page, where: str) -> None:
    """Nothing a hostile name could do happened on the page now shown."""
    pg = page.page
    assert pg.evaluate("typeof window.__xss") == "undefined", f"script from a name ran on {where}"
    assert pg.evaluate("window.__csp") == [], f"CSP violations on {where}"
    assert page.dialogs == [], where
    assert [e for e in page.errors if "Content Security Policy" in e or "Refused" in e] == [], where


def _tooltips(pg, handle: str) -> list[dict]:
    tips = pg.evaluate(f"() => ({OPEN_TOOLTIPS})({handle})")
    assert not [t for t in tips if t["markup"]], tips
    return [t["text"] for t in tips]


def test_hostile_names_stay_text_and_no_page_breaks_its_csp(page, live_server, hostile):
    pg = page.page
    page.dialogs = []
    pg.on("dialog", lambda d: (page.dialogs.append(d.message), d.dismiss()))
    pg.add_init_script(WATCH)
    case = hostile["case"]

    # The sign-in page, then the command centre: the inspector's position tooltip, the case detail.
    pg.goto(live_server + "/login")
    _harmless(page, "/login")
    sign_in(pg, live_server, "/command", "dispatcher1")
    assert pg.locator(".topbar .who").inner_text().startswith(NAMES["dispatcher"])
    pg.wait_for_function("() => window.citygridCommand && window.citygridCommand.ready()", timeout=20_000)
    pg.wait_for_function("""() => { let found = false; window.citygridCommand.map.eachLayer((l) => {
        const t = l.getTooltip && l.getTooltip(); if (t && String(t._content).includes("img src=x")) found = true; });
        return found; }""", timeout=10_000)
    assert any(t.startswith(NAMES["inspector"] + " (") for t in _tooltips(pg, "window.citygridCommand.map"))
    pg.evaluate("(id) => window.citygridCommand.select(id, {fly: false})", case["id"])
    desc = pg.locator("#cmd-detail p.desc")
    desc.wait_for(timeout=10_000)
    assert desc.inner_text() == NAMES["description"]
    pg.locator("#cmd-cameras .camera-name", has_text=NAMES["camera"]).wait_for(timeout=10_000)
    assert NAMES["department"] in pg.locator("#cmd-detail .cmd-facts").inner_text()
    _harmless(page, "/command")

    # The department desk: the department's name in the filter.
    pg.goto(live_server + "/desk")
    pg.wait_for_function("() => window.citygridDesk && window.citygridDesk.state.loads >= 1", timeout=10_000)
    assert pg.locator("#desk-department option", has_text=NAMES["department"]).count() == 1
    _harmless(page, "/desk")

    # The case page: its text, and the camera's tooltip on the map.
    pg.goto(f"{live_server}/cases/{case['id']}")
    assert pg.locator(".case-description").inner_text() == NAMES["description"]
    assert pg.locator(".case-address").inner_text() == NAMES["address"]
    pg.wait_for_function("() => window.citygridCase.state.cellLoaded || window.citygridCase.state.error")
    assert NAMES["camera"] in _tooltips(pg, "window.citygridCase.state.map")
    _harmless(page, f"/cases/{case['id']}")

    # The building page: hovering the footprint shows its name as text; the markers too.
    pg.goto(f"{live_server}/buildings/{hostile['building']}")
    assert pg.locator("#building-name").inner_text() == NAMES["building"]
    pg.wait_for_function("() => window.citygridBuilding && window.citygridBuilding.state.ready")
    pg.hover("#building-map path.cg-footprint")
    tip = pg.locator("#building-map .leaflet-tooltip")
    tip.wait_for()
    assert tip.locator("img, script").count() == 0
    assert tip.inner_text() == NAMES["building"]
    texts = _tooltips(pg, "window.citygridBuilding.state.map")
    assert any(t.endswith(" · " + NAMES["camera"]) for t in texts), texts
    assert any(t.endswith(" · " + NAMES["component"]) for t in texts), texts
    _harmless(page, f"/buildings/{hostile['building']}")

    # The grid map's asset overlays: every popup in view is text.
    pg.goto(live_server + "/map")
    wait_map(pg)
    for label in ("地下管线", "视频监控", "楼宇", "管理部件"):
        toggle_overlay(pg, label)
    set_view(pg, hostile["lat"], hostile["lon"], 18)
    for layer in ("pipelines", "cameras", "buildings", "components"):
        wait_state(pg, layer, "ok")
    popups = pg.evaluate("""() => {
        const out = [];
        const layers = window.citygridAssets.instances[0].layers;
        Object.keys(layers).forEach((name) => layers[name].drawn.eachLayer(function visit(l) {
            if (l.eachLayer) { l.eachLayer(visit); return; }
            if (!l.getPopup || !l.getPopup()) return;
            l.openPopup();
            const node = l.getPopup().getElement();
            out.push({text: node.textContent, markup: !!node.querySelector("img, script")});
        }));
        return out;
    }""")
    assert not [p for p in popups if p["markup"]]
    for kind in ("building", "camera", "component", "owner"):
        assert any(NAMES[kind] in p["text"] for p in popups), kind
    _harmless(page, "/map")
    assert page.outside_requests() == []
