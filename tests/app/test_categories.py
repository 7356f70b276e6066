"""Category directories, seed time limits, the tree API and admin edits against PostGIS."""

import pytest
import sqlalchemy as sa

from app.models import AuditEntry, Category, Department, TimeLimit
from app.services.audit import SYSTEM
from app.services.categories import (
    CategoryError,
    category_tree,
    load_categories,
    resolve_time_limit,
    update_category,
)
from tests.app.conftest import assert_problem, count, token_for

S26, SL = "GB/T 47678.5-2026", "GB/T 30428.2-2013"
DEMO_DEPTS = ("water", "drainage", "sanitation", "landscaping", "traffic", "law_enforcement", "gas", "power", "telecom")


@pytest.fixture
def loaded(db_session, grid):
    counts = load_categories(db_session, SYSTEM)
    db_session.commit()
    return counts


def cat(session, standard, kind, code) -> Category:
    return session.scalar(sa.select(Category).filter_by(standard_ref=standard, kind=kind, code=code))


def add_demo_departments(session, settings):
    for code in DEMO_DEPTS:
        session.add(Department(code=code, name=code, district_code=settings.district_code))
    session.flush()


def test_both_directories_load_with_their_counts(loaded, db_session):
    assert loaded[S26] == 403 and loaded[SL] == 114
    assert loaded["inserted"] == 517
    by = dict(((s, k), n) for s, k, n in db_session.execute(
        sa.select(Category.standard_ref, Category.kind, sa.func.count()).group_by(Category.standard_ref, Category.kind)))
    assert by == {(S26, "component"): 153, (S26, "event"): 250, (SL, "component"): 59, (SL, "event"): 55}
    assert cat(db_session, S26, "event", "01066").name == "紧急报警点SOS异常"
    legacy = cat(db_session, SL, "component", "0101")
    assert (legacy.name, legacy.major_name) == ("上水井盖", "公用设施")
    # Only municipal_roads exists in the test grid: everything else stays unassigned.
    assert cat(db_session, S26, "event", "06013").default_department.code == "municipal_roads"
    assert cat(db_session, S26, "component", "01001").default_department_id is None
    audit = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "categories.load")).all()
    assert len(audit) == 1 and audit[0].detail[S26] == 403


def test_reload_is_idempotent_and_keeps_admin_edits(loaded, db_session):
    limits = count(db_session, "time_limits")
    c = cat(db_session, S26, "event", "06010")
    c.name_en = "Loose rubbish (local wording)"
    db_session.commit()
    again = load_categories(db_session, SYSTEM)
    assert again["inserted"] == 0 and again["time_limits_added"] == 0
    assert again[S26] == 403 and again[SL] == 114
    assert count(db_session, "categories") == 517
    assert count(db_session, "time_limits") == limits
    db_session.refresh(c)
    assert c.name_en == "Loose rubbish (local wording)"


def test_department_mapping_follows_city_practice(db_session, grid, settings):
    add_demo_departments(db_session, settings)
    load_categories(db_session, SYSTEM)
    expect = {
        (S26, "component", "01001"): "water", (S26, "event", "01001"): "water",
        (S26, "component", "01002"): "drainage", (S26, "component", "01004"): "drainage",
        (S26, "component", "01005"): "power", (S26, "component", "01007"): "telecom",
        (S26, "component", "01027"): "telecom", (S26, "component", "01011"): "gas",
        (S26, "component", "01037"): "municipal_roads", (S26, "component", "01040"): "law_enforcement",
        (S26, "component", "02014"): "traffic", (S26, "component", "02006"): "municipal_roads",
        (S26, "component", "03005"): "sanitation", (S26, "component", "04002"): "landscaping",
        (S26, "event", "06001"): "law_enforcement", (S26, "event", "06010"): "sanitation",
        (S26, "event", "06013"): "municipal_roads", (S26, "event", "06017"): "landscaping",
        (S26, "event", "07003"): "law_enforcement", (S26, "event", "08003"): "municipal_roads",
        (S26, "event", "08004"): "law_enforcement", (S26, "event", "09009"): "traffic",
        (S26, "event", "09006"): "law_enforcement", (S26, "event", "10001"): "municipal_roads",
        (S26, "event", "10002"): "telecom",
        (SL, "component", "0101"): "water", (SL, "event", "0406"): "drainage",
        (SL, "event", "0505"): "traffic", (SL, "event", "0201"): "law_enforcement",
    }
    got = {k: cat(db_session, *k).default_department.code for k in expect}
    assert got == expect
    assert cat(db_session, S26, "component", "05009").default_department_id is None  # no culture department
    assert cat(db_session, S26, "event", "01001").name_en == "Water supply manhole cover fault"


def test_a_later_load_fills_departments_created_since(loaded, db_session, settings):
    assert cat(db_session, S26, "event", "09009").default_department_id is None
    add_demo_departments(db_session, settings)
    load_categories(db_session, SYSTEM)
    assert cat(db_session, S26, "event", "09009").default_department.code == "traffic"


def test_tree_shape(loaded, db_session):
    tree = category_tree(db_session, S26)
    assert [k["kind"] for k in tree] == ["component", "event"]
    assert [k["name"] for k in tree] == ["管理部件", "管理事项"]
    comp = tree[0]
    assert [m["code"] for m in comp["majors"]] == ["01", "02", "03", "04", "05"]
    assert comp["majors"][0]["name"] == "市政公用设施" and comp["majors"][0]["name_en"] == "Municipal utilities"
    assert sum(len(m["categories"]) for m in comp["majors"]) == 153
    assert sum(len(m["categories"]) for m in tree[1]["majors"]) == 250
    first = comp["majors"][0]["categories"][0]
    assert set(first) >= {"id", "code", "name", "name_en", "default_department", "auto_dispatch", "handle_limit"}
    assert first["code"] == "01001" and first["handle_limit"] == {"value": 6.0, "unit": "hours"}
    road = next(c for m in tree[1]["majors"] for c in m["categories"] if c["code"] == "06013")
    assert road["default_department"] == {"code": "municipal_roads", "name": "市政道路", "name_zh": "市政道路",
                                          "name_en": None}
    assert road["handle_limit"] == {"value": 2.0, "unit": "working_days"}
    assert category_tree(db_session, SL)[1]["name"] == "管理事件"


def test_tree_search_by_name_code_prefix_and_english(loaded, db_session):
    tree = category_tree(db_session, S26, q="井盖")
    names = [c["name"] for k in tree for m in k["majors"] for c in m["categories"]]
    assert names and all("井盖" in n for n in names)
    assert {k["kind"] for k in tree} == {"component", "event"}
    assert [m["code"] for k in tree for m in k["majors"]] == ["01", "01"]  # empty majors dropped
    codes = [c["code"] for k in category_tree(db_session, S26, q="0100") for m in k["majors"] for c in m["categories"]]
    assert codes and all(c.startswith("0100") for c in codes) and len(codes) == 18  # 9 per kind
    upper = category_tree(db_session, S26, q="MANHOLE COVER", kind="component")
    found = [c["code"] for m in upper[0]["majors"] for c in m["categories"]]
    assert "01001" in found and "01037" not in found
    assert category_tree(db_session, S26, q="100%_") == []  # LIKE wildcards are literal


def test_kind_filter_and_bad_arguments(loaded, db_session):
    events = category_tree(db_session, SL, kind="event")
    assert [k["kind"] for k in events] == ["event"]
    assert [m["code"] for m in events[0]["majors"]] == ["01", "02", "03", "04", "05"]
    with pytest.raises(CategoryError) as exc:
        category_tree(db_session, S26, kind="thing")
    assert exc.value.field == "kind"
    with pytest.raises(CategoryError) as exc:
        category_tree(db_session, "GB/T 1-1999")
    assert exc.value.field == "standard"


def test_time_limit_resolution_order(loaded, db_session):
    sewer = cat(db_session, S26, "component", "01002").id
    rubbish = cat(db_session, S26, "event", "06010").id
    other = cat(db_session, S26, "event", "06002").id
    r = resolve_time_limit(db_session, sewer, "handle")
    assert (r.value, r.unit, r.level) == (2.0, "hours", "category") and "太原" in r.source
    assert (resolve_time_limit(db_session, rubbish, "handle").value,
            resolve_time_limit(db_session, rubbish, "handle").unit) == (1.0, "working_days")
    r = resolve_time_limit(db_session, other, "handle")
    assert (r.value, r.unit, r.level) == (2.0, "working_days", "default")
    r = resolve_time_limit(db_session, other, "handle", "urgent")
    assert (r.value, r.unit) == (4.0, "working_hours")
    # The category's own (normal) limit beats the urgent default.
    assert resolve_time_limit(db_session, sewer, "handle", "urgent").value == 2.0
    # Urgency falls back to normal when no urgent row exists.
    r = resolve_time_limit(db_session, other, "verify", "urgent")
    assert (r.value, r.unit) == (30.0, "minutes")
    assert resolve_time_limit(db_session, other, "file", "urgent").value == 10.0
    # default + area class beats default.
    assert resolve_time_limit(db_session, other, "check", area_class=2).value == 120.0
    assert resolve_time_limit(db_session, other, "check", area_class=1).value == 60.0
    # category + area class beats category.
    db_session.add(TimeLimit(category_id=rubbish, stage="handle", urgency="normal", area_class=2,
                             limit_value=3, limit_unit="working_days", source="test"))
    db_session.flush()
    r = resolve_time_limit(db_session, rubbish, "handle", area_class=2)
    assert (r.value, r.level) == (3.0, "category+area")
    assert resolve_time_limit(db_session, rubbish, "handle", area_class=1).value == 1.0
    assert resolve_time_limit(db_session, None, "accept").unit == "working_days"
    # Legacy rows are seeded too.
    r = resolve_time_limit(db_session, cat(db_session, SL, "event", "0406").id, "handle")
    assert (r.value, r.unit) == (4.0, "working_hours")
    with pytest.raises(CategoryError) as exc:
        resolve_time_limit(db_session, other, "handle", "whenever")
    assert exc.value.field == "urgency"


def test_update_category_validates_every_field(loaded, db_session):
    c = cat(db_session, S26, "event", "06010")
    bad = [
        ({"duplicate_radius_m": 0}, "duplicate_radius_m"),
        ({"duplicate_radius_m": 501}, "duplicate_radius_m"),
        ({"duplicate_radius_m": float("nan")}, "duplicate_radius_m"),
        ({"auto_dispatch": "yes"}, "auto_dispatch"),
        ({"default_department": "nope"}, "default_department"),
        ({"local_code": "x" * 17}, "local_code"),
        ({"time_limits": [{"stage": "handle", "value": 2, "unit": "weeks"}]}, "time_limits[0].unit"),
        ({"time_limits": [{"stage": "lunch", "value": 2, "unit": "hours"}]}, "time_limits[0].stage"),
        ({"time_limits": [{"stage": "handle", "value": -1, "unit": "hours"}]}, "time_limits[0].value"),
        ({"time_limits": [{"stage": "handle", "value": 1, "unit": "hours", "area_class": 0}]}, "time_limits[0].area_class"),
        ({"colour": "red"}, "colour"),
    ]
    for change, field in bad:
        with pytest.raises(CategoryError) as exc:
            update_category(db_session, SYSTEM, c.id, {"enabled": False, **change})
        assert exc.value.field == field, change
    db_session.refresh(c)
    assert c.enabled is True  # nothing applied


@pytest.fixture
def admin(client, loaded):
    return token_for(client, "t_admin")


def test_api_tree_for_every_signed_in_role(client, loaded, settings):
    auth = token_for(client, "t_inspector")
    body = client.get("/api/v1/categories", headers=auth).get_json()
    assert body["standard"] == settings.category_standard == S26
    assert sum(len(m["categories"]) for k in body["tree"] for m in k["majors"]) == 403
    body = client.get("/api/v1/categories", query_string={"q": "井盖", "kind": "event"}, headers=auth).get_json()
    assert [k["kind"] for k in body["tree"]] == ["event"]
    assert all("井盖" in c["name"] for m in body["tree"][0]["majors"] for c in m["categories"])
    body = client.get("/api/v1/categories", query_string={"standard": SL}, headers=auth).get_json()
    assert body["standard"] == SL and body["active_standard"] == S26
    assert_problem(client.get("/api/v1/categories", query_string={"kind": "x"}, headers=auth), 400, "kind")
    assert_problem(client.get("/api/v1/categories", query_string={"standard": "x"}, headers=auth), 400, "standard")
    assert_problem(client.get("/api/v1/categories"), 401)


def test_api_names_follow_the_request_language(client, loaded, db_session):
    """English pages get English names where the directory has one (else Chinese); Chinese by default."""
    db_session.execute(sa.update(Department).where(Department.code == "municipal_roads")
                       .values(name_en="Municipal roads"))
    db_session.flush()
    auth = token_for(client, "t_inspector")

    def tree(**headers):
        body = client.get("/api/v1/categories", headers={**auth, **headers}).get_json()["tree"]
        found = {(k["kind"], c["code"]): c for k in body for m in k["majors"] for c in m["categories"]}
        return body, found

    zh, zh_cats = tree()
    assert [k["name"] for k in zh] == ["管理部件", "管理事项"]
    assert zh[0]["majors"][0]["name"] == "市政公用设施"
    assert zh_cats[("component", "01001")]["name"] == "供水井盖"
    assert zh_cats[("event", "06013")]["default_department"]["name"] == "市政道路"
    en, en_cats = tree(**{"Accept-Language": "en-GB,en;q=0.9"})
    assert [k["name"] for k in en] == ["Components", "Matters"]  # the kind chips of the report form
    assert en[0]["majors"][0]["name"] == "Municipal utilities" and en[0]["majors"][0]["name_zh"] == "市政公用设施"
    water = en_cats[("component", "01001")]
    assert (water["name"], water["name_zh"], water["name_en"]) == ("Water supply manhole cover", "供水井盖",
                                                                   "Water supply manhole cover")
    assert en_cats[("component", "01035")]["name"] == "旗杆"  # no English name: the standard's own
    road = en_cats[("event", "06013")]
    assert road["name"] == "Damaged road" and road["default_department"]["name"] == "Municipal roads"
    c = cat(db_session, S26, "event", "06013")
    detail = client.get(f"/api/v1/categories/{c.id}", headers={**auth, "Accept-Language": "en"}).get_json()
    assert detail["name"] == "Damaged road" and detail["name_zh"] == "道路破损"


def test_api_detail(client, loaded, db_session, admin):
    c = cat(db_session, S26, "component", "01002")
    body = client.get(f"/api/v1/categories/{c.id}", headers=admin).get_json()
    assert body["code"] == "01002" and body["full_code"] == "C01002"
    assert [(t["stage"], t["value"], t["unit"]) for t in body["time_limits"]] == [("handle", 2.0, "hours")]
    assert body["effective_time_limits"]["handle"]["normal"]["level"] == "category"
    assert body["effective_time_limits"]["file"]["urgent"]["value"] == 10.0
    assert_problem(client.get("/api/v1/categories/999999", headers=admin), 404)


def test_admin_patch_is_applied_and_audited(client, loaded, db_session, admin):
    c = cat(db_session, S26, "event", "06010")
    resp = client.patch(f"/api/v1/categories/{c.id}", headers=admin, json={
        "default_department": "municipal_roads", "auto_dispatch": True, "duplicate_radius_m": 50,
        "name_en": "Exposed litter", "local_code": "01-02",
        "time_limits": [{"stage": "handle", "urgency": "urgent", "value": 3, "unit": "working_hours"}],
    })
    assert resp.status_code == 200, resp.get_json()
    body = resp.get_json()
    assert body["default_department"]["code"] == "municipal_roads"
    assert body["auto_dispatch"] is True and body["duplicate_radius_m"] == 50.0 and body["local_code"] == "01-02"
    r = resolve_time_limit(db_session, c.id, "handle", "urgent")
    assert (r.value, r.unit, r.source) == (3.0, "working_hours", "admin edit")
    entry = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "category.update")).one()
    assert entry.actor == "t_admin" and entry.entity_id == str(c.id)
    changes = entry.detail["changes"]
    assert changes["auto_dispatch"] == [False, True]
    assert changes["default_department"] == [None, "municipal_roads"]
    assert changes["time_limits"][0]["new"] == {"value": 3.0, "unit": "working_hours"}
    # value null removes the category's own row: the seed category limit stays, the urgent one goes.
    resp = client.patch(f"/api/v1/categories/{c.id}", headers=admin,
                        json={"time_limits": [{"stage": "handle", "urgency": "urgent", "value": None}]})
    assert resp.status_code == 200
    assert resolve_time_limit(db_session, c.id, "handle", "urgent").value == 1.0


def test_patch_refused_for_other_roles_and_bad_values(client, loaded, db_session, admin):
    c = cat(db_session, S26, "event", "06010")
    disp = token_for(client, "t_dispatcher")
    assert_problem(client.patch(f"/api/v1/categories/{c.id}", headers=disp, json={"enabled": False}), 403)
    assert_problem(client.patch(f"/api/v1/categories/{c.id}", headers=admin, json={"duplicate_radius_m": 900}),
                   422, "duplicate_radius_m")
    body = assert_problem(client.patch(f"/api/v1/categories/{c.id}", headers=admin,
                                       json={"time_limits": [{"stage": "handle", "value": 1, "unit": "days"}]}),
                          422, "time_limits[0].unit")
    assert body["errors"][0]["field"] == "time_limits[0].unit"
    assert_problem(client.patch(f"/api/v1/categories/{c.id}", headers=admin, json={"owner": "x"}), 422, "owner")
    assert_problem(client.patch(f"/api/v1/categories/{c.id}", headers=admin, data="{",
                                content_type="application/json"), 400, "body")
    assert_problem(client.patch(f"/api/v1/categories/{c.id}", headers=admin, json=[1]), 400, "body")
    assert_problem(client.patch("/api/v1/categories/999999", headers=admin, json={"enabled": False}), 404)
    c = db_session.get(Category, c.id)  # requests closed the session: load afresh
    assert c.enabled is True and c.duplicate_radius_m == 30.0
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                             .where(AuditEntry.action == "category.update")) == 0
