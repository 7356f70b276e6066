"""Working calendar and departments: readable by staff, editable by administrators."""

from __future__ import annotations

from datetime import date, time

import sqlalchemy as sa
from flask import Blueprint, jsonify, request
from flask_babel import get_locale
from sqlalchemy.dialects.postgresql import insert

from .. import params
from ..caseflow.worktime import WorkCalendar, WorkTimeError
from ..db import get_session
from ..errors import BadRequest, NotFound
from ..models import CalendarDay, Department, WorkWindow
from ..security import current_actor, roles_required
from ..services import workcal
from ..services.audit import record
from ..services.names import in_language

bp = Blueprint("admin_api", __name__, url_prefix="/api/v1")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _json_object() -> dict:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object", field="body")
    return data


def _day(text: str) -> date:
    return params.parse_day(text, "date")


@bp.get("/calendar")
@roles_required()
def read_calendar():
    """Work windows per weekday and the holidays / make-up working days of a year."""
    db = get_session()
    year = params.integer("year", params.MIN_YEAR, params.MAX_YEAR, date.today().year)
    windows: dict[str, list[list[str]]] = {d: [] for d in WEEKDAYS}
    for w in db.scalars(sa.select(WorkWindow).order_by(WorkWindow.weekday, WorkWindow.starts)):
        windows[WEEKDAYS[w.weekday]].append([w.starts.strftime("%H:%M"), w.ends.strftime("%H:%M")])
    days = db.scalars(sa.select(CalendarDay).where(
        CalendarDay.day >= date(year, 1, 1), CalendarDay.day <= date(year, 12, 31)).order_by(CalendarDay.day))
    return jsonify({
        "year": year,
        "timezone": "Asia/Shanghai",
        "windows": windows,
        "days": [{"date": d.day.isoformat(), "kind": d.kind, "name": d.name, "source": d.source} for d in days],
    })


@bp.put("/calendar/windows")
@roles_required("admin")
def replace_windows():
    """Replace the weekly work windows: {"windows": {"mon": [["08:30","12:00"], …], …}}."""
    db = get_session()
    data = _json_object()
    raw = data.get("windows")
    if not isinstance(raw, dict) or set(raw) - set(WEEKDAYS):
        raise BadRequest(f"'windows' must map weekdays ({', '.join(WEEKDAYS)}) to lists of [start, end]",
                         field="windows")
    parsed: dict[int, list[tuple[time, time]]] = {i: [] for i in range(7)}
    for name, spans in raw.items():
        if not isinstance(spans, list):
            raise BadRequest(f"windows.{name} must be a list", field=f"windows.{name}")
        for k, span in enumerate(spans):
            try:
                start, end = (time.fromisoformat(t) for t in span)
            except (TypeError, ValueError):
                raise BadRequest(f"windows.{name}[{k}] must be [\"HH:MM\", \"HH:MM\"]", field=f"windows.{name}[{k}]") from None
            parsed[WEEKDAYS.index(name)].append((start, end))
    try:
        WorkCalendar(windows=parsed)  # validates order, overlaps and Monday's day length
    except WorkTimeError as exc:
        raise BadRequest(str(exc), field="windows") from None
    db.execute(sa.delete(WorkWindow))
    db.execute(sa.insert(WorkWindow), [
        {"weekday": d, "starts": s, "ends": e} for d, spans in parsed.items() for s, e in spans
    ])
    record(db, current_actor(), "calendar.windows", "calendar", None, {"windows": raw})
    db.commit()
    workcal.invalidate()
    return read_calendar()


@bp.put("/calendar/days/<day>")
@roles_required("admin")
def put_day(day: str):
    """Mark a date as a holiday or a make-up working day: {"kind": "holiday"|"workday", "name": …}."""
    db = get_session()
    when = _day(day)
    data = _json_object()
    kind = data.get("kind")
    if kind not in ("holiday", "workday"):
        raise BadRequest("'kind' must be holiday or workday", field="kind")
    name = data.get("name") or ""
    if not isinstance(name, str) or len(name) > 50:
        raise BadRequest("'name' must be text of at most 50 characters", field="name")
    if kind == "workday" and when.weekday() < 5:
        raise BadRequest(f"{when} is a weekday already; a make-up working day falls on a weekend", field="kind")
    stmt = insert(CalendarDay).values(day=when, kind=kind, name=name, source=f"admin {current_actor().name}")
    db.execute(stmt.on_conflict_do_update(index_elements=["day"], set_={
        "kind": stmt.excluded.kind, "name": stmt.excluded.name, "source": stmt.excluded.source}))
    record(db, current_actor(), "calendar.day", "calendar_day", when.isoformat(), {"kind": kind, "name": name})
    db.commit()
    workcal.invalidate()
    return jsonify({"date": when.isoformat(), "kind": kind, "name": name})


@bp.delete("/calendar/days/<day>")
@roles_required("admin")
def delete_day(day: str):
    """Make a date an ordinary day again."""
    db = get_session()
    when = _day(day)
    if db.execute(sa.delete(CalendarDay).where(CalendarDay.day == when)).rowcount == 0:
        raise NotFound(f"{when} is not a holiday or make-up working day")
    record(db, current_actor(), "calendar.day.delete", "calendar_day", when.isoformat())
    db.commit()
    workcal.invalidate()
    return "", 204


def _department_dict(d: Department) -> dict:
    return {"code": d.code, "name": d.name, "name_en": d.name_en, "phone": d.phone,
            "works_weekends": d.works_weekends, "active": d.active}


def _department_json(d: Department) -> dict:
    """A department for pages: ``name`` in the request's language, ``name_zh`` / ``name_en`` as stored."""
    return {**_department_dict(d), "name": in_language(d.name, d.name_en, get_locale().language), "name_zh": d.name}


@bp.get("/departments")
@roles_required()
def list_departments():
    """The handling departments."""
    db = get_session()
    return jsonify({"departments": [_department_json(d) for d in
                                    db.scalars(sa.select(Department).order_by(Department.code))]})


@bp.patch("/departments/<code>")
@roles_required("admin")
def update_department(code: str):
    """Edit a department: name, name_en, phone, works_weekends, active."""
    db = get_session()
    dept = db.scalar(sa.select(Department).where(Department.code == code))
    if dept is None:
        raise NotFound(f"department {code!r} does not exist")
    data = _json_object()
    allowed = {"name": str, "name_en": str, "phone": str, "works_weekends": bool, "active": bool}
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; editable: {', '.join(allowed)}", field=unknown[0])
    for key, kind in allowed.items():
        if key in data:
            value = data[key]
            if not isinstance(value, kind) or (kind is str and (not value.strip() or len(value) > 100)):
                raise BadRequest(f"'{key}' must be {'true or false' if kind is bool else 'text of 1–100 characters'}",
                                 field=key)
    before = _department_dict(dept)
    for key in allowed:
        if key in data:
            setattr(dept, key, data[key])
    record(db, current_actor(), "department.update", "department", dept.id,
           {"before": before, "after": _department_dict(dept)})
    db.commit()
    return jsonify(_department_json(dept))
