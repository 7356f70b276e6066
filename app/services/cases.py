"""The case loop: intake, actions through the state machine, stage clocks and warning lights."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..caseflow import machine
from ..caseflow.worktime import WorkCalendar, deadline, light, shift_deadline
from ..config import Settings
from ..errors import N_, BadRequest, Conflict, Forbidden, Message, NotFound, ValidationProblem
from ..models import (
    Case,
    CaseEvent,
    CasePhoto,
    Category,
    Department,
    DutyGrid,
    DutyGridCell,
    User,
)
from . import components as component_service
from . import grid as grid_service
from . import live, refcache
from .audit import Actor, record
from .categories import resolve_time_limit
from .photos import CheckedPhoto, PhotoStore
from .routing import SUGGEST_SQL_TEMPLATE

LOGGER = logging.getLogger(__name__)

#: Who may report with which source.
SOURCES_BY_ROLE = {
    "inspector": ("inspector",),
    "operator": ("public", "hotline", "video", "sensor", "upper_platform", "open311"),
}
DUPLICATE_WINDOW = timedelta(days=7)
MAX_DESCRIPTION = 4000


class InvalidTransition(Conflict):
    """The action is not allowed from the case's current state."""

    type_slug = "invalid-transition"
    title = N_("Action not allowed in this state")


class StaleVersion(Conflict):
    """The client acted on an older version of the case."""

    type_slug = "stale-version"
    title = N_("The case has changed since you loaded it")


class OutsideDistrict(ValidationProblem):
    """A case located outside every unit grid cell."""

    type_slug = "out-of-district"
    title = N_("Location outside the district's unit grid")


@dataclass
class IntakeInput:
    """A validated report (the blueprint parses the request into this)."""

    x: float
    y: float
    lon: float
    lat: float
    category_id: int
    description: str
    address: str | None = None
    source: str | None = None
    urgency: str = "normal"
    self_handled: bool = False
    camera_id: str | None = None
    reporter_contact: dict[str, Any] | None = None
    photos: list[CheckedPhoto] = field(default_factory=list)
    event_data: dict[str, Any] | None = None  # extra facts for the report event (e.g. Open311 media)


@dataclass(frozen=True)
class Caller:
    """Who acts on a case: a user, or the system (auto-dispatch)."""

    id: int | None
    username: str
    role: str
    department_id: int | None = None

    @classmethod
    def of(cls, user: User) -> Caller:
        """The caller for a signed-in user."""
        return cls(user.id, user.username, user.role, user.department_id)


def now_utc() -> datetime:
    """The current instant (one place to read the clock)."""
    return datetime.now(timezone.utc)


# -- clocks -------------------------------------------------------------------------------


def _calendar_for(calendar: WorkCalendar, case: Case) -> WorkCalendar:
    """Handling by a department that works weekends counts its weekends as working time."""
    if case.stage == "handle" and case.department is not None and case.department.works_weekends:
        return calendar.with_weekend_work(True)
    return calendar


def start_stage(session: Session, calendar: WorkCalendar, case: Case, at: datetime) -> None:
    """Start the clock of the stage belonging to the case's state."""
    case.stage = machine.STAGE_OF_STATE.get(case.state)
    if case.stage is None:
        case.stage_started_at = case.stage_deadline = case.stage_limit_unit = None
        return
    limit = stage_limit(session, case.category_id, case.stage, case.urgency, case.area_class)
    cal = _calendar_for(calendar, case)
    case.stage_started_at = at
    case.stage_limit_unit = limit.unit
    case.stage_limit_minutes = limit_minutes(cal, limit.value, limit.unit)
    case.stage_deadline = deadline(cal, at, limit.value, limit.unit)
    if case.stage == "handle":
        case.handle_deadline = case.stage_deadline


def limit_minutes(calendar: WorkCalendar, value: float, unit: str) -> float:
    """A limit in minutes of its own kind of time (wall-clock or working)."""
    if unit == "working_days":
        return value * calendar.day_minutes
    return value * 60.0 if unit in ("hours", "working_hours") else float(value)


def _minutes_between(calendar: WorkCalendar, start: datetime, end: datetime, unit: str) -> float:
    if unit in ("minutes", "hours"):
        return max((end - start).total_seconds() / 60.0, 0.0)
    return calendar.working_minutes_between(start, end)


@dataclass
class Clock:
    """The fields warning_light reads, for views that light thousands of cases without ORM objects."""

    state: str
    stage: str | None
    stage_deadline: datetime | None
    stage_limit_minutes: float | None
    stage_limit_unit: str | None
    suspended_at: datetime | None
    department: Any  # anything with works_weekends, or None


@dataclass(frozen=True)
class ClockDepartment:
    """The one department field warning_light reads."""

    works_weekends: bool


def warning_light(calendar: WorkCalendar, case: Case, now: datetime | None = None) -> str | None:
    """Green up to 80 % of the stage allowance, yellow to 100 %, red beyond.

    Measured as what is left before the deadline, so a suspension (which moves the
    deadline) does not count as time used; while suspended the light is frozen.
    """
    if case.stage_deadline is None or not case.stage_limit_minutes:
        return None if case.stage_deadline is None else ("red" if (now or now_utc()) > case.stage_deadline else "yellow")
    cal = _calendar_for(calendar, case)
    at = case.suspended_at if case.state == "suspended" and case.suspended_at else (now or now_utc())
    unit = case.stage_limit_unit
    if at <= case.stage_deadline:
        used = case.stage_limit_minutes - _minutes_between(cal, at, case.stage_deadline, unit)
    else:
        used = case.stage_limit_minutes + _minutes_between(cal, case.stage_deadline, at, unit)
    return light(max(used, 0.0) / case.stage_limit_minutes)


# -- intake -------------------------------------------------------------------------------


@dataclass(frozen=True)
class CategoryInfo:
    """The category fields intake needs, cached per process."""

    id: int
    kind: str
    code: str
    name: str
    standard_ref: str
    duplicate_radius_m: float
    enabled: bool


def category_info(session: Session, category_id: int) -> CategoryInfo | None:
    """A category's intake fields (cached for a minute; admin edits clear the cache)."""

    def load() -> CategoryInfo | None:
        c = session.get(Category, category_id)
        return None if c is None else CategoryInfo(
            c.id, c.kind, c.code, c.name, c.standard_ref, c.duplicate_radius_m, c.enabled)

    return refcache.cached(("category", category_id), load)


def stage_limit(session: Session, category_id: int, stage: str, urgency: str, area_class: int | None):
    """The resolved time limit of a stage (cached like :func:`category_info`)."""
    return refcache.cached(
        ("limit", category_id, stage, urgency, area_class),
        lambda: resolve_time_limit(session, category_id, stage, urgency, area_class),
    )


def case_number(case_id: int, at: datetime) -> str:
    """Local date (UTC+8) + 8-digit serial, e.g. 2026112700000042."""
    local = at.astimezone(timezone(timedelta(hours=8)))
    return f"{local:%Y%m%d}{case_id:08d}"


def next_case_number(session: Session, at: datetime) -> tuple[int, str]:
    """A new case id and its number."""
    case_id = session.scalar(sa.text("SELECT nextval('cases_id_seq')"))
    return case_id, case_number(case_id, at)


# Where the point is, which department a case there would go to, and a new case id: one
# round trip.  The cell rule is grid.CellLocator's (lowest code among covering cells); the
# department ranking is routing's.  A report refused here (outside the grid, unknown or
# retired camera) draws no id, so case numbers have no gaps from refused reports.
_PLACE_SQL = sa.text(
    """
    WITH cell AS (
        SELECT c.code, c.community_code, c.street_code, c.district_code, c.area_class
        FROM cells c
        WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_SetSRID(ST_MakePoint(:x, :y), :srid))
        ORDER BY c.code
        LIMIT 1
    ), cam AS (
        -- a video report's camera: one unique-index lookup, NULL when no camera is named
        SELECT (SELECT status FROM cameras WHERE device_id = CAST(:camera_id AS text)) AS camera_status
    )
    SELECT cell.*, cam.camera_status, dept.id AS dept_id, dept.code AS dept_code,
           CASE WHEN CAST(:camera_id AS text) IS NULL OR cam.camera_status <> 'retired'
                THEN nextval('cases_id_seq') END AS case_id
    FROM cell CROSS JOIN cam LEFT JOIN LATERAL ("""
    + SUGGEST_SQL_TEMPLATE.format(cell="cell.code", community="cell.community_code", street="cell.street_code")
    + """) dept ON TRUE
    """
)

# The case, its first event and its audit row in one statement; the final SELECT lists open
# cases of the same category nearby (it does not see the new row, which is what we want).
_INSERT_SQL = sa.text(
    """
    WITH new_case AS (
        INSERT INTO cases (
            id, number, district_code, source, kind, category_id, category_code, standard_ref,
            urgency, description, address, geom, cell_code, community_code, street_code,
            area_class, state, suggested_department_id, reporter_id, reporter_contact,
            self_handled, camera_id, stage, stage_started_at, stage_deadline, stage_limit_unit,
            stage_limit_minutes, handle_deadline, handled_at, postponements, postponed_minutes,
            reworks, returns, urges, reported_at, updated_at, version, component_id)
        VALUES (
            :id, :number, :district_code, :source, :kind, :category_id, :category_code,
            :standard_ref, :urgency, :description, :address,
            ST_SetSRID(ST_MakePoint(:x, :y), :srid), :cell_code, :community_code, :street_code,
            :area_class, :state, :suggested_department_id, :reporter_id,
            CAST(:reporter_contact AS jsonb), :self_handled, :camera_id, :stage, :at,
            :stage_deadline, :stage_limit_unit, :stage_limit_minutes, :handle_deadline,
            :handled_at, 0, 0, 0, 0, 0, :at, :at, 1,
            """ + component_service.SNAP_SUBQUERY + """)
        RETURNING id, geom
    ), event AS (
        INSERT INTO case_events (case_id, at, actor_id, actor, role, action, from_state, to_state, data)
        SELECT id, :at, :actor_id, :actor, :role, 'report', NULL, :state, CAST(:event_data AS jsonb)
        FROM new_case
    ), audit AS (
        INSERT INTO audit_log (at, actor_id, actor, role, action, entity, entity_id, detail, request_id, ip)
        SELECT :at, :actor_id, :actor, :role, 'case.report', 'case', CAST(id AS text),
               CAST(:audit_detail AS jsonb), :request_id, :ip
        FROM new_case
    )
    SELECT c.id, c.number, c.state, c.reported_at,
           round(ST_Distance(c.geom, n.geom)::numeric, 1) AS distance_m
    FROM cases c, new_case n
    WHERE c.category_id = :category_id AND c.reported_at >= :since
      AND c.state NOT IN ('closed', 'rejected', 'voided')
      AND ST_DWithin(c.geom, n.geom, :radius)
    ORDER BY ST_Distance(c.geom, n.geom), c.id
    LIMIT 20
    """
)


@dataclass
class IntakeResult:
    """A recorded report: its id, number, the API view of it, and possible duplicates."""

    id: int
    number: str
    summary: dict[str, Any]
    duplicates: list[dict[str, Any]]

    def load(self, session: Session) -> Case:
        """The case as an ORM object (for callers that act on it next)."""
        return session.get(Case, self.id)


def create_case(
    session: Session,
    settings: Settings,
    calendar: WorkCalendar,
    user: User,
    actor: Actor,
    data: IntakeInput,
    store: PhotoStore,
    at: datetime | None = None,
) -> IntakeResult:
    """Record a report: locate it on the grid, start its clock, suggest a department.

    Raises a Problem naming the field on bad input; nothing is written then (the caller
    rolls back; photo files already written stay for other requests with the same bytes,
    see :func:`photos.sweep_orphans`).  Runs on every report from every phone, so it uses
    three round trips of plain SQL rather than ORM flushes.  A retry with an Idempotency-Key
    never gets here (the caller claims the key first), so it draws no case number.
    """
    at = at or now_utc()
    allowed_sources = SOURCES_BY_ROLE.get(user.role)
    if not allowed_sources:
        raise Forbidden(f"role {user.role!r} may not report cases; inspectors and operators can")
    source = data.source or allowed_sources[0]
    if source not in allowed_sources:
        raise BadRequest(
            f"source {source!r} is not allowed for role {user.role}; use one of {', '.join(allowed_sources)}",
            field="source",
        )
    if source == "video" and not data.camera_id:
        raise BadRequest("a video report names the camera that saw it: 'camera_id' (its GB/T 28181 device id)",
                         field="camera_id")
    if data.camera_id and source != "video":
        raise BadRequest(f"'camera_id' goes with source 'video', not {source!r}", field="camera_id")
    if data.self_handled and user.role != "inspector":
        raise BadRequest("only an inspector can report a case as handled on the spot", field="self_handled")
    category = category_info(session, data.category_id)
    if category is None or not category.enabled or category.standard_ref != settings.category_standard:
        raise BadRequest(
            f"unknown category {data.category_id}; see GET /api/v1/categories ({settings.category_standard})",
            field="category",
        )
    place = session.execute(
        _PLACE_SQL, {"x": data.x, "y": data.y, "srid": settings.storage_srid, "category_id": category.id,
                     "camera_id": data.camera_id}
    ).mappings().first()
    if place is None:
        extent = grid_service.district_extent(session)
        where = (f"lon {extent.min_lon:.4f}–{extent.max_lon:.4f}, lat {extent.min_lat:.4f}–{extent.max_lat:.4f}"
                 if extent else "-")
        outside = Message(N_("outside the district"))
        raise OutsideDistrict(
            Message(N_("lon=%(lon)s, lat=%(lat)s is outside %(district)s's unit grid (%(extent)s)"),
                    lon=f"{data.lon:.6f}", lat=f"{data.lat:.6f}", district=settings.district_name, extent=where),
            errors=[{"field": "lon", "message": outside}, {"field": "lat", "message": outside}],
        )
    if data.camera_id and place["camera_status"] in (None, "retired"):
        raise BadRequest(
            f"camera {data.camera_id} " + ("is retired" if place["camera_status"] else "is not a known camera")
            + "; see GET /api/v1/cameras", field="camera_id")
    state = "pending_close" if data.self_handled else "reported"
    stage = machine.STAGE_OF_STATE[state]
    limit = stage_limit(session, category.id, stage, data.urgency, place["area_class"])
    case_id = place["case_id"]
    number = case_number(case_id, at)
    stage_deadline = deadline(calendar, at, limit.value, limit.unit)
    event_data = {"source": source, "self_handled": data.self_handled, **(data.event_data or {})}
    rows = session.execute(_INSERT_SQL, {
        "id": case_id, "number": number, "district_code": place["district_code"], "source": source,
        "kind": category.kind, "category_id": category.id, "category_code": category.code,
        "standard_ref": category.standard_ref, "urgency": data.urgency, "description": data.description,
        "address": data.address, "x": data.x, "y": data.y, "srid": settings.storage_srid,
        "cell_code": place["code"], "community_code": place["community_code"],
        "street_code": place["street_code"], "area_class": place["area_class"], "state": state,
        "suggested_department_id": place["dept_id"], "reporter_id": user.id,
        "reporter_contact": json.dumps(data.reporter_contact, ensure_ascii=False) if data.reporter_contact else None,
        "self_handled": data.self_handled, "camera_id": data.camera_id, "stage": stage, "at": at,
        "stage_deadline": stage_deadline, "stage_limit_unit": limit.unit,
        "stage_limit_minutes": limit_minutes(calendar, limit.value, limit.unit),
        "handle_deadline": None, "handled_at": at if data.self_handled else None,
        "actor_id": actor.id, "actor": actor.name, "role": actor.role,
        "event_data": json.dumps(event_data, ensure_ascii=False),
        "audit_detail": json.dumps({"number": number, "source": source}, ensure_ascii=False),
        "request_id": actor.request_id, "ip": actor.ip,
        "since": at - DUPLICATE_WINDOW, "radius": category.duplicate_radius_m,
        "snap_radius": component_service.SNAP_RADIUS_M,  # component cases snap to a component
    }).mappings().all()
    duplicates = [
        {"id": r["id"], "number": r["number"], "state": r["state"],
         "reported_at": r["reported_at"].isoformat(), "distance_m": float(r["distance_m"])}
        for r in rows if r["id"] != case_id
    ]
    if data.photos:
        for photo in data.photos:
            store.save(photo)
        session.execute(sa.insert(CasePhoto), [
            {"case_id": case_id, "stage": "report", "sha256": p.sha256, "content_type": p.content_type,
             "size_bytes": len(p.data), "width": p.width, "height": p.height, "exif": p.exif or None,
             "uploaded_by": user.id, "created_at": at}
            for p in data.photos
        ])
    summary = {
        "id": case_id, "number": number, "state": state, "source": source, "kind": category.kind,
        "category": {"id": category.id, "code": category.code, "name": category.name,
                     "standard_ref": category.standard_ref},
        "urgency": data.urgency, "description": data.description, "address": data.address,
        "location": {"lon": round(data.lon, 7), "lat": round(data.lat, 7)},
        "cell_code": place["code"], "community_code": place["community_code"],
        "street_code": place["street_code"], "department": None,
        "suggested_department": place["dept_code"],
        "stage": stage, "stage_deadline": stage_deadline.isoformat(), "handle_deadline": None,
        "light": light(0.0) if limit.value > 0 else "yellow",
        "self_handled": data.self_handled, "pending_request": None,
        "counters": {"postponements": 0, "reworks": 0, "returns": 0, "urges": 0},
        "close_type": None, "duplicate_of": None, "reported_at": at.isoformat(), "closed_at": None,
        "updated_at": at.isoformat(), "version": 1,
    }
    live.notify(session, live.case_event(case_id, number, state, summary["light"], None, "report", at))
    return IntakeResult(case_id, number, summary, duplicates)


# -- access -------------------------------------------------------------------------------


def visible_cases(user: User | Caller) -> sa.ColumnElement[bool]:
    """The WHERE clause of the cases a user may see: a department sees only its own."""
    if user.role == "department":
        return Case.department_id == user.department_id
    return sa.true()


def get_case(session: Session, user: User | Caller, case_id: int, *, for_update: bool = False) -> Case:
    """A case the user may see, else NotFound (another department's case does not exist for them)."""
    query = sa.select(Case).where(Case.id == case_id, visible_cases(user))
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


# -- actions ------------------------------------------------------------------------------


def pick_inspector(session: Session, case: Case) -> User:
    """The inspector of the case's duty grid, or the nearest on-duty inspector when off duty."""
    duty = session.scalar(
        sa.select(User)
        .join(DutyGrid, DutyGrid.inspector_id == User.id)
        .join(DutyGridCell, DutyGridCell.duty_grid_id == DutyGrid.id)
        .where(DutyGridCell.cell_code == case.cell_code)
    )
    if duty is not None and duty.on_duty and duty.active:
        return duty
    nearest = session.scalar(
        sa.select(User)
        .where(User.role == "inspector", User.on_duty.is_(True), User.active.is_(True),
               User.last_position.is_not(None))
        .order_by(User.last_position.op("<->")(case.geom), User.id)
        .limit(1)
    )
    if nearest is None:
        raise Conflict("no inspector is on duty with a known position to send this task to")
    return nearest


def _department(session: Session, code: str | None, field_name: str = "department") -> Department:
    dept = session.scalar(sa.select(Department).where(Department.code == code, Department.active.is_(True)))
    if dept is None:
        raise BadRequest(f"unknown department {code!r}", field=field_name)
    return dept


def perform_action(
    session: Session,
    calendar: WorkCalendar,
    user: Caller,
    actor: Actor,
    case: Case,
    action: str,
    version: int,
    payload: dict[str, Any],
    store: PhotoStore | None = None,
    photos: list[CheckedPhoto] | None = None,
    at: datetime | None = None,
) -> CaseEvent:
    """Apply ``action`` to ``case`` through the state machine; raises 409/403/400 problems.

    The case row is re-read under a row lock first, so concurrent actions on one case run one
    after another: each later one sees the version the earlier one committed and is refused
    here with :class:`StaleVersion` (409, ``current_version``), never by a versioned UPDATE
    that finds no row in the middle of the action.
    """
    at = at or now_utc()
    session.refresh(case, with_for_update=True)
    if case.version != version:
        raise StaleVersion(
            Message(N_("case %(number)s is at version %(current)s, not %(version)s; reload and try again"),
                    number=case.number, current=case.version, version=version),
            current_version=case.version,
        )
    pending = (case.pending_request or {}).get("kind")
    try:
        step = machine.plan(
            case.state, action, user.role,
            outcome=payload.get("outcome"), pending=pending, self_handled=case.self_handled,
        )
    except machine.TransitionError as exc:
        if exc.reason == "forbidden":
            raise Forbidden(str(exc), allowed_roles=list(exc.allowed)) from None
        if exc.reason in ("bad_outcome", "unknown_action"):
            raise BadRequest(str(exc), field="outcome" if exc.reason == "bad_outcome" else "action",
                             accepted=list(exc.allowed)) from None
        raise InvalidTransition(str(exc), state=case.state, possible_actions=list(exc.allowed)) from None

    note = payload.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > MAX_DESCRIPTION):
        raise BadRequest(f"'note' must be text of at most {MAX_DESCRIPTION} characters", field="note")
    if action in ("reject", "void", "mark_duplicate", "request_return", "request_suspend",
                  "request_postpone", "deny") or step.outcome == "special":
        if not note or not note.strip():
            raise BadRequest(f"{action} needs a 'note' giving the reason", field="note")
    data: dict[str, Any] = {}
    if step.outcome is not None and action in ("verify", "check"):
        data["outcome"] = step.outcome  # the timeline must say whether the check passed
    effects = step.effects

    if "set_department" in effects:
        code = payload.get("department")
        if code is None and case.suggested_department is None:
            raise BadRequest("no suggested department for this case; name one in 'department'", field="department")
        dept = _department(session, code) if code else case.suggested_department
        case.department = dept
        case.department_id = dept.id
        case.dispatched_at = at
        data["department"] = dept.code
        data["overrode_suggestion"] = case.suggested_department_id not in (None, dept.id)
    if "assign_inspector" in effects:
        username = payload.get("inspector")
        if username:
            inspector = session.scalar(sa.select(User).where(User.username == username, User.role == "inspector"))
            if inspector is None:
                raise BadRequest(f"unknown inspector {username!r}", field="inspector")
        else:
            inspector = pick_inspector(session, case)
        case.assignee_id = inspector.id
        data["inspector"] = inspector.username
    if action in ("verify", "check") and case.assignee_id not in (None, user.id):
        raise Forbidden(f"this {action} task is assigned to another inspector")
    if "set_pending" in effects:
        kind = action.removeprefix("request_")
        request: dict[str, Any] = {"kind": kind, "by": user.username, "at": at.isoformat(), "note": note}
        if kind == "postpone":
            hours = payload.get("hours")
            if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 < hours <= 24 * 30:
                raise BadRequest("'hours' (working hours to add, 0 < hours ≤ 720) is required", field="hours")
            request["hours"] = float(hours)
        case.pending_request = request
        data["request"] = request
    if "clear_pending" in effects:
        data["request"] = case.pending_request
        if "extend_deadline" in effects:
            hours = payload.get("hours", case.pending_request.get("hours"))
            if not isinstance(hours, (int, float)) or isinstance(hours, bool) or not 0 < hours <= 24 * 30:
                raise BadRequest("'hours' must be a number between 0 and 720", field="hours")
            cal = _calendar_for(calendar, case)
            case.stage_deadline = deadline(cal, case.stage_deadline, float(hours), "working_hours")
            case.handle_deadline = case.stage_deadline
            case.stage_limit_minutes = (case.stage_limit_minutes or 0.0) + float(hours) * 60
            case.postponed_minutes += float(hours) * 60
            data["hours"] = float(hours)
        case.pending_request = None
    if "count_postpone" in effects:
        case.postponements += 1
    if "count_return" in effects:
        case.returns += 1
    if "clear_department" in effects:
        data["returned_by"] = case.department.code if case.department else None
        case.department = None
        case.department_id = None
    if "count_rework" in effects:
        case.reworks += 1
        case.handled_at = None
    if "count_urge" in effects:
        case.urges += 1
    if "mark_handled" in effects:
        case.handled_at = at
    if "link_duplicate" in effects:
        other_ref = payload.get("duplicate_of")
        other = None
        if isinstance(other_ref, int) and not isinstance(other_ref, bool):
            other = session.get(Case, other_ref)
        elif isinstance(other_ref, str):
            other = session.scalar(sa.select(Case).where(Case.number == other_ref))
        if other is None or other.id == case.id:
            raise BadRequest("'duplicate_of' must name another existing case (id or number)", field="duplicate_of")
        case.duplicate_of_id = other.id
        data["duplicate_of"] = other.number

    previous = case.state
    cal = _calendar_for(calendar, case)
    if "pause_clock" in effects:
        case.suspended_at = at
    if "resume_clock" in effects and case.suspended_at is not None:
        case.stage_deadline = shift_deadline(cal, case.suspended_at, at, case.stage_deadline, case.stage_limit_unit)
        case.handle_deadline = case.stage_deadline
        data["paused_since"] = case.suspended_at.isoformat()
        case.suspended_at = None
    case.state = step.to_state
    if action == "file":
        case.filed_at = at
    if "start_stage" in effects:
        start_stage(session, calendar, case, at)
    if "finish" in effects:
        case.stage = case.stage_started_at = case.stage_deadline = None
        case.closed_at = at
        if action == "close":
            case.close_type = machine.close_type(step.outcome, case.handle_deadline, case.handled_at)
            data["close_type"] = case.close_type
    case.version += 1
    case.updated_at = at
    if photos:
        for photo in photos:
            store.save(photo)
            session.add(CasePhoto(
                case_id=case.id, stage=action, sha256=photo.sha256, content_type=photo.content_type,
                size_bytes=len(photo.data), width=photo.width, height=photo.height,
                exif=photo.exif or None, uploaded_by=user.id,
            ))
        data["photos"] = len(photos)
    event = CaseEvent(
        case_id=case.id, at=at, actor_id=actor.id, actor=actor.name, role=actor.role, action=action,
        from_state=previous, to_state=case.state, note=note, data=data or None,
    )
    session.add(event)
    session.flush()  # the row lock taken above makes the versioned UPDATE match
    record(session, actor, f"case.{action}", "case", case.id,
           {"from": previous, "to": case.state, "version": case.version, **({"outcome": step.outcome} if step.outcome else {})})
    live.notify(session, live.case_event(case.id, case.number, case.state, warning_light(calendar, case, at), case.department.code if case.department else None, action, at))
    return event


def auto_dispatch(session: Session, calendar: WorkCalendar, case: Case, at: datetime | None = None) -> CaseEvent | None:
    """Dispatch a just-filed case of an auto-dispatch category to its suggested department."""
    if case.state != "filed" or not case.category.auto_dispatch or case.suggested_department_id is None:
        return None
    system = Caller(None, "system", "dispatcher")
    return perform_action(session, calendar, system, Actor(None, "system", "dispatcher"),
                          case, "dispatch", case.version, {}, at=at)
