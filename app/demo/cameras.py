"""Demo video access points: cameras at the major intersections, each looking along a road."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from grid.deviceid import format_device_id

from .roads import RoadNetwork
from .roadside import Centreline, bearing_deg, compass_zh

__all__ = [
    "INDUSTRY_CITY_MANAGEMENT",
    "NETWORK_GOV_EXTRANET",
    "TYPE_IPC",
    "CameraPlan",
    "build_cameras",
    "device_id",
    "stream_url",
]

#: GB/T 28181 code segments of a city-management IPC on the e-government extranet.
INDUSTRY_CITY_MANAGEMENT = "08"
TYPE_IPC = "132"
NETWORK_GOV_EXTRANET = "6"
#: Placeholder streaming host: ``.invalid`` is reserved (RFC 6761) and never resolves.
STREAM_BASE = "https://video.example.invalid/live/"
_MAJOR = ("arterial", "ring")
#: An arm must run at least this far beyond the crossing road for a camera to look along it.
_MIN_ARM_M = 10.0
_STATUSES = ("online", "offline", "fault")
_STATUS_P = (0.92, 0.05, 0.03)
#: GB/T 28181 PTZType: 1 dome, 3 fixed bullet.
PTZ_DOME, PTZ_BULLET = 1, 3


def device_id(district_code: str, serial: int) -> str:
    """The 20-digit GB/T 28181 id of the district's ``serial``-th city-management IPC.

    Centre code = district code + ``00``; industry 08, type 132 (IPC), network 6.

    Examples
    --------
    >>> device_id("410199", 12)
    '41019900081326000012'
    """
    return format_device_id(district_code, serial, industry=INDUSTRY_CITY_MANAGEMENT, type=TYPE_IPC,
                            network=NETWORK_GOV_EXTRANET)


def stream_url(device: str) -> str:
    """Placeholder HLS address of a camera (not a real server).

    Examples
    --------
    >>> stream_url("41019900081326000012")
    'https://video.example.invalid/live/41019900081326000012.m3u8'
    """
    return f"{STREAM_BASE}{device}.m3u8"


@dataclass
class CameraPlan:
    """Generated cameras: one dict of attributes per camera, with its position and FOV."""

    rows: list[dict] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)


def _arms(p: Point, roads: list[int], network: RoadNetwork, centres: dict[int, Centreline]):
    """(road, unit direction, own half width, crossing half width, arm length) of each road leaving ``p``."""
    out = []
    halves = {j: network.widths[j] / 2.0 for j in roads}
    for j in roads:
        c = centres[j]
        s = c.project(p.x, p.y)
        cross = max((halves[k] for k in roads if k != j), default=0.0)
        for sign, room in ((1.0, c.length - s), (-1.0, s)):
            if c.closed:
                room = c.length / 2.0
            if room < cross + _MIN_ARM_M:
                continue
            u = sign * c.direction(np.array(s))
            out.append((j, u, halves[j], cross, room))
    return out


def build_cameras(network: RoadNetwork, extent: BaseGeometry, district_code: str, seed: int) -> CameraPlan:
    """1–4 cameras at every major intersection inside ``extent``, each looking along one road.

    An intersection is major when an arterial or ring road meets it, or two secondary
    roads cross there. Each camera stands on the right-hand kerb of the road it watches,
    just past the crossing road, with azimuth = that road's bearing away from the
    junction; about one in eight is a PTZ dome (360°). All are marked ``occluded``: the
    loader draws their FOV with the camera service, cut by the demo buildings.

    Examples
    --------
    >>> from app.demo.roads import build_roads
    >>> from shapely.geometry import box
    >>> net = build_roads(4547, seed=1)
    >>> c = net.cbd_centre
    >>> plan = build_cameras(net, box(c.x - 1500, c.y - 1500, c.x + 1500, c.y + 1500), "410199", seed=1)
    >>> len(plan) > 10, plan.rows[0]["device_id"][:14]
    (True, '41019900081326')
    """
    rng = np.random.default_rng([seed, 50])
    lines = np.array(network.lines, dtype=object)
    tree = shapely.STRtree(lines)
    inner = extent.buffer(-5.0)
    centres: dict[int, Centreline] = {}
    plan = CameraPlan()
    for p in network.intersections():
        if not inner.contains(p):
            continue
        roads = sorted(tree.query(p, predicate="dwithin", distance=1.0).tolist())
        classes = [network.classes[j] for j in roads]
        if not (any(c in _MAJOR for c in classes) or classes.count("secondary") >= 2):
            continue
        for j in roads:
            centres.setdefault(j, Centreline(network.lines[j]))
        arms = _arms(p, roads, network, centres)
        if not arms:
            continue
        k = int(rng.integers(1, min(4, len(arms)) + 1))
        for a in sorted(rng.choice(len(arms), size=k, replace=False).tolist()):
            j, u, half, cross, _ = arms[a]
            right = np.array([u[1], -u[0]])
            x, y = np.array([p.x, p.y]) + u * (cross + 3.0) + right * (half - 2.0)
            if not inner.contains(Point(x, y)):
                continue
            azimuth = round(bearing_deg(u[0], u[1]), 1) % 360.0
            dome = rng.random() < 0.12
            hfov = 360.0 if dome else float(rng.integers(50, 91))
            range_m = float(5 * rng.integers(16, 31))
            others = [network.names[o] for o in roads if network.names[o] != network.names[j]]
            junction = f"{network.names[j]}与{others[0]}交叉口" if others else f"{network.names[j]}路口"
            status = _STATUSES[int(rng.choice(3, p=_STATUS_P))]
            plan.rows.append({
                "name": f"{junction}{'球机' if dome else compass_zh(azimuth) + '向'}",
                "address": f"郑东新区{junction}",
                "height_m": float(rng.integers(12, 21)) / 2.0,
                "azimuth_deg": azimuth,
                "hfov_deg": hfov,
                "range_m": range_m,
                "ptz_type": PTZ_DOME if dome else PTZ_BULLET,
                "status": status,
                "occluded": True,
                "x": float(x),
                "y": float(y),
            })
    for n, row in enumerate(plan.rows, start=1):
        row["device_id"] = device_id(district_code, n)
        row["stream_url"] = stream_url(row["device_id"])
    return plan
