"""The inspector's phone on /map: report with a photo, offline queue sent once, a verify task."""

from __future__ import annotations

import io
import json
import re
import urllib.request
import uuid

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect
from shapely.geometry import shape
from shapely.ops import polylabel
from sqlalchemy.orm import Session

from tests.browser.conftest import DEMO_PASSWORD, PageRecorder, set_view
from tests.browser.conftest import sign_in as shared_sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
CODE_PATTERN = re.compile(r"^\d{15}$")


# -- fixtures -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server(live_server) -> str:
    """The shared live server (tests/browser/conftest.py)."""
    return live_server


@pytest.fixture(scope="module")
def duty(browser_settings) -> dict:
    """inspector1's duty grid (CRS84 geometry) and a point deep inside it."""
    from app.db import make_engine
    from app.models import User
    from app.services import grid as grid_service

    engine = make_engine(browser_settings.database_url)
    try:
        with Session(engine) as session:
            uid = session.scalar(sa.select(User.id).where(User.username == "inspector1"))
            grids = grid_service.duty_grids_of(session, uid)
    finally:
        engine.dispose()
    assert grids["features"], "inspector1 has no duty grid in the demo"
    geom = shape(grids["features"][0]["geometry"])
    largest = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
    inside = polylabel(largest, tolerance=1e-7)
    return {"geometry": largest, "lon": inside.x, "lat": inside.y}


def api(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    """Call the JSON API with a bearer token (no cookies, so no CSRF token needed)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(base + path, data=data, method=method)
    req.add_header("Accept", "application/json")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:
    """Bearer tokens of the demo users the tests act as through the API."""
    out = {}
    for user in ("inspector1", "operator1"):
        status, body = api(server, "POST", "/api/v1/auth/token",
                           body={"username": user, "password": DEMO_PASSWORD, "label": "browser test"})
        assert status == 201, body
        out[user] = body["access_token"]
    return out


@pytest.fixture
def phone(browser, duty):
    """A phone-size page (390×844, touch, Chinese) whose GPS is inside inspector1's duty grid."""
    context = browser.new_context(
        viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
        geolocation={"latitude": duty["lat"], "longitude": duty["lon"], "accuracy": 8},
        permissions=["geolocation"],
    )
    rec = PageRecorder(context.new_page())
    rec.posts = []
    rec.page.on("request", lambda r: rec.posts.append(r) if r.method == "POST" else None)
    try:
        yield rec
    finally:
        context.close()


# -- helpers ------------------------------------------------------------------------------


def sign_in(pg, base: str) -> None:
    """Sign in as inspector1 and wait until the phone map is ready."""
    shared_sign_in(pg, base, "/map", "inspector1")
    assert pg.url == f"{base}/map"
    pg.wait_for_function(
        "() => window.citygridMap && window.citygridInspector && window.citygridInspector.queue"
        " && (window.citygridMap.ready() || window.citygridMap.state.error)",
        timeout=20_000,
    )
    assert pg.evaluate("window.citygridMap.state.error") is None


def duty_cells(pg, base: str, duty: dict) -> list[dict]:
    """Cells of the demo whose deepest point lies in inspector1's duty grid."""
    w, s, e, n = duty["geometry"].bounds
    resp = pg.request.get(f"{base}/api/v1/grid/cells", params={"bbox": f"{w},{s},{e},{n}", "limit": "500"})
    assert resp.ok, resp.text()
    cells = []
    for f in resp.json()["features"]:
        geom = shape(f["geometry"])
        part = max(getattr(geom, "geoms", [geom]), key=lambda g: g.area)
        p = polylabel(part, tolerance=1e-7)
        if duty["geometry"].contains(p):
            cells.append({"code": f["properties"]["code"], "lon": p.x, "lat": p.y})
    assert len(cells) >= 3, "inspector1's duty grid has too few cells"
    return cells


def tap_map(pg, lon: float, lat: float) -> None:
    """Tap the map at a lon/lat, first bringing it into view above the bottom bar."""
    set_view(pg, lat, lon, 17)
    x, y = pg.evaluate(
        "([lat, lon]) => { const p = window.citygridMap.map.latLngToContainerPoint([lat, lon]); return [p.x, p.y]; }",
        [lat, lon],
    )
    box = pg.locator(".folium-map").bounding_box()
    assert 0 < x < box["width"] and 0 < y < box["height"]
    pg.touchscreen.tap(box["x"] + x, box["y"] + y)


def photo_jpeg(colour=(200, 40, 60)) -> bytes:
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (320, 240), colour)
    ImageDraw.Draw(img).rectangle([40, 40, 200, 160], fill=(250, 220, 0))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def fill_report(pg, cell: dict, description: str, search: str = "井盖") -> None:
    """Open the report form at a cell, pick a category by search and describe the problem."""
    pg.click("#cg-report-btn")
    expect(pg.locator("#cg-place")).to_be_visible()
    tap_map(pg, cell["lon"], cell["lat"])
    expect(pg.locator("#cg-report-form")).to_be_visible()
    pg.locator("#cg-cat-q").fill(search)
    first = pg.locator("#cg-cat-list .cg-cat-item").first
    expect(first).to_be_visible()
    assert search in first.inner_text()
    first.click()
    expect(pg.locator("#cg-cat-chosen")).to_be_visible()
    pg.fill("#cg-desc", description)


def cases_with(base: str, token: str, cell: str, description: str) -> list[dict]:
    status, body = api(base, "GET", f"/api/v1/cases?cell={cell}&page_size=500", token)
    assert status == 200, body
    return [c for c in body["items"] if c["description"] == description]


def page_errors(rec) -> list[str]:
    # Expected while offline: the browser reports the requests it could not make.
    return [e for e in rec.errors if "Failed to load resource" not in e and "ERR_INTERNET_DISCONNECTED" not in e]


# -- tests --------------------------------------------------------------------------------


def test_inspector_reports_a_case_with_a_photo(server, phone, duty, tokens, artifacts):
    pg = phone.page
    sign_in(pg, server)
    assert pg.locator("html").get_attribute("lang") == "zh-CN"
    expect(pg.locator("#cg-report-btn")).to_have_text("＋ 上报案件")

    # On duty, the phone's position goes to the server (and shows on the map).
    if pg.get_attribute("#cg-duty", "aria-pressed") != "true":
        pg.click("#cg-duty")
    expect(pg.locator("#cg-duty")).to_have_attribute("aria-pressed", "true")
    pg.wait_for_function("() => window.citygridInspector.state.positionsSent >= 1", timeout=15_000)
    assert pg.locator(".folium-map").get_attribute("data-my-position")
    # Going off duty is recorded by the server, and back on again.
    pg.click("#cg-duty")
    expect(pg.locator("#cg-duty")).to_have_attribute("aria-pressed", "false")
    expect(pg.locator("#cg-duty-label")).to_have_text("不在岗")
    status, where = api(server, "GET", f"/api/v1/grid/locate?lon={duty['lon']}&lat={duty['lat']}", tokens["inspector1"])
    assert status == 200 and where["inspector"]["on_duty"] is False
    pg.click("#cg-duty")
    expect(pg.locator("#cg-duty")).to_have_attribute("aria-pressed", "true")
    pg.screenshot(path=str(artifacts / "inspector-map.png"))

    cell = duty_cells(pg, server, duty)[0]
    description = f"井盖破损，行人易绊倒 {uuid.uuid4().hex[:8]}"
    fill_report(pg, cell, description)
    expect(pg.locator("#cg-loc")).to_have_attribute("data-cell", cell["code"])
    pg.locator("#cg-photo-input").set_input_files(
        [{"name": "manhole.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg()}]
    )
    expect(pg.locator("#cg-report-photos .cg-thumb")).to_have_count(1)
    expect(pg.locator("#cg-report-photos .cg-photo-count")).to_have_text("1 / 9 张照片")
    pg.check("#cg-urgent")
    pg.screenshot(path=str(artifacts / "inspector-report-form.png"))

    # An empty description is refused next to its field before anything is sent.
    pg.fill("#cg-desc", "")
    pg.click("#cg-report-submit")
    expect(pg.locator('.cg-err[data-for="description"]')).to_have_text("请描述问题。")
    assert not [r for r in phone.posts if r.url.endswith("/api/v1/cases")]
    pg.fill("#cg-desc", description)

    pg.click("#cg-report-submit")
    result = pg.locator("#cg-report-result")
    expect(result).to_be_visible(timeout=15_000)
    expect(result.locator(".cg-ok")).to_have_text("上报成功")
    number = result.get_attribute("data-number")
    assert number and number in result.inner_text()
    assert cell["code"] in result.inner_text()
    pg.screenshot(path=str(artifacts / "inspector-report-result.png"))

    posts = [r for r in phone.posts if r.url.endswith("/api/v1/cases")]
    assert len(posts) == 1
    headers = posts[0].headers
    assert len(headers["idempotency-key"]) == 36 and headers["x-csrftoken"]
    assert headers["content-type"].startswith("multipart/form-data")

    found = cases_with(server, tokens["inspector1"], cell["code"], description)
    assert [c["number"] for c in found] == [number]
    status, case = api(server, "GET", f"/api/v1/cases/{found[0]['id']}", tokens["inspector1"])
    assert status == 200
    assert case["source"] == "inspector" and case["state"] == "reported" and case["urgency"] == "urgent"
    assert "井盖" in case["category"]["name"]
    assert [(p["stage"], p["content_type"], p["width"]) for p in case["photos"]] == [("report", "image/jpeg", 320)]
    assert abs(case["location"]["lon"] - cell["lon"]) < 2e-5 and abs(case["location"]["lat"] - cell["lat"]) < 2e-5

    # The category just used comes first next time.
    pg.click("#cg-report-result .cg-btn-primary")
    tap_map(pg, cell["lon"], cell["lat"])
    recent = pg.locator(".cg-cat-recent .cg-cat-item").first
    expect(recent).to_be_visible()
    assert recent.get_attribute("data-code")[1:] == case["category"]["code"]
    pg.keyboard.press("Escape")
    assert phone.outside_requests() == [], phone.outside_requests()
    assert page_errors(phone) == []


def test_offline_report_is_queued_and_sent_once(server, phone, duty, tokens, artifacts):
    pg = phone.page
    context = pg.context
    sign_in(pg, server)
    pg.wait_for_function("() => window.citygridInspector.state.categoriesLoaded", timeout=15_000)
    cell = duty_cells(pg, server, duty)[1]
    description = f"路灯不亮（离线上报）{uuid.uuid4().hex[:8]}"

    context.set_offline(True)
    fill_report(pg, cell, description, search="路灯")
    pg.locator("#cg-photo-input").set_input_files(
        [{"name": "road.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg((90, 90, 90))}]
    )
    pg.click("#cg-report-submit")
    badge = pg.locator("#cg-queue-btn")
    expect(badge).to_be_visible()
    expect(badge).to_have_attribute("data-count", "1")
    expect(badge).to_contain_text("待发送 1")
    expect(pg.locator("#cg-toast")).to_contain_text("联网后将自动发送")
    queued = pg.evaluate("window.citygridInspector.queue.items().then(i => i.map(x => ({key: x.key, data: x.data,"
                         " photos: x.photos.length, status: x.status})))")
    assert len(queued) == 1 and queued[0]["photos"] == 1 and queued[0]["status"] == "pending"
    pg.wait_for_timeout(300)
    pg.screenshot(path=str(artifacts / "inspector-offline-badge.png"))
    pg.click("#cg-queue-btn")
    expect(pg.locator("#cg-queue .cg-queue-item")).to_have_count(1)
    pg.screenshot(path=str(artifacts / "inspector-offline-queue.png"))
    pg.click("#cg-sheet-close")
    assert not [r for r in phone.posts if r.url.endswith("/api/v1/cases")]
    assert cases_with(server, tokens["inspector1"], cell["code"], description) == []

    context.set_offline(False)
    expect(badge).to_be_hidden(timeout=20_000)
    expect(pg.locator("#cg-toast")).to_contain_text("离线上报已发送")
    found = cases_with(server, tokens["inspector1"], cell["code"], description)
    assert len(found) == 1
    posts = [r for r in phone.posts if r.url.endswith("/api/v1/cases")]
    assert len(posts) == 1 and posts[0].headers["idempotency-key"] == queued[0]["key"]
    status, case = api(server, "GET", f"/api/v1/cases/{found[0]['id']}", tokens["inspector1"])
    assert len(case["photos"]) == 1

    # The same item sent again (a page that died before removing it) is answered, not recorded anew.
    pg.evaluate(
        "async (item) => { const q = window.citygridInspector.queue;"
        " await q.add({key: item.key, data: item.data, photos: [], summary: 'again'}); }",
        queued[0],
    )
    # Without its photo the body differs: the server refuses the key's reuse and it is kept as refused.
    pg.evaluate("window.citygridInspector.flush()")
    pg.wait_for_function("() => window.citygridInspector.state.queue.pending === 0")
    expect(badge).to_have_class("cg-btn cg-queue-btn cg-queue-refused")
    assert pg.evaluate("window.citygridInspector.state.queue.refused") == 1
    pg.click("#cg-queue-btn")
    expect(pg.locator("#cg-queue .cg-queue-refused")).to_contain_text("被服务器拒绝")
    pg.click("#cg-queue .cg-queue-refused button")
    expect(badge).to_be_hidden()
    assert len(cases_with(server, tokens["inspector1"], cell["code"], description)) == 1
    assert phone.outside_requests() == [], phone.outside_requests()
    assert page_errors(phone) == []


def test_resent_report_is_replayed_not_duplicated(server, phone, duty, tokens):
    pg = phone.page
    sign_in(pg, server)
    pg.wait_for_function("() => window.citygridInspector.state.categoriesLoaded", timeout=15_000)
    cell = duty_cells(pg, server, duty)[2]
    description = f"垃圾满溢 {uuid.uuid4().hex[:8]}"
    pg.context.set_offline(True)
    fill_report(pg, cell, description, search="垃圾")
    pg.click("#cg-report-submit")
    expect(pg.locator("#cg-queue-btn")).to_have_attribute("data-count", "1")
    item = pg.evaluate("window.citygridInspector.queue.items().then(i => ({key: i[0].key, data: i[0].data}))")
    pg.context.set_offline(False)
    expect(pg.locator("#cg-queue-btn")).to_be_hidden(timeout=20_000)
    # The same key and body queued again: the server replays its first answer; still one case.
    pg.evaluate(
        "async (item) => { await window.citygridInspector.queue.add({key: item.key, data: item.data, photos: []});"
        " return window.citygridInspector.flush(); }",
        item,
    )
    pg.wait_for_function(
        "() => window.citygridInspector.state.queue.pending === 0 && window.citygridInspector.state.queue.refused === 0"
    )
    expect(pg.locator("#cg-toast")).to_contain_text("离线上报已发送")
    assert len([r for r in phone.posts if r.url.endswith("/api/v1/cases")]) == 2
    assert len(cases_with(server, tokens["inspector1"], cell["code"], description)) == 1


def test_inspector_verifies_a_task_from_the_phone(server, phone, duty, tokens, artifacts):
    # inspector1 is on duty at their grid, so the operator's verify task goes to them.
    status, body = api(server, "POST", "/api/v1/inspectors/me/position", tokens["inspector1"],
                       {"lon": duty["lon"], "lat": duty["lat"], "on_duty": True})
    assert status == 200, body
    status, cats = api(server, "GET", "/api/v1/categories?q=%E4%BA%95%E7%9B%96", tokens["operator1"])
    category = cats["tree"][0]["majors"][0]["categories"][0]["id"]
    description = f"市民来电：井盖缺失 {uuid.uuid4().hex[:8]}"
    status, created = api(server, "POST", "/api/v1/cases", tokens["operator1"], {
        "lon": duty["lon"], "lat": duty["lat"], "category": category, "description": description,
        "source": "public", "address": "测试路 1 号",
    })
    assert status == 201, created
    case_id = created["case"]["id"]
    status, acted = api(server, "POST", f"/api/v1/cases/{case_id}/actions", tokens["operator1"],
                        {"action": "send_verify", "version": created["case"]["version"]})
    assert status == 200, acted
    assert acted["case"]["state"] == "verifying" and acted["case"]["assignee"] == "inspector1"
    number = created["case"]["number"]

    pg = phone.page
    sign_in(pg, server)
    pg.wait_for_function("() => window.citygridInspector.state.tasksLoaded", timeout=20_000)
    assert int(pg.locator("#cg-tasks-count").get_attribute("data-count")) >= 1
    assert pg.locator(".cg-task-pin").count() >= 1
    pg.click("#cg-tasks-btn")
    task = pg.locator(f'#cg-tasks .cg-task[data-number="{number}"]')
    expect(task).to_be_visible()
    expect(task).to_contain_text("核实")
    pg.screenshot(path=str(artifacts / "inspector-tasks.png"))
    task.click()
    view = pg.locator("#cg-case")
    expect(view).to_have_attribute("data-state", "verifying")
    expect(view).to_contain_text(description)
    expect(view).to_contain_text("已派核实")

    # Submitting without a result is refused in place; then confirm it with a note and a photo.
    view.locator("button[type=submit]").click()
    expect(view.locator('.cg-err[data-for="outcome"]')).to_have_text("请选择结果。")
    view.locator(".cg-outcome-confirmed").click()
    view.locator("#cg-action-note").fill("现场核实属实")
    view.locator(".cg-photo-input").set_input_files(
        [{"name": "verify.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg((20, 120, 200))}]
    )
    expect(view.locator(".cg-thumb")).to_have_count(1)
    pg.screenshot(path=str(artifacts / "inspector-task-verify.png"))
    view.locator("button[type=submit]").click()
    expect(pg.locator("#cg-toast")).to_contain_text(number, timeout=15_000)
    expect(pg.locator("#cg-toast")).to_contain_text("待立案")
    expect(pg.locator(f'#cg-tasks .cg-task[data-number="{number}"]')).to_have_count(0)

    status, case = api(server, "GET", f"/api/v1/cases/{case_id}", tokens["inspector1"])
    assert case["state"] == "pending_filing"
    verify = [e for e in case["timeline"] if e["action"] == "verify"]
    assert verify and verify[0]["note"] == "现场核实属实" and verify[0]["actor"] == "inspector1"
    assert [p["stage"] for p in case["photos"]] == ["verify"]
    posts = [r for r in phone.posts if "/actions" in r.url]
    assert len(posts) == 1 and posts[0].headers["x-csrftoken"]
    assert phone.outside_requests() == [], phone.outside_requests()
    assert page_errors(phone) == []


def test_desktop_keyboard_report_form(server, page, artifacts):
    """On a desk the sheet is a side panel, and a report can be laid out with the keyboard alone."""
    pg = page.page
    sign_in(pg, server)
    pg.focus("#cg-report-btn")
    pg.keyboard.press("Enter")
    expect(pg.locator("#cg-place")).to_be_visible()
    expect(pg.locator("#cg-use-gps")).to_be_focused()
    pg.keyboard.press("Tab")
    expect(pg.locator("#cg-use-centre")).to_be_focused()
    centre = pg.evaluate("(() => { const c = window.citygridMap.map.getCenter(); return [c.lng, c.lat]; })()")
    pg.keyboard.press("Enter")
    expect(pg.locator("#cg-report-form")).to_be_visible()
    loc = pg.locator("#cg-loc")
    assert abs(float(loc.get_attribute("data-lon")) - centre[0]) < 1e-6
    expect(loc).to_have_attribute("data-cell", CODE_PATTERN)
    expect(pg.locator("#cg-cat-q")).to_be_focused()
    pg.keyboard.type("E0")
    pg.keyboard.press("Enter")
    expect(pg.locator("#cg-cat-chosen")).to_contain_text("管理事项")
    expect(pg.locator("#cg-desc")).to_be_focused()
    box = pg.locator("#cg-sheet").bounding_box()
    assert box["x"] > 800 and box["height"] > 600  # a side panel, not a bottom sheet
    pg.screenshot(path=str(artifacts / "inspector-desktop.png"))
    # Submitting without a description names the field; Escape drops the draft and its marker.
    pg.click("#cg-report-submit")
    expect(pg.locator('.cg-err[data-for="description"]')).to_be_visible()
    expect(pg.locator("#cg-desc")).to_be_focused()
    # A point outside the district: the server's refusal is shown by the location field.
    pg.fill("#cg-desc", "辖区外测试")
    pg.click("#cg-replace")
    expect(pg.locator("#cg-place")).to_be_visible()
    pg.evaluate("(() => { const b = window.citygridMap.map.getBounds();"
                " window.citygridMap.map.setView([b.getNorth() + 0.5, b.getEast() + 0.5], 15, {animate: false}); })()")
    pg.click("#cg-use-centre")
    expect(pg.locator('.cg-err[data-for="lon"]')).to_have_text("该点位于辖区之外，请移动标记。")
    pg.click("#cg-report-submit")
    # The server's refusal, in the page's language.
    expect(pg.locator('.cg-err[data-for="lon"]')).to_contain_text("的单元网格内")
    posts = [r for r in page.requests if r.endswith("/api/v1/cases")]
    assert len(posts) == 1
    pg.screenshot(path=str(artifacts / "inspector-desktop-refused.png"))
    pg.keyboard.press("Escape")
    expect(pg.locator("#cg-sheet")).to_be_hidden()
    assert pg.locator(".cg-pin").count() == 0
    assert page.outside_requests() == [], page.outside_requests()
    assert page_errors(page) == []
