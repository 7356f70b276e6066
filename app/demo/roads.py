"""The demo road network: Zhengdong New District's arterial grid and ring-shaped CBD."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import LinearRing, LineString, MultiLineString, Point, Polygon, box
from shapely.geometry.base import BaseGeometry

from .errors import DemoError

__all__ = [
    "CBD_CENTRE_LONLAT",
    "CBD_INNER_RADIUS_M",
    "CBD_OUTER_RADIUS_M",
    "CJJ37_CLASSES",
    "LANES",
    "LONLAT_EXTENT",
    "ROAD_CLASSES",
    "RoadNetwork",
    "build_roads",
    "intersections",
    "storage_extent",
]

#: The district's lon/lat extent (min lon, min lat, max lon, max lat).
LONLAT_EXTENT = (113.72, 34.72, 113.86, 34.82)
#: Centre of the demo CBD rings (the real CBD is about 113.7305, 34.7690; moved a little
#: east so that the outer ring lies inside the extent).
CBD_CENTRE_LONLAT = (113.735, 34.772)
CBD_INNER_RADIUS_M = 500.0
CBD_OUTER_RADIUS_M = 1000.0
#: Road classes and their widths in metres (carriageway plus sidewalks).
ROAD_CLASSES = {"arterial": 50.0, "secondary": 30.0, "branch": 16.0, "ring": 30.0, "radial": 20.0}
#: The stored class (CJJ 37 urban road classes, app.models.assets.ROAD_CLASSES) of each demo
#: class: the CBD rings are 次干路, the short radials between them 支路.
CJJ37_CLASSES = {"arterial": "arterial", "secondary": "secondary", "branch": "branch", "ring": "secondary",
                 "radial": "branch"}
#: Lanes (both directions) of each demo class.
LANES = {"arterial": 8, "secondary": 4, "branch": 2, "ring": 4, "radial": 2}

# Real Zhengdong road names, west → east for north-south roads, south → north for east-west
# roads; positions are only loosely like the real ones.
_NS_NAMES = (
    "中州大道", "东风南路", "心怡路", "九如路", "康宁街", "通泰路", "众意路", "博学路",
    "明理路", "七里河南路", "文苑西路", "龙子湖西路", "平安大道", "天泽街", "博文路",
    "东四环", "杨金路", "前程大道", "文苑东路", "龙子湖东路", "豫兴路", "白沙大道",
)
_EW_NAMES = (
    "航海东路", "陇海东路", "郑汴路", "商都路", "商鼎路", "金水东路", "如意湖路",
    "农业东路", "黄河东路", "东风东路", "北三环东延", "祭城路", "金光路", "龙湖外环",
    "龙湖中环路", "连霍路", "龙源路", "龙湖北路",
)
_RADIAL_NAMES = (
    "商务东一街", "商务北一街", "商务北二街", "商务西一街",
    "商务西二街", "商务南一街", "商务南二街", "商务东二街",
)
# Two-character stems for secondary and branch roads; with 街/路 and ordinals they give
# enough distinct names for the large demo.
_BRANCH_STEMS = (
    "明德", "崇德", "正光", "博颂", "泽雨", "民生", "聚源", "永平", "康平", "凤栖", "兴华",
    "普惠", "和顺", "昌盛", "安泰", "锦绣", "盛和", "祥和", "德润", "众旺", "众纬", "商务",
    "如意", "湖光", "文德", "尚贤", "崇文", "贤良", "怡和", "乐业", "安居", "福寿",
)
_ORDINALS = "一二三四五六七八九"


@dataclass(frozen=True)
class RoadNetwork:
    """Road centrelines with their names, classes and widths, in the storage CRS.

    Parameters
    ----------
    lines : list of LineString
        Centrelines clipped to the district extent (a road cut by the CBD is two entries
        with the same name).
    names, classes : list of str
        Chinese name and class (``arterial``, ``secondary``, ``branch``, ``ring``,
        ``radial``) of each line.
    widths : list of float
        Width of each road in metres.
    area_polygon : BaseGeometry
        Union of the road polygons (flat-capped buffers by width / 2) inside the extent.
    extent : Polygon
        The whole district's extent in the storage CRS.
    cbd_centre : Point
        Centre of the CBD rings in the storage CRS.
    srid : int
        Storage SRID of every geometry.

    Examples
    --------
    >>> net = build_roads(4547, seed=1)
    >>> sorted(set(net.classes)) == sorted(ROAD_CLASSES)
    True
    """

    lines: list[LineString]
    names: list[str]
    classes: list[str]
    widths: list[float]
    area_polygon: BaseGeometry
    extent: Polygon
    cbd_centre: Point
    srid: int

    def __len__(self) -> int:
        return len(self.lines)

    @cached_property
    def polygons(self) -> list[BaseGeometry]:
        """The road polygon of each line (flat-capped buffer by width / 2, within extent)."""
        return [_road_polygon(ln, w).intersection(self.extent) for ln, w in zip(self.lines, self.widths)]

    def intersections(self, tolerance: float = 0.5) -> list[Point]:
        """Points where roads meet; see :func:`intersections`."""
        return intersections(self, tolerance)


def storage_extent(srid: int, margin_m: float = 20.0) -> Polygon:
    """The largest storage-CRS rectangle inside :data:`LONLAT_EXTENT`, less a margin.

    Parallels are slightly curved in a Gauss-Krüger projection, so the edges are
    sampled and the tightest value of each side is kept.

    Examples
    --------
    >>> minx, miny, maxx, maxy = storage_extent(4547).bounds
    >>> round((maxx - minx) / 1000), round((maxy - miny) / 1000)
    (13, 11)
    """
    to_storage = Transformer.from_crs(4326, srid, always_xy=True)
    lon0, lat0, lon1, lat1 = LONLAT_EXTENT
    t = np.linspace(0.0, 1.0, 65)
    lons, lats = lon0 + (lon1 - lon0) * t, lat0 + (lat1 - lat0) * t
    west = to_storage.transform(np.full_like(lats, lon0), lats)[0]
    east = to_storage.transform(np.full_like(lats, lon1), lats)[0]
    south = to_storage.transform(lons, np.full_like(lons, lat0))[1]
    north = to_storage.transform(lons, np.full_like(lons, lat1))[1]
    return box(
        float(np.max(west)) + margin_m,
        float(np.max(south)) + margin_m,
        float(np.min(east)) - margin_m,
        float(np.min(north)) - margin_m,
    )


def build_roads(srid: int, seed: int) -> RoadNetwork:
    """Generate the road network of the whole district, deterministic by ``seed``.

    An arterial grid slightly rotated and jittered (roads every 600–900 m, alternately
    arterial and secondary), two diagonals, the CBD's inner and outer ring roads with
    radials between them, then branch roads through every remaining superblock larger
    than about 35 ha.

    Examples
    --------
    >>> a, b = build_roads(4547, seed=7), build_roads(4547, seed=7)
    >>> [ln.wkb for ln in a.lines] == [ln.wkb for ln in b.lines]
    True
    """
    extent = storage_extent(srid)
    cx, cy = Transformer.from_crs(4326, srid, always_xy=True).transform(*CBD_CENTRE_LONLAT)
    centre = Point(cx, cy)
    if not extent.buffer(-CBD_OUTER_RADIUS_M).contains(centre):
        raise DemoError(f"CBD centre {CBD_CENTRE_LONLAT}: the outer ring must lie inside the extent")
    rng = np.random.default_rng([seed, 1])
    roads: list[tuple[LineString, str, str, float]] = []
    cbd_disk = centre.buffer(CBD_OUTER_RADIUS_M, quad_segs=64)

    def add(geom: BaseGeometry, name: str, cls: str, width: float | None = None) -> None:
        geom = geom.intersection(extent)
        for part in _line_parts(geom):
            if part.length > 1.0:
                roads.append((part, name, cls, ROAD_CLASSES[cls] if width is None else width))

    rot = math.radians(rng.uniform(2.0, 4.0))
    ex = np.array([math.cos(rot), math.sin(rot)])  # grid "east"
    ey = np.array([-math.sin(rot), math.cos(rot)])  # grid "north"
    minx, miny, maxx, maxy = extent.bounds
    reach = 2.0 * math.hypot(maxx - minx, maxy - miny)
    for axis, along, names in ((ex, ey, _NS_NAMES), (ey, ex, _EW_NAMES)):
        corners = np.array(extent.exterior.coords) - (cx, cy)
        lo, hi = float((corners @ axis).min()), float((corners @ axis).max())
        offsets = _grid_offsets(rng, lo, hi)
        for i, t in enumerate(offsets):
            if i >= len(names):
                raise DemoError(f"{len(offsets)} grid roads: only {len(names)} names available")
            jitter = math.radians(rng.uniform(-0.8, 0.8))
            d = _rotate(along, jitter)
            p = np.array([cx, cy]) + t * axis
            line = LineString([p - reach * d, p + reach * d])
            if abs(t) < CBD_OUTER_RADIUS_M:
                line = line.difference(cbd_disk)  # grid roads end at the outer ring
            add(line, names[i], "arterial" if i % 2 == 0 else "secondary")

    # 郑开大道 leaves the CBD towards Kaifeng (east-south-east); a second diagonal
    # crosses the eastern half like the Qilihe river road.
    d = _rotate(np.array([1.0, 0.0]), math.radians(-18.0 + rng.uniform(-2, 2)))
    start = np.array([cx, cy]) + CBD_OUTER_RADIUS_M * d
    add(LineString([start, start + reach * d]), "郑开大道", "arterial")
    p = np.array([minx + 0.62 * (maxx - minx), miny + 0.55 * (maxy - miny)])
    d = _rotate(np.array([1.0, 0.0]), math.radians(-48.0 + rng.uniform(-3, 3)))
    add(LineString([p - reach * d, p + reach * d]).difference(cbd_disk), "七里河路", "arterial")

    for radius, name in ((CBD_OUTER_RADIUS_M, "商务外环路"), (CBD_INNER_RADIUS_M, "商务内环路")):
        ring = centre.buffer(radius, quad_segs=64).exterior
        add(LineString(ring.coords), name, "ring", 30.0 if radius == CBD_OUTER_RADIUS_M else 24.0)
    for k, name in enumerate(_RADIAL_NAMES):
        a = math.radians(22.5 + 45.0 * k)
        u = np.array([math.cos(a), math.sin(a)])
        add(LineString([(cx, cy) + CBD_INNER_RADIUS_M * u, (cx, cy) + CBD_OUTER_RADIUS_M * u]), name, "radial")

    branch_names = _branch_names()
    for cls in ("secondary", "branch"):
        for face in _superblocks(roads, extent, centre):
            add(_cross_line(face, rng), next(branch_names), cls)

    lines = [r[0] for r in roads]
    widths = [r[3] for r in roads]
    area = shapely.union_all([_road_polygon(ln, w) for ln, w in zip(lines, widths)]).intersection(extent)
    return RoadNetwork(
        lines=lines,
        names=[r[1] for r in roads],
        classes=[r[2] for r in roads],
        widths=widths,
        area_polygon=area,
        extent=extent,
        cbd_centre=centre,
        srid=srid,
    )


def intersections(network: RoadNetwork, tolerance: float = 0.5) -> list[Point]:
    """Points where two roads cross or one ends on another (T-junctions), west → east.

    Branch roads end on the centreline of the road they meet only up to rounding, so
    lines closer than ``tolerance`` metres count as meeting; points closer than 5 m to
    each other are merged.

    Examples
    --------
    >>> net = RoadNetwork([LineString([(0, 0), (10, 0)]), LineString([(5, -5), (5, 5)])],
    ...                   ["a", "b"], ["branch", "branch"], [16.0, 16.0], Polygon(),
    ...                   box(-20, -20, 20, 20), Point(0, 0), 4547)
    >>> [p.coords[0] for p in intersections(net)]
    [(5.0, 0.0)]
    """
    lines = network.lines
    tree = shapely.STRtree(lines)
    left, right = tree.query(lines, predicate="dwithin", distance=tolerance)
    found: list[Point] = []
    for i, j in zip(left.tolist(), right.tolist()):
        if i >= j:
            continue
        hit = lines[i].intersection(lines[j])
        if hit.is_empty:
            found.append(shapely.shortest_line(lines[i], lines[j]).interpolate(0.5, normalized=True))
        else:
            found.extend(p for p in _points(hit))
    seen: dict[tuple[int, int], Point] = {}
    for p in sorted(found, key=lambda q: (q.x, q.y)):
        key = (round(p.x / 5.0), round(p.y / 5.0))
        if not any((key[0] + dx, key[1] + dy) in seen for dx in (-1, 0, 1) for dy in (-1, 0, 1)):
            seen[key] = p
    return list(seen.values())


def _road_polygon(line: LineString, width: float) -> BaseGeometry:
    """Flat-capped buffer; a closed ring is buffered as a ring so it has no cap notch."""
    if line.is_ring:
        return LinearRing(line.coords).buffer(width / 2.0)
    return line.buffer(width / 2.0, cap_style="flat")


def _grid_offsets(rng: np.random.Generator, lo: float, hi: float) -> list[float]:
    """Offsets of parallel grid roads from the CBD centre, 600–900 m apart.

    Roads that would pass close to the outer ring without crossing it (a sliver between
    road and ring) are left out; roads through the CBD disk stop at the ring.
    """
    start = rng.uniform(-450.0, 450.0)
    offsets = [start]
    while offsets[-1] < hi - 300.0:
        offsets.append(offsets[-1] + rng.uniform(600.0, 900.0))
    while offsets[0] > lo + 300.0:
        offsets.insert(0, offsets[0] - rng.uniform(600.0, 900.0))
    return [t for t in offsets if not 750.0 < abs(t) < 1250.0 and lo + 150.0 < t < hi - 150.0]


def _rotate(v: np.ndarray, angle: float) -> np.ndarray:
    c, s = math.cos(angle), math.sin(angle)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1]])


def _line_parts(geom: BaseGeometry) -> list[LineString]:
    if isinstance(geom, LineString):
        return [geom]
    if isinstance(geom, MultiLineString):
        return list(geom.geoms)
    return [p for g in getattr(geom, "geoms", []) for p in _line_parts(g)]


def _points(geom: BaseGeometry) -> list[Point]:
    if isinstance(geom, Point):
        return [geom]
    if isinstance(geom, LineString):  # collinear overlap: its ends
        return [Point(geom.coords[0]), Point(geom.coords[-1])]
    return [p for g in getattr(geom, "geoms", []) for p in _points(g)]


def _branch_names():
    for stem in _BRANCH_STEMS:
        yield stem + "路"
    for stem in _BRANCH_STEMS:
        yield stem + "街"
    for n in _ORDINALS:
        for stem in _BRANCH_STEMS:
            yield f"{stem}{n}街"
    raise DemoError("ran out of branch road names")


def _superblocks(roads: list[tuple], extent: Polygon, centre: Point, min_area: float = 350_000.0) -> list[Polygon]:
    """Faces of the centreline network (outside the CBD) larger than ``min_area``, in a fixed order."""
    noded = shapely.union_all([r[0] for r in roads] + [extent.exterior])
    faces = [f for f in shapely.polygonize(list(_line_parts(noded))).geoms]
    big = [
        f for f in faces
        if f.area > min_area and f.centroid.distance(centre) > CBD_OUTER_RADIUS_M
    ]
    return sorted(big, key=lambda f: (round(f.centroid.x), round(f.centroid.y)))


def _cross_line(face: Polygon, rng: np.random.Generator) -> BaseGeometry:
    """A straight road across ``face``, perpendicular to its long axis, near its middle."""
    rect = np.array(face.minimum_rotated_rectangle.exterior.coords)
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    long_axis = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    length = float(np.hypot(*long_axis))
    u = long_axis / length
    c = np.array(face.centroid.coords[0]) + u * length * rng.uniform(-0.08, 0.08)
    n = np.array([-u[1], u[0]])
    span = 4.0 * length
    cut = LineString([c - span * n, c + span * n]).intersection(face)
    parts = _line_parts(cut)
    if not parts:
        return LineString()
    # A concave face can cut into pieces: keep the one nearest the chosen point.
    return min(parts, key=lambda p: p.distance(Point(c)))
