"""The case loop through HTTP against PostGIS: every path of the state machine, and bad input."""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from PIL import Image

from app.models import Category, Department, User
from app.services.audit import SYSTEM
from app.services.categories import load_categories
from app.services.workcal import seed_calendar
from tests.app.conftest import assert_problem, count, lonlat_of, origin_xy, token_for

CATEGORY = "E06010"  # 暴露垃圾 (GB/T 47678.5-2026)


def jpeg(size=(64, 48), colour=(200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG")
    return buf.getvalue()


@pytest.fixture
def loop(grid, db_session, settings, client):
    """The test grid plus categories, calendar, a second department and role tokens."""
    load_categories(db_session, SYSTEM)
    seed_calendar(db_session, SYSTEM)
    roads = db_session.scalar(sa.select(Department).where(Department.code == "municipal_roads"))
    sanitation = Department(code="sanitation", name="环卫", district_code=settings.district_code)
    db_session.add(sanitation)
    db_session.flush()
    category = db_session.scalar(sa.select(Category).where(
        Category.standard_ref == settings.category_standard, Category.kind == "event", Category.code == "06010"))
    category.default_department_id = roads.id
    other = User(username="t_sanitation", display_name="环卫处置员", password_hash=grid["users"]["department"].password_hash,
                 role="department", department=sanitation, district_code=settings.district_code)
    db_session.add(other)
    db_session.commit()
    tokens = {role: token_for(client, f"t_{role}") for role in
              ("inspector", "operator", "shift_leader", "dispatcher", "department", "leader", "admin")}
    tokens["sanitation"] = token_for(client, "t_sanitation")
    x0, y0 = origin_xy(settings)
    return {"tokens": tokens, "point": lonlat_of(settings, x0 + 50, y0 + 150), "category": category,
            "roads": roads, "sanitation": sanitation}


def report(client, loop, role="inspector", photos=(), headers=None, **fields):
    lon, lat = fields.pop("point", loop["point"])
    body = {"lon": lon, "lat": lat, "category": CATEGORY, "description": "路边暴露垃圾一堆", **fields}
    hdrs = {**loop["tokens"][role], **(headers or {})}
    if photos:
        data = {"data": json.dumps(body), "photos": [(io.BytesIO(p), f"p{i}.jpg") for i, p in enumerate(photos)]}
        return client.post("/api/v1/cases", data=data, headers=hdrs, content_type="multipart/form-data")
    return client.post("/api/v1/cases", json=body, headers=hdrs)


def act(client, loop, role, case, action, expect=200, **fields):
    resp = client.post(f"/api/v1/cases/{case['id']}/actions",
                       json={"action": action, "version": case["version"], **fields},
                       headers=loop["tokens"][role])
    assert resp.status_code == expect, resp.get_json()
    return resp.get_json()["case"] if expect == 200 else resp.get_json()


def walk(client, loop, case, steps):
    for role, action, fields in steps:
        case = act(client, loop, role, case, action, **fields)
    return case


def new_case(client, loop, **kw):
    resp = report(client, loop, **kw)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["case"]


TO_PROCESSING = [
    ("operator", "accept", {}),
    ("shift_leader", "file", {}),
    ("dispatcher", "dispatch", {}),
    ("department", "start", {}),
]


def test_report_locates_suggests_and_stores_photos(client, loop, settings, db_session):
    resp = report(client, loop, photos=[jpeg(), jpeg(colour=(0, 90, 200))])
    assert resp.status_code == 201, resp.get_json()
    body = resp.get_json()
    case = body["case"]
    assert resp.headers["Location"] == case["url"]
    assert case["state"] == "reported" and case["source"] == "inspector"
    assert case["cell_code"] == settings.district_code + "001001001"
    assert case["community_code"] == settings.district_code + "001001"
    assert case["suggested_department"] == "municipal_roads"
    assert case["number"].startswith(datetime.now().strftime("%Y")) and len(case["number"]) == 16
    assert case["stage"] == "accept" and case["light"] == "green"
    assert body["possible_duplicates"] == []
    detail = client.get(case["url"], headers=loop["tokens"]["operator"]).get_json()
    assert len(detail["photos"]) == 2
    image = client.get(detail["photos"][0]["url"], headers=loop["tokens"]["operator"])
    assert image.status_code == 200 and image.mimetype == "image/jpeg" and image.data[:2] == b"\xff\xd8"
    image.close()
    assert detail["timeline"][0]["action"] == "report" and detail["timeline"][0]["to"] == "reported"
    assert detail["allowed_actions"] == ["accept", "mark_duplicate", "reject", "send_verify"]


def test_full_loop_closes_on_time(client, loop, db_session):
    case = new_case(client, loop)
    case = walk(client, loop, case, TO_PROCESSING)
    assert case["department"] == "municipal_roads" and case["stage"] == "handle"
    resp = client.post(f"/api/v1/cases/{case['id']}/actions",
                       data={"data": json.dumps({"action": "feedback", "version": case["version"], "note": "已清理"}),
                             "photos": [(io.BytesIO(jpeg(colour=(10, 200, 10))), "after.jpg")]},
                       headers=loop["tokens"]["department"], content_type="multipart/form-data")
    assert resp.status_code == 200, resp.get_json()
    case = resp.get_json()["case"]
    assert case["state"] == "handled" and [p["stage"] for p in case["photos"]] == ["feedback"]
    case = act(client, loop, "operator", case, "send_check")
    assert case["state"] == "checking" and case["assignee"] == "t_inspector"
    case = act(client, loop, "inspector", case, "check", outcome="passed")
    case = act(client, loop, "shift_leader", case, "close")
    assert case["state"] == "closed" and case["close_type"] == "normal" and case["light"] is None
    steps = [(e["role"], e["action"], e["from"], e["to"]) for e in case["timeline"]]
    assert steps == [
        ("inspector", "report", None, "reported"),
        ("operator", "accept", "reported", "pending_filing"),
        ("shift_leader", "file", "pending_filing", "filed"),
        ("dispatcher", "dispatch", "filed", "dispatched"),
        ("department", "start", "dispatched", "processing"),
        ("department", "feedback", "processing", "handled"),
        ("operator", "send_check", "handled", "checking"),
        ("inspector", "check", "checking", "pending_close"),
        ("shift_leader", "close", "pending_close", "closed"),
    ]
    audited = db_session.scalar(sa.text("SELECT count(*) FROM audit_log WHERE entity='case' AND entity_id=:i"),
                                {"i": str(case["id"])})
    assert audited == 9


def test_public_report_verified_false_is_rejected(client, loop):
    case = new_case(client, loop, role="operator", source="hotline", reporter={"name": "王先生", "phone": "13900000000"})
    assert case["source"] == "hotline"
    case = act(client, loop, "operator", case, "send_verify")
    assert case["state"] == "verifying" and case["assignee"] == "t_inspector" and case["stage"] == "verify"
    case = act(client, loop, "inspector", case, "verify", outcome="not_found", note="现场未发现")
    assert case["state"] == "rejected"


def test_public_report_verified_true_goes_to_filing(client, loop):
    case = new_case(client, loop, role="operator", source="public")
    case = walk(client, loop, case, [("operator", "send_verify", {}), ("inspector", "verify", {"outcome": "confirmed"})])
    assert case["state"] == "pending_filing"


def test_operator_rejects_and_shift_leader_voids(client, loop):
    case = new_case(client, loop)
    assert act(client, loop, "operator", case, "reject", note="不属于城市管理问题")["state"] == "rejected"
    case = walk(client, loop, new_case(client, loop), [("operator", "accept", {})])
    assert act(client, loop, "shift_leader", case, "void", note="重复上报")["state"] == "voided"


def test_failed_check_sends_rework_to_the_same_department(client, loop):
    case = walk(client, loop, new_case(client, loop), TO_PROCESSING + [
        ("department", "feedback", {}), ("operator", "send_check", {}),
        ("inspector", "check", {"outcome": "failed", "note": "仍有垃圾"}),
    ])
    assert case["state"] == "dispatched" and case["department"] == "municipal_roads"
    assert case["counters"]["reworks"] == 1 and case["stage"] == "handle"
    case = walk(client, loop, case, [("department", "start", {}), ("department", "feedback", {}),
                                     ("operator", "send_check", {}), ("inspector", "check", {"outcome": "passed"}),
                                     ("shift_leader", "close", {})])
    assert case["state"] == "closed" and case["counters"]["reworks"] == 1


def test_return_goes_back_to_filed_and_counts_a_wrong_dispatch(client, loop):
    case = walk(client, loop, new_case(client, loop), TO_PROCESSING)
    case = act(client, loop, "department", case, "request_return", note="不属于本部门")
    assert case["pending_request"]["kind"] == "return" and case["state"] == "processing"
    case = act(client, loop, "dispatcher", case, "approve")
    assert case["state"] == "filed" and case["department"] is None and case["counters"]["returns"] == 1
    case = act(client, loop, "dispatcher", case, "dispatch", department="sanitation")
    assert case["department"] == "sanitation"
    assert case["timeline"][-1]["data"]["overrode_suggestion"] is True


def test_postpone_moves_the_deadline_by_working_hours(client, loop):
    case = walk(client, loop, new_case(client, loop), TO_PROCESSING)
    before = datetime.fromisoformat(case["handle_deadline"])
    case = act(client, loop, "department", case, "request_postpone", hours=4, note="需协调施工")
    case = act(client, loop, "dispatcher", case, "approve")
    after = datetime.fromisoformat(case["handle_deadline"])
    assert after - before >= timedelta(hours=4)  # working hours: at least 4 wall-clock hours
    assert case["counters"]["postponements"] == 1 and case["pending_request"] is None
    case = act(client, loop, "department", case, "request_postpone", hours=2, note="再延")
    case = act(client, loop, "dispatcher", case, "deny", note="不予延期")
    assert case["counters"]["postponements"] == 1
    assert datetime.fromisoformat(case["handle_deadline"]) == after


def test_suspend_pauses_and_resume_restores_the_clock(client, loop):
    case = walk(client, loop, new_case(client, loop), TO_PROCESSING)
    case = act(client, loop, "department", case, "request_suspend", note="等待资金")
    case = act(client, loop, "dispatcher", case, "approve")
    assert case["state"] == "suspended"
    assert act(client, loop, "department", case, "feedback", expect=409)["state"] == "suspended"
    case = act(client, loop, "dispatcher", case, "urge", note="请尽快恢复")
    case = act(client, loop, "dispatcher", case, "resume")
    assert case["state"] == "processing" and case["counters"]["urges"] == 1
    assert [e["action"] for e in case["timeline"]][-3:] == ["approve", "urge", "resume"]


def test_duplicates_are_listed_and_linked_both_ways(client, loop):
    first = new_case(client, loop)
    resp = report(client, loop, description="同一堆垃圾")
    second = resp.get_json()["case"]
    assert [d["id"] for d in resp.get_json()["possible_duplicates"]] == [first["id"]]
    assert resp.get_json()["possible_duplicates"][0]["distance_m"] == 0
    second = act(client, loop, "operator", second, "mark_duplicate", duplicate_of=first["number"], note="重复")
    assert second["state"] == "voided" and second["duplicate_of"] == first["id"]
    first = client.get(first["url"], headers=loop["tokens"]["operator"]).get_json()
    assert first["duplicates"] == [{"id": second["id"], "number": second["number"]}]


def test_self_handled_case_goes_straight_to_review(client, loop):
    case = new_case(client, loop, self_handled=True, description="随手清理了小广告")
    assert case["state"] == "pending_close" and case["self_handled"] is True
    case = act(client, loop, "shift_leader", case, "close")
    assert case["state"] == "closed" and case["close_type"] == "normal"
    assert report(client, loop, role="operator", self_handled=True).status_code == 400


def test_special_close_needs_a_reason(client, loop):
    case = new_case(client, loop, self_handled=True)
    body = act(client, loop, "shift_leader", case, "close", expect=400, outcome="special")
    assert body["field"] == "note"
    assert act(client, loop, "shift_leader", case, "close", outcome="special", note="领导批示")["close_type"] == "special"


def test_auto_dispatch_category_skips_the_dispatcher(client, loop, db_session):
    # Requests close the shared session, so fixture objects are detached: load it again.
    db_session.get(Category, loop["category"].id).auto_dispatch = True
    db_session.commit()
    case = walk(client, loop, new_case(client, loop), [("operator", "accept", {}), ("shift_leader", "file", {})])
    assert case["state"] == "dispatched" and case["department"] == "municipal_roads"
    assert case["timeline"][-1]["actor"] == "system"


def test_case_names_follow_the_request_language(client, loop, db_session):
    """A case's category and the departments are in English for English pages, else in Chinese."""
    db_session.execute(sa.update(Department).where(Department.code == "municipal_roads")
                       .values(name_en="Municipal roads"))
    db_session.commit()
    en = {"Accept-Language": "en"}
    case = new_case(client, loop, headers=en)
    assert (case["category"]["name"], case["category"]["name_zh"]) == ("Exposed rubbish", "暴露垃圾")
    assert client.get(case["url"], headers=loop["tokens"]["operator"]).get_json()["category"]["name"] == "暴露垃圾"
    detail = client.get(case["url"], headers={**loop["tokens"]["operator"], **en}).get_json()
    assert detail["category"]["name"] == "Exposed rubbish"
    listed = client.get("/api/v1/cases", headers={**loop["tokens"]["leader"], **en}).get_json()["items"]
    assert [c["category"]["name"] for c in listed] == ["Exposed rubbish"]
    command = client.get("/api/v1/command/cases", headers={**loop["tokens"]["dispatcher"], **en}).get_json()
    assert [c["category"]["name"] for c in command["list"]["items"]] == ["Exposed rubbish"]

    def departments(**headers):
        body = client.get("/api/v1/departments", headers={**loop["tokens"]["dispatcher"], **headers}).get_json()
        return {d["code"]: d["name"] for d in body["departments"]}

    assert departments() == {"municipal_roads": "市政道路", "sanitation": "环卫"}
    assert departments(**en) == {"municipal_roads": "Municipal roads", "sanitation": "环卫"}  # no English name yet
    resp = client.patch("/api/v1/departments/sanitation", json={"name_en": "Sanitation"},
                        headers={**loop["tokens"]["admin"], **en})
    assert resp.status_code == 200 and resp.get_json()["name"] == "Sanitation"
    assert departments(**en)["sanitation"] == "Sanitation"


def test_role_and_state_errors(client, loop):
    case = walk(client, loop, new_case(client, loop), [("operator", "accept", {}), ("shift_leader", "file", {})])
    body = act(client, loop, "operator", case, "dispatch", expect=403)
    assert body["allowed_roles"] == ["dispatcher"] and body["type"] == "/problems/forbidden"
    body = act(client, loop, "department", case, "start", expect=404)  # not yet the department's case
    body = act(client, loop, "shift_leader", case, "file", expect=409)
    assert body["type"] == "/problems/invalid-transition" and "void" in body["possible_actions"]
    assert act(client, loop, "dispatcher", case, "fly", expect=400)["field"] == "action"
    assert act(client, loop, "inspector", case, "check", expect=409)["type"] == "/problems/invalid-transition"


def test_stale_version_is_409_with_the_current_version(client, loop):
    case = new_case(client, loop)
    current = act(client, loop, "operator", case, "accept")
    body = act(client, loop, "shift_leader", case, "file", expect=409)  # case holds version 1
    assert body["type"] == "/problems/stale-version" and body["current_version"] == current["version"]


def test_departments_see_only_their_own_cases(client, loop):
    case = walk(client, loop, new_case(client, loop), TO_PROCESSING[:3])
    mine = client.get("/api/v1/cases", headers=loop["tokens"]["department"]).get_json()
    assert [c["id"] for c in mine["items"]] == [case["id"]]
    theirs = client.get("/api/v1/cases", headers=loop["tokens"]["sanitation"]).get_json()
    assert theirs["items"] == [] and theirs["total"] == 0
    assert_problem(client.get(case["url"], headers=loop["tokens"]["sanitation"]), 404)
    detail = client.get(case["url"], headers=loop["tokens"]["department"]).get_json()
    assert "reporter_contact" not in detail


def test_reporter_contact_is_private_to_the_command_centre(client, loop):
    case = new_case(client, loop, role="operator", source="hotline", reporter={"phone": "13900000001"})
    assert client.get(case["url"], headers=loop["tokens"]["operator"]).get_json()["reporter_contact"] == {"phone": "13900000001"}
    assert "reporter_contact" not in client.get(case["url"], headers=loop["tokens"]["leader"]).get_json()


def test_list_filters_and_paging(client, loop):
    a = new_case(client, loop)
    b = new_case(client, loop, role="operator", source="hotline")
    act(client, loop, "operator", a, "accept")
    hdr = loop["tokens"]["leader"]
    assert [c["id"] for c in client.get("/api/v1/cases?state=pending_filing", headers=hdr).get_json()["items"]] == [a["id"]]
    assert [c["id"] for c in client.get("/api/v1/cases?source=hotline", headers=hdr).get_json()["items"]] == [b["id"]]
    page = client.get("/api/v1/cases?page_size=1&page=2", headers=hdr).get_json()
    assert page["total"] == 2 and len(page["items"]) == 1 and page["items"][0]["id"] == a["id"]
    assert client.get("/api/v1/cases?light=green", headers=hdr).get_json()["total"] == 2
    assert_problem(client.get("/api/v1/cases?light=blue", headers=hdr), 400, field="light")
    assert_problem(client.get("/api/v1/cases?from=yesterday", headers=hdr), 400, field="from")


def test_idempotent_retry_makes_one_case(client, loop, db_session):
    before = count(db_session, "cases")
    first = report(client, loop, headers={"Idempotency-Key": "phone-42-0001"})
    again = report(client, loop, headers={"Idempotency-Key": "phone-42-0001"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json()["case"]["id"] == first.get_json()["case"]["id"]
    assert count(db_session, "cases") == before + 1
    other = report(client, loop, headers={"Idempotency-Key": "phone-42-0001"}, description="另一件事")
    assert_problem(other, 422)
    assert count(db_session, "cases") == before + 1


def test_off_duty_inspector_task_goes_to_the_nearest_on_duty(client, loop, db_session, settings, grid):
    x0, y0 = origin_xy(settings)
    far = User(username="t_far", display_name="远处监督员", password_hash=grid["users"]["inspector"].password_hash,
               role="inspector", district_code=settings.district_code)
    near = User(username="t_near", display_name="附近监督员", password_hash=grid["users"]["inspector"].password_hash,
                role="inspector", district_code=settings.district_code)
    db_session.add_all([far, near])
    db_session.commit()
    for name, dx in (("t_far", 900), ("t_near", 120)):
        lon, lat = lonlat_of(settings, x0 + dx, y0 + 150)
        resp = client.post("/api/v1/inspectors/me/position", json={"lon": lon, "lat": lat},
                           headers=token_for(client, name))
        assert resp.status_code == 200, resp.get_json()
    resp = client.post("/api/v1/inspectors/me/position", json={**dict(zip(("lon", "lat"), loop["point"])), "on_duty": False},
                       headers=loop["tokens"]["inspector"])
    assert resp.get_json()["on_duty"] is False
    case = new_case(client, loop, role="operator", source="public")
    case = act(client, loop, "operator", case, "send_verify")
    assert case["assignee"] == "t_near"
    assert act(client, loop, "inspector", case, "verify", expect=403, outcome="confirmed")["type"] == "/problems/forbidden"


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"lon": "abc"}, "lon"),
        ({"lon": float("nan")}, "lon"),
        ({"lat": 123}, "lat"),
        ({"category": "E99999"}, "category"),
        ({"category": None}, "category"),
        ({"description": "x" * 4001}, "description"),
        ({"description": "  "}, "description"),
        ({"colour": "red"}, "colour"),
        ({"urgency": "asap"}, "urgency"),
        ({"crs": "mars"}, "crs"),
        ({"source": "hotline"}, "source"),  # an inspector cannot claim a hotline source
        ({"camera_id": "123"}, "camera_id"),
    ],
)
def test_bad_reports_name_the_field_and_store_nothing(client, loop, db_session, fields, field):
    before = count(db_session, "cases")
    body = {"lon": loop["point"][0], "lat": loop["point"][1], "category": CATEGORY, "description": "d", **fields}
    if isinstance(body["lon"], float) and body["lon"] != body["lon"]:
        resp = client.post("/api/v1/cases", data='{"lon": NaN, "lat": 34.77, "category": "E06010", "description": "d"}',
                           content_type="application/json", headers=loop["tokens"]["inspector"])
        assert_problem(resp, 400)
    else:
        assert_problem(client.post("/api/v1/cases", json=body, headers=loop["tokens"]["inspector"]), 400, field=field)
    assert count(db_session, "cases") == before


def test_malformed_json_outside_point_and_roles(client, loop, db_session):
    before = count(db_session, "cases")
    assert_problem(client.post("/api/v1/cases", data="{not json", content_type="application/json",
                               headers=loop["tokens"]["inspector"]), 400, field="body")
    body = assert_problem(report(client, loop, point=(113.5, 34.5)), 422)
    assert body["type"] == "/problems/out-of-district"
    assert_problem(report(client, loop, role="leader"), 403)
    assert_problem(report(client, loop, role="dispatcher"), 403)
    assert count(db_session, "cases") == before


@pytest.mark.parametrize(
    "photo, message",
    [
        (b"GIF89a" + b"\x00" * 64, "not a readable"),
        (b"%PDF-1.4 fake", "not a readable"),
        (b"", "empty"),
        (jpeg(size=(64, 48))[:-40], "truncated"),
    ],
)
def test_bad_photos_are_refused(client, loop, db_session, settings, photo, message):
    before = count(db_session, "cases")
    files = set(settings.photo_dir.rglob("*"))
    body = assert_problem(report(client, loop, photos=[jpeg(colour=(1, 2, 3)), photo]), 400, field="photos[1]")
    assert message in body["detail"]
    assert count(db_session, "cases") == before
    assert set(settings.photo_dir.rglob("*")) == files


def test_oversized_photo_and_too_many_photos(client, loop, settings, app):
    big = jpeg(size=(2000, 2000))
    app.config["SETTINGS"] = settings.with_overrides(max_photo_bytes=len(big) - 1)
    body = assert_problem(report(client, loop, photos=[big]), 400, field="photos[0]")
    assert "exceeds" in body["detail"]
    app.config["SETTINGS"] = settings
    assert_problem(report(client, loop, photos=[jpeg()] * 10), 400, field="photos")


def test_a_photo_with_unusable_gps_is_kept_without_it(client, loop):
    from PIL import ExifTags
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[ExifTags.Base.DateTimeOriginal] = "2026:03:04 08:15:00"
    zero = (IFDRational(0, 0),) * 3  # 0/0 reads as NaN
    exif[ExifTags.IFD.GPSInfo] = {ExifTags.GPS.GPSLatitudeRef: "N", ExifTags.GPS.GPSLatitude: zero,
                                  ExifTags.GPS.GPSLongitudeRef: "E", ExifTags.GPS.GPSLongitude: zero}
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (5, 6, 7)).save(buf, "JPEG", exif=exif)
    case = new_case(client, loop, photos=[buf.getvalue()])
    detail = client.get(case["url"], headers=loop["tokens"]["operator"]).get_json()
    assert [p["exif"] for p in detail["photos"]] == [{"taken_at": "2026:03:04 08:15:00"}]


def test_a_failed_request_leaves_the_photo_of_a_committed_case(client, loop, settings):
    shared = jpeg(colour=(11, 22, 33))
    case = new_case(client, loop, photos=[shared])
    detail = client.get(case["url"], headers=loop["tokens"]["operator"]).get_json()
    # The next report with the same photo fails after storing it: its second photo's folder
    # is blocked by a file.
    colour = 0
    while True:
        other = jpeg(colour=(colour, 44, 55))
        folder = settings.photo_dir / hashlib.sha256(other).hexdigest()[:2]
        if not folder.exists():
            break
        colour += 1
    folder.write_text("not a folder")
    try:
        before = client.get("/api/v1/cases", headers=loop["tokens"]["operator"]).get_json()["total"]
        resp = report(client, loop, photos=[shared, other], description="同一张照片")
        assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
        assert client.get("/api/v1/cases", headers=loop["tokens"]["operator"]).get_json()["total"] == before
    finally:
        folder.unlink()
    image = client.get(detail["photos"][0]["url"], headers=loop["tokens"]["operator"])
    assert image.status_code == 200 and image.data == shared
    image.close()


def test_failure_while_saving_photos_rolls_the_case_back(client, loop, db_session, settings, app, tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the photo folder should be")
    app.config["SETTINGS"] = settings.with_overrides(photo_dir=blocked)
    before = count(db_session, "cases")
    resp = report(client, loop, photos=[jpeg()])
    assert resp.status_code == 500 and resp.mimetype == "application/problem+json"
    assert count(db_session, "cases") == before


def test_warning_light_follows_the_stage_clock(client, loop, db_session):
    """Green to 80 % of the limit, yellow to 100 %, red beyond; a suspension does not count."""
    from app.models import Case
    from app.services import cases as case_service
    from app.services.workcal import load_calendar

    case = new_case(client, loop)
    case = act(client, loop, "operator", case, "accept")  # filing: 30 wall-clock minutes
    row = db_session.get(Case, case["id"])
    calendar = load_calendar(db_session)
    start = row.stage_started_at
    assert row.stage == "file" and row.stage_limit_unit == "minutes" and row.stage_limit_minutes == 30
    lights = [case_service.warning_light(calendar, row, start + timedelta(minutes=m)) for m in (20, 24, 26, 30, 31)]
    assert lights == ["green", "green", "yellow", "yellow", "red"]

    case = walk(client, loop, case, [("shift_leader", "file", {}), ("dispatcher", "dispatch", {}),
                                     ("department", "start", {}),
                                     ("department", "request_suspend", {"note": "等待"}),
                                     ("dispatcher", "approve", {})])
    db_session.expire_all()
    row = db_session.get(Case, case["id"])
    frozen = case_service.warning_light(calendar, row, row.suspended_at + timedelta(days=60))
    assert frozen == case_service.warning_light(calendar, row, row.suspended_at)


def test_duty_toggle_without_a_gps_fix_and_list_locations(client, loop):
    hdr = loop["tokens"]["inspector"]
    body = client.post("/api/v1/inspectors/me/position", json={"on_duty": False}, headers=hdr).get_json()
    assert body["on_duty"] is False and body["position"] is None
    assert_problem(client.post("/api/v1/inspectors/me/position", json={"lon": 113.78}, headers=hdr), 400, field="lat")
    case = new_case(client, loop)
    listed = client.get("/api/v1/cases", headers=loop["tokens"]["leader"]).get_json()["items"]
    assert listed[0]["id"] == case["id"]
    assert listed[0]["location"]["lon"] == pytest.approx(loop["point"][0], abs=1e-6)


def test_check_and_verify_outcomes_are_in_the_timeline(client, loop):
    case = walk(client, loop, new_case(client, loop), TO_PROCESSING + [
        ("department", "feedback", {}), ("operator", "send_check", {}), ("inspector", "check", {"outcome": "passed"})])
    assert case["timeline"][-1]["data"]["outcome"] == "passed"
