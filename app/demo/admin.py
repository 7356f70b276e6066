"""The administrative hierarchy: district, streets 街道 and communities 社区 made of whole blocks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..config import DEMO_DISTRICT_CODE_PLACEHOLDER, Settings
from ..models import Community, District, Street
from .blocks import Block
from .errors import DemoError
from .shapes import to_db, union_blocks

__all__ = [
    "COMMUNITY_NAMES",
    "STREET_NAMES",
    "TABLES",
    "CommunityPlan",
    "StreetPlan",
    "insert_admin",
    "partition",
]

#: Tables this layer fills, in insert order.
TABLES = ("districts", "streets", "communities")

#: Real Zhengdong 街道, the CBD's first.
STREET_NAMES = (
    "如意湖街道", "龙子湖街道", "博学路街道", "商都路街道", "祭城路街道",
    "金光路街道", "龙湖街道", "杨金路街道", "豫兴路街道",
)
#: Community names (the CBD's first); partly real, partly plausible inventions.
COMMUNITY_NAMES = (
    "商都社区", "正光社区", "金水社区", "祭城社区", "平安社区", "聚源社区", "如意社区",
    "众意社区", "心怡社区", "九如社区", "通泰社区", "博学社区", "明理社区", "龙子湖社区",
    "龙湖社区", "金光社区", "杨金社区", "豫兴社区", "康宁社区", "商鼎社区", "农业社区",
    "黄河社区", "东风社区", "泽雨社区", "凤栖社区", "兴华社区", "民生社区", "永平社区",
    "文苑社区", "博颂社区", "天泽社区", "商务社区", "七里河社区", "湖光社区", "普惠社区",
    "和顺社区", "昌盛社区", "安泰社区", "锦绣社区", "德润社区", "祥和社区", "盛和社区",
    "崇德社区", "尚贤社区", "怡和社区", "乐业社区", "白沙社区", "圃田社区", "前程社区",
    "港湾社区",
)


@dataclass
class CommunityPlan:
    """A community: its code, name and the indices of its blocks.

    Examples
    --------
    >>> CommunityPlan("410199001001", "商都社区", [0, 1]).serial_part
    '001'
    """

    code: str
    name: str
    block_indices: list[int]
    geom: BaseGeometry | None = None

    @property
    def serial_part(self) -> str:
        """The community's own 3 digits."""
        return self.code[9:]


@dataclass
class StreetPlan:
    """A street: code, name and its communities.

    Examples
    --------
    >>> StreetPlan("410199001", "如意湖街道").communities
    []
    """

    code: str
    name: str
    communities: list[CommunityPlan] = field(default_factory=list)

    @property
    def block_indices(self) -> list[int]:
        """Blocks of all its communities."""
        return [i for c in self.communities for i in c.block_indices]


def partition(
    blocks: list[Block],
    district_code: str,
    n_streets: int,
    n_communities: int,
    cbd_centre: Point,
    seed: int,
) -> list[StreetPlan]:
    """Group whole blocks into compact streets, and each street's blocks into communities.

    Groups are area-balanced Voronoi regions over block centroids (a power diagram found
    by a few rounds of weighted Lloyd iterations), so every group is spatially compact.
    The street and the community that hold the CBD centre come first (code 001).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> bl = [Block(i, box(x, y, x + 90, y + 90), "residential", 2)
    ...       for i, (x, y) in enumerate((x, y) for x in range(0, 1000, 100) for y in range(0, 1000, 100))]
    >>> plan = partition(bl, "410199", 2, 4, Point(0, 0), seed=1)
    >>> [s.code for s in plan], sum(len(s.communities) for s in plan)
    (['410199001', '410199002'], 4)
    >>> 0 in plan[0].communities[0].block_indices
    True
    """
    if not 1 <= n_streets <= len(STREET_NAMES):
        raise DemoError(f"n_streets={n_streets}: expected 1..{len(STREET_NAMES)}")
    if not n_streets <= n_communities <= min(len(COMMUNITY_NAMES), len(blocks)):
        raise DemoError(
            f"n_communities={n_communities}: expected {n_streets}..{min(len(COMMUNITY_NAMES), len(blocks))}"
        )
    xy = np.array([b.polygon.centroid.coords[0] for b in blocks])
    area = np.array([b.polygon.area for b in blocks])
    centre = np.array(cbd_centre.coords[0])
    cbd_block = int(np.argmin(((xy - centre) ** 2).sum(axis=1)))
    street_of = _balanced_groups(xy, area, n_streets, np.random.default_rng([seed, 3]))
    streets_idx = _order_groups(street_of, n_streets, xy, cbd_block)

    # Communities per street in proportion to area (largest remainder, at least one each).
    street_area = np.array([area[ix].sum() for ix in streets_idx])
    quota = street_area / street_area.sum() * n_communities
    counts = np.maximum(1, np.floor(quota).astype(int))
    for k in np.argsort(-(quota - np.floor(quota)), kind="stable"):
        if counts.sum() >= n_communities:
            break
        counts[k] += 1
    counts = np.minimum(counts, [len(ix) for ix in streets_idx])

    plans: list[StreetPlan] = []
    names = iter(COMMUNITY_NAMES)
    for s, ix in enumerate(streets_idx):
        street = StreetPlan(f"{district_code}{s + 1:03d}", STREET_NAMES[s])
        ix = np.array(ix)
        sub = _balanced_groups(xy[ix], area[ix], int(counts[s]), np.random.default_rng([seed, 4, s]))
        anchor = int(np.where(ix == cbd_block)[0][0]) if cbd_block in ix else None
        for c, members in enumerate(_order_groups(sub, int(counts[s]), xy[ix], anchor)):
            street.communities.append(
                CommunityPlan(f"{street.code}{c + 1:03d}", next(names), sorted(int(ix[m]) for m in members))
            )
        plans.append(street)
    return plans


def insert_admin(
    session: Session, settings: Settings, plans: list[StreetPlan], district_geom: BaseGeometry | None = None
) -> dict[str, int]:
    """Insert the district, streets and communities (community geometries must be set).

    Street geometry is the union of its communities; the district's is ``district_geom``
    (the demo extent, which the blocks tile), by default the union of its streets.

    Examples
    --------
    >>> insert_admin.__name__
    'insert_admin'
    """
    srid = settings.storage_srid
    street_rows, community_rows, street_geoms = [], [], []
    for street in plans:
        if any(c.geom is None for c in street.communities):
            raise DemoError(f"street {street.code}: community geometry missing (build cells first)")
        geom = union_blocks([c.geom for c in street.communities])
        street_geoms.append(geom)
        street_rows.append(
            {"code": street.code, "district_code": settings.district_code, "name": street.name, "geom": to_db(geom, srid)}
        )
        community_rows.extend(
            {
                "code": c.code,
                "street_code": street.code,
                "district_code": settings.district_code,
                "name": c.name,
                "geom": to_db(c.geom, srid),
            }
            for c in street.communities
        )
    session.execute(
        insert(District),
        [
            {
                "code": settings.district_code,
                "name": settings.district_name,
                "code_is_placeholder": settings.district_code == DEMO_DISTRICT_CODE_PLACEHOLDER,
                "geom": to_db(union_blocks(street_geoms) if district_geom is None else district_geom, srid),
            }
        ],
    )
    session.execute(insert(Street), street_rows)
    session.execute(insert(Community), community_rows)
    return {"districts": 1, "streets": len(street_rows), "communities": len(community_rows)}


def _balanced_groups(xy: np.ndarray, area: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Group label of each point: k compact groups of roughly equal total area."""
    n = len(xy)
    if k >= n:
        return np.arange(n)
    # k-means++ style start, weighted by area.
    centres = [xy[rng.choice(n, p=area / area.sum())]]
    for _ in range(1, k):
        d2 = np.min(((xy[:, None, :] - np.array(centres)[None]) ** 2).sum(axis=2), axis=1) * area
        centres.append(xy[rng.choice(n, p=d2 / d2.sum())] if d2.sum() > 0 else xy[rng.integers(n)])
    centres = np.array(centres, dtype=float)
    weights = np.zeros(k)
    target = area.sum() / k
    scale = float(np.mean(((xy - xy.mean(axis=0)) ** 2).sum(axis=1))) / k
    label = np.zeros(n, dtype=int)
    for _ in range(60):
        d2 = ((xy[:, None, :] - centres[None]) ** 2).sum(axis=2) - weights[None]
        label = np.argmin(d2, axis=1)
        sums = np.bincount(label, weights=area, minlength=k)
        for j in range(k):
            if sums[j] > 0:
                centres[j] = np.average(xy[label == j], axis=0, weights=area[label == j])
        # Additive weights grow regions that are too small (power diagram balancing).
        weights += 0.3 * scale * (target - sums) / target
    # A group left empty takes the block farthest from its own group's centre.
    for j in range(k):
        if not np.any(label == j):
            far = int(np.argmax(((xy - centres[label]) ** 2).sum(axis=1)))
            label[far] = j
    return label


def _order_groups(label: np.ndarray, k: int, xy: np.ndarray, anchor: int | None) -> list[list[int]]:
    """Member lists of each group: the anchor's group first, then north → south, west → east."""
    groups = [np.where(label == j)[0].tolist() for j in range(k)]
    groups = [g for g in groups if g]

    def key(g: list[int]) -> tuple:
        c = xy[g].mean(axis=0)
        return (anchor is None or anchor not in g, -round(c[1] / 500.0), c[0])

    return sorted(groups, key=key)
