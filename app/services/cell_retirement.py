"""What a cell-layer replace would retire: what the retired cells hold, and the area it uncovers.

A replace takes the file as the whole current layer, so a file that forgot some cells would
retire them silently, stranding their open cases and leaving part of the district without a
cell. :func:`assess` says what would be lost; the importer refuses such a file unless forced
(until re-assignment of cases and assets to the new cells exists).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry.base import BaseGeometry
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Session

from ..caseflow.machine import OPEN_STATES
from ..models import Building, Camera, Case, Component, DutyGridCell, Pipeline, Road

#: What a retired cell can hold, in report order; ``open_cases`` blocks a replace.
HELD_KINDS = ("open_cases", "components", "cameras", "buildings", "pipelines", "roads", "duty_grids",
              "routing_rules")
#: Uncovered strips narrower than twice this (metres) are rounding, not lost coverage: a
#: GeoJSON round trip moves vertices by up to ~1 cm.
COVERAGE_TOLERANCE_M = 0.05
#: Uncovered parts smaller than this (m²) are ignored, as the topology check ignores gaps.
MIN_UNCOVERED_M2 = 1.0

_BY_CELL_CODE = {
    "components": Component.cell_code,
    "cameras": Camera.cell_code,
    "buildings": Building.cell_code,
    "pipelines": Pipeline.cell_code,
    "roads": Road.cell_code,
    "duty_grids": DutyGridCell.cell_code,
}


@dataclass
class Assessment:
    """What a replace would retire and uncover.

    ``held`` maps each retired code to counts by :data:`HELD_KINDS`; ``uncovered`` lists the
    polygons the current layer covers and the new one would not.
    """

    retired: list[str]
    held: dict[str, dict[str, int]]
    uncovered: list[BaseGeometry] = field(default_factory=list)

    @property
    def uncovered_m2(self) -> float:
        """Total area left uncovered, m²."""
        return float(sum(p.area for p in self.uncovered))

    @property
    def open_cases(self) -> int:
        """Open cases in the retired cells."""
        return sum(h["open_cases"] for h in self.held.values())

    @property
    def blocking(self) -> bool:
        """True when the replace strands open cases or uncovers part of the district."""
        return self.open_cases > 0 or bool(self.uncovered)


def assess(session: Session, old: Mapping[str, BaseGeometry], new: Mapping[str, BaseGeometry]) -> Assessment:
    """Compare the current layer ``old`` with the replacing layer ``new`` (code → polygon).

    Parameters
    ----------
    session : Session
    old, new : mapping of str to shapely polygon
        The current cells and the file's cells, in the storage CRS.

    Returns
    -------
    Assessment
    """
    retired = sorted(code for code in old if code not in new)
    return Assessment(retired, held_by(session, retired), lost_coverage(old, new))


def held_by(session: Session, codes: Iterable[str]) -> dict[str, dict[str, int]]:
    """Counts by :data:`HELD_KINDS` of what points at each cell code (one grouped query per kind)."""
    codes = list(codes)
    held = {code: dict.fromkeys(HELD_KINDS, 0) for code in codes}
    if not codes:
        return held
    param = sa.bindparam("codes", codes, type_=ARRAY(sa.String(15)))
    queries = {
        "open_cases": sa.select(Case.cell_code, sa.func.count())
        .where(Case.cell_code == sa.any_(param), Case.state.in_(sorted(OPEN_STATES)))
        .group_by(Case.cell_code),
        **{
            kind: sa.select(column, sa.func.count()).where(column == sa.any_(param)).group_by(column)
            for kind, column in _BY_CELL_CODE.items()
        },
        "routing_rules": sa.text(
            "SELECT c, count(*) FROM routing_rules, unnest(cell_codes) AS c "
            "WHERE c = ANY(:codes) GROUP BY c"
        ).bindparams(param),
    }
    for kind, query in queries.items():
        for code, n in session.execute(query).all():
            held[code][kind] = int(n)
    return held


def lost_coverage(old: Mapping[str, BaseGeometry], new: Mapping[str, BaseGeometry], *,
                  tolerance_m: float = COVERAGE_TOLERANCE_M,
                  min_area_m2: float = MIN_UNCOVERED_M2) -> list[BaseGeometry]:
    """The parts of the union of ``old`` that the union of ``new`` no longer covers.

    Only cells that were retired or redrawn can lose coverage (an unchanged cell covers
    itself), so only they and the new cells touching them are unioned: a replace that
    redraws a few cells of 20 000 costs a few unions, not one of the whole district.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> old = {"a": box(0, 0, 100, 100), "b": box(100, 0, 200, 100)}
    >>> [round(p.area) for p in lost_coverage(old, {"a": box(0, 0, 150, 100)})]
    [5000]
    >>> lost_coverage(old, {"a": box(0, 0, 100, 100), "c": box(100, 0, 200, 100.001)})
    []
    """
    codes = list(old)
    if not codes:
        return []
    old_geoms = np.array([old[c] for c in codes], dtype=object)
    same_as_new = np.array([new.get(c) for c in codes], dtype=object)
    kept = np.array([g is not None for g in same_as_new])
    kept[kept] = shapely.equals_exact(old_geoms[kept], same_as_new[kept], tolerance=0.0)
    changed = old_geoms[~kept]
    if not len(changed):
        return []
    new_geoms = np.array(list(new.values()), dtype=object)
    near = np.unique(shapely.STRtree(new_geoms).query(changed, predicate="intersects")[1]) if len(new_geoms) else []
    cover = shapely.union_all(new_geoms[near]) if len(near) else shapely.Polygon()
    gone = shapely.difference(shapely.union_all(changed), cover)
    parts = shapely.get_parts(gone)
    return [p for p in parts
            if p.area > min_area_m2 and not shapely.buffer(p, -tolerance_m).is_empty]
