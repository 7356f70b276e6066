"""City blocks: faces of the road centreline network that tile the demo's extent, with land uses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import LineString, Polygon, box

from .errors import DemoError
from .roads import CBD_INNER_RADIUS_M, CBD_OUTER_RADIUS_M, RoadNetwork
from .sizes import DemoSize

__all__ = ["END_OVERSHOOT_M", "LAND_USES", "MIN_BLOCK_AREA_M2", "Block", "build_blocks", "size_extent"]

#: Faces of the centreline network smaller than this are slivers, merged into a neighbour.
MIN_BLOCK_AREA_M2 = 2000.0
#: Road ends are extended by this much so that a road meant to end on another (equal only
#: up to rounding) crosses it and is noded there; the overshoot is a dangle polygonize drops.
END_OVERSHOOT_M = 1.0
LAND_USES = ("commercial", "residential", "education", "green", "industrial")


@dataclass(frozen=True)
class Block:
    """A city block.

    Parameters
    ----------
    index : int
        Position in the list returned by :func:`build_blocks` (north → south, west → east).
    polygon : Polygon
        The block in the storage CRS.
    land_use : str
        One of :data:`LAND_USES`.
    area_class : int
        1 for the CBD and commercial land (一类区域), 2 elsewhere (二类区域).

    Examples
    --------
    >>> Block(0, box(0, 0, 100, 100), "green", 2).polygon.area
    10000.0
    """

    index: int
    polygon: Polygon
    land_use: str
    area_class: int


def size_extent(roads: RoadNetwork, size: DemoSize) -> Polygon:
    """The part of the district a size covers: a rectangle anchored on the CBD.

    It starts at the district's west edge (the CBD lies near it) and is centred on the
    CBD north–south, moved inside the district where needed.

    Examples
    --------
    >>> from app.demo.roads import build_roads
    >>> from app.demo.sizes import SIZES
    >>> net = build_roads(4547, seed=1)
    >>> round(size_extent(net, SIZES["small"]).area / 1e6, 1)
    9.0
    """
    if size.width_m is None or size.height_m is None:
        return roads.extent
    minx, miny, maxx, maxy = roads.extent.bounds
    width, height = min(size.width_m, maxx - minx), min(size.height_m, maxy - miny)
    y0 = roads.cbd_centre.y - height / 2.0
    y0 = min(max(y0, miny), maxy - height)
    return box(minx, y0, minx + width, y0 + height)


def build_blocks(roads: RoadNetwork, extent: Polygon, seed: int) -> list[Block]:
    """Blocks = faces of the road centrelines and the extent's edge, tiling ``extent``.

    Cells of a unit grid are drawn along streets with their edges on road centrelines,
    so that the grid covers the whole district, roads included (full coverage, no gaps
    无缝拼接).  The centrelines are noded with the extent's boundary and polygonized;
    dead-end roads are dangles and drop out.  Faces under :data:`MIN_BLOCK_AREA_M2` are
    merged into the neighbour they share the longest edge with (dropping them would
    leave a gap), so the blocks tile ``extent`` exactly: no gaps, no overlaps.

    Land use follows zones of the whole district so that a block has the same use in
    every size: the lake inside the inner ring is green, the CBD commercial, the east
    the Longzihu university area (education), the north the Longhu area (residential
    and green), the south-east industrial; elsewhere mostly residential.

    Raises
    ------
    DemoError
        When the extent encloses no face, or only one smaller than :data:`MIN_BLOCK_AREA_M2`.

    Examples
    --------
    >>> from app.demo.roads import build_roads
    >>> from app.demo.sizes import SIZES
    >>> net = build_roads(4547, seed=1)
    >>> extent = size_extent(net, SIZES["small"])
    >>> blocks = build_blocks(net, extent, seed=1)
    >>> min(b.polygon.area for b in blocks) >= MIN_BLOCK_AREA_M2
    True
    >>> abs(sum(b.polygon.area for b in blocks) - extent.area) < 1e-6 * extent.area
    True
    """
    faces = _faces(roads, extent)
    if not faces:
        raise DemoError(f"extent {extent.bounds}: the roads and its edge enclose no face")
    faces = _merge_small(faces, extent)
    faces.sort(key=lambda p: (-round(p.centroid.y), round(p.centroid.x)))
    return [Block(i, p, *_land_use(p, roads, seed)) for i, p in enumerate(faces)]


def _faces(roads: RoadNetwork, extent: Polygon) -> list[Polygon]:
    """Faces of the road centrelines noded with the extent's boundary, inside the extent."""
    near = shapely.STRtree(roads.lines).query(extent, predicate="intersects")
    lines = [_overshoot(roads.lines[i]) for i in sorted(near.tolist())]
    # union_all nodes the lines: every crossing becomes a vertex of both.
    noded = shapely.union_all([*lines, extent.exterior])
    faces = shapely.get_parts(shapely.polygonize(shapely.get_parts(noded)))
    # Roads run on past a smaller extent; their faces outside it are not ours.
    inside = shapely.contains(extent, shapely.point_on_surface(faces))
    return [f for f in faces[inside].tolist() if isinstance(f, Polygon)]


def _overshoot(line: LineString) -> LineString:
    """``line`` with both ends extended by :data:`END_OVERSHOOT_M` (closed rings unchanged)."""
    if line.is_ring:
        return line
    xy = np.asarray(shapely.remove_repeated_points(line).coords)
    head, tail = xy[0] - xy[1], xy[-1] - xy[-2]
    head *= END_OVERSHOOT_M / np.hypot(*head)
    tail *= END_OVERSHOOT_M / np.hypot(*tail)
    return LineString(np.vstack([xy[0] + head, xy, xy[-1] + tail]))


def _merge_small(faces: list[Polygon], extent: Polygon) -> list[Polygon]:
    """Merge faces under the minimum area into the neighbour sharing the longest edge.

    Polygonized faces share their edges vertex for vertex, so the union is exact.
    """
    faces = list(faces)
    while True:
        small = [i for i, f in enumerate(faces) if f.area < MIN_BLOCK_AREA_M2]
        if not small:
            return faces
        if len(faces) == 1:
            raise DemoError(
                f"extent {extent.bounds}: one block of {faces[0].area:.0f} m², "
                f"expected at least {MIN_BLOCK_AREA_M2:.0f} m²"
            )
        # Smallest first, ties by position, so that the result does not depend on order.
        i = min(small, key=lambda k: (faces[k].area, faces[k].centroid.x, faces[k].centroid.y))
        tree = shapely.STRtree(faces)
        others = [j for j in tree.query(faces[i], predicate="intersects").tolist() if j != i]
        shared = [shapely.intersection(faces[i].boundary, faces[j].boundary).length for j in others]
        if not others or max(shared) <= 0.0:
            raise DemoError(f"block of {faces[i].area:.0f} m² at {faces[i].centroid.coords[0]}: no neighbour")
        j = others[int(np.argmax(shared))]
        merged = shapely.union(faces[i], faces[j])
        if not isinstance(merged, Polygon):
            raise DemoError(f"merging block {i} into {j}: got a {merged.geom_type}, expected a Polygon")
        faces[j] = merged
        del faces[i]


def _land_use(block: Polygon, roads: RoadNetwork, seed: int) -> tuple[str, int]:
    c = block.centroid
    minx, miny, maxx, maxy = roads.extent.bounds
    fx, fy = (c.x - minx) / (maxx - minx), (c.y - miny) / (maxy - miny)
    d = c.distance(roads.cbd_centre)
    # Seeded by position, so that a block's use does not depend on the demo size.
    u = np.random.default_rng([seed, 2, int(c.x), int(c.y)]).random()
    if d < CBD_INNER_RADIUS_M:
        use = "green"  # Ruyi Lake 如意湖
    elif d < CBD_OUTER_RADIUS_M:
        use = "commercial"
    elif d < 1800.0:
        use = "commercial" if u < 0.55 else "residential"
    elif fx > 0.72 and 0.25 < fy < 0.8:
        use = "education" if u < 0.7 else ("green" if u < 0.8 else "residential")
    elif fy > 0.78:
        use = "green" if u < 0.3 else "residential"
    elif fy < 0.22 and fx > 0.55:
        use = "industrial" if u < 0.6 else "residential"
    else:
        use = "commercial" if u < 0.12 else ("green" if u < 0.22 else "residential")
    area_class = 1 if use == "commercial" or d < CBD_OUTER_RADIUS_M else 2
    return use, area_class

