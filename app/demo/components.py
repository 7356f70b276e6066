"""Demo management components 部件: manhole covers on the pipelines, street lights and litter bins."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from .pipelines import PipePlan
from .roads import RoadNetwork
from .roadside import Centreline

__all__ = [
    "BIN",
    "COVER_CODES",
    "STREETLIGHT",
    "ComponentPlan",
    "build_components",
]

#: Class code of the manhole cover of each pipeline class / subclass:
#: (GB/T 47678.5-2026, legacy GB/T 30428.2-2013).
COVER_CODES: dict[tuple[str, str], tuple[str, str]] = {
    ("JS", "JP"): ("01001", "0101"),
    ("PS", "WS"): ("01002", "0102"),
    ("PS", "YS"): ("01003", "0103"),
    ("DL", "GD"): ("01005", "0105"),
    ("TX", "XX"): ("01007", "0107"),
    ("RL", "RS"): ("01010", "0110"),
    ("RQ", "TR"): ("01011", "0111"),
}
STREETLIGHT = ("01037", "0118")
BIN = ("03005", "0305")

#: Cover spacing along a pipeline, metres (manholes at junctions and every 40–60 m).
COVER_SPACING_M = (40.0, 60.0)
LIGHT_SPACING_M = (30.0, 35.0)
BIN_SPACING_M = (80.0, 100.0)
#: Street lights stand this far inside the road edge (at the kerb of the carriageway).
_LIGHT_INSET_M = {"arterial": 4.5, "secondary": 3.5, "ring": 3.5, "radial": 2.5, "branch": 2.0}
#: Litter bins stand on the sidewalk near the building line.
_BIN_INSET_M = 1.2
_STATUSES = ("intact", "damaged", "missing")
_STATUS_P = {"cover": (0.955, 0.03, 0.015), "light": (0.96, 0.04, 0.0), "bin": (0.94, 0.05, 0.01)}
_LIGHT_ORG = ("郑东新区市政工程管理中心", "郑东新区路灯管理所")
_BIN_ORG = ("郑东新区城市管理局", "郑东新区环卫保洁中心")
_SURVEY_START = date(2025, 3, 1)


@dataclass
class ComponentPlan:
    """Generated components: class codes (2026, legacy), attributes and point coordinates."""

    codes: list[tuple[str, str]] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    owners: list[str] = field(default_factory=list)
    maintainers: list[str] = field(default_factory=list)
    surveyed: list[date] = field(default_factory=list)
    changed: list[date | None] = field(default_factory=list)
    xs: list[float] = field(default_factory=list)
    ys: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.codes)

    def add(self, code: tuple[str, str], xs, ys, owner: str, maintainer: str, kind: str,
            rng: np.random.Generator) -> None:
        n = len(xs)
        status = rng.choice(len(_STATUSES), size=n, p=_STATUS_P[kind])
        survey = rng.integers(0, 480, size=n)
        later = rng.integers(20, 150, size=n)
        for k in range(n):
            self.codes.append(code)
            self.statuses.append(_STATUSES[status[k]])
            self.owners.append(owner)
            self.maintainers.append(maintainer)
            surveyed = _SURVEY_START + timedelta(days=int(survey[k]))
            self.surveyed.append(surveyed)
            # A damaged or missing component was found so at a later inspection.
            self.changed.append(None if status[k] == 0 else surveyed + timedelta(days=int(later[k])))
        self.xs.extend(np.asarray(xs, dtype=float).tolist())
        self.ys.extend(np.asarray(ys, dtype=float).tolist())


def _along(length: float, spacing: tuple[float, float], first: float, rng: np.random.Generator,
           end_gap: float) -> np.ndarray:
    """Positions from ``first`` on, ``spacing`` apart, up to ``length - end_gap``."""
    n = int(length / spacing[0]) + 2
    s = first + np.concatenate([[0.0], np.cumsum(rng.uniform(*spacing, n))])
    return s[s <= length - end_gap]


def build_components(network: RoadNetwork, extent: BaseGeometry, pipes: PipePlan, seed: int) -> ComponentPlan:
    """Covers along each pipeline (one at its start, then every 40–60 m), lights and bins along roads.

    Lights (both sides, every 30–35 m) and bins (both sides, every 80–100 m) that would
    stand inside a crossing road are left out, as are points outside ``extent``.

    Examples
    --------
    >>> from app.demo.roads import build_roads
    >>> from app.demo.pipelines import build_pipelines
    >>> from shapely.geometry import box
    >>> net = build_roads(4547, seed=1)
    >>> c = net.cbd_centre
    >>> ext = box(c.x - 600, c.y - 300, c.x + 600, c.y + 300)
    >>> plan = build_components(net, ext, build_pipelines(net, ext, seed=1), seed=1)
    >>> sorted({code for code, _ in plan.codes})[:3], STREETLIGHT in plan.codes, BIN in plan.codes
    (['01001', '01002', '01003'], True, True)
    """
    plan = ComponentPlan()
    rng = np.random.default_rng([seed, 40])
    geoms = np.array(pipes.geoms, dtype=object)
    for key, code in COVER_CODES.items():
        ix = [k for k, r in enumerate(pipes.rows) if (r["class_abbr"], r["subclass_abbr"]) == key]
        if not ix:
            continue
        lines, owners, at = [], [], []
        for k in ix:
            s = _along(geoms[k].length, COVER_SPACING_M, 0.0, rng, end_gap=10.0)
            lines.extend([k] * len(s))
            at.append(s)
            owners.extend([pipes.rows[k]["owner"]] * len(s))
        points = shapely.line_interpolate_point(geoms[lines], np.concatenate(at))
        xy = shapely.get_coordinates(points)
        # Each cover belongs to its pipeline's owner; add per owner to keep one call per group.
        owner_arr = np.array(owners, dtype=object)
        for owner in sorted(set(owners)):
            m = owner_arr == owner
            plan.add(code, xy[m, 0], xy[m, 1], owner, owner, "cover", rng)

    road_polys = np.array(network.polygons, dtype=object)
    tree = shapely.STRtree(road_polys)
    lights: list[np.ndarray] = []
    bins: list[np.ndarray] = []
    for i in np.flatnonzero(shapely.intersects(np.array(network.lines, dtype=object), extent)).tolist():
        centre = Centreline(network.lines[i])
        half = network.widths[i] / 2.0
        for side in (1, -1):
            for spacing, inset, out, first in (
                (LIGHT_SPACING_M, _LIGHT_INSET_M[network.classes[i]], lights, rng.uniform(0, 15)),
                (BIN_SPACING_M, _BIN_INSET_M, bins, rng.uniform(0, 50)),
            ):
                s = _along(centre.length, spacing, first, rng, end_gap=0.0)
                xy = centre.point(s, side * (half - inset))
                out.append(_keep_roadside(xy, i, tree, extent))
    light_xy, bin_xy = np.vstack(lights), np.vstack(bins)
    plan.add(STREETLIGHT, light_xy[:, 0], light_xy[:, 1], *_LIGHT_ORG, "light", rng)
    plan.add(BIN, bin_xy[:, 0], bin_xy[:, 1], *_BIN_ORG, "bin", rng)
    return plan


def _keep_roadside(xy: np.ndarray, road: int, tree: shapely.STRtree, extent: BaseGeometry) -> np.ndarray:
    """Points of ``xy`` inside ``extent`` and inside no road polygon but ``road``'s own."""
    if len(xy) == 0:
        return xy.reshape(0, 2)
    points = shapely.points(xy)
    keep = shapely.contains(extent, points)
    p_ix, r_ix = tree.query(points, predicate="intersects")
    keep[p_ix[r_ix != road]] = False
    return xy[keep]
