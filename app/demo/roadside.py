"""Positions beside a road centreline: parallel lines at a lateral offset, points along them.

Pipelines, street furniture and cameras are laid out along the demo roads at fixed offsets
from the centreline. A :class:`Centreline` keeps the vertices of one road and their mitred
offset directions, so a position "s metres along, d metres to the left" maps to the same
place on every parallel, also around the curved CBD rings.
"""

from __future__ import annotations

import math

import numpy as np
import shapely
from shapely.geometry import LineString

__all__ = ["Centreline", "bearing_deg", "compass_zh"]

_COMPASS_ZH = ("北", "东北", "东", "东南", "南", "西南", "西", "西北")


class Centreline:
    """A road centreline with arc-length parametrisation and mitred parallels.

    Parameters
    ----------
    line : LineString
        The centreline (a closed line is treated as a ring).

    Examples
    --------
    >>> c = Centreline(LineString([(0, 0), (100, 0)]))
    >>> c.length, c.point(25.0, 5.0).tolist()
    (100.0, [25.0, 5.0])
    >>> c.piece(10.0, 30.0, -2.0).tolist()
    [[10.0, -2.0], [30.0, -2.0]]
    """

    def __init__(self, line: LineString):
        xy = np.asarray(shapely.remove_repeated_points(line).coords, dtype=float)[:, :2]
        self.closed = bool(line.is_ring)
        self.xy = xy
        seg = np.diff(xy, axis=0)
        self.seg_len = np.hypot(seg[:, 0], seg[:, 1])
        self.cum = np.concatenate([[0.0], np.cumsum(self.seg_len)])
        self.length = float(self.cum[-1])
        self.unit = seg / self.seg_len[:, None]
        left = np.column_stack([-self.unit[:, 1], self.unit[:, 0]])
        # Mitred offset direction at each vertex: a parallel at distance d keeps every
        # segment exactly d away (the CBD rings are regular polygons, so mitres are mild).
        before = np.vstack([left[-1:] if self.closed else left[:1], left])
        after = np.vstack([left, left[:1] if self.closed else left[-1:]])
        self.miter = (before + after) / (1.0 + (before * after).sum(axis=1))[:, None]

    def _locate(self, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.clip(np.asarray(s, dtype=float), 0.0, self.length)
        k = np.clip(np.searchsorted(self.cum, s, side="right") - 1, 0, len(self.seg_len) - 1)
        t = (s - self.cum[k]) / self.seg_len[k]
        return k, t

    def point(self, s, d=0.0) -> np.ndarray:
        """Point(s) ``s`` metres along, ``d`` metres to the left (negative: right).

        Examples
        --------
        >>> Centreline(LineString([(0, 0), (0, 10)])).point([0.0, 10.0], 1.0).tolist()
        [[-1.0, 0.0], [-1.0, 10.0]]
        """
        k, t = self._locate(s)
        off = self.xy + d * self.miter
        p = off[k] + t[..., None] * (off[k + 1] - off[k])
        return p

    def direction(self, s) -> np.ndarray:
        """Unit tangent(s) at ``s`` (direction of travel along the line)."""
        k, _ = self._locate(s)
        return self.unit[k]

    def piece(self, s0: float, s1: float, d: float = 0.0) -> np.ndarray:
        """Coordinates of the parallel at offset ``d`` between ``s0`` < ``s1``."""
        off = self.xy + d * self.miter
        k0, _ = self._locate(np.array(s0))
        k1, _ = self._locate(np.array(s1))
        inner = off[int(k0) + 1 : int(k1) + 1]
        ends = self.point(np.array([s0, s1]), d)
        return np.vstack([ends[:1], inner, ends[1:]])

    def project(self, x: float, y: float) -> float:
        """Arc length of the point of the line nearest to ``(x, y)``."""
        return float(shapely.line_locate_point(LineString(self.xy), shapely.points(x, y)))


def bearing_deg(dx, dy):
    """Compass bearing of a direction, degrees clockwise from north in [0, 360).

    Examples
    --------
    >>> bearing_deg(1.0, 0.0), bearing_deg(0.0, -1.0), bearing_deg(-1.0, 0.0)
    (90.0, 180.0, 270.0)
    """
    b = np.degrees(np.arctan2(dx, dy)) % 360.0
    return float(b) if np.ndim(b) == 0 else b


def compass_zh(bearing: float) -> str:
    """The eight-point compass name of a bearing, in Chinese.

    Examples
    --------
    >>> compass_zh(3.0), compass_zh(100.0), compass_zh(330.0)
    ('北', '东', '西北')
    """
    return _COMPASS_ZH[int(math.floor((bearing % 360.0) / 45.0 + 0.5)) % 8]
