"""Unit grid cells 单元网格: ~1 ha cells cut from each community's blocks, numbered and checked."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry
from sqlalchemy import insert
from sqlalchemy.orm import Session

from grid import CellSet, cells_from_blocks, check_topology, number_cells

from ..config import Settings
from ..models import Cell
from .admin import StreetPlan
from .blocks import Block
from .errors import DemoError
from .shapes import node_coverage, to_db, union_blocks

__all__ = ["TABLES", "TARGET_CELL_AREA_M2", "CellPlan", "build_cells", "insert_cells"]

#: Tables this layer fills.
TABLES = ("cells",)
TARGET_CELL_AREA_M2 = 10_000.0


@dataclass(frozen=True)
class CellPlan:
    """One cell before it is stored.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> CellPlan("410199001001007", "410199001", "商都社区", box(0, 0, 100, 100), "green", 1, 0).serial
    '007'
    """

    code: str
    street_code: str
    community_name: str
    polygon: Polygon
    land_use: str
    area_class: int
    #: Index of the block the cell was cut from.
    block_index: int

    @property
    def community_code(self) -> str:
        """First 12 digits."""
        return self.code[:12]

    @property
    def serial(self) -> str:
        """Last 3 digits."""
        return self.code[12:]


def build_cells(
    plans: list[StreetPlan],
    blocks: list[Block],
    seed: int,
    target_area_m2: float = TARGET_CELL_AREA_M2,
    boundary: BaseGeometry | None = None,
) -> list[CellPlan]:
    """Cut every community's blocks into cells, number them and check the topology.

    Sets each community plan's ``geom`` to the union of its blocks, which its cells
    tile.  Cells come back ordered by code.  ``boundary`` is the area the cells must
    cover without gaps (the demo extent); by default the union of ``blocks``.

    Raises
    ------
    DemoError
        When the grid topology check finds errors or gaps, or a community gets more
        than 999 cells (all generator bugs).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> from app.demo.admin import CommunityPlan
    >>> street = StreetPlan("410199001", "如意湖街道", [CommunityPlan("410199001001", "商都社区", [0])])
    >>> cells = build_cells([street], [Block(0, box(0, 0, 200, 100), "green", 2)], seed=1)
    >>> [c.code for c in cells]
    ['410199001001001', '410199001001002']
    """
    communities = [(street, community) for street in plans for community in street.communities]
    pieces: list[list[Polygon]] = []
    for _, community in communities:
        polys: list[Polygon] = []
        for i in community.block_indices:
            polys.extend(cells_from_blocks([blocks[i].polygon], target_area_m2=target_area_m2, seed=seed + i))
        if len(polys) > 999:
            raise DemoError(f"community {community.code}: {len(polys)} cells, the serial allows 999")
        pieces.append(polys)
    # Cuts end on neighbouring cells' edges (T-junctions); node them, before numbering
    # (which uses points on surface), so that cells meet exactly and a point on a shared
    # edge, e.g. a road centreline, lies in a cell.
    noded = iter(node_coverage([p for polys in pieces for p in polys]))
    out: list[CellPlan] = []
    for (street, community), polys in zip(communities, pieces):
        numbered = number_cells([next(noded) for _ in polys], community.code)
        # The community is its blocks; the cells tile them (a union of the cells would
        # only add rounding cracks where cut ends meet a neighbour's edge).
        community.geom = union_blocks([blocks[i].polygon for i in community.block_indices])
        # Each cell lies in one block; its land use comes from there.
        own = [blocks[i] for i in community.block_indices]
        tree = shapely.STRtree([b.polygon for b in own])
        inside = shapely.point_on_surface(np.array([p for _, p in numbered], dtype=object))
        cell_ix, block_ix = tree.query(inside, predicate="within")
        block_of = dict(zip(cell_ix.tolist(), block_ix.tolist()))
        for k, (code, p) in enumerate(numbered):
            block = own[block_of[k]]
            out.append(CellPlan(code, street.code, community.name, p, block.land_use, block.area_class, block.index))
    _check(out, plans, union_blocks([b.polygon for b in blocks]) if boundary is None else boundary)
    out.sort(key=lambda c: c.code)
    return out


def insert_cells(session: Session, settings: Settings, cells: list[CellPlan]) -> dict[str, int]:
    """Bulk-insert the cells.

    Examples
    --------
    >>> insert_cells.__name__
    'insert_cells'
    """
    srid = settings.storage_srid
    rows = [
        {
            "code": c.code,
            "district_code": settings.district_code,
            "street_code": c.street_code,
            "community_code": c.community_code,
            "serial": c.serial,
            "name": f"{c.community_name}{c.serial}号网格",
            "area_m2": round(c.polygon.area, 2),
            "area_class": c.area_class,
            "land_use": c.land_use,
            "geom": to_db(c.polygon, srid),
        }
        for c in cells
    ]
    for start in range(0, len(rows), 5000):
        session.execute(insert(Cell), rows[start : start + 5000])
    return {"cells": len(rows)}


def _check(cells: list[CellPlan], plans: list[StreetPlan], boundary: BaseGeometry) -> None:
    communities = {c.code: c.geom for s in plans for c in s.communities}
    report = check_topology(
        CellSet.from_polygons([(c.code, c.polygon) for c in cells]), communities=communities, boundary=boundary
    )
    # Gaps are only warnings to check_topology; the demo must cover its extent fully.
    bad = [*report.errors, *(w for w in report.warnings if w.kind == "gap")]
    if bad:
        shown = "; ".join(i.message for i in bad[:5])
        raise DemoError(f"generated cells fail the topology check ({len(bad)} errors and gaps): {shown}")
