"""Cases listed beside assets and places (building, component, cell): compact items with lights.

Visibility is the case API's: a department sees only its own cases here too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..caseflow.machine import TERMINAL_STATES
from ..caseflow.worktime import WorkCalendar
from ..models import Case
from .cases import Caller, Clock, ClockDepartment, now_utc, visible_cases, warning_light

#: Open cases whose lights are counted for one place at most (a cell holds a handful).
MAX_COUNTED = 5000
LIGHTS = ("red", "yellow", "green", "none")


def _item(case: Case, light: str | None) -> dict[str, Any]:
    return {
        "id": case.id, "number": case.number, "state": case.state, "kind": case.kind,
        "category": {"code": case.category_code, "name": case.category.name},
        "urgency": case.urgency, "description": case.description[:200],
        "reported_at": case.reported_at.isoformat(), "light": light,
        "component_id": case.component_id,
    }


def case_items(session: Session, user: Caller, calendar: WorkCalendar, where: sa.ColumnElement[bool], *,
               limit: int, offset: int = 0, open_only: bool = False,
               now: datetime | None = None) -> tuple[list[dict[str, Any]], int]:
    """Cases matching ``where`` that the user may see, newest first, and their total."""
    clauses = [where, visible_cases(user)]
    if open_only:
        clauses.append(Case.state.not_in(TERMINAL_STATES))
    total = session.scalar(sa.select(sa.func.count()).select_from(Case).where(*clauses))
    cases = session.scalars(
        sa.select(Case).where(*clauses).options(selectinload(Case.category), selectinload(Case.department))
        .order_by(Case.reported_at.desc(), Case.id.desc()).limit(limit).offset(offset)
    ).all()
    now = now or now_utc()
    return [_item(c, warning_light(calendar, c, now)) for c in cases], total


def open_light_counts(session: Session, user: Caller, calendar: WorkCalendar, where: sa.ColumnElement[bool],
                      now: datetime | None = None) -> dict[str, int]:
    """How many open cases matching ``where`` (that the user may see) show each light."""
    from ..models import Department

    rows = session.execute(
        sa.select(Case.state, Case.stage, Case.stage_deadline, Case.stage_limit_minutes, Case.stage_limit_unit,
                  Case.suspended_at, Department.works_weekends)
        .outerjoin(Department, Department.id == Case.department_id)
        .where(where, visible_cases(user), Case.state.not_in(TERMINAL_STATES))
        .limit(MAX_COUNTED)
    ).all()
    now = now or now_utc()
    counts = dict.fromkeys(LIGHTS, 0)
    for r in rows:
        clock = Clock(r[0], r[1], r[2], r[3], r[4], r[5], ClockDepartment(bool(r[6])) if r[6] is not None else None)
        counts[warning_light(calendar, clock, now) or "none"] += 1
    return counts
