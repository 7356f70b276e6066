"""The whole case loop in the browser: every role in its own session, every action through a page."""

from __future__ import annotations

import time
import urllib.parse
import uuid

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import PageRecorder
from tests.browser.test_command import wait_ready
from tests.browser.test_desk import api, find, jpeg, sign_in, token, wait_desk
from tests.browser.test_inspector import PHONE, duty_cells, photo_jpeg, tap_map
from tests.browser.test_inspector import duty  # noqa: F401 — the fixture: inspector1's duty grid
from tests.browser.test_inspector import sign_in as phone_sign_in

pytestmark = pytest.mark.browser

DEPARTMENT = "municipal_roads"  # department1's department
DESKTOP = {"width": 1280, "height": 800}
BIG_SCREEN = {"width": 1600, "height": 900}
# Who does each step of the loop, in order: (action, role, username).
LOOP = [
    ("report", "inspector", "inspector1"),
    ("accept", "operator", "operator1"),
    ("file", "shift_leader", "shift_leader1"),
    ("dispatch", "dispatcher", "dispatcher1"),
    ("start", "department", "department1"),
    ("feedback", "department", "department1"),
    ("send_check", "operator", "operator1"),
    ("check", "inspector", "inspector1"),
    ("close", "shift_leader", "shift_leader1"),
]


def page_errors(rec: PageRecorder) -> list[str]:
    # Chromium logs the unserved /favicon.ico as a resource error; nothing else may fail.
    return [e for e in rec.errors if "Failed to load resource" not in e]


def a_roads_category(base: str, tok: str, search: str) -> dict:
    """A category found by ``search`` that goes to the roads department and waits for the dispatcher."""
    status, body = api(base, "GET", "/api/v1/categories?q=" + urllib.parse.quote(search), tok)
    assert status == 200, body
    fits = [
        {**cat, "qcode": kind["kind"][0].upper() + cat["code"]}
        for kind in body["tree"] for major in kind["majors"] for cat in major["categories"]
        if (cat["default_department"] or {}).get("code") == DEPARTMENT and not cat["auto_dispatch"]
    ]
    assert fits, f"no {search!r} category goes to {DEPARTMENT} without auto-dispatch"
    # The category named exactly as searched, if there is one (路灯 rather than 路灯井盖).
    return min(fits, key=lambda c: c["name"] != search)


class Shots:
    """Numbered screenshots of the loop: test-artifacts/loop-NN-<step>.png."""

    def __init__(self, folder) -> None:
        self.folder = folder
        self.n = 0

    def __call__(self, pg, step: str, full_page: bool = False) -> None:
        self.n += 1
        pg.screenshot(path=str(self.folder / f"loop-{self.n:02d}-{step}.png"), full_page=full_page)


def test_the_whole_loop_in_the_browser(live_server, browser, duty, artifacts):  # noqa: F811
    base = live_server
    began = time.monotonic()
    shot = Shots(artifacts)
    contexts = []
    pages: dict[str, PageRecorder] = {}

    def open_as(role: str, **options) -> PageRecorder:
        context = browser.new_context(locale="zh-CN", **options)
        contexts.append(context)
        pages[role] = PageRecorder(context.new_page())
        return pages[role]

    try:
        # 1. The dispatcher keeps the command centre open on a big screen.
        dispatcher = open_as("dispatcher", viewport=BIG_SCREEN).page
        sign_in(dispatcher, base, "/command", "dispatcher1")
        wait_ready(dispatcher)
        dispatcher.evaluate("window.__sameDocument = 'yes'")  # gone if the page ever reloads
        shot(dispatcher, "command-open")

        # 2. The inspector, on a phone at their grid, reports a broken street light with a photo.
        phone = open_as(
            "inspector", viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True,
            geolocation={"latitude": duty["lat"], "longitude": duty["lon"], "accuracy": 8},
            permissions=["geolocation"],
        ).page
        phone_sign_in(phone, base)
        # On duty, so the check task later comes to this inspector's phone.
        if phone.get_attribute("#cg-duty", "aria-pressed") != "true":
            phone.click("#cg-duty")
        expect(phone.locator("#cg-duty")).to_have_attribute("aria-pressed", "true")
        phone.wait_for_function("() => window.citygridInspector.state.positionsSent >= 1", timeout=15_000)
        phone.wait_for_function("() => window.citygridInspector.state.categoriesLoaded", timeout=15_000)
        reader = token(base, "leader1")  # reads state for the assertions; acts on nothing
        category = a_roads_category(base, reader, "路灯")
        cell = duty_cells(phone, base, duty)[0]
        description = f"路灯不亮，夜间路段漆黑 loop-{uuid.uuid4().hex[:8]}"
        phone.click("#cg-report-btn")
        expect(phone.locator("#cg-place")).to_be_visible()
        tap_map(phone, cell["lon"], cell["lat"])
        expect(phone.locator("#cg-report-form")).to_be_visible()
        expect(phone.locator("#cg-loc")).to_have_attribute("data-cell", cell["code"])
        phone.locator("#cg-cat-q").fill("路灯")
        item = phone.locator(f'#cg-cat-list .cg-cat-item[data-code="{category["qcode"]}"]')
        expect(item).to_be_visible()
        item.click()
        expect(phone.locator("#cg-cat-chosen")).to_contain_text(category["name"])
        phone.fill("#cg-desc", description)
        phone.locator("#cg-photo-input").set_input_files(
            [{"name": "light.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg((30, 30, 60))}]
        )
        expect(phone.locator("#cg-report-photos .cg-thumb")).to_have_count(1)
        shot(phone, "inspector-report-form")
        phone.click("#cg-report-submit")
        result = phone.locator("#cg-report-result")
        expect(result).to_be_visible(timeout=15_000)
        expect(result.locator(".cg-ok")).to_have_text("上报成功")
        number = result.get_attribute("data-number")
        assert number
        shot(phone, "inspector-reported")
        status, listed = api(base, "GET", f"/api/v1/cases?cell={cell['code']}&page_size=200", reader)
        assert status == 200, listed
        case_id = next(c["id"] for c in listed["items"] if c["number"] == number)

        # 3. The case appears on the dispatcher's screen without a reload.
        row = dispatcher.locator(f'.cmd-row[data-id="{case_id}"]')
        row.wait_for(timeout=15_000)
        assert dispatcher.evaluate("window.__sameDocument") == "yes"
        expect(row.locator(".state")).to_have_class("state state-reported")
        dispatcher.wait_for_function(f"() => window.citygridCommand.markers.has({case_id})", timeout=10_000)
        shot(dispatcher, "command-new-case")

        # The operator accepts it on the case page.
        operator = open_as("operator", viewport=DESKTOP).page
        sign_in(operator, base, f"/cases/{case_id}", "operator1")
        expect(operator.locator(".case-number")).to_have_text(number)
        operator.click('#case-actions button[data-action="accept"]')
        form = operator.locator('form.act-form[data-action="accept"]')
        form.locator('textarea[name="note"]').fill("属实，受理")
        with operator.expect_navigation():
            form.locator('button[type="submit"]').click()
        expect(operator.locator("#case-state")).to_have_class("badge state state-pending_filing")
        expect(operator.locator("#case-message")).to_have_class("case-message ok")
        shot(operator, "operator-accepted", full_page=True)

        # The shift leader files it from the command centre.
        leader = open_as("shift_leader", viewport=BIG_SCREEN).page
        sign_in(leader, base, "/command", "shift_leader1")
        wait_ready(leader)
        leader.locator(f'.cmd-row[data-id="{case_id}"]').click()
        leader.locator(".cmd-detail-head h2", has_text=number).wait_for(timeout=10_000)
        leader.locator('.cmd-actions button[data-action="file"]').click()
        leader.wait_for_selector("#cmd-detail-state.state-filed", timeout=10_000)
        assert "msg ok" in leader.locator("#cmd-action-msg").get_attribute("class")
        shot(leader, "shift-leader-filed")

        # The dispatcher, whose list followed along, dispatches in one click to the suggested department.
        expect(row.locator(".state")).to_have_class("state state-filed", timeout=15_000)
        row.click()
        dispatch = dispatcher.locator('.cmd-actions button[data-action="dispatch"]')
        dispatch.wait_for(timeout=10_000)
        expect(dispatcher.locator(".cmd-detail-head h2")).to_contain_text(number)
        status, departments = api(base, "GET", "/api/v1/departments", reader)
        roads = next(d["name"] for d in departments["departments"] if d["code"] == DEPARTMENT)
        expect(dispatch).to_contain_text(roads)
        shot(dispatcher, "command-filed")
        dispatch.click()
        dispatcher.wait_for_selector("#cmd-detail-state.state-dispatched", timeout=10_000)
        assert "msg ok" in dispatcher.locator("#cmd-action-msg").get_attribute("class")
        expect(row.locator(".state")).to_have_class("state state-dispatched", timeout=10_000)
        shot(dispatcher, "command-dispatched")

        # 4. The roads department starts it on its desk and feeds back with a photo.
        desk = open_as("department", viewport=DESKTOP).page
        sign_in(desk, base, "/desk", "department1")
        wait_desk(desk)
        find(desk, number)
        drow = desk.locator(f'tr.case-row[data-id="{case_id}"]')
        expect(drow).to_contain_text(description[:8])
        drow.locator('button[data-action="start"]').click()
        expect(drow.locator(".badge.state")).to_have_class("badge state state-processing")
        drow.locator('button[data-action="feedback"]').click()
        form = desk.locator('form.act-form[data-action="feedback"]')
        form.locator('textarea[name="note"]').fill("已更换灯泡，恢复照明")
        form.locator('input[name="photos"]').set_input_files(
            files=[{"name": "fixed.jpg", "mimeType": "image/jpeg", "buffer": jpeg((40, 160, 90))}])
        shot(desk, "desk-feedback", full_page=True)
        form.locator('button[type="submit"]').click()
        drow = desk.locator(f'tr.case-row[data-id="{case_id}"]')
        expect(drow.locator(".badge.state")).to_have_class("badge state state-handled")
        shot(desk, "desk-handled", full_page=True)

        # 5. The operator sends it to check from the case page.
        operator.reload()
        expect(operator.locator("#case-state")).to_have_class("badge state state-handled")
        operator.click('#case-actions button[data-action="send_check"]')
        form = operator.locator('form.act-form[data-action="send_check"]')
        with operator.expect_navigation():
            form.locator('button[type="submit"]').click()
        expect(operator.locator("#case-state")).to_have_class("badge state state-checking")
        shot(operator, "operator-sent-to-check", full_page=True)

        # 6. The inspector opens the app again and finds the check task under "my tasks".
        phone.reload()
        phone.wait_for_function(
            "() => window.citygridInspector && window.citygridInspector.state.tasksLoaded", timeout=20_000
        )
        phone.click("#cg-tasks-btn")
        task = phone.locator(f'#cg-tasks .cg-task[data-number="{number}"]')
        expect(task).to_be_visible()
        expect(task).to_contain_text("核查")
        shot(phone, "inspector-tasks")
        task.click()
        view = phone.locator("#cg-case")
        expect(view).to_have_attribute("data-state", "checking")
        expect(view).to_contain_text(description)
        view.locator(".cg-outcome-passed").click()
        view.locator("#cg-action-note").fill("复核通过，路灯已亮")
        view.locator(".cg-photo-input").set_input_files(
            [{"name": "check.jpg", "mimeType": "image/jpeg", "buffer": photo_jpeg((240, 230, 120))}]
        )
        expect(view.locator(".cg-action-form .cg-thumb")).to_have_count(1)
        expect(view.locator(".cg-thumbs-view .cg-thumb")).to_have_count(2)  # report + feedback photos
        shot(phone, "inspector-check-form")
        view.locator("button[type=submit]").click()
        expect(phone.locator("#cg-toast")).to_contain_text(number, timeout=15_000)
        expect(phone.locator("#cg-toast")).to_contain_text("待结案")
        expect(phone.locator(f'#cg-tasks .cg-task[data-number="{number}"]')).to_have_count(0)
        shot(phone, "inspector-checked")

        # 7. The shift leader closes it from the command centre (normal close).
        # The case is still open in their detail panel since filing; it followed every step live.
        lrow = leader.locator(f'.cmd-row[data-id="{case_id}"]')
        expect(lrow.locator(".state")).to_have_class("state state-pending_close", timeout=15_000)
        expect(lrow).to_have_attribute("aria-selected", "true")
        leader.wait_for_selector("#cmd-detail-state.state-pending_close", timeout=15_000)
        expect(leader.locator(".cmd-detail-head h2")).to_have_text(number)
        close = leader.locator('.cmd-actions button[data-action="close"]')
        close.wait_for(timeout=10_000)
        close.click()
        close_form = leader.locator("form.cmd-action-form")
        expect(close_form.locator('select[name="outcome"]')).to_have_value("normal")
        close_form.locator('textarea[name="note"]').fill("处置完毕，结案")
        shot(leader, "shift-leader-close-form")
        close_form.locator('button[type="submit"]').click()
        leader.wait_for_selector("#cmd-detail-state.state-closed", timeout=10_000)
        shot(leader, "shift-leader-closed")

        # A closed case leaves the dispatcher's live list, still without a reload.
        expect(row).to_have_count(0, timeout=15_000)
        assert dispatcher.evaluate("window.__sameDocument") == "yes"
        shot(dispatcher, "command-after-close")

        # The case as the server has it now: closed normally, each step by the right role.
        status, final = api(base, "GET", f"/api/v1/cases/{case_id}", reader)
        assert status == 200, final
        assert final["state"] == "closed" and final["close_type"] == "normal"
        assert final["department"] == DEPARTMENT and final["source"] == "inspector"
        assert [(e["action"], e["role"], e["actor"]) for e in final["timeline"]] == LOOP
        by_action = {e["action"]: e for e in final["timeline"]}
        assert [e["to"] for e in final["timeline"]] == [
            "reported", "pending_filing", "filed", "dispatched", "processing", "handled", "checking",
            "pending_close", "closed"]  # the check passed: on to closing, not back to the department
        assert by_action["close"]["data"]["close_type"] == "normal"
        assert by_action["feedback"]["note"] == "已更换灯泡，恢复照明"
        assert by_action["close"]["note"] == "处置完毕，结案"
        assert [p["stage"] for p in final["photos"]] == ["report", "feedback", "check"]

        # The leader reads the finished case on its page.
        reading = open_as("leader", viewport=DESKTOP).page
        sign_in(reading, base, f"/cases/{case_id}", "leader1")
        expect(reading.locator("#case-state")).to_have_class("badge state state-closed")
        shown = reading.locator("tr.event").evaluate_all("rows => rows.map(r => r.dataset.action)")
        assert shown == [step[0] for step in LOOP]
        expect(reading.locator("a.thumb img")).to_have_count(3)
        shot(reading, "case-closed", full_page=True)

        for role, rec in pages.items():
            assert rec.outside_requests() == [], (role, rec.outside_requests())
            assert page_errors(rec) == [], (role, page_errors(rec))
        assert time.monotonic() - began < 90, "the loop took too long"
    finally:
        for context in contexts:
            context.close()
