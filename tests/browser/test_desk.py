"""Department desk and case page in headless Chromium: start, feed back with a photo, read the case."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from uuid import uuid4

import pytest
import sqlalchemy as sa
from PIL import Image
from playwright.sync_api import expect
from sqlalchemy.orm import Session

from tests.browser.conftest import DEMO_PASSWORD, sign_in

pytestmark = pytest.mark.browser

CATEGORY = "C01037"  # street light: routed to municipal_roads in the seed routing table


# -- API helpers (bearer tokens, loopback only) -------------------------------------------


def api(base: str, method: str, path: str, token: str | None = None, body: dict | None = None) -> tuple[int, dict]:
    """Call the JSON API of the live server; returns (status, parsed body)."""
    headers = {"Accept": "application/json"}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(base + path, data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def token(base: str, username: str) -> str:
    status, body = api(base, "POST", "/api/v1/auth/token", body={"username": username, "password": DEMO_PASSWORD})
    assert status == 201, body
    return body["access_token"]


def act(base: str, tok: str, case: dict, action: str, **fields) -> dict:
    """Take an action with the case's current version; returns the case after it."""
    status, body = api(base, "POST", f"/api/v1/cases/{case['id']}/actions", tok,
                       {"action": action, "version": case["version"], **fields})
    assert status == 200, (action, body)
    return body["case"]


@pytest.fixture(scope="module")
def tokens(live_server) -> dict[str, str]:
    return {name: token(live_server, name) for name in
            ("operator1", "shift_leader1", "dispatcher1", "department1")}


@pytest.fixture(scope="module")
def district_point(browser_settings) -> tuple[float, float]:
    """A lon/lat deep inside one of the demo's cells."""
    from app.db import make_engine

    engine = make_engine(browser_settings.database_url)
    try:
        with engine.connect() as conn:
            lon, lat = conn.execute(sa.text(
                "SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_Transform(ST_PointOnSurface(geom), 4326) AS p"
                " FROM cells WHERE valid_to IS NULL ORDER BY code OFFSET 40 LIMIT 1) s")).one()
    finally:
        engine.dispose()
    return float(lon), float(lat)


@pytest.fixture(scope="module")
def water_user(browser_settings) -> str:
    """A department user of another department (water), made for this test."""
    from app.db import make_engine
    from app.services import accounts
    from app.services.audit import Actor

    engine = make_engine(browser_settings.database_url)
    try:
        with Session(engine) as session:
            exists = session.scalar(sa.text("SELECT 1 FROM users WHERE username = 'dept_water1'"))
            if not exists:
                district = session.scalar(sa.text("SELECT code FROM districts ORDER BY code LIMIT 1"))
                accounts.add_user(session, Actor(None, "test", None, None, None), username="dept_water1",
                                  password=DEMO_PASSWORD, role="department", district_code=district,
                                  department_code="water", display_name="供水 一号")
                session.commit()
    finally:
        engine.dispose()
    return "dept_water1"


def dispatched_case(base: str, tokens: dict[str, str], point: tuple[float, float], text: str) -> dict:
    """A new case reported by the operator, accepted, filed and dispatched to municipal_roads."""
    status, body = api(base, "POST", "/api/v1/cases", tokens["operator1"], {
        "lon": point[0], "lat": point[1], "category": CATEGORY, "source": "hotline",
        "description": text, "address": "测试路 1 号",
    })
    assert status == 201, body
    case = body["case"]
    case = act(base, tokens["operator1"], case, "accept")
    case = act(base, tokens["shift_leader1"], case, "file")
    if case["state"] == "filed":  # categories without auto-dispatch wait for the dispatcher
        case = act(base, tokens["dispatcher1"], case, "dispatch", department="municipal_roads")
    assert case["state"] == "dispatched" and case["department"] == "municipal_roads", case
    return case


def jpeg(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), color).save(buf, "JPEG", quality=85)
    return buf.getvalue()


# -- browser helpers ---------------------------------------------------------------------


def wait_desk(page, loads: int = 1) -> None:
    page.wait_for_function(
        f"() => window.citygridDesk && window.citygridDesk.state.loads >= {loads} && !window.citygridDesk.state.loading",
        timeout=20_000,
    )
    assert page.evaluate("window.citygridDesk.state.error") is None


def find(page, number: str) -> None:
    """Look a case up by number in the desk's search box."""
    loads = page.evaluate("window.citygridDesk.state.loads")
    page.fill("#desk-q", number)
    page.press("#desk-q", "Enter")
    wait_desk(page, loads + 1)


def page_problems(rec) -> list[str]:
    # Chromium logs the favicon request (not served) and the deliberate 404 page as resource errors.
    return [e for e in rec.errors if "Failed to load resource" not in e]


# -- the tests ---------------------------------------------------------------------------


def test_department_starts_and_feeds_back_from_the_desk(
    live_server, page, browser, tokens, district_point, water_user, artifacts
):
    base = live_server
    tag = uuid4().hex[:6]
    case = dispatched_case(base, tokens, district_point, f"路灯不亮 desk-{tag}")
    stale = dispatched_case(base, tokens, district_point, f"路灯闪烁 desk-stale-{tag}")

    p = page.page
    sign_in(p, base, "/desk", "department1")
    wait_desk(p)
    # The department's own queue, "to handle" first, with counts on the tabs.
    expect(p.locator("#tab-dispatched")).to_have_attribute("aria-selected", "true")
    assert int(p.locator('[data-count="dispatched"]').inner_text()) >= 2
    deadlines = p.evaluate("window.citygridDesk.state.items.map(i => i.stage_deadline)")
    assert deadlines == sorted(deadlines), "the desk lists the soonest deadline first"
    assert {i["department"] for i in p.evaluate("window.citygridDesk.state.items")} == {"municipal_roads"}
    p.screenshot(path=str(artifacts / "desk-queue.png"), full_page=True)

    # Someone else acts on the other case meanwhile: acting on the old version is refused, visibly.
    find(p, stale["number"])
    act(base, tokens["department1"], stale, "start")
    p.click(f'tr[data-id="{stale["id"]}"] button[data-action="start"]')
    expect(p.locator("#desk-message")).to_have_class("desk-message error")
    expect(p.locator("#desk-message")).to_contain_text(stale["number"])
    p.screenshot(path=str(artifacts / "desk-error.png"), full_page=True)

    # Start: dispatched → processing, the row redrawn in place.
    find(p, case["number"])
    row = p.locator(f'tr[data-id="{case["id"]}"]')
    expect(row).to_contain_text(f"desk-{tag}")
    row.locator('button[data-action="start"]').click()
    row = p.locator(f'tr.case-row[data-id="{case["id"]}"]')
    expect(row.locator(".badge.state")).to_have_class("badge state state-processing")
    expect(p.locator("#desk-message")).to_have_class("desk-message ok")
    # Only the department's actions for a case in hand are offered now.
    offered = row.locator("button.act-btn").evaluate_all("bs => bs.map(b => b.dataset.action)")
    assert offered == ["feedback", "request_postpone", "request_suspend", "request_return"]

    # A postponement without hours is stopped before it is sent.
    row.locator('button[data-action="request_postpone"]').click()
    form = p.locator('form.act-form[data-action="request_postpone"]')
    form.locator('textarea[name="note"]').fill("需要更换灯杆")
    form.locator('button[type="submit"]').click()
    expect(form.locator(".act-error")).not_to_be_empty()
    expect(form.locator('input[name="hours"]')).to_have_attribute("aria-invalid", "true")
    form.locator('button:not([type="submit"])').click()
    expect(form).to_have_count(0)

    # Feedback with a note and a photo: processing → handled.
    row.locator('button[data-action="feedback"]').click()
    form = p.locator('form.act-form[data-action="feedback"]')
    form.locator('textarea[name="note"]').fill("已更换灯泡，恢复照明")
    form.locator('input[name="photos"]').set_input_files(
        files=[{"name": "fixed.jpg", "mimeType": "image/jpeg", "buffer": jpeg((40, 160, 90))}])
    p.screenshot(path=str(artifacts / "desk-feedback-form.png"), full_page=True)
    with p.expect_response(lambda r: r.url.endswith(f"/api/v1/cases/{case['id']}/actions")) as answer:
        form.locator('button[type="submit"]').click()
    assert answer.value.status == 200, answer.value.text()
    row = p.locator(f'tr.case-row[data-id="{case["id"]}"]')
    expect(row.locator(".badge.state")).to_have_class("badge state state-handled")
    expect(row.locator("button.act-btn")).to_have_count(0)
    p.screenshot(path=str(artifacts / "desk-handled.png"), full_page=True)

    status, detail = api(base, "GET", f"/api/v1/cases/{case['id']}", tokens["department1"])
    assert status == 200 and detail["state"] == "handled"
    assert [ph["stage"] for ph in detail["photos"]] == ["feedback"]
    assert detail["timeline"][-1]["note"] == "已更换灯泡，恢复照明"
    assert page.outside_requests() == []
    assert page_problems(page) == []

    # The leader reads the whole case: timeline, photo, map of its cell.
    from tests.browser.conftest import PageRecorder

    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    try:
        leader = PageRecorder(context.new_page())
        lp = leader.page
        sign_in(lp, base, f"/cases/{case['id']}", "leader1")
        actions = lp.locator("tr.event").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert actions == ["report", "accept", "file", "dispatch", "start", "feedback"]
        expect(lp.locator("tr.event").last).to_contain_text("已更换灯泡，恢复照明")
        expect(lp.locator("#case-state")).to_have_class("badge state state-handled")
        expect(lp.locator(".case-number")).to_have_text(case["number"])
        thumb = lp.locator("a.thumb img")
        expect(thumb).to_have_count(1)
        lp.wait_for_function("() => document.querySelector('a.thumb img').naturalWidth === 640")
        lp.wait_for_function("() => window.citygridCase.state.cellLoaded || window.citygridCase.state.error")
        assert lp.evaluate("window.citygridCase.state.error") is None
        assert lp.evaluate("window.citygridCase.state.cellLoaded") is True
        # A leader watches; the case page offers no actions to that role.
        expect(lp.locator("#case-actions button")).to_have_count(0)
        lp.screenshot(path=str(artifacts / "case-leader.png"), full_page=True)
        lp.locator("a.thumb").click()
        expect(lp.locator("#photo-dialog")).to_have_attribute("open", "")
        lp.wait_for_function("() => document.getElementById('photo-dialog-img').naturalWidth === 640")
        lp.screenshot(path=str(artifacts / "case-photo.png"))
        lp.keyboard.press("Escape")
        expect(lp.locator("#photo-dialog")).not_to_have_attribute("open", "")
        assert leader.outside_requests() == []
        assert page_problems(leader) == []
    finally:
        context.close()

    # Another department's user: the case does not exist for them.
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        water = PageRecorder(context.new_page())
        sign_in(water.page, base, "/desk", water_user)
        response = water.page.goto(f"{base}/cases/{case['id']}")
        assert response.status == 404
        water.page.screenshot(path=str(artifacts / "case-other-department-404.png"))
        resp = water.page.request.get(f"{base}/api/v1/cases/{case['id']}/photos/{detail['photos'][0]['id']}")
        assert resp.status == 404
        assert water.outside_requests() == []
    finally:
        context.close()


def test_case_page_is_the_fallback_for_the_dispatcher(live_server, page, tokens, district_point, artifacts):
    """A filed case is dispatched from its page, picking a department from the list."""
    base = live_server
    status, body = api(base, "POST", "/api/v1/cases", tokens["operator1"], {
        "lon": district_point[0], "lat": district_point[1], "category": CATEGORY, "source": "hotline",
        "description": f"路灯倒伏 case-{uuid4().hex[:6]}",
    })
    assert status == 201, body
    case = act(base, tokens["operator1"], body["case"], "accept")
    case = act(base, tokens["shift_leader1"], case, "file")
    if case["state"] != "filed":
        pytest.fail(f"{CATEGORY} was auto-dispatched; the test needs a category the dispatcher dispatches")

    p = page.page
    sign_in(p, base, f"/cases/{case['id']}", "dispatcher1")
    p.click('#case-actions button[data-action="dispatch"]')
    form = p.locator('form.act-form[data-action="dispatch"]')
    select = form.locator('select[name="department"]')
    expect(select.locator('option[value="municipal_roads"]')).to_have_count(1)
    # The suggested department comes preselected; the dispatcher picks another.
    assert select.input_value() == "municipal_roads"
    select.select_option("drainage")
    form.locator('textarea[name="note"]').fill("井盖周边积水，由排水处置")
    p.screenshot(path=str(artifacts / "case-dispatch-form.png"), full_page=True)
    with p.expect_navigation():
        form.locator('button[type="submit"]').click()
    expect(p.locator("#case-state")).to_have_class("badge state state-dispatched")
    expect(p.locator("#case-message")).to_have_class("case-message ok")
    expect(p.locator("tr.event").last).to_contain_text("井盖周边积水，由排水处置")
    status, detail = api(base, "GET", f"/api/v1/cases/{case['id']}", tokens["dispatcher1"])
    assert detail["department"] == "drainage"

    # The dispatcher looks at the drainage queue on the desk: the case is there, to handle.
    p.goto(f"{base}/desk?department=drainage")
    wait_desk(p)
    assert p.locator("#desk-department").input_value() == "drainage"
    assert {i["department"] for i in p.evaluate("window.citygridDesk.state.items")} == {"drainage"}
    find(p, case["number"])
    row = p.locator(f'tr.case-row[data-id="{case["id"]}"]')
    expect(row.locator(".badge.state")).to_have_class("badge state state-dispatched")
    # A dispatcher has nothing to do on a dispatched case without a request but urge it.
    assert row.locator("button.act-btn").evaluate_all("bs => bs.map(b => b.dataset.action)") == ["urge"]
    p.set_viewport_size({"width": 390, "height": 844})
    p.screenshot(path=str(artifacts / "desk-phone.png"), full_page=True)
    assert page.outside_requests() == []
    assert page_problems(page) == []
