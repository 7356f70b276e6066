"""The command center page: live cases on a full-screen map, a synced list, detail and one-click actions."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, url_for
from flask_babel import gettext as _

from ..caseflow.machine import OPEN_STATES, STATES
from ..db import get_session
from ..security import roles_required
from ..services import grid as grid_service
from .live_api import COMMAND_ROLES

__all__ = ["bp", "command_page"]

bp = Blueprint("command", __name__)

#: Centre of the reference deployment (Zhengdong New District), used before cells are loaded.
_FALLBACK_CENTER = (113.79, 34.77)


def _state_names() -> dict[str, str]:
    return {
        "reported": _("Reported"), "verifying": _("Verifying"), "pending_filing": _("Pending filing"),
        "filed": _("Filed"), "dispatched": _("Dispatched"), "processing": _("Processing"),
        "suspended": _("Suspended"), "handled": _("Handled"), "checking": _("Checking"),
        "pending_close": _("Pending close"), "closed": _("Closed"), "rejected": _("Rejected"),
        "voided": _("Voided"),
    }


def _action_names() -> dict[str, str]:
    return {
        "report": _("Report"), "accept": _("Accept"), "reject": _("Reject"), "send_verify": _("Send to verify"),
        "verify": _("Verify"), "file": _("File"), "void": _("Void"), "mark_duplicate": _("Mark duplicate"),
        "dispatch": _("Dispatch"), "start": _("Start"), "feedback": _("Feedback"),
        "request_postpone": _("Request postponement"), "request_return": _("Request return"),
        "request_suspend": _("Request suspension"), "approve": _("Approve"), "deny": _("Deny"),
        "resume": _("Resume"), "send_check": _("Send to check"), "check": _("Check"), "close": _("Close case"),
        "urge": _("Urge"),
    }


def _texts() -> dict[str, str]:
    """Strings the page script shows, translated for the current locale."""
    return {
        "loading": _("Loading…"), "loadFailed": _("Could not load cases"),
        "signedOut": _("Your session has ended; sign in again."),
        "live": _("Live"), "offline": _("Reconnecting…"),
        "noCases": _("No open cases match these filters here."),
        "cases": _("cases"), "pageOf": _("Page %(page)s of %(pages)s"),
        "prev": _("Previous"), "next": _("Next"),
        "newCase": _("New case"),
        "state": _("State"), "category": _("Category"), "light": _("Light"),
        "address": _("Address"), "source": _("Source"),
        "urgency": _("Urgency"), "urgent": _("Urgent"), "reported": _("Reported at"),
        "stageDeadline": _("Stage deadline"), "handleDeadline": _("Handling deadline"),
        "department": _("Department"), "suggested": _("Suggested department"),
        "assignee": _("Assigned inspector"), "dutyInspector": _("Duty inspector"),
        "onDuty": _("On duty"), "offDuty": _("Off duty"), "phone": _("Phone"),
        "camera": _("Camera"), "cell": _("Unit grid cell"), "timeline": _("Timeline"),
        "photos": _("Photos"), "noPhotos": _("No photos"), "pending": _("Pending request"),
        "hours": _("hours"), "note": _("Note"), "reason": _("Reason (required)"),
        "none": _("none"), "noClock": _("No clock"),
        "dispatchTo": _("Dispatch to %(name)s"), "dispatchOther": _("Dispatch to another department"),
        "pickDepartment": _("Department"), "send": _("Send"), "cancel": _("Cancel"),
        "done": _("Done: %(action)s"), "stale": _("Someone else changed this case; it has been reloaded."),
        "actionFailed": _("The action was refused"), "closeDetail": _("Close detail"),
        "noActions": _("Nothing for you to do on this case now."),
        "selectHint": _("Select a case in the list or on the map."),
        "inspectors": _("Inspectors"), "positionAt": _("Position at"),
        "cellsByLight": _("Cells by warning light"),
        "cellLights": _("Cell %(code)s: %(red)s red, %(yellow)s yellow, %(green)s green, %(none)s not dispatched"),
        "red": _("Red"), "yellow": _("Yellow"), "green": _("Green"),
        "zoomCluster": _("%(count)s cases — zoom in"),
        "resynced": _("Reconnected; the view was reloaded."),
        "outcome": _("Outcome"), "normal": _("Normal"), "special": _("Special"),
        "duplicateOf": _("Duplicate of (case number)"),
        "requestedBy": _("requested by"), "all": _("All"),
        "due": _("Due"), "place": _("Street · community · duty grid"),
        "cameras": _("Cameras seeing this place"), "noCameras": _("No camera sees this place."),
        "reportedThis": _("Reported this case"), "openStream": _("Open video stream"),
        "metresAway": _("%(m)s m away"), "notCovering": _("its view does not cover this point"),
    }


def _sources() -> dict[str, str]:
    return {
        "inspector": _("Inspector"), "public": _("Public"), "hotline": _("Hotline"), "video": _("Video"),
        "sensor": _("Sensor"), "upper_platform": _("Upper platform"), "open311": _("Open311"),
    }


def command_config() -> dict[str, Any]:
    """The page's JSON config: URLs, areas, names and texts."""
    db = get_session()
    settings = current_app.config["SETTINGS"]
    extent = grid_service.district_extent(db)
    streets = grid_service.areas_geojson(db, "streets")
    communities = grid_service.areas_geojson(db, "communities")
    center = _FALLBACK_CENTER if extent is None else (
        (extent.min_lon + extent.max_lon) / 2, (extent.min_lat + extent.max_lat) / 2)
    return {
        "center": center,
        "bounds": extent.as_list() if extent else None,
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "communities": communities,
        "streets": [{"code": f["properties"]["code"], "name": f["properties"]["name"]}
                    for f in streets["features"]],
        "openStates": [s for s in STATES if s in OPEN_STATES],
        "stateNames": _state_names(),
        "actionNames": _action_names(),
        "sourceNames": _sources(),
        "urls": {
            "cases": url_for("live_api.command_cases"),
            "stream": url_for("live_api.stream"),
            "positions": url_for("live_api.inspector_positions"),
            "departments": url_for("admin_api.list_departments"),
            "categories": url_for("categories_api.list_categories"),
            "case": url_for("cases_api.read_case", case_id=0).rsplit("/0", 1)[0],
            "locate": url_for("grid_api.locate"),
            "login": url_for("auth.login", next=url_for("command.command_page")),
        },
        "text": _texts(),
    }


@bp.get("/command")
@roles_required(*COMMAND_ROLES)
def command_page():
    """Full-screen command center (dispatchers, shift leaders, operators, leaders, administrators)."""
    return render_template("command.html", page_config=command_config())

