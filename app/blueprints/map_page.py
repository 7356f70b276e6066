"""The inspector map page: the unit grid on a Leaflet map, and an inspector's reporting and task tools."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from gis.maps import GridMapLabels, grid_map

from ..csp import csp_nonce
from ..db import get_session
from ..security import current_user, roles_required
from ..services import grid as grid_service
from ..services.cases import MAX_DESCRIPTION
from .pages import bp

#: Cells are fetched and drawn from this zoom on; below it the page shows communities only.
MIN_CELL_ZOOM = 13
#: Cells asked for per API page (the server caps it at CITYGRID_MAX_BBOX_CELLS).
CELL_PAGE_SIZE = 2000
#: Seconds between position reports, and the distance (m) an inspector must move for a new one.
POSITION_INTERVAL_S = 30
POSITION_MIN_MOVE_M = 20
#: Centre of the reference deployment (Zhengdong New District), used before cells are loaded.
_FALLBACK_CENTER = (113.79, 34.77)


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (babel's default keyword)."""
    return message


# Role codes that base.html shows through _(g.user.role); listed so pybabel extracts them.
ROLE_NAMES = (
    N_("inspector"),
    N_("operator"),
    N_("shift_leader"),
    N_("dispatcher"),
    N_("department"),
    N_("tax_officer"),
    N_("leader"),
    N_("admin"),
)


def _texts() -> dict[str, str]:
    """Strings the page script shows, translated for the current locale."""
    return {
        "zoomHint": _("Zoom in to see unit grid cells"),
        "loading": _("Loading unit grid cells…"),
        "loadFailed": _("Could not load unit grid cells"),
        "locating": _("Looking up this location…"),
        "outside": _("No unit grid cell here: the point is outside the district."),
        "locateFailed": _("Could not look up this location"),
        "signedOut": _("Your session has ended; sign in again."),
        "cell": _("Unit grid cell"),
        "community": _("Community"),
        "street": _("Street"),
        "dutyGrid": _("Duty grid"),
        "inspector": _("Duty inspector"),
        "phone": _("Phone"),
        "onDuty": _("On duty"),
        "offDuty": _("Off duty"),
        "none": _("none"),
        "area": _("Area"),
        "legend": _("Communities"),
        "myDutyGrid": _("My duty grid"),
        "locateMe": _("Show my location"),
        "noGps": _("Your location is not available"),
    }


# Case states and actions, as the task timeline and the result panel name them.
STATE_NAMES = {
    "reported": N_("Reported"),
    "verifying": N_("Being verified"),
    "pending_filing": N_("Awaiting filing"),
    "filed": N_("Filed"),
    "dispatched": N_("Dispatched"),
    "processing": N_("Being handled"),
    "suspended": N_("Suspended"),
    "handled": N_("Handled"),
    "checking": N_("Being checked"),
    "pending_close": N_("Awaiting closing"),
    "closed": N_("Closed"),
    "rejected": N_("Rejected"),
    "voided": N_("Voided"),
}
ACTION_NAMES = {
    "report": N_("Reported"),
    "accept": N_("Accepted"),
    "reject": N_("Rejected"),
    "send_verify": N_("Sent for verification"),
    "verify": N_("Verified"),
    "file": N_("Filed"),
    "void": N_("Voided"),
    "mark_duplicate": N_("Marked as duplicate"),
    "dispatch": N_("Dispatched"),
    "start": N_("Work started"),
    "feedback": N_("Handling reported"),
    "request_postpone": N_("Postponement requested"),
    "request_return": N_("Return requested"),
    "request_suspend": N_("Suspension requested"),
    "approve": N_("Request approved"),
    "deny": N_("Request denied"),
    "resume": N_("Resumed"),
    "send_check": N_("Sent for checking"),
    "check": N_("Checked"),
    "close": N_("Closed"),
    "urge": N_("Urged"),
}
OUTCOME_NAMES = {
    "confirmed": N_("Confirmed: the problem is there"),
    "not_found": N_("Not found at the place"),
    "passed": N_("Passed: the problem is solved"),
    "failed": N_("Failed: send back for rework"),
}
LIGHT_NAMES = {"green": N_("Green"), "yellow": N_("Yellow"), "red": N_("Red")}


def _inspector_texts() -> dict[str, object]:
    """Strings of the inspector's report, queue and task tools, translated for the current locale."""
    return {
        "placeHint": _("Tap the map where the problem is"),
        "dragHint": _("Drag the marker to adjust the position"),
        "gpsWaiting": _("Waiting for your GPS position…"),
        "gpsDenied": _("Location is blocked for this site; allow it in the browser settings."),
        "gpsFailed": _("Your position could not be determined; tap the map instead."),
        "outside": _("This point is outside the district; move the marker."),
        "cellAt": _("Unit grid cell"),
        "locating": _("Looking up this location…"),
        "noLocation": _("Place the case on the map first."),
        "pickCategory": _("Choose a category."),
        "needDescription": _("Describe the problem."),
        "tooLong": _("At most %(n)s characters."),
        "tooManyPhotos": _("At most %(n)s photos."),
        "badPhoto": _("%(name)s: not a photo the server accepts (JPEG or PNG)."),
        "recent": _("Recently used"),
        "noMatch": _("No category matches."),
        "change": _("Change"),
        "loadingCategories": _("Loading categories…"),
        "categoriesFailed": _("Could not load the categories; check the connection."),
        "removePhoto": _("Remove photo"),
        "photoCount": _("%(n)s of %(max)s photos"),
        "sending": _("Sending…"),
        "submitted": _("Report submitted"),
        "replayed": _("This report had already been received."),
        "caseNumber": _("Case number"),
        "state": _("State"),
        "duplicates": _("Possible duplicates nearby"),
        "distance": _("%(m)s m away"),
        "queued": _("No connection: the report is saved on this phone and will be sent automatically."),
        "queueSent": _("Offline report sent: case %(number)s"),
        "queueRejected": _("An offline report was refused: %(detail)s"),
        "queueWaiting": _("Waiting for the connection"),
        "queueRetry": _("Will try again"),
        "queueEmpty": _("Nothing is waiting to be sent."),
        "queueRefused": _("Refused by the server"),
        "queueDiscard": _("Discard"),
        "queueSendNow": _("Send now"),
        "serverError": _("The server could not take this now; try again in a moment."),
        "networkError": _("No connection to the server."),
        "signedOut": _("Your session has ended; sign in again."),
        "signIn": _("Sign in"),
        "keptForLater": _("The report is kept on this phone and will be sent then."),
        "csrf": _("The page is out of date; reload it and try again."),
        "offlineAction": _("You are offline; this action needs a connection."),
        "noTasks": _("No verification or check tasks for you."),
        "tasksFailed": _("Could not load your tasks."),
        "verifyTask": _("Verify"),
        "checkTask": _("Check"),
        "reportedAt": _("Reported at"),
        "deadline": _("Due"),
        "category": _("Category"),
        "address": _("Address"),
        "description": _("Description"),
        "photos": _("Photos"),
        "timeline": _("Timeline"),
        "noPhotos": _("No photos"),
        "outcome": _("Result"),
        "note": _("Note"),
        "addPhotos": _("Add photos"),
        "submitAction": _("Submit"),
        "actionDone": _("Done: case %(number)s is now %(state)s."),
        "stale": _("The case changed meanwhile; it has been reloaded. Check it and submit again."),
        "chooseOutcome": _("Choose a result."),
        "noActions": _("Nothing for you to do on this case."),
        "onDuty": _("On duty"),
        "offDuty": _("Off duty"),
        "dutyOn": _("You are on duty; your position is shared every 30 s while this page is open."),
        "dutyOff": _("You are off duty; your position is not shared."),
        "dutyNeedsGps": _("Switching duty needs your position; allow location and try again."),
        "dutyFailed": _("Could not change your duty status."),
        "myPosition": _("My position"),
        "accuracy": _("accuracy %(m)s m"),
        "taskVerify": _("Verification task"),
        "taskCheck": _("Check task"),
        "reportTitle": _("Report a case"),
        "tasksTitle": _("My tasks"),
        "queueTitle": _("Waiting to be sent"),
        "caseTitle": _("Case"),
        "loading": _("Loading…"),
        "allKinds": _("All"),
        "reportAnother": _("Report another case"),
        "verifyShort": _("V"),
        "checkShort": _("C"),
        "urgent": _("Urgent"),
        "showOnMap": _("Show on the map"),
        "states": {k: _(v) for k, v in STATE_NAMES.items()},
        "actions": {k: _(v) for k, v in ACTION_NAMES.items()},
        "outcomes": {k: _(v) for k, v in OUTCOME_NAMES.items()},
        "lights": {k: _(v) for k, v in LIGHT_NAMES.items()},
    }


def _inspector_config() -> dict[str, object]:
    """What the inspector tools need: the user, API URLs, limits and texts."""
    settings = current_app.config["SETTINGS"]
    user = current_user()
    return {
        "username": user.username,
        "onDuty": bool(user.on_duty),
        "casesUrl": url_for("cases_api.create_case"),
        "caseUrl": url_for("cases_api.read_case", case_id=0).removesuffix("0"),
        "categoriesUrl": url_for("categories_api.list_categories"),
        "positionUrl": url_for("cases_api.report_position"),
        "standard": settings.category_standard,
        "maxPhotos": settings.max_photos,
        "maxPhotoBytes": settings.max_photo_bytes,
        "maxDescription": MAX_DESCRIPTION,
        "maxAddress": 255,
        "positionIntervalS": POSITION_INTERVAL_S,
        "positionMinMoveM": POSITION_MIN_MOVE_M,
        "english": get_locale().language != "zh",
        "text": _inspector_texts(),
    }


@bp.get("/map")
@roles_required()
def map_page():
    """The grid map: click anywhere to see the cell, community, street and duty inspector."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    extent = grid_service.district_extent(db)
    streets = grid_service.areas_geojson(db, "streets")
    communities = grid_service.areas_geojson(db, "communities")
    if extent is None:
        center, bounds = _FALLBACK_CENTER, None
    else:
        center = ((extent.min_lon + extent.max_lon) / 2, (extent.min_lat + extent.max_lat) / 2)
        bounds = extent.as_list()
    gm = grid_map(
        center,
        bounds,
        streets,
        communities,
        tile_url=settings.tile_url,
        attribution=settings.tile_attribution,
        vendor_base=url_for("static", filename="vendor"),
        labels=GridMapLabels(
            streets=_("Streets"),
            street_names=_("Street names"),
            communities=_("Communities"),
            cells=_("Unit grid cells"),
            base=_("Base map"),
        ),
    )
    head, body, script = gm.parts(nonce=csp_nonce())
    page_config = {
        "names": gm.names,
        "palette": gm.palette,
        "communities": [
            {"code": f["properties"]["code"], "name": f["properties"]["name"]}
            for f in communities["features"]
        ],
        "minCellZoom": MIN_CELL_ZOOM,
        "pageSize": min(CELL_PAGE_SIZE, settings.max_bbox_cells),
        "cellsUrl": url_for("grid_api.list_cells"),
        "locateUrl": url_for("grid_api.locate"),
        "loginUrl": url_for("auth.login", next=url_for("pages.map_page")),
        "hasCells": extent is not None,
        # An inspector's map opens on (and outlines) the duty grid they patrol.
        "myDuty": grid_service.duty_grids_of(db, current_user().id),
        "text": _texts(),
        # Reporting, the offline queue and tasks are the inspector's tools.
        "inspector": _inspector_config() if current_user().role == "inspector" else None,
    }
    # folium's output is built from our own templates with escaped feature names.
    return render_template(
        "map.html",
        map_head=Markup(head),
        map_body=Markup(body),
        map_script=Markup(script),
        page_config=page_config,
    )
