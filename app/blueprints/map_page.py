"""The inspector map page: streets, communities and unit grid cells on a Leaflet map."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from markupsafe import Markup

from gis.maps import GridMapLabels, grid_map

from ..db import get_session
from ..security import current_user, roles_required
from ..services import grid as grid_service
from .pages import bp

#: Cells are fetched and drawn from this zoom on; below it the page shows communities only.
MIN_CELL_ZOOM = 13
#: Cells asked for per API page (the server caps it at CITYGRID_MAX_BBOX_CELLS).
CELL_PAGE_SIZE = 2000
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
    head, body, script = gm.parts()
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
    }
    # folium's output is built from our own templates with escaped feature names.
    return render_template(
        "map.html",
        map_head=Markup(head),
        map_body=Markup(body),
        map_script=Markup(script),
        page_config=page_config,
    )
