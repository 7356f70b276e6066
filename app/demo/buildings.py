"""Demo buildings 楼宇: footprints set back from the roads inside every block, kinds by location."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from .admin import StreetPlan
from .blocks import Block
from .pipelines import year_base
from .roads import CBD_INNER_RADIUS_M, CBD_OUTER_RADIUS_M, RoadNetwork

__all__ = ["SETBACK_M", "BuildingPlan", "build_buildings", "building_code", "fit_grid"]

#: Building line distance from the road edge by road class (建筑退线), metres.
SETBACK_M = {"arterial": 12.0, "secondary": 8.0, "ring": 10.0, "radial": 6.0, "branch": 5.0}
#: Parts of a block smaller than this after the setback hold no building.
MIN_PARCEL_M2 = 1200.0


@dataclass(frozen=True)
class Footprint:
    """A building type: size (along × across the block axis), gaps, floors and use."""

    length: float
    depth: float
    gap_l: float
    gap_d: float
    floors: tuple[int, ...]
    use: str
    underground: int = 0


_SLABS = (
    Footprint(54.0, 14.0, 16.0, 40.0, (11, 18), "residential", 1),
    Footprint(62.0, 15.0, 18.0, 46.0, (18, 26, 33), "residential", 2),
    Footprint(48.0, 13.0, 15.0, 36.0, (11, 18, 26), "residential", 1),
)
_TOWER = Footprint(38.0, 38.0, 45.0, 45.0, (20, 60), "office", 3)
_OFFICE = Footprint(42.0, 28.0, 36.0, 36.0, (8, 30), "office", 2)
_CAMPUS = Footprint(64.0, 20.0, 40.0, 50.0, (4, 8), "school", 0)
_FACTORY = Footprint(84.0, 42.0, 24.0, 24.0, (1, 4), "industrial", 0)
_PARK = Footprint(24.0, 14.0, 40.0, 40.0, (1, 2), "public", 0)
_SPECIALS = {
    "school": Footprint(72.0, 22.0, 20.0, 20.0, (4, 5), "school", 0),
    "hospital": Footprint(60.0, 40.0, 20.0, 20.0, (8, 16), "hospital", 2),
    "market": Footprint(50.0, 30.0, 20.0, 20.0, (2, 2), "market", 1),
    "public": Footprint(36.0, 18.0, 20.0, 20.0, (3, 5), "public", 1),
}
#: The CBD's landmarks in the block inside the inner ring: name, use, size, floors, height.
_CIVIC = (
    ("千玺广场", "office", 46.0, 46.0, 60, 280.0),
    ("郑州国际会展中心", "public", 140.0, 90.0, 4, 36.0),
    ("河南艺术中心", "public", 90.0, 70.0, 5, 40.0),
)

_COMPOUND_STEMS = (
    "如意", "龙湖", "金水", "湖光", "博雅", "康宁", "永平", "泽润", "祥和", "怡景", "锦华", "东润", "盛世",
    "御景", "丰庆", "尚品", "学府", "书香", "翠竹", "紫荆", "丁香", "海棠", "银杏", "枫林", "清华", "雅苑",
    "嘉园", "安泰", "兴业", "福华", "瑞祥", "和美", "聚贤", "景秀", "天悦", "鑫源", "美景", "润城", "泰禾",
    "长岛", "绿洲", "春华", "秋实", "明珠", "凤凰", "万福", "龙源", "金桥", "华庭", "东方", "九龙", "玉兰",
)
_COMPOUND_SUFFIXES = ("花园", "家园", "小区", "苑", "新城", "华府", "雅居", "公馆", "名门", "佳园")
_COMPLEX_STEMS = (
    "中原", "郑东", "商都", "豫商", "中州", "华商", "汇金", "鼎盛", "永和", "宏图", "泰和", "天成", "中融",
    "金成", "民生", "兴业", "正弘", "海汇", "丰达", "云鼎", "嵩岳", "黄河", "大河", "绿城", "龙头", "东区",
)
_COMPLEX_SUFFIXES = ("国际中心", "金融中心", "商务广场", "大厦", "财富中心", "时代广场", "商务中心")
_COLLEGES = (
    "中原理工学院", "河南商务学院", "郑州信息技术学院", "豫东师范学院", "郑州交通职业学院", "河南医药学院",
    "中州艺术学院", "郑州水利学院", "河南财政学院", "郑州城市建设学院", "中原外国语学院", "郑州体育学院",
)
_FIRMS = ("智能装备", "电子科技", "新材料", "生物医药", "精密制造", "食品加工", "物流仓储", "汽车配件")
_LETTERS = "ABCDEFGHJKLMN"


@dataclass
class BuildingPlan:
    """Generated buildings: one dict of attributes per building and its footprint."""

    rows: list[dict] = field(default_factory=list)
    geoms: list[Polygon] = field(default_factory=list)
    #: Index of the block each building stands in.
    blocks: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def building_code(district_code: str, serial: int) -> str:
    """The demo building code: district code, ``JZ`` (建筑) and a 6-digit serial.

    Examples
    --------
    >>> building_code("410199", 42)
    '410199JZ000042'
    """
    return f"{district_code}JZ{serial:06d}"


def fit_grid(parcel: BaseGeometry, angle: float, fp: Footprint, phases: int = 3) -> list[Polygon]:
    """Rectangles of ``fp`` on a grid turned by ``angle`` (radians) that fit inside ``parcel``.

    The grid pitch is size + gap, so the rectangles never overlap; of a few grid phases
    the one that fits the most rectangles wins.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> rects = fit_grid(box(0, 0, 200, 100), 0.0, Footprint(40, 20, 10, 10, (5,), "office"))
    >>> len(rects), all(box(0, 0, 200, 100).contains(r) for r in rects)
    (12, True)
    """
    c, s = math.cos(angle), math.sin(angle)
    cx, cy = parcel.centroid.x, parcel.centroid.y
    xy = shapely.get_coordinates(parcel) - (cx, cy)
    # Parcel in the grid's frame: u along the axis, v across it.
    u, v = xy @ np.array([c, s]), xy @ np.array([-s, c])
    pitch_u, pitch_v = fp.length + fp.gap_l, fp.depth + fp.gap_d
    best: list[Polygon] = []
    shapely.prepare(parcel)
    for k in range(phases):
        u0 = u.min() + fp.gap_l / 2 + k * pitch_u / phases
        v0 = v.min() + fp.gap_d / 2 + k * pitch_v / phases
        us = np.arange(u0, u.max() - fp.length + 1e-9, pitch_u)
        vs = np.arange(v0, v.max() - fp.depth + 1e-9, pitch_v)
        if not len(us) or not len(vs):
            continue
        gu, gv = (a.ravel() for a in np.meshgrid(us, vs))
        corners_u = gu[:, None] + np.array([0, fp.length, fp.length, 0, 0])[None]
        corners_v = gv[:, None] + np.array([0, 0, fp.depth, fp.depth, 0])[None]
        x = cx + corners_u * c - corners_v * s
        y = cy + corners_u * s + corners_v * c
        rects = shapely.polygons(np.stack([x, y], axis=-1))
        fits = rects[shapely.contains(parcel, rects)].tolist()
        if len(fits) > len(best):
            best = fits
    return best


def _axis(block: Polygon, east_west: bool) -> float:
    """Angle of the block's long axis (or, with ``east_west``, of the rectangle edge nearest E–W)."""
    rect = np.asarray(block.minimum_rotated_rectangle.exterior.coords)
    e1, e2 = rect[1] - rect[0], rect[2] - rect[1]
    angles = [math.atan2(e[1], e[0]) % math.pi for e in (e1, e2)]
    if east_west:
        return min(angles, key=lambda a: min(a, math.pi - a))
    return angles[0] if np.hypot(*e1) >= np.hypot(*e2) else angles[1]


class _Names:
    """Deterministic pools of distinct names."""

    def __init__(self, rng: np.random.Generator):
        combos = [(s, x) for s in _COMPOUND_STEMS for x in _COMPOUND_SUFFIXES]
        self.compounds = iter([s + x for s, x in (combos[i] for i in rng.permutation(len(combos)))])
        combos = [(s, x) for s in _COMPLEX_STEMS for x in _COMPLEX_SUFFIXES]
        self.complexes = iter([s + x for s, x in (combos[i] for i in rng.permutation(len(combos)))])
        self.colleges = iter([_COLLEGES[i] for i in rng.permutation(len(_COLLEGES))])
        self.markets = iter([_COMPOUND_STEMS[i] + "农贸市场" for i in rng.permutation(len(_COMPOUND_STEMS))])
        self.malls = iter([_COMPLEX_STEMS[i] + "购物中心" for i in rng.permutation(len(_COMPLEX_STEMS))])
        self.parks = iter([_COMPOUND_STEMS[i] + "公园" for i in rng.permutation(len(_COMPOUND_STEMS))])
        self.counters: dict[str, int] = {}

    def next(self, pool: str) -> str:
        n = self.counters.get(pool, 0) + 1
        self.counters[pool] = n
        if pool == "compound":
            return next(self.compounds, None) or f"郑东新区第{n}住宅小区"
        if pool == "complex":
            return next(self.complexes, None) or f"郑东商务{n}号楼群"
        if pool == "college":
            return next(self.colleges, None) or f"郑东新区第{n}高级中学"
        if pool == "market":
            return next(self.markets, None) or f"郑东新区第{_ordinal(n)}农贸市场"
        if pool == "mall":
            return next(self.malls, None) or f"郑东第{_ordinal(n)}购物中心"
        if pool == "park":
            return next(self.parks, None) or f"郑东新区第{_ordinal(n)}游园"
        if pool == "primary":
            return f"郑东新区第{_ordinal(n)}小学"
        if pool == "middle":
            return f"郑东新区第{_ordinal(n)}初级中学"
        if pool == "hospital":
            return f"郑州市第{_ordinal(n + 5)}人民医院郑东院区" if n % 2 else f"郑东新区第{_ordinal(n)}社区医院"
        if pool == "firm":
            return f"郑东{_FIRMS[n % len(_FIRMS)]}{_ordinal(n)}厂"
        raise KeyError(pool)


def _ordinal(n: int) -> str:
    """Chinese numeral for 1–99 (Arabic digits beyond).

    Examples
    --------
    >>> _ordinal(3), _ordinal(10), _ordinal(21)
    ('三', '十', '二十一')
    """
    digits = "零一二三四五六七八九"
    if not 0 < n < 100:
        return str(n)
    if n < 10:
        return digits[n]
    tens, ones = divmod(n, 10)
    return ("" if tens == 1 else digits[tens]) + "十" + (digits[ones] if ones else "")


def build_buildings(
    network: RoadNetwork,
    blocks: list[Block],
    streets: list[StreetPlan],
    district_code: str,
    seed: int,
) -> BuildingPlan:
    """Buildings in every block, inside the block less the roads and their setbacks.

    The block inside the CBD's inner ring holds the landmarks; CBD blocks office towers
    (taller nearer the centre); other commercial blocks offices; residential blocks
    compounds of slab rows facing south, sometimes with a school, clinic, market or
    community service centre; education blocks college buildings; industrial blocks
    factories; green blocks a park office. Footprints of one block come from grids
    whose pitch exceeds their size, and specials are kept clear of them, so buildings
    never overlap; blocks tile the district, so neither do buildings of different blocks.

    Examples
    --------
    >>> from app.demo.roads import build_roads
    >>> from app.demo.blocks import build_blocks
    >>> from app.demo.admin import CommunityPlan
    >>> from shapely.geometry import box
    >>> net = build_roads(4547, seed=1)
    >>> c = net.cbd_centre
    >>> bl = build_blocks(net, box(c.x - 1200, c.y - 1200, c.x + 1200, c.y + 1200), seed=1)
    >>> st = [StreetPlan("410199001", "如意湖街道", [CommunityPlan("410199001001", "商都社区", [b.index for b in bl])])]
    >>> plan = build_buildings(net, bl, st, "410199", seed=1)
    >>> len(set(plan.blocks)) == len(bl), "千玺广场" in {r["name"] for r in plan.rows}
    (True, True)
    """
    rng = np.random.default_rng([seed, 60])
    names = _Names(rng)
    setback = [
        shapely.buffer(p, SETBACK_M[cls], join_style="mitre")
        for p, cls in zip(network.polygons, network.classes)
    ]
    setback_arr = np.array(setback, dtype=object)
    road_tree = shapely.STRtree(setback_arr)
    line_arr = np.array(network.lines, dtype=object)
    line_tree = shapely.STRtree(line_arr)
    community_of: dict[int, tuple[str, str, bool]] = {}
    for street in streets:
        for n, community in enumerate(street.communities):
            for k, b in enumerate(sorted(community.block_indices)):
                # The community's first block holds its service centre (and, for the
                # street's first community, the street office).
                community_of[b] = (community.name, street.name, k == 0, k == 0 and n == 0)
    plan = BuildingPlan()
    for block in blocks:
        near = road_tree.query(block.polygon, predicate="intersects")
        land = block.polygon.difference(shapely.union_all(setback_arr[near])) if len(near) else block.polygon
        parts = [p for p in shapely.get_parts(land).tolist() if isinstance(p, Polygon) and p.area >= MIN_PARCEL_M2]
        if not parts:
            continue
        brng = np.random.default_rng([seed, 61, block.index])
        kind = _kind(block, network)
        info = community_of.get(block.index)
        specials = _specials(kind, info, brng, names)
        parts.sort(key=lambda p: -p.area)
        for k, part in enumerate(parts):
            # Specials go into the largest part.
            for geom, row in _fill(part, kind, specials if k == 0 else [], brng, names, network):
                row["geom"] = geom
                row["block"] = block.index
                if "height_m" not in row:
                    row["height_m"] = round(row["floors"] * float(brng.uniform(3.0, 3.5)), 1)
                year = year_base(geom.centroid.x, network.extent) + 3 + brng.normal(0, 3)
                row["build_year"] = int(np.clip(round(year), 1995, 2025))
                plan.rows.append(row)
    _addresses(plan, network, line_arr, line_tree)
    for n, row in enumerate(plan.rows, start=1):
        row["code"] = building_code(district_code, n)
        plan.geoms.append(row.pop("geom"))
        plan.blocks.append(row.pop("block"))
    return plan


def _kind(block: Block, network: RoadNetwork) -> str:
    d = block.polygon.centroid.distance(network.cbd_centre)
    if d < CBD_INNER_RADIUS_M and block.polygon.contains(network.cbd_centre):
        return "civic"
    if block.land_use == "commercial":
        return "cbd" if d < CBD_OUTER_RADIUS_M else "commercial"
    return {"residential": "residential", "education": "campus", "industrial": "industrial"}.get(
        block.land_use, "park"
    )


def _specials(kind: str, info, rng: np.random.Generator, names: _Names) -> list[tuple[str, str]]:
    """(kind, name) of the special buildings a block gets besides its main fill."""
    out: list[tuple[str, str]] = []
    if info is not None and kind in ("residential", "commercial"):
        community, street, first, street_first = info
        if street_first:
            out.append(("public", f"{street}办事处"))
        if first:
            out.append(("public", f"{community}党群服务中心"))
    if kind == "residential":
        u = rng.random()
        if u < 0.10:
            out.append(("school", names.next("primary")))
        elif u < 0.15:
            out.append(("school", names.next("middle")))
        elif u < 0.19:
            out.append(("hospital", names.next("hospital")))
        elif u < 0.25:
            out.append(("market", names.next("market")))
    elif kind == "commercial" and rng.random() < 0.25:
        out.append(("market", names.next("mall")))
    return out


def _smaller(fp: Footprint) -> tuple[Footprint, ...]:
    """Fallback sizes of a building type for narrow parcels (lowest floor count)."""
    low = (fp.floors[0],)
    return (
        Footprint(30.0, 14.0, 10.0, 10.0, low, fp.use, fp.underground),
        Footprint(18.0, 10.0, 6.0, 6.0, low, fp.use, 0),
    )


def _attrs(fp: Footprint, rng: np.random.Generator, name: str, use: str | None = None,
           floors: int | None = None) -> dict:
    if floors is None:
        lo, hi = fp.floors[0], fp.floors[-1]
        floors = int(rng.choice(fp.floors)) if len(fp.floors) > 2 or fp.use == "residential" else int(
            rng.integers(lo, hi + 1))
    return {"name": name, "use": use or fp.use, "floors": floors, "underground_floors": fp.underground}


def _fill(part: Polygon, kind: str, specials: list[tuple[str, str]], rng: np.random.Generator,
          names: _Names, network: RoadNetwork) -> list[tuple[Polygon, dict]]:
    """Buildings of one parcel: its specials first, then the main grid clear of them."""
    out: list[tuple[Polygon, dict]] = []
    taken: list[Polygon] = []
    axis = _axis(part, east_west=kind == "residential")
    if kind == "civic":
        for name, use, length, depth, floors, height in _CIVIC:
            fp = Footprint(length, depth, 40.0, 40.0, (floors,), use)
            fits = [r for r in fit_grid(part, axis, fp) if not any(r.intersects(t.buffer(30.0)) for t in taken)]
            if fits:
                r = fits[len(fits) // 2]
                taken.append(r)
                out.append((r, {"name": name, "use": use, "floors": floors, "underground_floors": 2,
                                "height_m": height}))
        return out
    for sp_kind, name in specials:
        fp = _SPECIALS[sp_kind]
        fits = [r for r in fit_grid(part, axis, fp) if not any(r.intersects(t.buffer(15.0)) for t in taken)]
        if fits:
            r = fits[int(rng.integers(len(fits)))]
            taken.append(r)
            out.append((r, _attrs(fp, rng, name)))
    if kind == "residential":
        fp = _SLABS[int(rng.integers(len(_SLABS)))]
        pool, label = "compound", "{}{}号楼"
    elif kind == "cbd":
        fp, pool, label = _TOWER, "complex", "{}{}座"
    elif kind == "commercial":
        fp, pool, label = _OFFICE, "complex", "{}{}座"
    elif kind == "campus":
        fp, pool, label = _CAMPUS, "college", "{}{}号教学楼"
    elif kind == "industrial":
        fp, pool, label = _FACTORY, "firm", "{}{}号厂房"
    else:
        fp, pool, label = _PARK, "park", "{}"
    guard = shapely.union_all([t.buffer(12.0) for t in taken]) if taken else None
    for size in (fp, *_smaller(fp)):
        rects = fit_grid(part, axis, size)
        if guard is not None:
            rects = [r for r in rects if not r.intersects(guard)]
        if rects or out:
            # A narrow parcel with nothing else on it gets a smaller building of the same kind.
            fp = size
            break
    if kind == "park":
        rects = rects[:1]
        base = f"{names.next('park')}管理处"
    else:
        base = names.next(pool) if rects else ""
    d = part.centroid.distance(network.cbd_centre)
    for n, r in enumerate(rects, start=1):
        if kind == "cbd":
            # Taller towers nearer the centre: 60 floors at the inner ring, 20 at the outer.
            t = (d - CBD_INNER_RADIUS_M) / (CBD_OUTER_RADIUS_M - CBD_INNER_RADIUS_M)
            floors = int(np.clip(round(60 - 40 * t + rng.normal(0, 5)), 20, 60))
            use = str(rng.choice(("office", "commercial", "mixed"), p=(0.7, 0.2, 0.1)))
            row = _attrs(fp, rng, "", use, floors)
        elif kind == "commercial":
            row = _attrs(fp, rng, "", str(rng.choice(("office", "commercial", "mixed"), p=(0.6, 0.25, 0.15))))
        else:
            row = _attrs(fp, rng, "")
        tag = _LETTERS[n - 1] if label.endswith("座") and n <= len(_LETTERS) else str(n)
        row["name"] = base if label == "{}" else label.format(base, tag)
        if label.endswith("座") and n > len(_LETTERS):
            row["name"] = f"{base}{n}号楼"
        out.append((r, row))
    return out


def _addresses(plan: BuildingPlan, network: RoadNetwork, lines: np.ndarray, tree: shapely.STRtree) -> None:
    """Floor area and a road address (nearest road, house number by position and side) of each row."""
    if not plan.rows:
        return
    geoms = np.array([r["geom"] for r in plan.rows], dtype=object)
    centres = shapely.centroid(geoms)
    nearest = tree.nearest(centres)
    s = shapely.line_locate_point(lines[nearest], centres)
    # Odd numbers on the left of the road's direction, even on the right.
    ahead = shapely.get_coordinates(shapely.line_interpolate_point(lines[nearest], s + 1.0))
    at = shapely.get_coordinates(shapely.line_interpolate_point(lines[nearest], s))
    p = shapely.get_coordinates(centres)
    left = ((ahead[:, 0] - at[:, 0]) * (p[:, 1] - at[:, 1]) - (ahead[:, 1] - at[:, 1]) * (p[:, 0] - at[:, 0])) > 0
    area = shapely.area(geoms)
    for k, row in enumerate(plan.rows):
        number = 2 * int(s[k] // 30.0) + (1 if left[k] else 2)
        row["address"] = f"郑州市郑东新区{network.names[int(nearest[k])]}{number}号"
        row["gross_floor_area_m2"] = round(float(area[k]) * row["floors"], 1)
