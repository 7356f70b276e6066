"""Administrators edit the working calendar and departments; everyone else may only read."""

from datetime import datetime, timezone

import sqlalchemy as sa

from app.caseflow.worktime import deadline
from app.services.audit import SYSTEM
from app.services.workcal import load_calendar, seed_calendar
from tests.app.conftest import assert_problem, token_for


def test_calendar_is_readable_and_seeded_with_2026(client, grid, db_session):
    seed_calendar(db_session, SYSTEM)
    db_session.commit()
    body = client.get("/api/v1/calendar?year=2026", headers=token_for(client, "t_leader")).get_json()
    assert body["windows"]["mon"] == [["08:30", "12:00"], ["14:00", "18:00"]] and body["windows"]["sat"] == []
    days = {d["date"]: d["kind"] for d in body["days"]}
    assert days["2026-02-16"] == "holiday" and days["2026-02-14"] == "workday" and days["2026-10-10"] == "workday"


def test_admin_adds_a_holiday_and_deadlines_follow(client, grid, db_session):
    seed_calendar(db_session, SYSTEM)
    db_session.commit()
    admin = token_for(client, "t_admin")
    # Monday 2026-12-07 08:30 + 1 working day lands Monday 18:00; make Monday a holiday.
    start = datetime(2026, 12, 7, 0, 30, tzinfo=timezone.utc)
    assert deadline(load_calendar(db_session), start, 1, "working_days").day == 7
    resp = client.put("/api/v1/calendar/days/2026-12-07", json={"kind": "holiday", "name": "测试假日"}, headers=admin)
    assert resp.status_code == 200
    assert deadline(load_calendar(db_session), start, 1, "working_days").day == 8
    assert client.delete("/api/v1/calendar/days/2026-12-07", headers=admin).status_code == 204
    assert deadline(load_calendar(db_session), start, 1, "working_days").day == 7
    assert db_session.scalar(sa.text("SELECT count(*) FROM audit_log WHERE action LIKE 'calendar.day%'")) == 2


def test_calendar_edits_are_checked_and_admin_only(client, grid, db_session):
    seed_calendar(db_session, SYSTEM)
    db_session.commit()
    admin = token_for(client, "t_admin")
    assert_problem(client.put("/api/v1/calendar/days/2026-12-08", json={"kind": "holiday"},
                              headers=token_for(client, "t_dispatcher")), 403)
    assert_problem(client.put("/api/v1/calendar/days/2026-13-01", json={"kind": "holiday"}, headers=admin), 400, field="date")
    assert_problem(client.put("/api/v1/calendar/days/2026-12-08", json={"kind": "workday"}, headers=admin), 400, field="kind")
    assert_problem(client.put("/api/v1/calendar/windows", json={"windows": {"mon": [["12:00", "08:00"]]}},
                              headers=admin), 400, field="windows")
    assert_problem(client.put("/api/v1/calendar/windows", json={"windows": {"funday": []}}, headers=admin), 400, field="windows")


def test_admin_replaces_windows(client, grid, db_session):
    admin = token_for(client, "t_admin")
    week = {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    body = client.put("/api/v1/calendar/windows", json={"windows": week}, headers=admin).get_json()
    assert body["windows"]["tue"] == [["09:00", "17:00"]]
    assert load_calendar(db_session).day_minutes == 480


def test_departments_weekend_work(client, grid):
    admin = token_for(client, "t_admin")
    listed = client.get("/api/v1/departments", headers=token_for(client, "t_dispatcher")).get_json()["departments"]
    assert [d["code"] for d in listed] == ["municipal_roads"] and listed[0]["works_weekends"] is False
    body = client.patch("/api/v1/departments/municipal_roads", json={"works_weekends": True}, headers=admin).get_json()
    assert body["works_weekends"] is True
    assert_problem(client.patch("/api/v1/departments/municipal_roads", json={"works_weekends": "yes"}, headers=admin),
                   400, field="works_weekends")
    assert_problem(client.patch("/api/v1/departments/nope", json={}, headers=admin), 404)
    assert_problem(client.patch("/api/v1/departments/municipal_roads", json={"active": False},
                                headers=token_for(client, "t_leader")), 403)
