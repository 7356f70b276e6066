"""Folium map builders for the unit grid: streets, communities and a page-filled cells layer."""

from __future__ import annotations

import html
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import folium
import shapely
from shapely.geometry import shape

from gis.errors import GeoJSONError, GisError

__all__ = [
    "COMMUNITY_COLOURS",
    "GridMap",
    "GridMapLabels",
    "MapError",
    "community_palette",
    "touching_areas",
    "grid_map",
    "vendor_assets",
]

LOGGER = logging.getLogger(__name__)

#: Qualitative palette for communities (Tableau 10 plus two); assigned by sorted code index so
#: a community keeps its colour across pages and sessions.
COMMUNITY_COLOURS: tuple[str, ...] = (
    "#4e79a7",
    "#f28e2b",
    "#e15759",
    "#76b7b2",
    "#59a14f",
    "#edc948",
    "#b07aa1",
    "#ff9da7",
    "#9c755f",
    "#17becf",
    "#bcbd22",
    "#8c6bb1",
)

_STREET_STYLE = {"color": "#263238", "weight": 4, "opacity": 0.9, "fill": False}
_VENDOR_PATH = re.compile(r"^(/[A-Za-z0-9._~-]+)*/?$")
_SCRIPT_TAG = re.compile(r"<script\b", re.IGNORECASE)
_NONCE = re.compile(r"[A-Za-z0-9+/_=-]+")


class MapError(GisError, ValueError):
    """Arguments to a map builder are unusable.

    Examples
    --------
    >>> issubclass(MapError, ValueError)
    True
    """


@dataclass(frozen=True)
class GridMapLabels:
    """Display names of the map's layers (pass translated strings).

    Examples
    --------
    >>> GridMapLabels(streets="街道").streets
    '街道'
    """

    streets: str = "Streets"
    street_names: str = "Street names"
    communities: str = "Communities"
    cells: str = "Unit grid cells"
    base: str = "Base map"


@dataclass
class GridMap:
    """A built folium map and the JavaScript variable names of its layers.

    Attributes
    ----------
    map : folium.Map
        The map.
    names : dict of str to str
        ``map``, ``streets``, ``street_names``, ``communities`` and ``cells`` mapped to the
        global JavaScript variable that holds each Leaflet object; page scripts use them
        (``cells`` is an empty ``L.featureGroup`` the page fills).
    palette : dict of str to str
        Community code to fill colour.

    Examples
    --------
    >>> gm = grid_map((113.79, 34.77), None, _fc([]), _fc([]))
    >>> sorted(gm.names)
    ['cells', 'communities', 'map', 'street_names', 'streets']
    """

    map: folium.Map
    names: dict[str, str]
    palette: dict[str, str] = field(default_factory=dict)

    def parts(self, nonce: str | None = None) -> tuple[str, str, str]:
        """Render to (head, body, script) HTML fragments for embedding in a page.

        Parameters
        ----------
        nonce : str, optional
            The page's Content-Security-Policy nonce: every ``<script>`` element folium
            writes into the head (its inline settings script too) carries it. The page's
            own ``<script>`` around the returned JavaScript must carry it as well.

        Returns
        -------
        tuple of 3 str
            ``<head>`` content (asset links and styles), the map ``<div>``, and the
            JavaScript that builds the map (without ``<script>`` tags).

        Raises
        ------
        MapError
            If ``nonce`` is not a base64 string (it goes into an HTML attribute).

        Examples
        --------
        >>> head, body, script = grid_map((113.79, 34.77), None, _fc([]), _fc([])).parts()
        >>> "leaflet.js" in head, 'class="folium-map"' in body, "L.map(" in script
        (True, True, True)
        >>> head, _, _ = grid_map((113.79, 34.77), None, _fc([]), _fc([])).parts(nonce="abc123")
        >>> head.count("<script") == head.count('<script nonce="abc123"')
        True
        """
        root = self.map.get_root()
        root.render()
        head = root.header.render()
        if nonce is not None:
            if not isinstance(nonce, str) or not _NONCE.fullmatch(nonce):
                raise MapError(f"nonce {nonce!r} must be a base64 string")
            head = _SCRIPT_TAG.sub(f'<script nonce="{nonce}"', head)
        return head, root.html.render(), root.script.render()


def vendor_assets(vendor_base: str = "/static/vendor") -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Leaflet's JS and CSS links under a local vendor folder (folium's CDN links replaced).

    Parameters
    ----------
    vendor_base : str
        URL path where ``tools/vendor.py`` copied the npm packages.

    Returns
    -------
    tuple of 2 lists of (name, url)
        JavaScript and CSS links in the form of folium's ``default_js`` / ``default_css``.

    Raises
    ------
    MapError
        If ``vendor_base`` is not an absolute local path (a CDN URL is refused).

    Examples
    --------
    >>> vendor_assets("/static/vendor")[0]
    [('leaflet', '/static/vendor/leaflet/dist/leaflet.js')]
    >>> vendor_assets("https://cdn.example.com")
    Traceback (most recent call last):
    ...
    gis.maps.MapError: vendor_base 'https://cdn.example.com' must be a local absolute path such as '/static/vendor'
    """
    if not isinstance(vendor_base, str) or not vendor_base.startswith("/") or not _VENDOR_PATH.match(vendor_base):
        raise MapError(
            f"vendor_base {vendor_base!r} must be a local absolute path such as '/static/vendor'"
        )
    base = vendor_base.rstrip("/")
    return (
        [("leaflet", f"{base}/leaflet/dist/leaflet.js")],
        [("leaflet_css", f"{base}/leaflet/dist/leaflet.css")],
    )


def community_palette(
    codes: Iterable[str], neighbours: Mapping[str, Iterable[str]] | None = None
) -> dict[str, str]:
    """Give each community code a fill colour from :data:`COMMUNITY_COLOURS`.

    Codes are coloured in sorted order, so the same input always gets the same colours.
    Without ``neighbours`` colours cycle through the palette. With them, each community
    takes the first colour (counting on from its own position) that no neighbour coloured
    before it uses, so adjacent communities differ whenever the palette allows.

    Parameters
    ----------
    codes : iterable of str
        Community codes (12 digits); duplicates are ignored.
    neighbours : mapping of str to iterable of str, optional
        For each code, the codes of the communities it touches.

    Returns
    -------
    dict of str to str
        Code to ``#rrggbb`` colour.

    Raises
    ------
    MapError
        If a code is not a non-empty string.

    Examples
    --------
    >>> community_palette(["410199001002", "410199001001"])
    {'410199001001': '#4e79a7', '410199001002': '#f28e2b'}
    >>> len(set(community_palette(f"4101990010{i:02d}" for i in range(12)).values()))
    12
    >>> codes = [f"4101990010{i:02d}" for i in range(13)]
    >>> cyclic = community_palette(codes)
    >>> cyclic[codes[0]] == cyclic[codes[12]]
    True
    >>> touching = community_palette(codes, {codes[12]: [codes[0]], codes[0]: [codes[12]]})
    >>> touching[codes[0]] == touching[codes[12]]
    False
    >>> community_palette([None])
    Traceback (most recent call last):
    ...
    gis.maps.MapError: community code None must be a non-empty string
    """
    unique = set()
    for code in codes:
        if not isinstance(code, str) or not code:
            raise MapError(f"community code {code!r} must be a non-empty string")
        unique.add(code)
    n = len(COMMUNITY_COLOURS)
    palette: dict[str, str] = {}
    for i, code in enumerate(sorted(unique)):
        taken = {palette[c] for c in (neighbours or {}).get(code, ()) if c in palette}
        choices = [COMMUNITY_COLOURS[(i + k) % n] for k in range(n)]
        palette[code] = next((c for c in choices if c not in taken), choices[0])
    return palette


def touching_areas(features: Sequence[Mapping[str, Any]]) -> dict[str, set[str]]:
    """Which areas of a GeoJSON feature list touch or overlap each other, by ``code``.

    Parameters
    ----------
    features : sequence of mapping
        GeoJSON features with a ``code`` property.

    Returns
    -------
    dict of str to set of str
        Code to the codes of the other areas it meets.

    Examples
    --------
    >>> sq = lambda x: {"type": "Polygon", "coordinates": [[[x, 0], [x + 1, 0], [x + 1, 1], [x, 1], [x, 0]]]}
    >>> f = [{"type": "Feature", "geometry": sq(x), "properties": {"code": c}}
    ...      for x, c in ((0, "a"), (1, "b"), (3, "c"))]
    >>> touching_areas(f)
    {'a': {'b'}, 'b': {'a'}, 'c': set()}
    """
    codes = [f["properties"]["code"] for f in features]
    geoms = [shape(f["geometry"]) for f in features]
    meets: dict[str, set[str]] = {c: set() for c in codes}
    if geoms:
        left, right = shapely.STRtree(geoms).query(geoms, predicate="intersects")
        for i, j in zip(left.tolist(), right.tolist()):
            if i != j:
                meets[codes[i]].add(codes[j])
    return meets


def _fc(features: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """A FeatureCollection of ``features`` (doctest helper)."""
    return {"type": "FeatureCollection", "features": list(features)}


def _area_features(fc: Mapping[str, Any], what: str) -> list[dict[str, Any]]:
    """Check a streets/communities FeatureCollection; return features with escaped names.

    Names are HTML-escaped because folium's tooltips and our labels insert them as HTML.
    """
    if not isinstance(fc, Mapping) or fc.get("type") != "FeatureCollection":
        raise GeoJSONError(what, f"expected a GeoJSON FeatureCollection; got {type(fc).__name__}")
    features = fc.get("features")
    if not isinstance(features, list):
        raise GeoJSONError(f"{what}.features", "expected a list of Features")
    out = []
    for i, feat in enumerate(features):
        props = feat.get("properties") if isinstance(feat, Mapping) else None
        if not isinstance(props, Mapping):
            raise GeoJSONError(f"{what}.features[{i}]", "expected a Feature with properties")
        code, name = props.get("code"), props.get("name")
        if not isinstance(code, str) or not code:
            raise GeoJSONError(f"{what}.features[{i}].properties.code", "expected a non-empty string")
        if not isinstance(feat.get("geometry"), Mapping):
            raise GeoJSONError(f"{what}.features[{i}].geometry", "expected a GeoJSON geometry object")
        out.append(
            {
                "type": "Feature",
                "geometry": feat["geometry"],
                "properties": {"code": code, "name": html.escape(str(name or code))},
            }
        )
    return out


def _lonlat(value: Sequence[float], what: str) -> tuple[float, float]:
    try:
        lon, lat = (float(v) for v in value)
    except (TypeError, ValueError):
        raise MapError(f"{what} must be a (lon, lat) pair of numbers; got {value!r}") from None
    if not (math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90):
        raise MapError(f"{what} ({lon}, {lat}) is outside lon [-180, 180] / lat [-90, 90]")
    return lon, lat


def grid_map(
    center: Sequence[float],
    bounds: Sequence[float] | None,
    streets_fc: Mapping[str, Any],
    communities_fc: Mapping[str, Any],
    *,
    tile_url: str | None = None,
    attribution: str = "",
    vendor_base: str = "/static/vendor",
    labels: GridMapLabels | None = None,
    background: str = "#eef1f4",
    zoom_start: int = 13,
) -> GridMap:
    """Build the inspector's grid map: streets, communities and an empty cells layer.

    The map loads Leaflet from ``vendor_base`` only (folium's CDN links for Leaflet, jQuery,
    Bootstrap and awesome-markers are dropped) and draws on a canvas renderer. Without
    ``tile_url`` it has no base tiles, just a light background, so it works offline: the page's
    ``static/js/roads.js`` (templates/_roads_layer.html) draws the district's roads with their
    names on it as the base map, and with ``tile_url`` adds them as an overlay to the layer
    control made here (shifting GCJ-02 tiles onto the WGS84 layers when told so).

    Parameters
    ----------
    center : (lon, lat)
        Initial centre, CRS84.
    bounds : (min_lon, min_lat, max_lon, max_lat) or None
        District extent to fit the view to; None keeps ``center`` and ``zoom_start``.
    streets_fc, communities_fc : dict
        FeatureCollections whose features carry ``code`` and ``name`` properties.
    tile_url : str, optional
        XYZ tile URL template with ``{z}``, ``{x}``, ``{y}``.
    attribution : str
        Attribution shown for ``tile_url``.
    vendor_base : str
        Local URL path of the vendored npm packages.
    labels : GridMapLabels, optional
        Layer names shown in the layer control (translated by the caller).
    background : str
        CSS colour behind the layers.
    zoom_start : int
        Zoom when ``bounds`` is None.

    Returns
    -------
    GridMap
        The map and the JavaScript names of its layers.

    Raises
    ------
    MapError
        On a bad centre, bounds, tile URL or vendor path.
    GeoJSONError
        If a FeatureCollection is malformed or a feature lacks its code.

    Examples
    --------
    >>> street = {"type": "Feature", "properties": {"code": "410199001", "name": "如意湖街道"},
    ...           "geometry": {"type": "Polygon", "coordinates": [[[113.7, 34.7], [113.8, 34.7],
    ...                                                            [113.8, 34.8], [113.7, 34.7]]]}}
    >>> gm = grid_map((113.75, 34.75), (113.7, 34.7, 113.8, 34.8), _fc([street]), _fc([]))
    >>> head, body, script = gm.parts()
    >>> "410199001" in script, "cdn" in head
    (True, False)
    >>> grid_map((113.75, 34.75), None, _fc([]), _fc([]), tile_url="https://t/{z}/{x}.png")
    Traceback (most recent call last):
    ...
    gis.maps.MapError: tile_url 'https://t/{z}/{x}.png' must contain {z}, {x} and {y}
    """
    labels = labels or GridMapLabels()
    lon, lat = _lonlat(center, "center")
    streets = _area_features(streets_fc, "streets")
    communities = _area_features(communities_fc, "communities")
    if tile_url is not None and not all(t in tile_url for t in ("{z}", "{x}", "{y}")):
        raise MapError(f"tile_url {tile_url!r} must contain {{z}}, {{x}} and {{y}}")
    js, css = vendor_assets(vendor_base)

    m = folium.Map(
        location=[lat, lon],
        zoom_start=zoom_start,
        tiles=None,
        control_scale=True,
        prefer_canvas=True,
        max_zoom=20,
        min_zoom=8,
    )
    # Instance lists: folium's class-level lists point at CDNs and are shared by every map.
    m.default_js = js
    m.default_css = css
    m.get_root().header.add_child(
        folium.Element(
            f"<style>#{m.get_name()} {{ background: {html.escape(background)}; }}"
            " .cg-street-label { background: none; border: 0; }"
            " .cg-street-label span { display: inline-block; transform: translate(-50%, -50%);"
            " white-space: nowrap; font-weight: 700; font-size: 13px; color: #263238;"
            " text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 3px #fff; }</style>"
        ),
        name="citygrid_map_style",
    )
    if tile_url:
        folium.TileLayer(
            tiles=tile_url,
            attr=attribution or html.escape(tile_url.split("/")[2] if "//" in tile_url else tile_url),
            name=html.escape(labels.base),
            max_zoom=20,
            max_native_zoom=18,
        ).add_to(m)

    palette = community_palette(
        (f["properties"]["code"] for f in communities), touching_areas(communities)
    )
    communities_layer = folium.GeoJson(
        _fc(communities),
        name=html.escape(labels.communities),
        style_function=lambda f: {
            "color": palette[f["properties"]["code"]],
            "weight": 1,
            "opacity": 0.9,
            "fillColor": palette[f["properties"]["code"]],
            "fillOpacity": 0.3,
        },
        tooltip=folium.GeoJsonTooltip(fields=["name"], labels=False) if communities else None,
        zoom_on_click=False,
        control=True,
    ).add_to(m)
    # The page adds cells here; an empty group still appears in the layer control.
    cells_group = folium.FeatureGroup(name=html.escape(labels.cells), control=True).add_to(m)
    streets_layer = folium.GeoJson(
        _fc(streets),
        name=html.escape(labels.streets),
        style_function=lambda f: dict(_STREET_STYLE),
        zoom_on_click=False,
        # Leaflet hit-tests a polygon's inside even without fill: a clickable street would sit
        # over every cell and community in it, so streets are drawn only, named by labels.
        interactive=False,
    ).add_to(m)
    street_names = folium.FeatureGroup(name=html.escape(labels.street_names), control=True).add_to(m)
    for feat in streets:
        try:
            point = shape(feat["geometry"]).representative_point()
        except (ValueError, TypeError, AttributeError) as exc:
            raise GeoJSONError(
                f"streets[code={feat['properties']['code']}].geometry", f"unusable geometry: {exc}"
            ) from None
        if point.is_empty:
            continue
        folium.Marker(
            [point.y, point.x],
            icon=folium.DivIcon(html=f"<span>{feat['properties']['name']}</span>", class_name="cg-street-label"),
            interactive=False,
            keyboard=False,
        ).add_to(street_names)

    if bounds is not None:
        min_lon, min_lat = _lonlat(bounds[:2], "bounds minimum")
        max_lon, max_lat = _lonlat(bounds[2:4], "bounds maximum")
        if min_lon > max_lon or min_lat > max_lat:
            raise MapError(f"bounds {tuple(bounds)!r} minimum exceeds maximum")
        m.fit_bounds([[min_lat, min_lon], [max_lat, max_lon]])
    folium.LayerControl(collapsed=True).add_to(m)
    LOGGER.debug("grid map: %d streets, %d communities", len(streets), len(communities))
    return GridMap(
        map=m,
        names={
            "map": m.get_name(),
            "streets": streets_layer.get_name(),
            "street_names": street_names.get_name(),
            "communities": communities_layer.get_name(),
            "cells": cells_group.get_name(),
        },
        palette=palette,
    )
