"""Configuration of the asset overlays (static/js/asset-layers.js) on the Leaflet map pages.

Pages include ``templates/_asset_layers.html``, which renders :func:`asset_layers_config` as
JSON: the contract endpoints of the four asset layers, zoom and size limits, and the texts.
"""

from __future__ import annotations

from flask import request
from flask_babel import get_locale
from flask_babel import gettext as _

#: Overlays load features from these zooms on (a few street blocks fill the screen); below, a hint shows.
#: Components are the densest layer (a manhole cover every few metres), so they wait one zoom more.
MIN_ZOOM = {"pipelines": 16, "cameras": 16, "buildings": 16, "components": 17}
#: Features fetched per layer and view (the contract's default page).
MAX_FEATURES = 1000
#: The four asset layers in the order the layer control lists them.
LAYERS = ("pipelines", "cameras", "buildings", "components")


def N_(message: str) -> str:
    """Mark a string for extraction without translating it now."""
    return message


#: CJJ 61 class names for the legend (the code table holds the Chinese names only).
CLASS_NAMES = {
    "JS": N_("Water supply"),
    "PS": N_("Drainage"),
    "RQ": N_("Gas"),
    "RL": N_("Heating"),
    "DL": N_("Electric power"),
    "TX": N_("Telecommunications"),
    "GY": N_("Industrial"),
    "QT": N_("Other"),
}
STATUS_NAMES = {
    # pipelines
    "in_use": N_("In use"),
    "building": N_("Under construction"),
    "planned": N_("Planned"),
    "abandoned": N_("Abandoned"),
    "removed": N_("Removed"),
    # cameras
    "online": N_("Online"),
    "offline": N_("Offline"),
    "fault": N_("Fault"),
    "retired": N_("Retired"),
    # components
    "intact": N_("Intact"),
    "damaged": N_("Damaged"),
    "missing": N_("Missing"),
}
BUILDING_USES = {
    "residential": N_("Residential"),
    "office": N_("Office"),
    "commercial": N_("Commercial"),
    "school": N_("School"),
    "hospital": N_("Hospital"),
    "market": N_("Market"),
    "industrial": N_("Industrial"),
    "public": N_("Public building"),
    "mixed": N_("Mixed use"),
    "other": N_("Other"),
}


def _texts() -> dict[str, object]:
    return {
        "layers": {
            "pipelines": _("Underground pipelines"),
            "cameras": _("Video cameras"),
            "buildings": _("Buildings"),
            "components": _("Management components"),
        },
        "zoomIn": _("Zoom in to see: %(layers)s"),
        "loading": _("Loading: %(layers)s"),
        "failed": _("Could not load: %(layers)s"),
        "unavailable": _("Not available yet: %(layers)s"),
        "capped": _("%(layer)s: showing %(shown)s of %(total)s; zoom in to see all"),
        "legend": _("Pipelines (CJJ 61)"),
        "listSeparator": "、" if get_locale().language == "zh" else ", ",
        "classNames": {k: _(v) for k, v in CLASS_NAMES.items()},
        "statusNames": {k: _(v) for k, v in STATUS_NAMES.items()},
        "useNames": {k: _(v) for k, v in BUILDING_USES.items()},
        "code": _("Code"),
        "pipeClass": _("Class"),
        "material": _("Material"),
        "burial": _("Burial method"),
        "size": _("Diameter / section"),
        "depth": _("Depth (start → end)"),
        "buildYear": _("Built"),
        "owner": _("Owner"),
        "pressure": _("Pressure"),
        "voltage": _("Voltage"),
        "status": _("Status"),
        "cell": _("Unit grid cell"),
        "length": _("Length"),
        "deviceId": _("Device id"),
        "view": _("Azimuth / field of view / range"),
        "height": _("Mounting height"),
        "stream": _("Open the video stream"),
        "address": _("Address"),
        "floors": _("Floors"),
        "use": _("Use"),
        "grossArea": _("Gross floor area"),
        "details": _("Building details and tax sources"),
        "componentId": _("Component id"),
        "category": _("Component category"),
        "maintainer": _("Maintainer"),
    }


def asset_layers_config() -> dict[str, object]:
    """What asset-layers.js needs on a page (a template global, so any map page can include it)."""
    root = request.script_root
    return {
        "urls": {name: f"{root}/api/v1/{name}" for name in LAYERS}
        | {"classes": f"{root}/api/v1/pipelines/classes", "building": f"{root}/buildings/"},
        "minZoom": dict(MIN_ZOOM),
        "maxFeatures": MAX_FEATURES,
        "layers": list(LAYERS),
        "text": _texts(),
    }
