"""The building page /buildings/<id>: footprint on a map, attributes, cases, cameras, components."""

from __future__ import annotations

from flask import current_app, render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _

from .. import params
from ..security import roles_required
from .buildings_api import building_detail
from .desk import LIGHT_LABELS, STATE_LABELS, local_time
from .pages import bp


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now (babel's default keyword)."""
    return message


USE_LABELS = {
    "residential": N_("Residential"), "office": N_("Office"), "commercial": N_("Commercial"),
    "school": N_("School"), "hospital": N_("Hospital"), "market": N_("Market"),
    "industrial": N_("Industrial"), "public": N_("Public building"), "mixed": N_("Mixed use"),
    "other": N_("Other use"),
}
COMPONENT_STATUS_LABELS = {
    "intact": N_("Intact"), "damaged": N_("Damaged"), "missing": N_("Missing"),
    "abandoned": N_("Abandoned"), "removed": N_("Removed"),
}
CAMERA_STATUS_LABELS = {
    "online": N_("Online"), "offline": N_("Offline"), "fault": N_("Fault"), "retired": N_("Retired"),
}
CASES_PER_PAGE = 20
STREAM_SCHEMES = ("http", "https", "rtsp", "rtmp", "webrtc")


def _linkable(url: str | None) -> bool:
    """Only stream URLs of known schemes become links (never javascript: and the like)."""
    return bool(url) and url.split(":", 1)[0].lower() in STREAM_SCHEMES


def _label(labels: dict[str, str], key: str | None) -> str:
    return _(labels[key]) if key in labels else (key or "")


@bp.get("/buildings/<id:building_id>")
@roles_required()
def building_page(building_id: int):
    """One building for every signed-in staff role."""
    page = params.integer("cases_page", 1, 100_000, 1)
    detail = building_detail(building_id, page, CASES_PER_PAGE)
    props = detail["properties"]
    cases = detail["cases"]
    view = {
        "use_label": _label(USE_LABELS, props["use"]),
        "cases": [{**c, "state_label": _label(STATE_LABELS, c["state"]),
                   "light_label": _label(LIGHT_LABELS, c["light"]),
                   "reported_local": local_time(c["reported_at"])} for c in cases["items"]],
        "pages": max(1, -(-cases["total"] // CASES_PER_PAGE)),
        "cameras": [{**c, "status_label": _label(CAMERA_STATUS_LABELS, c["status"]),
                     "stream_url": c["stream_url"] if _linkable(c["stream_url"]) else None}
                    for c in detail["cameras"]],
        "components": [{**c, "status_label": _label(COMPONENT_STATUS_LABELS, c["status"])}
                       for c in detail["components"]],
    }
    settings = current_app.config["SETTINGS"]
    page_config = {
        "building": {"id": detail["id"], "code": props["code"], "name": props["name"]},
        "footprint": detail["geometry"],
        "cameras": [{"id": c["id"], "name": c["name"], "lon": c["lon"], "lat": c["lat"]} for c in detail["cameras"]],
        "components": [{"id": c["id"], "name": c["name"], "component_id": c["component_id"],
                        "lon": c["lon"], "lat": c["lat"]} for c in detail["components"]],
        "tileUrl": settings.tile_url,
        "tileAttribution": settings.tile_attribution,
        "zh": get_locale().language == "zh",
        "text": {"camera": _("Camera"), "component": _("Component")},
    }
    return render_template("building.html", building=detail, props=props, view=view, cases=cases,
                           page_config=page_config,
                           page_url=lambda n: url_for("pages.building_page", building_id=building_id, cases_page=n))
