"""CellLocator: exact and fast point-to-cell lookup for arbitrary cell polygons."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict

import numpy as np
import shapely
from numpy.typing import ArrayLike

from grid.cells import CellSet
from grid.errors import GridError, InvalidParameterError, OutsideGridError

__all__ = ["CellLocator"]

LOGGER = logging.getLogger(__name__)

# Upper bound on raster pixels when the pixel size is chosen automatically
# (8 Mi pixels = 32 MiB of int32 labels).
MAX_PIXELS = 1 << 23
# Default pixel edge as a fraction of the median cell's side.
_PIXELS_PER_CELL_SIDE = 20.0
# Safety margin, in pixel units, by which each pixel square is grown when it
# is classified. It dwarfs the rounding error of (x - x0) / p (about 1e-10
# pixel for projected coordinates), so a point that floor() puts in a pixel is
# always inside that pixel's grown square.
_EPS = 1e-7
# Relative error bound for the floating-point orientation test; Shewchuk's
# bound for orient2d is 3.3e-16, this leaves a wide margin. Points within the
# bound of a cell edge are decided by the exact shapely predicates instead.
_ORIENT_ERR = 1e-12
_CACHE_SIZE = 4


class CellLocator:
    """Answer "which cell is this point in?" exactly, for many points at once.

    Building the locator rasterises the cell set once. Each pixel of the
    raster is either *pure* (its closed square, slightly grown, lies inside
    exactly one cell's interior and touches no other cell), *outside* (it
    touches no cell), or *mixed* (it touches a cell boundary). Points in pure
    or outside pixels are answered by one array lookup. A mixed pixel crossed
    by one straight edge is answered by the side of that edge; other mixed
    pixels keep a short list of candidate cells tested with shapely's exact
    predicates.

    **Boundary rule.** A point in the interior of a cell belongs to that cell.
    A point on a boundary (an edge or vertex shared by cells, or the outer
    edge of the set) belongs to the cell with the lowest code among the cells
    that cover it (shapely ``covers``). If cells overlap, a point inside
    several interiors belongs to the lowest code among them. :meth:`locate`
    and :meth:`locate_many` follow this same rule through independent code
    paths (an STRtree query and the raster).

    Parameters
    ----------
    cell_set : CellSet
        The cells; coordinates in metres of one projected CRS.
    pixel_size : float, optional
        Raster pixel edge in the cell set's units. By default the median
        cell's side divided by 20 (5 m for 1 ha cells), enlarged if the raster
        would exceed ``MAX_PIXELS`` pixels. Smaller pixels mean fewer points
        needing an exact test but a larger, slower-to-build raster.

    Raises
    ------
    TypeError
        If `cell_set` is not a CellSet.
    InvalidParameterError
        If `pixel_size` is not a positive finite number or would make a raster
        of more than ``MAX_PIXELS`` pixels.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = CellSet.from_polygons([
    ...     ("410105001001001", box(0, 0, 100, 100)),
    ...     ("410105001001002", box(100, 0, 200, 100)),
    ... ])
    >>> loc = CellLocator(cells)
    >>> loc.locate(150, 50)
    '410105001001002'
    >>> loc.locate(100, 50)   # shared edge: lowest code wins
    '410105001001001'
    >>> loc.locate_many([150, 100, 250], [50, 50, 50]).tolist()
    [1, 0, -1]
    >>> loc.locate_codes([150, 250], [50, 50]).tolist()
    ['410105001001002', None]
    """

    _cache: OrderedDict[tuple[str, float | None], CellLocator] = OrderedDict()
    _cache_lock = threading.Lock()

    def __init__(self, cell_set: CellSet, pixel_size: float | None = None) -> None:
        if not isinstance(cell_set, CellSet):
            raise TypeError(f"cell_set must be a CellSet, got {type(cell_set).__name__}")
        started = time.perf_counter()
        self.cell_set = cell_set
        self._geoms = cell_set.geoms
        self._tree = shapely.STRtree(self._geoms)
        self._build_raster(pixel_size)
        self.build_seconds = time.perf_counter() - started
        LOGGER.debug(
            "built CellLocator for %d cells: %d x %d pixels of %.3g, %d mixed, %.2f s",
            len(cell_set), self.shape[1], self.shape[0], self.pixel_size,
            self.n_mixed_pixels, self.build_seconds,
        )

    @classmethod
    def for_cell_set(cls, cell_set: CellSet, pixel_size: float | None = None) -> CellLocator:
        """Return a cached locator for this cell set, building it on first use.

        The cache key is the cell set's :attr:`CellSet.fingerprint` (codes and
        geometry WKB), so an equal cell set loaded again reuses the locator.
        The few most recently used locators are kept.

        Parameters
        ----------
        cell_set : CellSet
        pixel_size : float, optional
            As for :class:`CellLocator`.

        Returns
        -------
        CellLocator

        Examples
        --------
        >>> from shapely.geometry import box
        >>> a = CellSet.from_polygons([("410105001001001", box(0, 0, 100, 100))])
        >>> b = CellSet.from_polygons([("410105001001001", box(0, 0, 100, 100))])
        >>> CellLocator.for_cell_set(a) is CellLocator.for_cell_set(b)
        True
        """
        if not isinstance(cell_set, CellSet):
            raise TypeError(f"cell_set must be a CellSet, got {type(cell_set).__name__}")
        key = (cell_set.fingerprint, pixel_size)
        with cls._cache_lock:
            found = cls._cache.get(key)
            if found is not None:
                cls._cache.move_to_end(key)
                return found
        locator = cls(cell_set, pixel_size)
        with cls._cache_lock:
            cls._cache[key] = locator
            while len(cls._cache) > _CACHE_SIZE:
                cls._cache.popitem(last=False)
        return locator

    # ------------------------------------------------------------------ queries

    def locate(self, x: float, y: float) -> str:
        """Return the code of the cell containing point ``(x, y)``.

        Uses an STRtree query and shapely predicates (not the raster), with the
        boundary rule described in the class docstring.

        Parameters
        ----------
        x, y : float
            Coordinates in the cell set's CRS.

        Returns
        -------
        str
            15-digit cell code.

        Raises
        ------
        OutsideGridError
            If no cell covers the point (also for NaN coordinates).

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 100, 100))])
        >>> CellLocator(cells).locate(300, 5)
        Traceback (most recent call last):
        ...
        grid.errors.OutsideGridError: point (300.0, 5.0) is outside all 1 cells (bounds (0.0, 0.0, 100.0, 100.0))
        """
        index = self._locate_index(float(x), float(y))
        if index < 0:
            raise OutsideGridError(
                f"point ({float(x)!r}, {float(y)!r}) is outside all {len(self.cell_set)} cells "
                f"(bounds {self.cell_set.bounds})"
            )
        return self.cell_set.codes[index]

    def locate_many(self, xs: ArrayLike, ys: ArrayLike) -> np.ndarray:
        """Return the cell index of each point, or -1 for points outside every cell.

        Parameters
        ----------
        xs, ys : array_like of float
            Coordinates of the same shape.

        Returns
        -------
        numpy.ndarray of int64
            Index into ``cell_set.codes`` (same shape as `xs`); -1 outside,
            also for NaN coordinates.

        Raises
        ------
        InvalidParameterError
            If `xs` and `ys` have different shapes.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 100, 100))])
        >>> CellLocator(cells).locate_many([[50, 150]], [[50, 50]])
        array([[ 0, -1]])
        """
        xs_arr = np.asarray(xs, dtype=np.float64)
        ys_arr = np.asarray(ys, dtype=np.float64)
        if xs_arr.shape != ys_arr.shape:
            raise InvalidParameterError(
                f"xs and ys must have the same shape, got {xs_arr.shape} and {ys_arr.shape}"
            )
        shape = xs_arr.shape
        x = xs_arr.ravel()
        y = ys_arr.ravel()
        out = np.full(x.shape, -1, dtype=np.int64)
        fi = np.floor((x - self._x0) / self.pixel_size)
        fj = np.floor((y - self._y0) / self.pixel_size)
        # NaN fails every comparison, so it stays -1.
        inside = (fi >= 0) & (fi < self._nx) & (fj >= 0) & (fj < self._ny)
        pos = np.flatnonzero(inside)
        flat = fj[pos].astype(np.int64) * self._nx + fi[pos].astype(np.int64)
        values = self._raster[flat]
        out[pos] = values
        mixed = values <= -2
        if mixed.any():
            mpos = pos[mixed]
            out[mpos] = self._resolve_mixed(x[mpos], y[mpos], -2 - values[mixed])
        return out.reshape(shape)

    def locate_codes(self, xs: ArrayLike, ys: ArrayLike) -> np.ndarray:
        """Return the cell code of each point, or None outside every cell.

        Parameters
        ----------
        xs, ys : array_like of float

        Returns
        -------
        numpy.ndarray of object
            Codes (str) or None, same shape as `xs`.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 100, 100))])
        >>> CellLocator(cells).locate_codes([1.0, -1.0], [1.0, 1.0]).tolist()
        ['410105001001001', None]
        """
        index = self.locate_many(xs, ys)
        lookup = np.empty(len(self.cell_set) + 1, dtype=object)
        lookup[:-1] = self.cell_set.codes
        lookup[-1] = None
        return lookup[index]

    @property
    def nbytes(self) -> int:
        """Memory held by the lookup arrays, in bytes (geometries not included)."""
        arrays = (
            self._raster, self._mixed_seg, self._cand, self._cand_ptr, self._seg_x1,
            self._seg_y1, self._seg_x2, self._seg_y2, self._seg_left, self._seg_right,
        )
        return sum(a.nbytes for a in arrays)

    @property
    def mixed_fraction(self) -> float:
        """Share of raster pixels that are mixed (need more than a lookup)."""
        return self.n_mixed_pixels / float(self._nx * self._ny)

    # ---------------------------------------------------------------- internals

    def _locate_index(self, x: float, y: float) -> int:
        """Single-point path: STRtree candidates plus the boundary rule."""
        if not (math.isfinite(x) and math.isfinite(y)):
            return -1
        cands = np.sort(self._tree.query(shapely.Point(x, y), predicate="intersects"))
        if cands.size == 0:
            return -1
        interior = shapely.contains_xy(self._geoms[cands], x, y)
        if interior.any():
            return int(cands[interior][0])
        return int(cands[0])

    def _resolve_mixed(self, x: np.ndarray, y: np.ndarray, mid: np.ndarray) -> np.ndarray:
        """Answer points that fall in mixed pixels ``mid``."""
        result = np.full(x.shape, -1, dtype=np.int64)
        seg = self._mixed_seg[mid]
        simple = np.flatnonzero(seg >= 0)
        unsure = np.empty(0, dtype=np.int64)
        if simple.size:
            s = seg[simple]
            ax, ay = self._seg_x1[s], self._seg_y1[s]
            dx, dy = self._seg_x2[s] - ax, self._seg_y2[s] - ay
            px, py = x[simple] - ax, y[simple] - ay
            left_term = dx * py
            right_term = dy * px
            det = left_term - right_term
            bound = _ORIENT_ERR * (np.abs(left_term) + np.abs(right_term))
            left = det > bound
            right = det < -bound
            result[simple[left]] = self._seg_left[s[left]]
            result[simple[right]] = self._seg_right[s[right]]
            unsure = simple[~(left | right)]
        general = np.flatnonzero(seg < 0)
        # Candidate lists, per point, for general pixels and for points too
        # close to an edge for the floating-point side test.
        g_mid = mid[general]
        g_count = self._cand_ptr[g_mid + 1] - self._cand_ptr[g_mid]
        g_cand = self._cand[_ranges(self._cand_ptr[g_mid], g_count)]
        u_seg = seg[unsure]
        u_pair = np.stack([self._seg_left[u_seg], self._seg_right[u_seg]], axis=1)
        u_pair.sort(axis=1)
        u_keep = u_pair >= 0
        points = np.concatenate([general, unsure])
        counts = np.concatenate([g_count, u_keep.sum(axis=1)])
        cands = np.concatenate([g_cand, u_pair[u_keep]])
        if points.size:
            result[points] = _first_covering(self._geoms, x[points], y[points], counts, cands)
        return result

    def _build_raster(self, pixel_size: float | None) -> None:
        """Classify pixels and build the lookup arrays (see class docstring)."""
        xmin, ymin, xmax, ymax = self.cell_set.bounds
        width, height = xmax - xmin, ymax - ymin
        if pixel_size is None:
            side = math.sqrt(float(np.median(self.cell_set.area_m2)))
            p = side / _PIXELS_PER_CELL_SIDE
            while (math.floor(width / p) + 1) * (math.floor(height / p) + 1) > MAX_PIXELS:
                p *= 1.05
        else:
            p = float(pixel_size)
            if not (math.isfinite(p) and p > 0):
                raise InvalidParameterError(f"pixel_size must be a positive number, got {pixel_size!r}")
            n = (math.floor(width / p) + 1) * (math.floor(height / p) + 1)
            if n > MAX_PIXELS:
                raise InvalidParameterError(
                    f"pixel_size {p!r} gives {n} pixels over bounds {self.cell_set.bounds}; "
                    f"at most {MAX_PIXELS} allowed"
                )
        self.pixel_size = p
        self._x0, self._y0 = xmin, ymin
        # Same arithmetic as the queries, so the extreme bound falls inside.
        self._nx = int(math.floor((xmax - xmin) / p)) + 1
        self._ny = int(math.floor((ymax - ymin) / p)) + 1
        self.shape = (self._ny, self._nx)

        edges = _ring_edges(self._geoms)
        segs = _segment_table(edges)
        self._seg_x1, self._seg_y1, self._seg_x2, self._seg_y2 = (
            np.ascontiguousarray(segs["coords"][:, k]) for k in range(4)
        )
        self._seg_left, self._seg_right = segs["left"], segs["right"]

        raster = self._centre_labels(edges)
        pix, pix_seg = self._touched_pixels(segs["coords"])

        # Mixed pixels: every pixel touched by a segment.
        starts = np.flatnonzero(np.r_[True, pix[1:] != pix[:-1]])
        mixed_pix = pix[starts]
        n_seg_in_pix = np.diff(np.r_[starts, pix.size])
        first_seg = pix_seg[starts]
        single = (n_seg_in_pix == 1) & segs["simple"][first_seg]
        mixed_id = np.repeat(np.arange(mixed_pix.size), n_seg_in_pix)

        # Candidate cells of general mixed pixels: every cell owning a segment
        # that touches the pixel.
        general_pair = ~single[mixed_id]
        g_mid = mixed_id[general_pair]
        g_seg = pix_seg[general_pair]
        occ_count = segs["occ_ptr"][g_seg + 1] - segs["occ_ptr"][g_seg]
        occ = segs["occ_order"][_ranges(segs["occ_ptr"][g_seg], occ_count)]
        cand_mid = np.repeat(g_mid, occ_count)
        cand_cell = edges["cell"][occ]

        overlapping = not shapely.coverage_is_valid(self._geoms) and _has_overlaps(
            self._geoms, self._tree
        )
        if overlapping:
            # A mixed pixel may lie wholly inside a cell that overlaps the
            # cells whose edges cross it; such a cell covers the pixel centre.
            LOGGER.warning("cell set has overlapping cells; locator uses slower exact tests")
            centre_x = self._x0 + ((mixed_pix % self._nx) + 0.5) * p
            centre_y = self._y0 + ((mixed_pix // self._nx) + 0.5) * p
            q_mid, q_cell = self._tree.query(shapely.points(centre_x, centre_y), predicate="intersects")
            extra = np.zeros(mixed_pix.size, dtype=bool)
            # Boundary cells of simple pixels are the segment's sides.
            side_cells = np.stack(
                [segs["left"][first_seg[q_mid]], segs["right"][first_seg[q_mid]]], axis=1
            )
            extra[q_mid[~(side_cells == q_cell[:, None]).any(axis=1)]] = True
            single &= ~extra
            # Simple pixels turned general need their side cells as candidates.
            turned = np.flatnonzero(extra & (n_seg_in_pix == 1))
            sides = np.concatenate([segs["left"][first_seg[turned]], segs["right"][first_seg[turned]]])
            cand_mid = np.concatenate([cand_mid, q_mid, np.tile(turned, 2)])
            cand_cell = np.concatenate([cand_cell, q_cell, sides])
            keep = (cand_cell >= 0) & ~single[cand_mid]
            cand_mid, cand_cell = cand_mid[keep], cand_cell[keep]

        key = _sorted_unique(cand_mid.astype(np.int64) * len(self._geoms) + cand_cell)
        cand_mid = key // len(self._geoms)
        self._cand = (key % len(self._geoms)).astype(np.int32)
        self._cand_ptr = np.zeros(mixed_pix.size + 1, dtype=np.int64)
        np.cumsum(np.bincount(cand_mid, minlength=mixed_pix.size), out=self._cand_ptr[1:])
        self._mixed_seg = np.where(single, first_seg, -1).astype(np.int32)

        raster[mixed_pix] = -2 - np.arange(mixed_pix.size, dtype=np.int32)
        self._raster = raster
        self.n_mixed_pixels = int(mixed_pix.size)
        self.n_general_pixels = int((~single).sum())

    def _centre_labels(self, edges: dict[str, np.ndarray]) -> np.ndarray:
        """Label each pixel by the cells covering its centre (even-odd scanline).

        Returns a flat int32 raster: the cell index where exactly one cell
        covers the centre, the lowest covering index where several do (only
        with overlapping cells), and -1 where none does. Values are only
        trusted for pixels that no boundary touches; the others become mixed.
        """
        p, nx, ny = self.pixel_size, self._nx, self._ny
        ua = (edges["x1"] - self._x0) / p
        va = (edges["y1"] - self._y0) / p
        ub = (edges["x2"] - self._x0) / p
        vb = (edges["y2"] - self._y0) / p
        lo, hi = np.minimum(va, vb), np.maximum(va, vb)
        # Rows j whose centre line v = j + 0.5 lies in [lo, hi); the half-open
        # rule counts a vertex on the line exactly once and skips horizontals.
        first = np.ceil(lo - 0.5).astype(np.int64)
        count = np.maximum(np.ceil(hi - 0.5).astype(np.int64) - first, 0)
        e = np.repeat(np.arange(ua.size), count)
        row = first[e] + _offsets(count)
        vc = row + 0.5
        uc = ua[e] + (vc - va[e]) * (ub[e] - ua[e]) / (vb[e] - va[e])
        cell = edges["cell"][e]
        order = np.lexsort((uc, row, cell))
        uc, row, cell = uc[order], row[order], cell[order]
        # Each (cell, row) group has an even number of crossings (closed
        # rings), so pairing neighbours in sorted order gives interior spans.
        if uc.size % 2 or not (
            np.array_equal(row[0::2], row[1::2]) and np.array_equal(cell[0::2], cell[1::2])
        ):
            raise GridError("internal error: odd ring crossing count while rasterising cells")
        start_u, end_u = uc[0::2], uc[1::2]
        row, cell = row[0::2], cell[0::2]
        c0 = np.clip(np.ceil(start_u - 0.5), 0, nx).astype(np.int64)
        c1 = np.clip(np.ceil(end_u - 0.5), 0, nx).astype(np.int64)
        ok = (c1 > c0) & (row >= 0) & (row < ny)
        row, cell, c0, c1 = row[ok], cell[ok], c0[ok], c1[ok]
        width = nx + 1
        count_grid = np.zeros(ny * width, dtype=np.int32)
        np.add.at(count_grid, row * width + c0, 1)
        np.add.at(count_grid, row * width + c1, -1)
        count_grid = np.cumsum(count_grid.reshape(ny, width), axis=1, dtype=np.int32)[:, :nx]
        # Sum of covering indexes; where count is 1 it is the index itself.
        # (int32 wrap-around in overlap areas is harmless: those are fixed below.)
        sum_grid = np.zeros(ny * width, dtype=np.int32)
        np.add.at(sum_grid, row * width + c0, cell.astype(np.int32))
        np.add.at(sum_grid, row * width + c1, -cell.astype(np.int32))
        sum_grid = np.cumsum(sum_grid.reshape(ny, width), axis=1, dtype=np.int32)[:, :nx]
        raster = np.where(count_grid == 1, sum_grid, np.int32(-1)).ravel()
        several = np.flatnonzero(count_grid.ravel() >= 2)
        del count_grid, sum_grid
        if several.size:
            # Overlapping cells: no boundary touches these pixels (else they
            # become mixed), so every covering cell contains the whole pixel.
            cx = self._x0 + ((several % nx) + 0.5) * p
            cy = self._y0 + ((several // nx) + 0.5) * p
            q_pt, q_cell = self._tree.query(shapely.points(cx, cy), predicate="intersects")
            lowest = np.full(several.size, np.iinfo(np.int32).max, dtype=np.int64)
            np.minimum.at(lowest, q_pt, q_cell)
            raster[several] = np.where(lowest < len(self._geoms), lowest, -1)
        return raster.astype(np.int32, copy=False)

    def _touched_pixels(self, coords: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Return sorted (pixel, segment) pairs for pixels whose grown square a segment touches.

        Each segment is cut where it crosses pixel lines. A piece then lies in
        one pixel, and the grown squares it touches are exactly those touched
        at its two ends or its midpoint, so sampling those points is exact.
        """
        p, nx, ny = self.pixel_size, self._nx, self._ny
        u1 = (coords[:, 0] - self._x0) / p
        v1 = (coords[:, 1] - self._y0) / p
        u2 = (coords[:, 2] - self._x0) / p
        v2 = (coords[:, 3] - self._y0) / p
        n_seg = u1.size
        ts = [np.zeros(n_seg), np.ones(n_seg)]
        owners = [np.arange(n_seg), np.arange(n_seg)]
        for a, b in ((u1, u2), (v1, v2)):
            lo, hi = np.minimum(a, b), np.maximum(a, b)
            first = np.floor(lo) + 1
            count = np.maximum(np.ceil(hi) - first, 0).astype(np.int64)
            s = np.repeat(np.arange(n_seg), count)
            k = first[s] + _offsets(count)
            ts.append((k - a[s]) / (b[s] - a[s]))
            owners.append(s)
        t = np.concatenate(ts)
        s = np.concatenate(owners)
        order = np.lexsort((t, s))
        t, s = t[order], s[order]
        same = s[1:] == s[:-1]
        t_mid = 0.5 * (t[:-1][same] + t[1:][same])
        s_mid = s[:-1][same]
        # A crossing strictly inside a segment touches only the pixels of the
        # pieces on either side, unless it is near a pixel corner; so only
        # segment ends and near-corner crossings are sampled besides midpoints.
        su = u1[s] + t * (u2[s] - u1[s])
        sv = v1[s] + t * (v2[s] - v1[s])
        near_u = np.abs(su - np.round(su)) <= 2 * _EPS
        near_v = np.abs(sv - np.round(sv)) <= 2 * _EPS
        end = (t == 0.0) | (t == 1.0) | (near_u & near_v)
        t = np.concatenate([t[end], t_mid])
        s = np.concatenate([s[end], s_mid])
        su = u1[s] + t * (u2[s] - u1[s])
        sv = v1[s] + t * (v2[s] - v1[s])
        c0 = np.floor(su - _EPS).astype(np.int64)
        c1 = np.floor(su + _EPS).astype(np.int64)
        r0 = np.floor(sv - _EPS).astype(np.int64)
        r1 = np.floor(sv + _EPS).astype(np.int64)
        keys = []
        for cols, rows, use in (
            (c0, r0, None),
            (c1, r0, c1 != c0),
            (c0, r1, r1 != r0),
            (c1, r1, (c1 != c0) & (r1 != r0)),
        ):
            if use is not None:
                cols, rows, seg = cols[use], rows[use], s[use]
            else:
                seg = s
            ok = (cols >= 0) & (cols < nx) & (rows >= 0) & (rows < ny)
            keys.append((rows[ok] * nx + cols[ok]) * n_seg + seg[ok])
        key = _sorted_unique(np.concatenate(keys))
        return key // n_seg, key % n_seg


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Return the sorted distinct values (faster than np.unique for large int arrays)."""
    values = np.sort(values)
    if values.size == 0:
        return values
    return values[np.r_[True, values[1:] != values[:-1]]]


def _offsets(count: np.ndarray) -> np.ndarray:
    """Return 0..count[i]-1 for each i, concatenated."""
    total = int(count.sum())
    starts = np.cumsum(count) - count
    return np.arange(total, dtype=np.int64) - np.repeat(starts, count)


def _ranges(start: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Return start[i]..start[i]+count[i]-1 for each i, concatenated."""
    return np.repeat(start, count) + _offsets(count)


def _ring_edges(geoms: np.ndarray) -> dict[str, np.ndarray]:
    """Return every non-degenerate ring edge of every cell with its interior side."""
    parts, part_cell = shapely.get_parts(geoms, return_index=True)
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    is_exterior = np.r_[True, ring_part[1:] != ring_part[:-1]]
    # Interior lies left of a counter-clockwise shell and right of a
    # counter-clockwise hole.
    inside_left = is_exterior == shapely.is_ccw(rings)
    coords, ring_of = shapely.get_coordinates(rings, return_index=True)
    same = ring_of[:-1] == ring_of[1:]
    a, b, ring = coords[:-1][same], coords[1:][same], ring_of[:-1][same]
    keep = (a != b).any(axis=1)
    a, b, ring = a[keep], b[keep], ring[keep]
    return {
        "x1": a[:, 0], "y1": a[:, 1], "x2": b[:, 0], "y2": b[:, 1],
        "cell": part_cell[ring_part[ring]].astype(np.int64),
        "inside_left": inside_left[ring],
    }


def _segment_table(edges: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Merge edge occurrences into undirected segments with a cell on each side."""
    x1, y1, x2, y2 = edges["x1"], edges["y1"], edges["x2"], edges["y2"]
    swap = (x1 > x2) | ((x1 == x2) & (y1 > y2))
    rows = np.stack(
        [np.where(swap, x2, x1), np.where(swap, y2, y1), np.where(swap, x1, x2), np.where(swap, y1, y2)],
        axis=1,
    )
    coords, occ_seg = np.unique(rows, axis=0, return_inverse=True)
    occ_seg = occ_seg.ravel()
    n = coords.shape[0]
    left_side = edges["inside_left"] ^ swap
    cell = edges["cell"]
    n_left = np.bincount(occ_seg[left_side], minlength=n)
    n_right = np.bincount(occ_seg[~left_side], minlength=n)
    left = np.full(n, -1, dtype=np.int64)
    right = np.full(n, -1, dtype=np.int64)
    left[occ_seg[left_side]] = cell[left_side]
    right[occ_seg[~left_side]] = cell[~left_side]
    occ_order = np.argsort(occ_seg, kind="stable")
    occ_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(occ_seg, minlength=n), out=occ_ptr[1:])
    return {
        "coords": coords,
        "left": left,
        "right": right,
        # At most one cell on each side: the side of the edge decides.
        "simple": (n_left <= 1) & (n_right <= 1) & (left != right),
        "occ_order": occ_order,
        "occ_ptr": occ_ptr,
    }


def _has_overlaps(geoms: np.ndarray, tree: shapely.STRtree) -> bool:
    """Return True if the interiors of any two cells intersect."""
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    return bool(shapely.relate_pattern(geoms[i[keep]], geoms[j[keep]], "T********").any())


def _first_covering(
    geoms: np.ndarray, x: np.ndarray, y: np.ndarray, counts: np.ndarray, cands: np.ndarray
) -> np.ndarray:
    """Apply the boundary rule to points with ascending candidate lists.

    Returns, per point, the first candidate whose interior contains it, else
    the first candidate that covers it, else -1.
    """
    result = np.full(x.size, -1, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    for predicate in (shapely.contains_xy, shapely.intersects_xy):
        pending = np.flatnonzero((result < 0) & (counts > 0))
        rank = 0
        while pending.size:
            cell = cands[starts[pending] + rank]
            hit = predicate(geoms[cell], x[pending], y[pending])
            result[pending[hit]] = cell[hit]
            rank += 1
            pending = pending[~hit & (counts[pending] > rank)]
    return result
