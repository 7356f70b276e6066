"""Split street blocks into cells of about a target area with straight cuts."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import shapely
from shapely.geometry import Polygon

from grid.errors import InvalidParameterError

__all__ = ["split_block", "cells_from_blocks"]

# Relative area tolerance of the bisection that places each cut.
_CUT_TOL = 1e-4
# Maximum relative shift of a cut from the area-balancing position and
# maximum rotation (radians) of its direction, when jitter is on.
_JITTER_SHIFT = 0.08
_JITTER_ANGLE = math.radians(6)


def split_block(
    block: Polygon, target_area_m2: float = 10_000.0, rng_seed: int | None = None
) -> list[Polygon]:
    """Split a block into pieces of about `target_area_m2` that tile it exactly.

    The block is cut recursively by straight lines perpendicular to the long
    side of its minimum rotated rectangle. A piece meant to hold ``n`` cells is
    cut into ``n // 2`` and ``n - n // 2`` cells' worth of area, so pieces end
    close to the target (within about [0.5, 2] × target where the block's
    shape allows). A block under 1.5 × target stays whole. Both sides of a cut
    are computed from the same half-plane (intersection and difference), so
    the pieces share their cut edges exactly: no gaps, no overlaps.

    Parameters
    ----------
    block : Polygon
        A valid polygon in metres.
    target_area_m2 : float
        Wanted cell area.
    rng_seed : int, optional
        If given, cut positions and directions are jittered slightly (same
        seed, same result) so that cells look less regular.

    Returns
    -------
    list of Polygon

    Raises
    ------
    InvalidParameterError
        If `block` is not a valid, non-empty Polygon or `target_area_m2` is not
        positive.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> pieces = split_block(box(0, 0, 400, 100), 10_000)
    >>> len(pieces), sorted(round(p.area) for p in pieces)
    (4, [10000, 10000, 10000, 10000])
    >>> len(split_block(box(0, 0, 120, 100), 10_000))   # under 1.5 x target
    1
    """
    if not isinstance(block, Polygon) or block.is_empty or not block.is_valid:
        raise InvalidParameterError(f"block must be a valid non-empty Polygon, got {block!r:.80}")
    if not (math.isfinite(target_area_m2) and target_area_m2 > 0):
        raise InvalidParameterError(f"target_area_m2 must be > 0, got {target_area_m2!r}")
    rng = None if rng_seed is None else np.random.default_rng(rng_seed)
    out: list[Polygon] = []
    _split(block, target_area_m2, rng, out)
    return out


def cells_from_blocks(
    blocks: Iterable[Polygon], target_area_m2: float = 10_000.0, seed: int = 0
) -> list[Polygon]:
    """Split every block with :func:`split_block` and concatenate the pieces.

    Block ``k`` is split with a seed derived from ``(seed, k)``, so the result
    is deterministic.

    Parameters
    ----------
    blocks : iterable of Polygon
    target_area_m2 : float
    seed : int

    Returns
    -------
    list of Polygon

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = cells_from_blocks([box(0, 0, 200, 100), box(0, 120, 100, 220)])
    >>> len(cells), round(sum(c.area for c in cells))
    (3, 30000)
    """
    out: list[Polygon] = []
    for k, block in enumerate(blocks):
        out += split_block(block, target_area_m2, rng_seed=_derived_seed(seed, k))
    return out


def _derived_seed(seed: int, k: int) -> int:
    """Return a per-block seed derived from the global seed and block number."""
    return int(np.random.SeedSequence([seed, k]).generate_state(1)[0])


def _split(piece: Polygon, target: float, rng: np.random.Generator | None, out: list[Polygon]) -> None:
    """Recursively cut `piece`, appending finished pieces to `out`."""
    area = piece.area
    n = round(area / target)
    if area < 1.5 * target or n < 2:
        out.append(piece)
        return
    share = (n // 2) / n
    angle = _long_side_angle(piece)
    if rng is not None:
        share = min(max(share * (1 + rng.uniform(-_JITTER_SHIFT, _JITTER_SHIFT)), 0.05), 0.95)
        angle += rng.uniform(-_JITTER_ANGLE, _JITTER_ANGLE)
    first, second = _cut(piece, angle, share)
    for part in (*_polygons(first), *_polygons(second)):
        _split(part, target, rng, out)


def _long_side_angle(piece: Polygon) -> float:
    """Direction (radians) of the long side of the minimum rotated rectangle."""
    rect = shapely.minimum_rotated_rectangle(piece)
    xy = np.asarray(rect.exterior.coords)[:3]
    sides = np.diff(xy, axis=0)
    lengths = np.hypot(sides[:, 0], sides[:, 1])
    dx, dy = sides[int(np.argmax(lengths))]
    return math.atan2(dy, dx)


def _cut(piece: Polygon, angle: float, share: float) -> tuple[shapely.Geometry, shapely.Geometry]:
    """Cut `piece` by a line perpendicular to `angle` leaving `share` of its area behind it."""
    ux, uy = math.cos(angle), math.sin(angle)
    coords = np.asarray(piece.exterior.coords)
    along = coords @ np.array([ux, uy])
    lo, hi = float(along.min()), float(along.max())
    span = hi - lo
    cx, cy = piece.centroid.x, piece.centroid.y
    base = cx * ux + cy * uy
    # Long enough to reach past the piece from any cut position.
    reach = 4 * (span + math.hypot(*(coords.max(axis=0) - coords.min(axis=0))))

    def behind(pos: float) -> Polygon:
        # Half-plane {along <= pos}, as a big rectangle around the piece.
        px, py = ux * (pos - base) + cx, uy * (pos - base) + cy
        nx, ny = -uy, ux
        return Polygon([
            (px + nx * reach, py + ny * reach),
            (px + nx * reach - ux * reach, py + ny * reach - uy * reach),
            (px - nx * reach - ux * reach, py - ny * reach - uy * reach),
            (px - nx * reach, py - ny * reach),
        ])

    goal = share * piece.area
    a, b = lo, hi
    for _ in range(60):
        mid = 0.5 * (a + b)
        got = shapely.intersection(piece, behind(mid)).area
        if abs(got - goal) <= _CUT_TOL * goal:
            break
        if got < goal:
            a = mid
        else:
            b = mid
    half = behind(mid)
    return shapely.intersection(piece, half), shapely.difference(piece, half)


def _polygons(geom: shapely.Geometry) -> list[Polygon]:
    """Return the non-empty polygon parts of a cut result."""
    return [g for g in shapely.get_parts(geom) if isinstance(g, Polygon) and not g.is_empty and g.area > 0]
