"""The command center in headless Chromium: a report appears live, is accepted, filed and dispatched in one click."""

from __future__ import annotations

import json
import re
import urllib.request
import uuid

import pytest
from shapely.geometry import shape
from shapely.ops import polylabel

from tests.browser.conftest import DEMO_PASSWORD
from tests.browser.conftest import sign_in as shared_sign_in

pytestmark = pytest.mark.browser


class Api:
    """A bearer-token client for one demo user (requests from Python, not from the page)."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        body = self._send("POST", "/api/v1/auth/token", {"username": username, "password": DEMO_PASSWORD})
        self.headers = {"Authorization": f"Bearer {body['access_token']}"}

    def _send(self, method: str, path: str, body=None, headers=None):
        req = urllib.request.Request(
            self.base + path, method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
        )
        with urllib.request.urlopen(req, timeout=20) as resp:  # noqa: S310 — loopback test server
            return json.loads(resp.read())

    def get(self, path: str):
        return self._send("GET", path, headers=self.headers)

    def post(self, path: str, body, **headers):
        return self._send("POST", path, body, headers={**self.headers, **headers})

    def act(self, case: dict, action: str, **extra) -> dict:
        return self.post(f"/api/v1/cases/{case['id']}/actions",
                         {"action": action, "version": case["version"], **extra})["case"]


def sign_in(page, base: str, username: str) -> None:
    """Sign in and land on /command."""
    shared_sign_in(page, base, "/command", username)
    assert page.url == f"{base}/command"


def wait_ready(page) -> None:
    page.wait_for_function(
        "() => window.citygridCommand && window.citygridCommand.ready() && window.citygridCommand.state.live === 'open'",
        timeout=20_000,
    )
    assert page.evaluate("window.citygridCommand.state.error") is None


def a_point_in_view(page, api: Api) -> tuple[float, float]:
    """The deepest point of a unit grid cell in the middle of the current map view."""
    c = page.evaluate("(() => { const c = window.citygridCommand.map.getCenter(); return [c.lng, c.lat]; })()")
    bbox = f"{c[0] - 0.004:.6f},{c[1] - 0.004:.6f},{c[0] + 0.004:.6f},{c[1] + 0.004:.6f}"
    features = api.get(f"/api/v1/grid/cells?bbox={bbox}&limit=20")["features"]
    assert features, "no cells around the centre of the command map"
    geom = shape(features[0]["geometry"])
    largest = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    p = polylabel(largest, tolerance=1e-7)
    return p.x, p.y


def page_errors(rec) -> list[str]:
    # The browser asks for /favicon.ico, which the app does not serve.
    return [e for e in rec.errors if "Failed to load resource" not in e]


def test_dispatcher_sees_a_report_live_and_dispatches_it_in_one_click(live_server, page, artifacts):
    pg = page.page
    pg.set_viewport_size({"width": 1600, "height": 900})
    sign_in(pg, live_server, "dispatcher1")
    wait_ready(pg)
    assert pg.locator("#cmd-live").get_attribute("data-state") == "open"
    assert int(pg.locator("#cmd-count-total").inner_text()) > 0
    assert pg.locator(".cmd-row").count() > 0
    # The cells holding open cases are drawn, coloured by their worst light.
    assert int(pg.locator("#cmd-map-status").get_attribute("data-cells-drawn") or 0) > 0
    # Each cell's tooltip names it and counts its cases by light, in the page's language.
    tip = pg.evaluate("""() => {
        const group = window.citygridCommand.cells.getLayers()[0];
        return group.getTooltip().getContent();
    }""")
    assert re.fullmatch(r"网格 \d{15}：红灯 \d+、黄灯 \d+、绿灯 \d+、未派遣 \d+", tip), tip
    pg.screenshot(path=str(artifacts / "command-initial.png"))
    # Marks this document: after the report it must still be here (no reload happened).
    pg.evaluate("window.__sameDocument = 'yes'")

    inspector = Api(live_server, "inspector1")
    lon, lat = a_point_in_view(pg, inspector)
    description = f"指挥中心浏览器测试 {uuid.uuid4().hex[:6]}"
    case = inspector.post("/api/v1/cases", {"lon": lon, "lat": lat, "category": "E06010",
                                            "description": description},
                          **{"Idempotency-Key": uuid.uuid4().hex})["case"]

    row = pg.locator(f'.cmd-row[data-id="{case["id"]}"]')
    row.wait_for(timeout=15_000)
    assert pg.evaluate("window.__sameDocument") == "yes"
    assert case["number"] in row.inner_text()
    assert "flash-new" in row.get_attribute("class")
    pg.wait_for_function(f"() => window.citygridCommand.markers.has({case['id']})", timeout=10_000)
    pg.locator(".cmd-toast.new").first.wait_for(timeout=5_000)
    pg.screenshot(path=str(artifacts / "command-new-case.png"))

    # Keyboard: the newest case is the first row; Enter opens it.
    pg.locator(".cmd-row").first.focus()
    pg.keyboard.press("Enter")
    pg.locator(".cmd-detail-head h2", has_text=case["number"]).wait_for(timeout=10_000)
    assert pg.locator("#cmd-detail-state").get_attribute("class") == "state state-reported"
    # A dispatcher cannot accept or file: no action buttons yet.
    assert pg.locator(".cmd-actions button").count() == 0

    # Operator accepts, shift leader files; the open detail follows the stream.
    case = Api(live_server, "operator1").act(case, "accept")
    case = Api(live_server, "shift_leader1").act(case, "file")
    dispatch = pg.locator('.cmd-actions button[data-action="dispatch"]')
    dispatch.wait_for(timeout=15_000)
    assert pg.locator("#cmd-detail-state").get_attribute("class") == "state state-filed"
    assert pg.evaluate("window.__sameDocument") == "yes"
    suggested = case["suggested_department"]
    assert suggested == "sanitation"
    departments = {d["code"]: d["name"] for d in inspector.get("/api/v1/departments")["departments"]}
    assert departments[suggested] in dispatch.inner_text()
    pg.screenshot(path=str(artifacts / "command-filed.png"))

    dispatch.click()
    pg.wait_for_selector("#cmd-detail-state.state-dispatched", timeout=10_000)
    assert "msg ok" in pg.locator("#cmd-action-msg").get_attribute("class")
    pg.locator(f'.cmd-row[data-id="{case["id"]}"] .state-dispatched').wait_for(timeout=10_000)
    pg.wait_for_function("() => document.getElementById('cmd-duty').textContent !== '…'", timeout=10_000)
    pg.screenshot(path=str(artifacts / "command-dispatched.png"))

    final = inspector.get(f"/api/v1/cases/{case['id']}")
    assert final["state"] == "dispatched" and final["department"] == suggested
    dispatch_event = [e for e in final["timeline"] if e["action"] == "dispatch"]
    assert len(dispatch_event) == 1 and dispatch_event[0]["actor"] == "dispatcher1"

    assert page.outside_requests() == []
    assert page_errors(page) == []


def test_a_stale_action_is_refused_visibly_and_the_case_reloaded(live_server, page, artifacts):
    pg = page.page
    pg.set_viewport_size({"width": 1600, "height": 900})
    sign_in(pg, live_server, "shift_leader1")
    wait_ready(pg)
    inspector = Api(live_server, "inspector1")
    lon, lat = a_point_in_view(pg, inspector)
    case = inspector.post("/api/v1/cases", {"lon": lon, "lat": lat, "category": "E06010",
                                            "description": "过期版本测试"})["case"]
    case = Api(live_server, "operator1").act(case, "accept")
    pg.locator(f'.cmd-row[data-id="{case["id"]}"]').wait_for(timeout=15_000)
    pg.evaluate(f"window.citygridCommand.select({case['id']}, {{fly: true}})")
    file_button = pg.locator('.cmd-actions button[data-action="file"]')
    file_button.wait_for(timeout=10_000)
    # Another shift leader files it first, and the page is kept from hearing about it in time:
    # its click then carries the old version.
    pg.evaluate("window.citygridCommand.state.selected = -1")
    heard = pg.evaluate("window.citygridCommand.state.events")
    Api(live_server, "shift_leader1").act(case, "file")
    pg.wait_for_function(f"() => window.citygridCommand.state.events > {heard}", timeout=10_000)
    pg.evaluate(f"window.citygridCommand.state.selected = {case['id']}")
    file_button.click()
    msg = pg.locator("#cmd-action-msg.error")
    msg.wait_for(timeout=10_000)
    assert "已更新为第" in msg.inner_text()  # the server's detail too is in the page's language
    assert pg.locator("#cmd-detail-state").get_attribute("class") == "state state-filed"
    pg.screenshot(path=str(artifacts / "command-stale.png"))
    assert page.outside_requests() == []
    # The refused POST logs a 409 in the console; nothing else may fail.
    assert [e for e in page_errors(page) if "409" not in e] == []
