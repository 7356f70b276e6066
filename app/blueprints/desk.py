"""Department desk (/desk: a department's cases by deadline) and the case page (/cases/<id>)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from .. import params
from ..caseflow import machine
from ..db import get_session
from ..errors import BadRequest
from ..models import Case, Community, Department, DutyGrid, DutyGridCell, Street, User
from ..security import current_user, roles_required
from ..services import cases as case_service
from ..services.names import in_language
from ..services.workcal import load_calendar
from .cases_api import case_detail, case_summary

__all__ = ["bp", "DESK_ROLES", "TABS"]

bp = Blueprint("desk", __name__)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (babel's default keyword)."""
    return message


#: Who may open the desk: the department itself, and the command side to look at a queue.
DESK_ROLES = ("department", "dispatcher", "shift_leader", "leader", "admin")
#: Desk tabs and the states each shows (None: every state).
TABS: dict[str, tuple[str, ...] | None] = {
    "dispatched": ("dispatched",),
    "processing": ("processing",),
    "suspended": ("suspended",),
    "handled": ("handled",),
    "all": None,
}
#: States in which the department holds the case and its handling clock runs.
IN_HAND = ("dispatched", "processing", "suspended")
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20
LOCAL_TZ = ZoneInfo("Asia/Shanghai")
#: Half-size (degrees) of the box asked for to draw a case's cell and its neighbours.
CELL_BOX_DEG = 0.004

STATE_LABELS = {
    "reported": N_("Reported"),
    "verifying": N_("Verifying"),
    "pending_filing": N_("Awaiting filing"),
    "filed": N_("Filed, awaiting dispatch"),
    "dispatched": N_("To handle"),
    "processing": N_("Handling"),
    "suspended": N_("Suspended"),
    "handled": N_("Fed back"),
    "checking": N_("Checking"),
    "pending_close": N_("Awaiting closure"),
    "closed": N_("Closed"),
    "rejected": N_("Rejected"),
    "voided": N_("Voided"),
}
ACTION_LABELS = {
    "report": N_("Report"),
    "accept": N_("Accept"),
    "reject": N_("Reject"),
    "send_verify": N_("Send to verify"),
    "verify": N_("Verify"),
    "file": N_("File"),
    "void": N_("Void"),
    "mark_duplicate": N_("Mark as duplicate"),
    "dispatch": N_("Dispatch"),
    "start": N_("Start handling"),
    "feedback": N_("Feed back"),
    "request_postpone": N_("Request postponement"),
    "request_return": N_("Request return"),
    "request_suspend": N_("Request suspension"),
    "approve": N_("Approve request"),
    "deny": N_("Deny request"),
    "resume": N_("Resume"),
    "send_check": N_("Send to check"),
    "check": N_("Check"),
    "close": N_("Close case"),
    "urge": N_("Urge"),
}
TAB_LABELS = {
    "dispatched": N_("To handle"),
    "processing": N_("Handling"),
    "suspended": N_("Suspended"),
    "handled": N_("Fed back"),
    "all": N_("All"),
}
STAGE_LABELS = {
    "accept": N_("Acceptance"),
    "verify": N_("Verification"),
    "file": N_("Filing"),
    "dispatch": N_("Dispatch"),
    "handle": N_("Handling by the department"),
    "send_check": N_("Sending to check"),
    "check": N_("Check"),
    "close": N_("Closure"),
}
PHOTO_STAGE_LABELS = {
    "report": N_("Report photos"),
    "verify": N_("Verification photos"),
    "feedback": N_("Handling photos"),
    "check": N_("Check photos"),
}
LIGHT_LABELS = {"green": N_("Green"), "yellow": N_("Yellow"), "red": N_("Red")}
REQUEST_LABELS = {"postpone": N_("Postponement"), "return": N_("Return"), "suspend": N_("Suspension")}
CLOSE_TYPE_LABELS = {"normal": N_("Normal"), "overdue": N_("Overdue"), "special": N_("Special")}
SOURCE_LABELS = {
    "inspector": N_("Inspector"),
    "public": N_("Public"),
    "hotline": N_("Hotline"),
    "video": N_("Video"),
    "sensor": N_("Sensor"),
    "upper_platform": N_("Upper platform"),
    "open311": N_("Open311"),
}
OUTCOME_LABELS = {
    "confirmed": N_("Confirmed"),
    "not_found": N_("Not found"),
    "passed": N_("Passed"),
    "failed": N_("Failed"),
    "normal": N_("Normal closure"),
    "special": N_("Special closure"),
}


def _tr(table: dict[str, str], code: str | None) -> str:
    """The translated label of a code, or the code itself when it has none."""
    if code is None:
        return ""
    return _(table[code]) if code in table else code


def _labels(table: dict[str, str]) -> dict[str, str]:
    return {code: _(label) for code, label in table.items()}


def local_time(value: datetime | str | None) -> str:
    """A UTC instant as 'YYYY-MM-DD HH:MM' in Asia/Shanghai ('' for none)."""
    if value is None:
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")


def _dept_name(dept: Department | None) -> str | None:
    if dept is None:
        return None
    return in_language(dept.name, dept.name_en, get_locale().language)


def action_texts() -> dict[str, Any]:
    """Strings the action forms (case.js) show, translated for the current locale."""
    return {
        "actions": _labels(ACTION_LABELS),
        "states": _labels(STATE_LABELS),
        "lights": _labels(LIGHT_LABELS),
        "requests": _labels(REQUEST_LABELS),
        "outcomes": _labels(OUTCOME_LABELS),
        "note": _("Note"),
        "reason": _("Reason"),
        "noteRequired": _("A reason is required."),
        "hours": _("Working hours to add"),
        "hoursInvalid": _("Enter working hours between 0 and 720."),
        "photos": _("Photos"),
        "department": _("Department"),
        "suggested": _("suggested"),
        "outcome": _("Outcome"),
        "duplicateOf": _("Duplicate of (case number)"),
        "submit": _("Submit"),
        "cancel": _("Cancel"),
        "working": _("Sending…"),
        "done": _("Done: %(action)s — case %(number)s is now “%(state)s”."),
        "failed": _("The server refused: %(detail)s"),
        "stale": _("Someone else changed this case. Reload it and try again."),
        "network": _("Could not reach the server; check the connection and try again."),
        "signedOut": _("Your session has ended; sign in again."),
        "noActions": _("Nothing for you to do on this case now."),
        "loadDepartmentsFailed": _("Could not load the departments."),
        "tooManyPhotos": _("At most 9 photos."),
    }


# -- the desk -----------------------------------------------------------------------------


@bp.get("/desk")
@roles_required(*DESK_ROLES)
def desk_page():
    """A department's queue: cases by deadline, tabs by state, acting from the row."""
    db = get_session()
    user = current_user()
    own = user.department if user.role == "department" else None
    departments = [] if own else [
        {"code": d.code, "name": _dept_name(d)}
        for d in db.scalars(sa.select(Department).where(Department.active.is_(True)).order_by(Department.code))
    ]
    page_config = {
        "dataUrl": url_for("desk.desk_data"),
        "actionUrl": url_for("cases_api.act_on_case", case_id=0),
        "casePageUrl": url_for("desk.case_page", case_id=0),
        "departmentsUrl": url_for("admin_api.list_departments"),
        "zh": get_locale().language == "zh",
        "loginUrl": url_for("auth.login", next=url_for("desk.desk_page")),
        "ownDepartment": own.code if own else None,
        "tabs": list(TABS),
        "pageSize": DEFAULT_PAGE_SIZE,
        "maxPhotos": current_app.config["SETTINGS"].max_photos,
        "text": {
            **action_texts(),
            "tabs": _labels(TAB_LABELS),
            "loading": _("Loading cases…"),
            "loadFailed": _("Could not load the cases"),
            "empty": _("No cases here."),
            "overdue": _("overdue"),
            "overdueBy": _("overdue by %(span)s"),
            "left": _("%(span)s left"),
            "days": _("%(n)s d"),
            "hoursShort": _("%(n)s h"),
            "minutes": _("%(n)s min"),
            "paused": _("paused"),
            "pageOf": _("Page %(page)s of %(pages)s · %(total)s cases"),
            "previous": _("Previous"),
            "next": _("Next"),
            "open": _("Open"),
            "pending": _("Request waiting: %(kind)s"),
            "postponements": _("Postponed"),
            "reworks": _("Reworked"),
            "urges": _("Urged"),
            "returns": _("Returned"),
            "urgent": _("Urgent"),
            "searchInvalid": _("Enter a case number (digits only)."),
        },
    }
    return render_template(
        "desk.html",
        own_department=_dept_name(own) if own else None,
        departments=departments,
        tab_labels=_labels(TAB_LABELS),
        page_config=page_config,
    )


def _queue_clauses(user: User) -> list[sa.ColumnElement[bool]]:
    """Which cases the desk lists: the caller's department, or the chosen one for the command side."""
    clauses = [case_service.visible_cases(user)]
    if user.role == "department":
        return clauses
    code = request.args.get("department", "").strip()
    if code:
        dept_id = get_session().scalar(sa.select(Department.id).where(Department.code == code))
        if dept_id is None:
            raise BadRequest(f"unknown department {code!r}; see /api/v1/departments", field="department")
        clauses.append(Case.department_id == dept_id)
    else:
        clauses.append(Case.department_id.is_not(None))
    return clauses


def _order(tab: str) -> list[Any]:
    """Soonest deadline first (overdue on top); fed-back cases newest first."""
    if tab == "handled":
        return [Case.handled_at.desc().nulls_last(), Case.id.desc()]
    if tab == "all":
        in_hand = Case.state.in_(IN_HAND)
        return [sa.case((in_hand, 0), else_=1), sa.case((in_hand, Case.stage_deadline)).asc().nulls_last(),
                Case.updated_at.desc(), Case.id.desc()]
    return [Case.stage_deadline.asc().nulls_last(), Case.id.desc()]


@bp.get("/desk/data")
@roles_required(*DESK_ROLES)
def desk_data():
    """One page of the desk as JSON: rows (with allowed actions), per-tab counts, overdue count."""
    db = get_session()
    user = current_user()
    tab = request.args.get("tab", "dispatched")
    if tab not in TABS:
        raise BadRequest(f"unknown tab {tab!r}; one of {', '.join(TABS)}", field="tab")
    page = params.integer("page", 1, 100_000, 1)
    page_size = params.integer("page_size", 1, MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE)
    clauses = _queue_clauses(user)

    by_state = dict(db.execute(
        sa.select(Case.state, sa.func.count()).where(*clauses).group_by(Case.state)
    ).all())
    counts = {name: sum(by_state.get(s, 0) for s in states) for name, states in TABS.items() if states}
    counts["all"] = sum(by_state.values())
    overdue = db.scalar(sa.select(sa.func.count()).where(
        *clauses, Case.state.in_(("dispatched", "processing")), Case.stage_deadline < sa.func.now()))

    states = TABS[tab]
    query = sa.select(Case).where(*clauses)
    if states:
        query = query.where(Case.state.in_(states))
    total = counts[tab]
    number = request.args.get("q", "").strip()
    if number:
        if not number.isdigit() or len(number) > 20:
            raise BadRequest(f"'q' must be a case number (digits), got {number!r}", field="q")
        # A case number, or the short id people read off the case page's address.
        query = query.where(sa.or_(Case.number == number, Case.id == int(number)) if len(number) <= 12
                            else Case.number == number)
        total = db.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.scalars(
        query.options(selectinload(Case.category), selectinload(Case.department),
                      selectinload(Case.suggested_department))
        .order_by(*_order(tab)).offset((page - 1) * page_size).limit(page_size)
    ).all()
    calendar = load_calendar(db)
    items = []
    for case in rows:
        item = case_summary(case, calendar)
        item["department_name"] = _dept_name(case.department)
        item["allowed_actions"] = list(machine.actions_for(
            case.state, user.role, pending=(case.pending_request or {}).get("kind"),
            self_handled=case.self_handled))
        items.append(item)
    return jsonify({"items": items, "total": total, "page": page, "page_size": page_size,
                    "counts": counts, "overdue": overdue, "tab": tab})


# -- the case page ------------------------------------------------------------------------


def _duty_inspector(db, cell_code: str) -> dict[str, Any] | None:
    row = db.execute(
        sa.select(User.display_name, User.phone, User.on_duty, DutyGrid.name)
        .join(DutyGrid, DutyGrid.inspector_id == User.id)
        .join(DutyGridCell, DutyGridCell.duty_grid_id == DutyGrid.id)
        .where(DutyGridCell.cell_code == cell_code)
        .limit(1)
    ).first()
    if row is None:
        return None
    return {"name": row[0], "phone": row[1], "on_duty": row[2], "duty_grid": row[3]}


def _event_details(data: dict[str, Any] | None, dept_names: dict[str, str], names: dict[str, str]) -> list[str]:
    """Short facts of a timeline event's data, for people."""
    if not data:
        return []
    out = []
    if data.get("department"):
        out.append(_("to %(dept)s", dept=dept_names.get(data["department"], data["department"])))
    if data.get("inspector"):
        out.append(_("inspector %(name)s", name=names.get(data["inspector"], data["inspector"])))
    req = data.get("request")
    if isinstance(req, dict) and req.get("hours"):
        out.append(_("%(hours)s working hours", hours=f"{req['hours']:g}"))
    elif data.get("hours"):
        out.append(_("%(hours)s working hours", hours=f"{data['hours']:g}"))
    if data.get("returned_by"):
        out.append(_("returned by %(dept)s", dept=dept_names.get(data["returned_by"], data["returned_by"])))
    if data.get("duplicate_of"):
        out.append(_("duplicate of %(number)s", number=data["duplicate_of"]))
    if data.get("photos"):
        out.append(_("Photos: %(n)s", n=data["photos"]))
    if data.get("close_type"):
        out.append(_tr(CLOSE_TYPE_LABELS, data["close_type"]))
    if data.get("source"):
        out.append(_tr(SOURCE_LABELS, data["source"]))
    return out


@bp.get("/cases/<bigid:case_id>")
@roles_required()
def case_page(case_id: int):
    """One case in full: map, photos, timeline, deadlines and light, and the caller's actions."""
    db = get_session()
    user = current_user()
    # The API's visibility rule: another department's case is a 404, as in GET /api/v1/cases/<id>.
    case = case_service.get_case(db, user, case_id)
    calendar = load_calendar(db)
    detail = case_detail(db, user, case, calendar)
    departments = {d.code: _dept_name(d) for d in db.scalars(sa.select(Department))}
    actors = {e["actor"] for e in detail["timeline"]}
    actors |= {e["data"]["inspector"] for e in detail["timeline"] if (e["data"] or {}).get("inspector")}
    names = dict(db.execute(sa.select(User.username, User.display_name).where(User.username.in_(actors))).all())
    timeline = [
        {**e, "local": local_time(e["at"]), "actor_name": names.get(e["actor"], e["actor"]),
         "role_label": _(e["role"]) if e["role"] else "", "action_label": _tr(ACTION_LABELS, e["action"]),
         "from_label": _tr(STATE_LABELS, e["from"]), "to_label": _tr(STATE_LABELS, e["to"]),
         "details": _event_details(e["data"], departments, names)}
        for e in detail["timeline"]
    ]
    photo_groups: dict[str, list[dict[str, Any]]] = {}
    for photo in detail["photos"]:
        photo_groups.setdefault(photo["stage"], []).append(photo)
    pending = case.pending_request
    view = {
        "state_label": _tr(STATE_LABELS, case.state),
        "stage_label": _tr(STAGE_LABELS, case.stage),
        "light_label": _tr(LIGHT_LABELS, detail["light"]),
        "source_label": _tr(SOURCE_LABELS, case.source),
        "close_type_label": _tr(CLOSE_TYPE_LABELS, case.close_type),
        "department": _dept_name(case.department),
        "suggested_department": _dept_name(case.suggested_department),
        "stage_deadline": local_time(case.stage_deadline),
        "handle_deadline": local_time(case.handle_deadline),
        "reported_at": local_time(case.reported_at),
        "dispatched_at": local_time(case.dispatched_at),
        "handled_at": local_time(case.handled_at),
        "closed_at": local_time(case.closed_at),
        "suspended_at": local_time(case.suspended_at),
        "reporter": case.reporter.display_name if case.reporter else None,
        "assignee": case.assignee.display_name if case.assignee else None,
        "duty": _duty_inspector(db, case.cell_code),
        "community": db.scalar(sa.select(Community.name).where(Community.code == case.community_code)),
        "street": db.scalar(sa.select(Street.name).where(Street.code == case.street_code)),
        "duplicate_of": db.execute(sa.select(Case.id, Case.number).where(
            Case.id == case.duplicate_of_id, case_service.visible_cases(user))).first()
        if case.duplicate_of_id else None,
        "pending": {
            "kind": _tr(REQUEST_LABELS, pending.get("kind")), "hours": pending.get("hours"),
            "note": pending.get("note"), "by": names.get(pending.get("by"), pending.get("by")),
            "at": local_time(pending.get("at")),
        } if pending else None,
        "timeline": timeline,
        "photo_groups": [(_tr(PHOTO_STAGE_LABELS, stage), photos) for stage, photos in photo_groups.items()],
    }
    settings = current_app.config["SETTINGS"]
    lon, lat = detail["location"]["lon"], detail["location"]["lat"]
    page_config = {
        "case": {k: detail[k] for k in ("id", "number", "state", "version", "allowed_actions",
                                        "suggested_department", "pending_request", "location", "cell_code")},
        "actionUrl": url_for("cases_api.act_on_case", case_id=case.id),
        "departmentsUrl": url_for("admin_api.list_departments"),
        "cellsUrl": url_for("grid_api.list_cells"),
        "cellBox": [lon - CELL_BOX_DEG, lat - CELL_BOX_DEG, lon + CELL_BOX_DEG, lat + CELL_BOX_DEG],
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "loginUrl": url_for("auth.login", next=url_for("desk.case_page", case_id=case.id)),
        "maxPhotos": settings.max_photos,
        "zh": get_locale().language == "zh",
        "text": {**action_texts(), "cellFailed": _("Could not load the unit grid cell"),
                 "photo": _("Photo %(n)s of %(total)s")},
    }
    return render_template("case.html", case=detail, view=view, page_config=page_config,
                           desk_roles=DESK_ROLES)
