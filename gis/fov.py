"""Camera field-of-view sectors in a projected (metric) CRS.

Azimuths are degrees clockwise from grid north, as a compass reads them; in the storage
CRS (a Gauss–Krüger zone) grid north differs from true north by the meridian convergence,
under 0.5° for a district near its zone's central meridian, which is well inside the
accuracy of a surveyed camera bearing.
"""

from __future__ import annotations

import math

import numpy as np
from shapely.geometry import Point, Polygon
from shapely.geometry.base import BaseGeometry

#: Degrees between sector arc vertices: 2° keeps a 200 m arc within 2 cm of the circle.
ARC_STEP_DEG = 2.0


def fov_sector(x: float, y: float, azimuth_deg: float, hfov_deg: float, range_m: float,
               *, step_deg: float = ARC_STEP_DEG) -> Polygon:
    """The field-of-view sector of a camera at ``(x, y)``.

    Parameters
    ----------
    x, y : float
        Camera position in a metric CRS.
    azimuth_deg : float
        Centre of view, degrees clockwise from north, 0–360.
    hfov_deg : float
        Horizontal field of view, degrees in (0, 360]; 360 gives a full circle (a PTZ dome).
    range_m : float
        Viewing distance in metres, > 0.
    step_deg : float, optional
        Angle between arc vertices.

    Returns
    -------
    shapely.geometry.Polygon
        The sector (apex at the camera), or a disc for ``hfov_deg == 360``.

    Raises
    ------
    ValueError
        If an argument is out of range; the message names it.

    Examples
    --------
    >>> s = fov_sector(0, 0, azimuth_deg=90, hfov_deg=60, range_m=100)
    >>> s.contains(Point(50, 0)), s.contains(Point(-50, 0)), s.contains(Point(0, 50))
    (True, False, False)
    >>> round(s.area / (math.pi * 100 ** 2 / 6), 3)  # a sixth of the disc
    1.0
    >>> round(fov_sector(0, 0, 0, 360, 10).area, 0)
    314.0
    """
    if not (math.isfinite(azimuth_deg) and 0 <= azimuth_deg <= 360):
        raise ValueError(f"azimuth_deg {azimuth_deg!r} is outside 0–360")
    if not (math.isfinite(hfov_deg) and 0 < hfov_deg <= 360):
        raise ValueError(f"hfov_deg {hfov_deg!r} is outside (0, 360]")
    if not (math.isfinite(range_m) and range_m > 0):
        raise ValueError(f"range_m {range_m!r} must be a positive number")
    if hfov_deg >= 360:
        return Point(x, y).buffer(range_m, quad_segs=int(90 / step_deg))
    n = max(2, int(math.ceil(hfov_deg / step_deg)) + 1)
    bearings = np.radians(np.linspace(azimuth_deg - hfov_deg / 2, azimuth_deg + hfov_deg / 2, n))
    xs = x + range_m * np.sin(bearings)
    ys = y + range_m * np.cos(bearings)
    return Polygon([(x, y), *zip(xs.tolist(), ys.tolist()), (x, y)])


def occluded_sector(sector: Polygon, x: float, y: float, blockers: list[BaseGeometry],
                    *, shadow_m: float | None = None) -> Polygon:
    """Cut the parts of ``sector`` hidden behind ``blockers`` (building footprints).

    Each blocker casts a shadow away from the camera: the footprint plus the area swept
    when its vertices are pushed radially out to the sector's range. That is the classic
    2-D visibility approximation (exact for convex footprints); a footprint that contains
    the camera (a camera on the building's facade) is ignored, as the camera looks out of it.

    Parameters
    ----------
    sector : shapely.geometry.Polygon
        The unobstructed field of view, apex at ``(x, y)``.
    x, y : float
        Camera position.
    blockers : list of shapely geometries
        Footprints that may block the view.
    shadow_m : float, optional
        How far a shadow reaches; defaults to twice the sector's extent.

    Returns
    -------
    shapely.geometry.Polygon
        The visible part: the connected piece that holds the apex (slivers behind
        buildings are dropped); empty when the view is blocked entirely.

    Examples
    --------
    >>> s = fov_sector(0, 0, 0, 90, 100)
    >>> wall = Polygon([(-20, 40), (20, 40), (20, 45), (-20, 45)])
    >>> v = occluded_sector(s, 0, 0, [wall])
    >>> v.contains(Point(0, 30)), v.contains(Point(0, 80)), v.contains(Point(50, 60))
    (True, False, True)
    >>> round(occluded_sector(s, 0, 0, [Polygon([(-200, 1), (200, 1), (200, 300), (-200, 300)])]).area, 1)
    1.0
    """
    from shapely import MultiPoint, union_all

    camera = Point(x, y)
    reach = shadow_m or 2 * max(camera.distance(Point(p)) for p in sector.exterior.coords)
    shadows = []
    for blocker in blockers:
        if blocker.is_empty or blocker.contains(camera) or not blocker.intersects(sector):
            continue
        for part in getattr(blocker, "geoms", [blocker]):
            coords = np.asarray(part.exterior.coords)
            dx, dy = coords[:, 0] - x, coords[:, 1] - y
            dist = np.hypot(dx, dy)
            dist[dist == 0] = 1e-9
            far = np.column_stack([x + dx / dist * reach, y + dy / dist * reach])
            shadows.append(MultiPoint(np.vstack([coords, far])).convex_hull)
    if not shadows:
        return sector
    visible = sector.difference(union_all(shadows))
    if visible.is_empty:
        return Polygon()  # a wall right in front: the camera sees nothing
    if visible.geom_type == "Polygon":
        return visible
    pieces = [g for g in getattr(visible, "geoms", []) if g.geom_type == "Polygon"]
    near = [g for g in pieces if g.distance(camera) < 1e-6]
    return max(near or pieces, key=lambda g: g.area) if pieces else sector
