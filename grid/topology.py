"""Topology checks of a cell set: overlaps, gaps, slivers, community fit, area norm."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from grid.cells import CellSet

__all__ = ["TopologyIssue", "TopologyReport", "check_topology"]

Severity = Literal["error", "warning"]
# Intersections smaller than this (m²) are floating-point noise, not overlaps.
_OVERLAP_TOL_M2 = 1e-6


@dataclass(frozen=True)
class TopologyIssue:
    """One problem found by :func:`check_topology`.

    Parameters
    ----------
    kind : str
        ``'overlap'``, ``'gap'``, ``'sliver'``, ``'crosses_community'``,
        ``'unknown_community'`` or ``'area_out_of_norm'``.
    severity : {'error', 'warning'}
    codes : tuple of str
        The cells involved (empty for a gap).
    message : str
        Human-readable description naming the cells and numbers.
    location : tuple of float or None
        A point on the problem (x, y), for map display.

    Examples
    --------
    >>> TopologyIssue("gap", "warning", (), "gap of 12.0 m²", (1.0, 2.0)).kind
    'gap'
    """

    kind: str
    severity: Severity
    codes: tuple[str, ...]
    message: str
    location: tuple[float, float] | None


@dataclass
class TopologyReport:
    """The issues found in a cell set, errors first.

    Examples
    --------
    >>> report = TopologyReport([TopologyIssue("gap", "warning", (), "gap of 3 m²", None)])
    >>> report.ok, len(report.warnings), report.summary
    (True, 1, '0 errors, 1 warning (gap: 1)')
    """

    issues: list[TopologyIssue] = field(default_factory=list)

    @property
    def errors(self) -> list[TopologyIssue]:
        """Issues with severity ``'error'``."""
        return [i for i in self.issues if i.severity == "error"]

    @property
    def warnings(self) -> list[TopologyIssue]:
        """Issues with severity ``'warning'``."""
        return [i for i in self.issues if i.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings allowed)."""
        return not self.errors

    @property
    def summary(self) -> str:
        """One line: counts of errors and warnings, and issues per kind."""
        n_err, n_warn = len(self.errors), len(self.warnings)
        text = (
            f"{n_err} error{'s' if n_err != 1 else ''}, "
            f"{n_warn} warning{'s' if n_warn != 1 else ''}"
        )
        kinds = Counter(i.kind for i in self.issues)
        if kinds:
            text += " (" + ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) + ")"
        return text

    def to_rows(self) -> list[dict[str, object]]:
        """Return one plain dict per issue (kind, severity, codes, message, x, y).

        Examples
        --------
        >>> TopologyReport([TopologyIssue("gap", "warning", (), "m", (1.0, 2.0))]).to_rows()
        [{'kind': 'gap', 'severity': 'warning', 'codes': [], 'message': 'm', 'x': 1.0, 'y': 2.0}]
        """
        return [
            {
                "kind": i.kind,
                "severity": i.severity,
                "codes": list(i.codes),
                "message": i.message,
                "x": None if i.location is None else i.location[0],
                "y": None if i.location is None else i.location[1],
            }
            for i in self.issues
        ]


def check_topology(
    cell_set: CellSet,
    *,
    communities: Mapping[str, Polygon | MultiPolygon] | None = None,
    boundary: Polygon | MultiPolygon | None = None,
    sliver_area_m2: float = 50.0,
    sliver_thinness: float = 0.1,
    norm_area_m2: float = 10_000.0,
    norm_factor: float = 4.0,
    gap_min_area_m2: float = 1.0,
    community_tolerance_m2: float = 1.0,
) -> TopologyReport:
    """Check a cell set for overlaps, gaps, slivers, community fit and area norm.

    Parameters
    ----------
    cell_set : CellSet
    communities : mapping of str to Polygon, optional
        12-digit community code → community polygon. When given, every cell
        must lie in the polygon of the community its code names.
    boundary : Polygon, optional
        The area the cells should cover (e.g. the district); uncovered parts
        are reported as gaps.
    sliver_area_m2 : float
        Cells smaller than this are slivers.
    sliver_thinness : float
        Cells with isoperimetric quotient ``4πA/P²`` below this are slivers
        (1 for a disc, 0.785 for a square).
    norm_area_m2, norm_factor : float
        Cells with area outside ``[norm / factor, norm * factor]`` are flagged.
    gap_min_area_m2 : float
        Smaller gaps are ignored.
    community_tolerance_m2 : float
        Area of a cell allowed outside its community polygon.

    Returns
    -------
    TopologyReport
        Issue kinds and severities: ``overlap`` (error), ``crosses_community``
        (error), ``unknown_community`` (error), ``gap`` (warning), ``sliver``
        (warning), ``area_out_of_norm`` (warning).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = CellSet.from_polygons([
    ...     ("410105001001001", box(0, 0, 100, 100)),
    ...     ("410105001001002", box(90, 0, 200, 100)),
    ... ])
    >>> report = check_topology(cells)
    >>> report.ok, [i.kind for i in report.issues]
    (False, ['overlap'])
    >>> print(report.issues[0].message)
    cells 410105001001001 and 410105001001002 overlap by 1000.0 m²
    """
    issues: list[TopologyIssue] = []
    geoms, codes = cell_set.geoms, cell_set.codes
    issues += _overlaps(geoms, codes)
    if communities is not None:
        issues += _community_fit(cell_set, communities, community_tolerance_m2)
    issues += _gaps(geoms, boundary, gap_min_area_m2)
    issues += _shapes(cell_set, sliver_area_m2, sliver_thinness, norm_area_m2, norm_factor)
    issues.sort(key=lambda i: (i.severity != "error", i.kind, i.codes))
    return TopologyReport(issues)


def _where(geom: shapely.Geometry) -> tuple[float, float] | None:
    """Return a point on `geom` as (x, y), or None if it is empty."""
    if geom is None or geom.is_empty:
        return None
    pt = shapely.point_on_surface(geom)
    return (round(pt.x, 3), round(pt.y, 3))


def _overlaps(geoms: np.ndarray, codes: tuple[str, ...]) -> list[TopologyIssue]:
    """Pairs of cells whose intersection has positive area."""
    tree = shapely.STRtree(geoms)
    i, j = tree.query(geoms, predicate="intersects")
    keep = i < j
    i, j = i[keep], j[keep]
    inter = shapely.intersection(geoms[i], geoms[j])
    area = shapely.area(inter)
    out = []
    for k in np.flatnonzero(area > _OVERLAP_TOL_M2):
        a, b = codes[i[k]], codes[j[k]]
        out.append(TopologyIssue(
            "overlap", "error", (a, b),
            f"cells {a} and {b} overlap by {area[k]:.1f} m²", _where(inter[k]),
        ))
    return out


def _gaps(
    geoms: np.ndarray, boundary: Polygon | MultiPolygon | None, min_area: float
) -> list[TopologyIssue]:
    """Holes in the union of the cells and parts of `boundary` they leave uncovered."""
    union = shapely.union_all(geoms)
    out = []
    holes = [Polygon(ring) for part in shapely.get_parts(union) for ring in part.interiors]
    for hole in holes:
        if hole.area > min_area:
            out.append(TopologyIssue(
                "gap", "warning", (),
                f"gap of {hole.area:.1f} m² enclosed by cells", _where(hole),
            ))
    if boundary is not None:
        uncovered = shapely.difference(boundary, shapely.union_all([union, *holes]))
        for part in shapely.get_parts(uncovered):
            if part.area > min_area:
                out.append(TopologyIssue(
                    "gap", "warning", (),
                    f"gap of {part.area:.1f} m² inside the boundary not covered by any cell",
                    _where(part),
                ))
    return out


def _community_fit(
    cell_set: CellSet, communities: Mapping[str, Polygon | MultiPolygon], tolerance: float
) -> list[TopologyIssue]:
    """Cells not inside the polygon of the community their code names."""
    out = []
    for code, geom in cell_set:
        community = code[:12]
        polygon = communities.get(community)
        if polygon is None:
            out.append(TopologyIssue(
                "unknown_community", "error", (code,),
                f"cell {code}: no polygon given for its community {community}", _where(geom),
            ))
            continue
        outside = shapely.difference(geom, polygon)
        if outside.area > tolerance:
            out.append(TopologyIssue(
                "crosses_community", "error", (code,),
                f"cell {code}: {outside.area:.1f} m² of {geom.area:.1f} m² lies outside "
                f"its community {community}",
                _where(outside),
            ))
    return out


def _shapes(
    cell_set: CellSet, sliver_area: float, thinness_min: float, norm: float, factor: float
) -> list[TopologyIssue]:
    """Slivers (tiny or thin cells) and cells far from the norm area."""
    area = cell_set.area_m2
    perimeter = shapely.length(cell_set.geoms)
    thinness = 4 * math.pi * area / np.maximum(perimeter, 1e-300) ** 2
    low, high = norm / factor, norm * factor
    out = []
    for k, code in enumerate(cell_set.codes):
        where = _where(cell_set.polygons[k])
        if area[k] < sliver_area or thinness[k] < thinness_min:
            out.append(TopologyIssue(
                "sliver", "warning", (code,),
                f"cell {code} is a sliver: area {area[k]:.1f} m² (min {sliver_area:g}), "
                f"thinness 4πA/P² {thinness[k]:.3f} (min {thinness_min:g})",
                where,
            ))
        if not low <= area[k] <= high:
            out.append(TopologyIssue(
                "area_out_of_norm", "warning", (code,),
                f"cell {code} has area {area[k]:.1f} m², outside [{low:g}, {high:g}] m²",
                where,
            ))
    return out
