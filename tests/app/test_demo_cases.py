"""The demo case history against PostGIS: valid event chains, counters, rhythm, hotspots, service replay."""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app.caseflow import machine
from app.caseflow.worktime import CN_CALENDAR_CSV, WorkCalendar, load_calendar_csv
from app.demo import load_demo
from app.demo.cases import LOCAL_TZ, WorkClock, _dt, _us
from app.models import Case, CaseEvent, User
from app.services import cases as case_service
from app.services.audit import Actor
from app.services.photos import PhotoStore
from app.services.workcal import load_calendar
from gis.crs import storage_to_lonlat

SEED = 11
END = datetime(2026, 11, 20, 10, 30, tzinfo=LOCAL_TZ)  # "now": a Friday morning


@pytest.fixture(scope="module")
def history(engine, settings):
    """The small demo with its case history, loaded once for the module and rolled back after."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    summary = load_demo(session, settings, size="small", seed=SEED, history_end=END)
    session.flush()
    try:
        yield session, summary
    finally:
        session.close()
        outer.rollback()
        connection.close()


def rows(session, sql: str, **params):
    return session.execute(sa.text(sql), params).all()


def events_by_case(session) -> dict[int, list]:
    out: dict[int, list] = defaultdict(list)
    for e in rows(session, "SELECT * FROM case_events ORDER BY case_id, id"):
        out[e.case_id].append(e)
    return out


def outcome_of(action: str, to_state: str, data: dict | None) -> str | None:
    """The outcome an event implies (events store the resulting state, not the outcome)."""
    if action == "verify":
        return "confirmed" if to_state == "pending_filing" else "not_found"
    if action == "check":
        return "passed" if to_state == "pending_close" else "failed"
    if action == "close":
        return (data or {}).get("close_type") == "special" and "special" or None
    return None


def test_counts_and_numbers(history, settings):
    session, summary = history
    assert summary.counts["cases"] == 2000
    assert rows(session, "SELECT count(*) FROM cases")[0][0] == 2000
    assert rows(session, "SELECT count(*) FROM case_events")[0][0] == summary.counts["case_events"]
    first, last = rows(session, "SELECT min(reported_at), max(reported_at) FROM cases")[0]
    assert END - timedelta(days=366) <= first and last < END
    bad = [
        (r.number, r.id) for r in rows(session, "SELECT id, number, reported_at FROM cases")
        if r.number != f"{r.reported_at.astimezone(LOCAL_TZ):%Y%m%d}{r.id:08d}"
    ]
    assert bad == []
    # The sequence is past every id the demo used, so the service's next case gets a new one.
    next_id = rows(session, "SELECT nextval('cases_id_seq')")[0][0]
    assert next_id > rows(session, "SELECT max(id) FROM cases")[0][0]
    # Location columns agree with the cell the point lies in.
    assert rows(session, """
        SELECT count(*) FROM cases k JOIN cells c ON c.code = k.cell_code
        WHERE NOT ST_Covers(c.geom, k.geom) OR k.community_code <> c.community_code
           OR k.street_code <> c.street_code OR k.area_class <> c.area_class
           OR k.district_code <> :d""", d=settings.district_code)[0][0] == 0
    # Routing: without rules every case is suggested its category's default department.
    assert rows(session, """
        SELECT count(*) FROM cases k JOIN categories g ON g.id = k.category_id
        WHERE k.suggested_department_id IS DISTINCT FROM g.default_department_id
           OR g.standard_ref <> :s""", s=settings.category_standard)[0][0] == 0


def test_every_event_chain_is_one_the_state_machine_allows(history):
    session, _ = history
    cases = {r.id: r for r in rows(session, "SELECT * FROM cases")}
    users = {r.id: r for r in rows(session, "SELECT id, username, role, department_id FROM users")}
    duty = dict(rows(session, """SELECT c.cell_code, g.inspector_id FROM duty_grid_cells c
                                 JOIN duty_grids g ON g.id = c.duty_grid_id"""))
    for case_id, events in events_by_case(session).items():
        case = cases[case_id]
        report, *steps = events
        assert report.action == "report" and report.from_state is None
        assert report.to_state == ("pending_close" if case.self_handled else "reported")
        state, pending, dept = report.to_state, None, None
        counts = Counter()
        for e in steps:
            assert e.from_state == state, (case.number, e.action)
            assert e.at > report.at
            step = machine.plan(state, e.action, e.role, outcome=outcome_of(e.action, e.to_state, e.data),
                                pending=pending, self_handled=case.self_handled)
            assert step.to_state == e.to_state, (case.number, e.action)
            if e.actor_id is not None:
                assert users[e.actor_id].role == e.role and users[e.actor_id].username == e.actor
            if e.role == "department":
                assert users[e.actor_id].department_id == dept, (case.number, e.action)
            if e.action in ("verify", "check"):
                assert e.actor_id == duty[case.cell_code]
            if e.action == "dispatch":
                dept = rows(session, "SELECT id FROM departments WHERE code = :c", c=e.data["department"])[0][0]
            if "clear_department" in step.effects:
                dept = None
            if "count_postpone" in step.effects:
                counts["postponements"] += 1
                counts["postponed_minutes"] += pending == "postpone" and e.data["hours"] * 60
            counts["reworks"] += "count_rework" in step.effects
            counts["returns"] += "count_return" in step.effects
            counts["urges"] += "count_urge" in step.effects
            if e.action.startswith("request_"):
                pending = e.action.removeprefix("request_")
            elif e.action in ("approve", "deny"):
                pending = None
            state = e.to_state
        assert case.state == state and case.department_id == dept, case.number
        assert (case.pending_request or {}).get("kind") == pending
        assert case.version == len(events)
        for name in ("postponements", "reworks", "returns", "urges", "postponed_minutes"):
            assert getattr(case, name) == counts[name], (case.number, name)


def test_states_close_types_sources_and_lifecycles(history):
    session, _ = history
    states = dict(rows(session, "SELECT state, count(*) FROM cases GROUP BY state"))
    assert set(states) == set(machine.STATES)
    assert states["closed"] > 0.7 * sum(states.values())
    close_types = dict(rows(session, "SELECT close_type, count(*) FROM cases WHERE state = 'closed' GROUP BY 1"))
    assert set(close_types) == {"normal", "overdue", "special"}
    assert close_types["normal"] > 5 * close_types["overdue"] > 0
    sources = dict(rows(session, "SELECT source, count(*) FROM cases GROUP BY source"))
    assert max(sources, key=sources.get) == "inspector"
    assert {"hotline", "public", "video", "open311"} <= set(sources)
    actions = dict(rows(session, "SELECT action, count(*) FROM case_events GROUP BY action"))
    for action in machine.ACTIONS:
        assert actions.get(action, 0) > 0, action
    # Resumed suspensions, suspensions still running, self-handled cases, rejections after verification.
    assert rows(session, "SELECT count(*) FROM cases WHERE state = 'suspended' AND suspended_at IS NOT NULL")[0][0] > 0
    assert rows(session, "SELECT count(*) FROM cases WHERE self_handled AND state = 'closed'")[0][0] > 50
    assert rows(session, "SELECT count(*) FROM case_events WHERE action = 'verify' AND to_state = 'rejected'")[0][0] > 0
    # Open311 reports are made as the Open311 client's user.
    assert rows(session, """SELECT count(*) FROM cases k JOIN open311_clients o ON o.user_id = k.reporter_id
                            WHERE k.source = 'open311'""")[0][0] == sources["open311"]


def test_weekly_and_seasonal_rhythm(history):
    session, _ = history
    per_day = dict(rows(session, """SELECT (reported_at AT TIME ZONE 'Asia/Shanghai')::date, count(*)
                                    FROM cases GROUP BY 1"""))
    first = min(per_day)
    days = [first + timedelta(days=k) for k in range((max(per_day) - first).days + 1)]
    weekday = [per_day.get(d, 0) for d in days if d.weekday() < 5]
    weekend = [per_day.get(d, 0) for d in days if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 1.4 * sum(weekend) / len(weekend)
    hours = dict(rows(session, """SELECT extract(hour FROM reported_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)
                                  FROM cases GROUP BY 1"""))
    assert hours.get(10, 0) > 5 * hours.get(3, 0)
    # Seasonal: barbecues in summer, snow and ice in winter only.
    by_month = dict(rows(session, """
        SELECT extract(month FROM k.reported_at AT TIME ZONE 'Asia/Shanghai')::int, count(*)
        FROM cases k JOIN categories g ON g.id = k.category_id WHERE g.name = '露天烧烤' GROUP BY 1"""))
    summer = sum(by_month.get(m, 0) for m in (6, 7, 8))
    winter = sum(by_month.get(m, 0) for m in (12, 1, 2))
    assert summer > 4 * max(winter, 1)
    snow = rows(session, """
        SELECT DISTINCT extract(month FROM k.reported_at AT TIME ZONE 'Asia/Shanghai')::int
        FROM cases k JOIN categories g ON g.id = k.category_id WHERE g.name LIKE '道路积雪%'""")
    assert snow and {m for (m,) in snow} <= {11, 12, 1, 2, 3}


def test_hotspots(history):
    session, _ = history
    counts = sorted((n for (n,) in rows(session, """
        SELECT count(k.id) FROM cells c LEFT JOIN cases k ON k.cell_code = c.code GROUP BY c.code""")),
        reverse=True)
    top = counts[: max(1, len(counts) // 20)]
    assert sum(top) > 0.15 * sum(counts)  # uniform would give 5 %
    assert counts[-1] < sum(counts) / len(counts)


def test_duplicates_link_to_an_earlier_open_case_nearby(history):
    session, _ = history
    dups = rows(session, """
        SELECT d.id, d.state, d.category_id = o.category_id AS same_category, ST_Distance(d.geom, o.geom) AS dist,
               o.reported_at < d.reported_at AS earlier, o.closed_at, e.at AS marked_at, e.data->>'duplicate_of' AS ref,
               o.number
        FROM cases d JOIN cases o ON o.id = d.duplicate_of_id
        JOIN case_events e ON e.case_id = d.id AND e.action = 'mark_duplicate'""")
    assert len(dups) >= 20
    for d in dups:
        assert d.state == "voided" and d.same_category and d.earlier and d.dist < 30 and d.ref == d.number
        assert d.closed_at is None or d.closed_at > d.marked_at
    assert rows(session, """SELECT count(*) FROM cases WHERE duplicate_of_id IS NOT NULL""")[0][0] == len(dups)


def test_work_clock_matches_the_calendar():
    holidays, workdays = load_calendar_csv(CN_CALENDAR_CSV)
    rng = random.Random(3)
    for weekend in (False, True):
        cal = WorkCalendar(holidays=holidays, workdays=workdays, weekend_work=weekend)
        clock = WorkClock(cal, date(2025, 11, 1), date(2027, 6, 30))
        start = _us(datetime(2025, 11, 20, tzinfo=LOCAL_TZ))
        for _ in range(3000):
            t = start + rng.randrange(0, 400 * 86_400) * 1_000_000
            if rng.random() < 0.2:  # exactly on a window edge
                t = _us(datetime.fromtimestamp(t / 1e6, LOCAL_TZ).replace(hour=12, minute=0, second=0))
            minutes = rng.choice((30, 60, 225, 450, 900, 2250, 7.5, rng.uniform(1, 5000)))
            delta = round(minutes * 60_000_000)
            assert clock.add(t, delta) == _us(cal.add_working_minutes(_dt(t), minutes))
            e = t + rng.randrange(0, 40 * 86_400) * 1_000_000
            assert clock.between(t, e) == round(cal.working_minutes_between(_dt(t), _dt(e)) * 60_000_000)


def _pick_varied(session) -> list[int]:
    """About 20 cases covering the lifecycles: rework, return, postpone, suspend, urge, special, …"""
    queries = [
        "reworks > 0", "returns > 0", "postponements > 0", "state = 'suspended'", "urges > 0",
        "close_type = 'special'", "close_type = 'overdue'", "self_handled", "duplicate_of_id IS NOT NULL",
        "state = 'rejected'", "id IN (SELECT case_id FROM case_events WHERE action = 'resume')",
        "id IN (SELECT case_id FROM case_events WHERE action = 'deny')",
        "state IN ('processing', 'dispatched', 'checking', 'verifying')", "close_type = 'normal' AND NOT self_handled",
        "state IN ('reported', 'pending_filing', 'filed', 'handled', 'pending_close')", "postponements > 0 AND closed_at IS NULL",
    ]
    picked: list[int] = []
    for where in queries:
        for (case_id,) in rows(session, f"SELECT id FROM cases WHERE {where} ORDER BY id LIMIT 2"):
            if case_id not in picked:
                picked.append(case_id)
    return picked[:30]


def _same_instants(a: dict | None, b: dict | None) -> tuple:
    """A JSON dict with its ISO timestamps as instants (zone spelling may differ)."""
    def norm(d):
        if not isinstance(d, dict):
            return d
        return {k: datetime.fromisoformat(v) if k in ("at", "paused_since") else norm(v) for k, v in d.items()}
    return norm(a), norm(b)


def test_replay_through_the_service_gives_the_same_cases(history, settings):
    session, _ = history
    calendar = load_calendar(session)
    store = PhotoStore(settings.photo_dir)
    picked = _pick_varied(session)
    assert len(picked) >= 18
    nested = session.begin_nested()
    try:
        for case_id in picked:
            sim = session.get(Case, case_id)
            events = session.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.id)).all()
            report = events[0]
            reporter = session.get(User, report.actor_id)
            x, y = session.execute(sa.text("SELECT ST_X(geom), ST_Y(geom) FROM cases WHERE id = :i"), {"i": case_id}).one()
            lon, lat = storage_to_lonlat(x, y, settings.storage_srid)
            data = case_service.IntakeInput(
                x=x, y=y, lon=float(lon), lat=float(lat), category_id=sim.category_id, description=sim.description,
                address=sim.address, source=sim.source, urgency=sim.urgency, self_handled=sim.self_handled,
                camera_id=sim.camera_id, reporter_contact=sim.reporter_contact,
            )
            copy = case_service.create_case(session, settings, calendar, reporter,
                                            Actor(reporter.id, reporter.username, reporter.role), data, store,
                                            at=report.at).load(session)
            for e in events[1:]:
                user = session.get(User, e.actor_id) if e.actor_id is not None else None
                caller = (case_service.Caller.of(user) if user else case_service.Caller(None, e.actor, e.role))
                payload = {"note": e.note} if e.note else {}
                outcome = outcome_of(e.action, e.to_state, e.data)
                if outcome:
                    payload["outcome"] = outcome
                if e.action == "request_postpone":
                    payload["hours"] = e.data["request"]["hours"]
                if e.action == "dispatch" and e.data["overrode_suggestion"]:
                    payload["department"] = e.data["department"]
                if e.action == "mark_duplicate":
                    payload["duplicate_of"] = e.data["duplicate_of"]
                got = case_service.perform_action(session, calendar, caller, Actor(e.actor_id, e.actor, e.role),
                                                  copy, e.action, copy.version, payload, at=e.at)
                assert (got.from_state, got.to_state) == (e.from_state, e.to_state), (sim.number, e.action)
                mine, theirs = _same_instants(got.data, e.data)
                assert mine == theirs, (sim.number, e.action)
            for name in ("state", "stage", "stage_started_at", "stage_deadline", "stage_limit_unit",
                         "stage_limit_minutes", "handle_deadline",
                         "suspended_at", "handled_at", "postponements", "postponed_minutes", "reworks", "returns",
                         "urges", "close_type", "filed_at", "dispatched_at", "closed_at", "department_id",
                         "suggested_department_id", "assignee_id", "version", "cell_code", "area_class",
                         "self_handled", "urgency"):
                assert getattr(copy, name) == getattr(sim, name), (sim.number, name)
            mine, theirs = _same_instants(copy.pending_request, sim.pending_request)
            assert mine == theirs, sim.number
            if sim.duplicate_of_id is not None:
                assert copy.duplicate_of_id == sim.duplicate_of_id
    finally:
        nested.rollback()


# -- the current backlog ----------------------------------------------------------------------


def open_lights(session, now: datetime) -> dict[str, Counter]:
    """Per open state, the lights the command centre shows at ``now`` (its own Clock and warning_light)."""
    calendar = load_calendar(session)
    out: dict[str, Counter] = defaultdict(Counter)
    for r in rows(session, """
            SELECT k.state, k.stage, k.stage_deadline, k.stage_limit_minutes, k.stage_limit_unit, k.suspended_at,
                   d.id AS dept, d.works_weekends
            FROM cases k LEFT JOIN departments d ON d.id = k.department_id WHERE k.state = ANY(:open)""",
            open=sorted(machine.OPEN_STATES)):
        clock = case_service.Clock(r.state, r.stage, r.stage_deadline, r.stage_limit_minutes, r.stage_limit_unit,
                                   r.suspended_at, case_service.ClockDepartment(r.works_weekends) if r.dept else None)
        out[r.state][case_service.warning_light(calendar, clock, now) or "none"] += 1
    return out


def assert_working_backlog(by_state: dict[str, Counter]) -> None:
    """Every open state has cases; most lights are green, some yellow, a few red."""
    assert set(by_state) == machine.OPEN_STATES
    total = sum(by_state.values(), Counter())
    n = sum(total.values())
    assert n >= 80, total
    assert total["green"] >= 0.7 * n and 0 < total["red"] <= 0.1 * n and total["yellow"] > 0, total
    assert total["none"] == 0, total


def test_backlog_right_after_the_load_is_a_working_centres(history):
    session, _ = history
    assert_working_backlog(open_lights(session, END))


@pytest.mark.parametrize("now", [
    datetime(2026, 11, 23, 7, 0, tzinfo=LOCAL_TZ),  # Monday before work, after a weekend
    datetime(2026, 10, 3, 2, 0, tzinfo=LOCAL_TZ),  # a night in the National Day holiday
], ids=["monday-0700", "holiday-night"])
def test_backlog_at_night_and_after_days_off(history, settings, now):
    session, _ = history  # reloaded on the module's connection (a second one would wait for its lock)
    nested = session.begin_nested()
    try:
        load_demo(session, settings, size="small", seed=SEED, history_end=now)
        assert session.execute(sa.text("SELECT max(reported_at) FROM cases")).scalar_one() < now
        assert_working_backlog(open_lights(session, now))
    finally:
        nested.rollback()
