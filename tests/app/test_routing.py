"""Routing rules category × area → department: specificity, validation, API, against PostGIS."""

import pytest
import sqlalchemy as sa

from app.models import AuditEntry, Category, Department, RoutingRule
from app.services.audit import SYSTEM
from app.services.categories import load_categories
from app.services.routing import RoutingError, add_rule, delete_rule, list_rules, suggest_department
from tests.app.conftest import assert_problem, token_for

S26 = "GB/T 47678.5-2026"


@pytest.fixture
def world(db_session, grid, settings):
    for code in ("water", "drainage", "traffic", "sanitation"):
        db_session.add(Department(code=code, name=code, district_code=settings.district_code))
    db_session.flush()
    load_categories(db_session, SYSTEM, standards=(S26,))
    db_session.commit()
    d = settings.district_code
    cats = {code: db_session.scalar(sa.select(Category).filter_by(standard_ref=S26, kind="event", code=code))
            for code in ("06013", "06010", "05009")}
    return {
        "cats": cats,
        "street": d + "001",
        "c1": d + "001001",
        "c2": d + "001002",
        "cells": [code for code, _ in grid["layer"]],
    }


def where(world, cell_index):
    """(cell, community, street) of a test cell."""
    cell = world["cells"][cell_index]
    return cell, cell[:12], cell[:9]


def suggest(session, category, place):
    dept = suggest_department(session, category.id, *place)
    return None if dept is None else dept.code


def test_most_specific_area_wins(db_session, world):
    road = world["cats"]["06013"]
    cells = world["cells"]
    in_set, same_community, other_community = where(world, 0), where(world, 1), where(world, 4)
    assert suggest(db_session, road, in_set) == "municipal_roads"  # default department
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="water")
    assert suggest(db_session, road, in_set) == "water"
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="drainage", street_code=world["street"])
    assert suggest(db_session, road, in_set) == "drainage"
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="traffic", community_code=world["c1"])
    assert suggest(db_session, road, in_set) == "traffic"
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="sanitation", cell_codes=[cells[0]])
    assert suggest(db_session, road, in_set) == "sanitation"         # cell set
    assert suggest(db_session, road, same_community) == "traffic"    # community
    assert suggest(db_session, road, other_community) == "drainage"  # street
    assert suggest(db_session, road, ("999999999999999", "999999999999", "999999999")) == "water"  # district


def test_category_specific_beats_generic_at_equal_specificity_only(db_session, world):
    road, rubbish = world["cats"]["06013"], world["cats"]["06010"]
    place = where(world, 0)
    add_rule(db_session, SYSTEM, category_id=None, department_code="water", street_code=world["street"])
    assert suggest(db_session, road, place) == "water"      # generic rule beats the default department
    assert suggest(db_session, rubbish, place) == "water"   # ... for every category
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="drainage", street_code=world["street"])
    assert suggest(db_session, road, place) == "drainage"   # same specificity: category-specific wins
    assert suggest(db_session, rubbish, place) == "water"
    add_rule(db_session, SYSTEM, category_id=None, department_code="traffic", community_code=world["c1"])
    assert suggest(db_session, road, place) == "traffic"    # more specific generic beats less specific own rule


def test_ties_go_to_the_lowest_rule_id(db_session, world):
    road = world["cats"]["06013"]
    cells = world["cells"]
    first = add_rule(db_session, SYSTEM, category_id=road.id, department_code="water", cell_codes=cells[:2])
    second = add_rule(db_session, SYSTEM, category_id=road.id, department_code="drainage", cell_codes=cells[:1])
    assert first.id < second.id
    assert suggest(db_session, road, where(world, 0)) == "water"


def test_fallback_and_inactive_departments(db_session, world):
    road, relic = world["cats"]["06013"], world["cats"]["05009"]
    assert suggest_department(db_session, relic.id, *where(world, 0)) is None  # no default, no rule
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="water", street_code=world["street"])
    db_session.scalar(sa.select(Department).filter_by(code="water")).active = False
    db_session.flush()
    assert suggest(db_session, road, where(world, 0)) == "municipal_roads"


def test_suggestion_is_one_query(db_session, world):
    road = world["cats"]["06013"]
    add_rule(db_session, SYSTEM, category_id=road.id, department_code="water", street_code=world["street"])
    statements = []

    def seen(conn, cursor, statement, *rest):
        statements.append(statement)

    conn = db_session.connection()
    sa.event.listen(conn, "before_cursor_execute", seen)
    try:
        db_session.expunge_all()
        assert suggest_department(db_session, road.id, *where(world, 0)).code == "water"
    finally:
        sa.event.remove(conn, "before_cursor_execute", seen)
    assert len(statements) == 1


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"street_code": "STREET", "community_code": "x"}, "area"),
        ({"street_code": "999999999"}, "street_code"),
        ({"street_code": "12345"}, "street_code"),
        ({"community_code": "999999999999"}, "community_code"),
        ({"cell_codes": []}, "cell_codes"),
        ({"cell_codes": "410105001001001"}, "cell_codes"),
        ({"cell_codes": ["999999999999999"]}, "cell_codes"),
        ({"department_code": "nope"}, "department_code"),
        ({"category_id": 999999}, "category_id"),
        ({"category_id": "1"}, "category_id"),
    ],
)
def test_rule_validation(db_session, world, kwargs, field):
    args = {"category_id": world["cats"]["06013"].id, "department_code": "water", **kwargs}
    with pytest.raises(RoutingError) as exc:
        add_rule(db_session, SYSTEM, **args)
    assert exc.value.field == field
    assert db_session.scalar(sa.select(sa.func.count()).select_from(RoutingRule)) == 0


def test_duplicate_scope_refused_and_delete_audited(db_session, world):
    road = world["cats"]["06013"]
    rule = add_rule(db_session, SYSTEM, category_id=road.id, department_code="water", community_code=world["c1"])
    with pytest.raises(RoutingError) as exc:
        add_rule(db_session, SYSTEM, category_id=road.id, department_code="drainage", community_code=world["c1"])
    assert exc.value.field == "community_code"
    assert [r.id for r in list_rules(db_session, category_id=road.id)] == [rule.id]
    assert list_rules(db_session, category_id=world["cats"]["06010"].id) == []
    delete_rule(db_session, SYSTEM, rule.id)
    actions = db_session.scalars(sa.select(AuditEntry.action).where(AuditEntry.entity == "routing_rule")).all()
    assert sorted(actions) == ["routing_rule.create", "routing_rule.delete"]
    with pytest.raises(RoutingError) as exc:
        delete_rule(db_session, SYSTEM, rule.id)
    assert exc.value.field == "id"


def test_routing_rules_api(client, db_session, world):
    admin = token_for(client, "t_admin")
    disp = token_for(client, "t_dispatcher")
    road = world["cats"]["06013"]
    body = {"category_id": road.id, "department_code": "drainage", "cell_codes": world["cells"][:2], "note": "低洼路段"}
    assert_problem(client.post("/api/v1/routing-rules", headers=disp, json=body), 403)
    resp = client.post("/api/v1/routing-rules", headers=admin, json=body)
    assert resp.status_code == 201, resp.get_json()
    rule = resp.get_json()
    assert rule["area"] == {"kind": "cells", "cell_codes": sorted(world["cells"][:2])}
    assert rule["department"]["code"] == "drainage"
    listed = client.get("/api/v1/routing-rules", headers=disp).get_json()["rules"]
    assert [r["id"] for r in listed] == [rule["id"]]
    assert_problem(client.get("/api/v1/routing-rules", headers=token_for(client, "t_inspector")), 403)
    assert suggest(db_session, road, where(world, 0)) == "drainage"
    assert_problem(client.post("/api/v1/routing-rules", headers=admin,
                               json={"department_code": "water", "street_code": "999999999"}), 422, "street_code")
    assert_problem(client.post("/api/v1/routing-rules", headers=admin, json={"street_code": world["street"]}),
                   400, "department_code")
    assert_problem(client.post("/api/v1/routing-rules", headers=admin,
                               json={"department_code": "water", "area": "all"}), 400, "area")
    assert client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin).status_code == 204
    assert_problem(client.delete(f"/api/v1/routing-rules/{rule['id']}", headers=admin), 404)
    assert suggest(db_session, road, where(world, 0)) == "municipal_roads"
    entries = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.entity == "routing_rule")).all()
    assert {(e.action, e.actor) for e in entries} == {("routing_rule.create", "t_admin"), ("routing_rule.delete", "t_admin")}
