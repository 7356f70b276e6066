"""The folium grid map: local assets only, the layers, colours and the names the page script needs."""

from __future__ import annotations

import json
import re

import pytest

from gis.errors import GeoJSONError
from gis.maps import COMMUNITY_COLOURS, GridMapLabels, MapError, community_palette, grid_map, vendor_assets

LON0, LAT0 = 113.78, 34.77


def square(lon: float, lat: float, d: float = 0.01) -> dict:
    """A GeoJSON polygon square with its south-west corner at (lon, lat)."""
    return {
        "type": "Polygon",
        "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]],
    }


def fc(*features: dict) -> dict:
    return {"type": "FeatureCollection", "features": list(features)}


def area(code: str, name: str, lon: float, lat: float, d: float = 0.01) -> dict:
    return {"type": "Feature", "properties": {"code": code, "name": name}, "geometry": square(lon, lat, d)}


STREETS = fc(area("410199001", "如意湖街道", LON0, LAT0, 0.02), area("410199002", "龙湖街道", LON0 + 0.02, LAT0, 0.02))
COMMUNITIES = fc(
    area("410199001001", "如意湖社区", LON0, LAT0),
    area("410199001002", "博学路社区", LON0 + 0.01, LAT0),
    area("410199002001", "龙湖社区", LON0 + 0.02, LAT0),
)
BOUNDS = (LON0, LAT0, LON0 + 0.04, LAT0 + 0.02)


def build(**kw):
    return grid_map((LON0 + 0.02, LAT0 + 0.01), BOUNDS, STREETS, COMMUNITIES, **kw)


def asset_urls(html: str) -> list[str]:
    """Every script src and stylesheet href in an HTML fragment."""
    return re.findall(r'<script[^>]+src="([^"]+)"', html) + re.findall(r'<link[^>]+href="([^"]+)"', html)


def test_assets_are_local_vendor_files_only():
    head, body, script = build().parts()
    urls = asset_urls(head + body)
    assert urls == ["/static/vendor/leaflet/dist/leaflet.js", "/static/vendor/leaflet/dist/leaflet.css"]
    whole = head + body + script
    # folium's defaults pull jQuery, Bootstrap and awesome-markers from CDNs.
    for cdn in ("cdn.jsdelivr.net", "code.jquery.com", "cdnjs.cloudflare.com", "bootstrapcdn", "bootstrap", "jquery"):
        assert cdn not in whole
    assert not re.search(r'(src|href)="(https?:)?//', whole)


def test_custom_vendor_base_and_cdn_refused():
    head, _, _ = build(vendor_base="/assets/v/").parts()
    assert asset_urls(head) == ["/assets/v/leaflet/dist/leaflet.js", "/assets/v/leaflet/dist/leaflet.css"]
    for bad in ("https://unpkg.com", "//cdn.example.com/x", "static/vendor", "/static/../x y"):
        with pytest.raises(MapError, match="vendor_base"):
            vendor_assets(bad)


def test_map_does_not_change_folium_defaults_for_other_maps():
    import folium

    build()
    assert any("cdn" in url for _, url in folium.Map.default_js)
    assert not any("vendor" in url for _, url in folium.Map.default_js)


def test_layers_are_named_in_the_layer_control():
    labels = GridMapLabels(streets="街道", street_names="街道名称", communities="社区", cells="单元网格", base="底图")
    gm = build(labels=labels)
    _, _, script = gm.parts()
    control = script[script.index("L.control.layers"):] if "L.control.layers" in script else ""
    layers_block = script[script.rindex("_layers = {"):script.index("L.control.layers")]
    for name in ("街道", "街道名称", "社区", "单元网格"):
        assert f"{json.dumps(name)} : " in layers_block
    assert control
    # No tiles asked for: no tile layer and no base-map entry.
    assert "L.tileLayer" not in script
    assert "底图" not in script


def test_names_point_at_the_javascript_variables():
    gm = build()
    _, body, script = gm.parts()
    assert f'id="{gm.names["map"]}"' in body
    assert f"var {gm.names['map']} = L.map(" in script
    assert f"var {gm.names['cells']} = L.featureGroup(" in script
    assert f"var {gm.names['communities']} = L.geoJson(" in script
    assert f"var {gm.names['streets']} = L.geoJson(" in script
    assert f"{gm.names['cells']}.addTo({gm.names['map']})" in script


def test_canvas_renderer_scale_bar_fit_and_background():
    gm = build(background="#fafafa")
    head, _, script = gm.parts()
    assert '"preferCanvas": true' in script
    assert "L.control.scale()" in script
    assert f"{gm.names['map']}.fitBounds(" in script
    fit = re.search(r"fitBounds\(\s*\[\[([\d.]+), ([\d.]+)\], \[([\d.]+), ([\d.]+)\]\]", script)
    assert [round(float(v), 6) for v in fit.groups()] == [34.77, 113.78, 34.79, 113.82]
    assert f"#{gm.names['map']} {{ background: #fafafa; }}" in head


def test_tiles_only_when_configured():
    _, _, script = build(tile_url="https://t{s}.example.com/{z}/{x}/{y}.png", attribution="© Example").parts()
    assert "L.tileLayer" in script
    assert "https://t{s}.example.com/{z}/{x}/{y}.png" in script
    assert "© Example" in script or "\\u00a9 Example" in script
    with pytest.raises(MapError, match=r"must contain \{z\}"):
        build(tile_url="https://t.example.com/tile.png")


def test_each_community_gets_its_palette_colour():
    gm = build()
    _, _, script = gm.parts()
    assert gm.palette == {
        "410199001001": COMMUNITY_COLOURS[0],
        "410199001002": COMMUNITY_COLOURS[1],
        "410199002001": COMMUNITY_COLOURS[2],
    }
    for code, colour in gm.palette.items():
        assert f'"fillColor": "{colour}"' in script
    # Streets are outlines that never take the clicks meant for the cells under them.
    assert '"fill": false' in script and '"weight": 4' in script
    streets_js = script[script.index(f"var {gm.names['streets']} = L.geoJson("):]
    assert '"interactive": false' in streets_js[: streets_js.index("});")]


def test_palette_is_stable_and_cycles():
    codes = [f"410199001{i:03d}" for i in range(1, 15)]
    forward = community_palette(codes)
    assert forward == community_palette(reversed(codes + codes))
    assert forward[codes[0]] == forward[codes[len(COMMUNITY_COLOURS)]]
    assert len(set(forward[c] for c in codes[: len(COMMUNITY_COLOURS)])) == len(COMMUNITY_COLOURS)
    with pytest.raises(MapError, match="community code ''"):
        community_palette(["410199001001", ""])


def test_names_are_escaped_in_labels_and_tooltips():
    evil = fc(area("410199001", "</script><img src=x onerror=alert(1)>", LON0, LAT0))
    head, body, script = grid_map((LON0, LAT0), None, evil, fc()).parts()
    assert "</script>" not in script
    assert "<img" not in script
    assert "&lt;img src=x" in script or "\\u0026lt;img" in script


def test_layer_names_are_escaped_for_the_layer_control():
    labels = GridMapLabels(streets="<img src=x onerror=alert(1)>")
    _, _, script = grid_map((LON0, LAT0), None, fc(), fc(), labels=labels).parts()
    assert "<img" not in script and "\\u0026lt;img src=x" in script


def test_every_head_script_carries_the_csp_nonce():
    head, _, _ = build().parts(nonce="Zm9v-bar_1")
    tags = re.findall(r"<script\b[^>]*>", head, flags=re.IGNORECASE)
    assert len(tags) >= 2  # leaflet.js and folium's inline settings
    assert all('nonce="Zm9v-bar_1"' in t for t in tags), tags
    with pytest.raises(MapError, match="nonce"):
        build().parts(nonce='"><script>')


def test_street_labels_sit_inside_their_street():
    gm = build()
    _, _, script = gm.parts()
    points = [tuple(map(float, m)) for m in re.findall(r"L\.marker\(\s*\[([\d.]+), ([\d.]+)\]", script)]
    assert len(points) == 2
    (lat1, lon1), (lat2, lon2) = sorted(points, key=lambda p: p[1])
    assert LON0 < lon1 < LON0 + 0.02 < lon2 < LON0 + 0.04
    assert LAT0 < lat1 < LAT0 + 0.02 and LAT0 < lat2 < LAT0 + 0.02
    assert "cg-street-label" in script


@pytest.mark.parametrize(
    ("streets", "communities", "error", "match"),
    [
        ({"type": "Feature"}, fc(), GeoJSONError, "streets: expected a GeoJSON FeatureCollection"),
        (fc({"type": "Feature", "properties": {"name": "x"}, "geometry": square(LON0, LAT0)}), fc(),
         GeoJSONError, r"streets.features\[0\].properties.code"),
        (fc(), fc({"type": "Feature", "properties": {"code": "1"}, "geometry": None}), GeoJSONError,
         r"communities.features\[0\].geometry"),
    ],
)
def test_bad_layers_are_refused(streets, communities, error, match):
    with pytest.raises(error, match=match):
        grid_map((LON0, LAT0), None, streets, communities)


@pytest.mark.parametrize(
    ("center", "bounds", "match"),
    [
        ((200, 34), None, "center"),
        (("a", 34), None, "center"),
        ((LON0, LAT0), (114, 35, 113, 34), "minimum exceeds maximum"),
        ((LON0, LAT0), (113, 34, 114, 95), "bounds maximum"),
    ],
)
def test_bad_center_or_bounds_are_refused(center, bounds, match):
    with pytest.raises(MapError, match=match):
        grid_map(center, bounds, fc(), fc())
