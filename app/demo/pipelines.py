"""Demo underground pipelines: every road carries its CJJ 61 classes at their usual offsets and depths."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from .roads import RoadNetwork
from .roadside import Centreline

__all__ = [
    "DEPTH_RANGES",
    "LAYOUTS",
    "PipePlan",
    "Slot",
    "build_pipelines",
    "intersection_breaks",
    "year_base",
]


@dataclass(frozen=True)
class Slot:
    """One pipeline beside a road: class, subclass, side (+1 left, −1 right) and offset.

    ``frac`` is the distance from the centreline as a fraction of the road's half width.

    Examples
    --------
    >>> Slot("JS", "JP", 1, 0.6).offset(50.0)
    15.0
    """

    class_abbr: str
    subclass_abbr: str
    side: int
    frac: float

    def offset(self, width: float) -> float:
        """Signed lateral offset in metres on a road ``width`` wide."""
        return round(self.side * self.frac * width / 2.0, 3)


# Usual cross-section of a Chinese urban road (GB 50289): cables under the sidewalks
# nearest the building line, then gas and water, heat, and the gravity sewers nearest the
# middle. Wide roads carry water, gas and both sewers on each side.
_NARROW = (
    Slot("DL", "GD", 1, 0.85), Slot("JS", "JP", 1, 0.60), Slot("PS", "YS", 1, 0.30),
    Slot("TX", "XX", -1, 0.85), Slot("RQ", "TR", -1, 0.60), Slot("PS", "WS", -1, 0.30),
)
_MEDIUM = (
    Slot("DL", "GD", 1, 0.88), Slot("JS", "JP", 1, 0.66), Slot("RL", "RS", 1, 0.48), Slot("PS", "YS", 1, 0.30),
    Slot("TX", "XX", -1, 0.88), Slot("RQ", "TR", -1, 0.66), Slot("PS", "WS", -1, 0.30),
)
_WIDE = (
    Slot("DL", "GD", 1, 0.88), Slot("RQ", "TR", 1, 0.74), Slot("JS", "JP", 1, 0.60), Slot("RL", "RS", 1, 0.46),
    Slot("PS", "YS", 1, 0.32), Slot("PS", "WS", 1, 0.16),
    Slot("TX", "XX", -1, 0.88), Slot("RQ", "TR", -1, 0.74), Slot("JS", "JP", -1, 0.60),
    Slot("PS", "YS", -1, 0.32), Slot("PS", "WS", -1, 0.16),
)
#: Pipelines of each road class.
LAYOUTS: dict[str, tuple[Slot, ...]] = {
    "arterial": _WIDE, "secondary": _MEDIUM, "ring": _MEDIUM, "radial": _NARROW, "branch": _NARROW,
}
#: Cover depth range (metres) of each class / subclass.
DEPTH_RANGES: dict[tuple[str, str], tuple[float, float]] = {
    ("JS", "JP"): (0.8, 1.5), ("PS", "YS"): (1.5, 4.0), ("PS", "WS"): (1.5, 4.0), ("RQ", "TR"): (0.9, 1.2),
    ("DL", "GD"): (0.7, 1.2), ("TX", "XX"): (0.7, 1.0), ("RL", "RS"): (1.5, 2.0),
}
_OWNERS = {
    ("JS", "JP"): ("郑州水务集团有限公司",),
    ("PS", "YS"): ("郑东新区市政工程管理中心",),
    ("PS", "WS"): ("郑州水务集团有限公司",),
    ("RQ", "TR"): ("郑州华润燃气股份有限公司",),
    ("DL", "GD"): ("国网郑州供电公司",),
    ("TX", "XX"): ("中国电信郑州分公司", "中国移动郑州分公司", "中国联通郑州分公司"),
    ("RL", "RS"): ("郑州热力集团有限公司",),
}
_BIG = ("arterial",)
_MID = ("secondary", "ring")
#: Segments are split at crossings and then into pieces of about this length.
SEGMENT_M = 125.0
#: Crossings closer than this to the previous break are not breaks of their own.
MIN_BREAK_GAP_M = 15.0
#: Clipped pieces shorter than this are dropped.
MIN_PIECE_M = 5.0


@dataclass
class PipePlan:
    """The generated pipelines: one row per segment (column name → value) and its geometry."""

    rows: list[dict] = field(default_factory=list)
    geoms: list[LineString] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def year_base(x: float, extent: Polygon) -> float:
    """A plausible build year for infrastructure at ``x``: the district grew west → east.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> year_base(0.0, box(0, 0, 100, 100)), year_base(100.0, box(0, 0, 100, 100))
    (1998.0, 2020.0)
    """
    minx, _, maxx, _ = extent.bounds
    return 1998.0 + 22.0 * min(max((x - minx) / (maxx - minx), 0.0), 1.0)


def intersection_breaks(network: RoadNetwork, crossings: list) -> list[np.ndarray]:
    """Arc lengths along each road where it meets another (sorted, ends included).

    Examples
    --------
    >>> from shapely.geometry import Point, box
    >>> net = RoadNetwork([LineString([(0, 0), (100, 0)]), LineString([(40, -5), (40, 5)])],
    ...                   ["a", "b"], ["branch", "branch"], [16.0, 16.0], Polygon(),
    ...                   box(-20, -20, 120, 20), Point(0, 0), 4547)
    >>> [b.tolist() for b in intersection_breaks(net, [Point(40, 0)])]
    [[0.0, 40.0, 100.0], [0.0, 5.0, 10.0]]
    """
    points = np.array(crossings, dtype=object)
    line_ix, point_ix = shapely.STRtree(points).query(network.lines, predicate="dwithin", distance=1.0)
    out = []
    for i, line in enumerate(network.lines):
        hits = points[point_ix[line_ix == i]]
        s = shapely.line_locate_point(line, hits) if len(hits) else np.empty(0)
        out.append(np.unique(np.concatenate([[0.0, line.length], s])))
    return out


def _pieces(breaks: np.ndarray, length: float) -> list[tuple[float, float]]:
    """Split [0, length] at ``breaks`` (merging close ones), then into ~SEGMENT_M pieces."""
    kept = [0.0]
    for b in breaks[1:-1]:
        if b - kept[-1] >= MIN_BREAK_GAP_M and length - b >= MIN_BREAK_GAP_M:
            kept.append(float(b))
    kept.append(length)
    out = []
    for a, b in zip(kept[:-1], kept[1:]):
        n = max(1, int(round((b - a) / SEGMENT_M)))
        edges = np.linspace(a, b, n + 1)
        out.extend(zip(edges[:-1].tolist(), edges[1:].tolist()))
    return out


def _attributes(slot: Slot, road_class: str, rng: np.random.Generator, year: int, owner: str) -> dict:
    """Material, burial, size, pressure / voltage of one pipeline run (same for all its segments)."""
    big, mid = road_class in _BIG, road_class in _MID
    key = (slot.class_abbr, slot.subclass_abbr)
    a: dict = {"diameter_mm": None, "section": None, "pressure_mpa": None, "voltage_kv": None}
    if key == ("JS", "JP"):
        dn = int(rng.choice((300, 400, 500, 600) if big else (200, 300) if mid else (100, 150, 200)))
        a.update(diameter_mm=dn, material_code="QM" if dn >= 200 and rng.random() < 0.85 else "PE",
                 burial_code="ZM", pressure_mpa=0.3)
    elif slot.class_abbr == "PS":
        sizes = {
            "YS": ((1000, 1200, 1500), (600, 800, 1000), (300, 400, 500)),
            "WS": ((600, 800, 1000), (400, 500, 600), (300, 400)),
        }[slot.subclass_abbr]
        dn = int(rng.choice(sizes[0] if big else sizes[1] if mid else sizes[2]))
        a.update(diameter_mm=dn, material_code="T" if dn >= 600 else "PVC", burial_code="ZM")
    elif key == ("RQ", "TR"):
        if big:
            a.update(diameter_mm=int(rng.choice((300, 400))), material_code="G", pressure_mpa=0.4)
        else:
            a.update(diameter_mm=int(rng.choice((200, 250) if mid else (110, 160))), material_code="PE",
                     pressure_mpa=0.2 if mid else 0.01)
        a["burial_code"] = "ZM"
    elif key == ("RL", "RS"):
        a.update(diameter_mm=int(rng.choice((500, 600) if big else (300, 400))), material_code="G",
                 burial_code="GG", pressure_mpa=1.6)
    elif key == ("DL", "GD"):
        # Duct banks (管块), width x height in mm: 3x4 or 4x4 ducts of 150 mm on arterials.
        a.update(section=str(rng.choice(("800x650", "800x800") if big else ("500x350", "600x500"))),
                 material_code="TZ", burial_code="GK", voltage_kv=10.0)
    elif key == ("TX", "XX"):
        # 4x6 / 3x6 holes of 100 mm on arterials, 3x4 / 2x4 / 2x3 elsewhere.
        a.update(section=str(rng.choice(("750x500", "750x400") if big else ("500x400", "500x300", "400x300"))),
                 material_code="GX", burial_code="GK")
    a.update(class_abbr=slot.class_abbr, subclass_abbr=slot.subclass_abbr, build_year=year, owner=owner,
             status="in_use")
    return a


def _depths(key: tuple[str, str], n: int, rng: np.random.Generator, diameter: float | None):
    """Start and end cover depths of ``n`` consecutive segments, within the class range."""
    lo, hi = DEPTH_RANGES[key]
    if key[0] == "PS":
        # Gravity sewers deepen along the flow, larger ones sit deeper; each segment
        # falls by 0.1–0.35 m and starts again near its base depth after a manhole drop.
        base = min(lo + 0.4 + (diameter or 300) / 1000.0, hi - 0.6)
        start = np.round(np.clip(base + rng.uniform(-0.3, 0.3, n), lo, hi - 0.4), 2)
        end = np.round(np.clip(start + rng.uniform(0.1, 0.35, n), lo, hi), 2)
        return start, end
    mid = rng.uniform(lo + 0.1 * (hi - lo), hi - 0.1 * (hi - lo))
    start = np.round(np.clip(mid + rng.uniform(-0.1, 0.1, n), lo, hi), 2)
    end = np.round(np.clip(start + rng.uniform(-0.08, 0.08, n), lo, hi), 2)
    return start, end


def build_pipelines(network: RoadNetwork, extent: BaseGeometry, seed: int) -> PipePlan:
    """Pipelines along every road meeting ``extent``, split at crossings and every ~125 m.

    Each road carries the slots of its class (:data:`LAYOUTS`); a slot is one pipeline
    run with one material, size, owner and build year, cut into segments at the road's
    crossings and then into pieces of about :data:`SEGMENT_M` metres, clipped to the
    extent. Codes are ``<class>-<6-digit serial>`` in generation order.

    Examples
    --------
    >>> from app.demo.roads import build_roads
    >>> from shapely.geometry import box
    >>> net = build_roads(4547, seed=1)
    >>> c = net.cbd_centre
    >>> plan = build_pipelines(net, box(c.x - 600, c.y - 300, c.x + 600, c.y + 300), seed=1)
    >>> sorted({r["class_abbr"] for r in plan.rows}) == ["DL", "JS", "PS", "RL", "RQ", "TX"]
    True
    """
    breaks = intersection_breaks(network, network.intersections())
    inside = shapely.intersects(np.array(network.lines, dtype=object), extent)
    plan = PipePlan()
    serial: dict[str, int] = {}
    shapely.prepare(extent)
    for i in np.flatnonzero(inside).tolist():
        line, road_class, width = network.lines[i], network.classes[i], network.widths[i]
        centre = Centreline(line)
        pieces = _pieces(breaks[i], centre.length)
        rng = np.random.default_rng([seed, 30, i])
        base = year_base(line.centroid.x, network.extent)
        for slot in LAYOUTS[road_class]:
            d = slot.offset(width)
            geoms = [LineString(centre.piece(a, b, d)) for a, b in pieces]
            geoms = _clip(geoms, extent)
            if not geoms:
                continue
            key = (slot.class_abbr, slot.subclass_abbr)
            year = int(np.clip(round(base + rng.normal(0.0, 2.0)), 1995, 2025))
            owners = _OWNERS[key]
            attrs = _attributes(slot, road_class, rng, year, owners[int(rng.integers(len(owners)))])
            start, end = _depths(key, len(geoms), rng, attrs["diameter_mm"])
            # A few segments were relaid later (repairs, road works).
            relaid = rng.random(len(geoms)) < 0.06
            for k, geom in enumerate(geoms):
                n = serial.get(slot.class_abbr, 0) + 1
                serial[slot.class_abbr] = n
                row = dict(attrs, code=f"{slot.class_abbr}-{n:06d}", start_depth_m=float(start[k]),
                           end_depth_m=float(end[k]))
                if relaid[k]:
                    row["build_year"] = int(rng.integers(min(year + 1, 2025), 2026))
                plan.rows.append(row)
                plan.geoms.append(geom)
    return plan


def _clip(geoms: list[LineString], extent: BaseGeometry) -> list[LineString]:
    arr = np.array(geoms, dtype=object)
    out: list[LineString] = []
    within = shapely.within(arr, extent)
    for g, w in zip(arr.tolist(), within.tolist()):
        if w:
            out.append(g)
            continue
        clipped = g.intersection(extent)
        parts = [p for p in shapely.get_parts(clipped).tolist() if isinstance(p, LineString)]
        out.extend(p for p in parts if p.length >= MIN_PIECE_M)
    return out
