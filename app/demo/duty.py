"""Duty grids 责任网格: ~20–40 cells of whole blocks within a community, one inspector each."""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import groupby

import numpy as np
from shapely.geometry.base import BaseGeometry
from sqlalchemy import insert
from sqlalchemy.orm import Session

from ..config import Settings
from ..models import DutyGrid, DutyGridCell
from .cells import CellPlan
from .errors import DemoError
from .shapes import clean_union, to_db

__all__ = ["MAX_CELLS", "TABLES", "TARGET_CELLS", "DutyGridPlan", "insert_duty_grids", "plan_duty_grids"]

#: Tables this layer fills, in insert order.
TABLES = ("duty_grids", "duty_grid_cells")
TARGET_CELLS = 30
MAX_CELLS = 40


@dataclass(frozen=True)
class DutyGridPlan:
    """A duty grid before it is stored.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> DutyGridPlan("410199001001-D01", "商都社区第1责任网格", ("410199001001001",), box(0, 0, 1, 1)).code
    '410199001001-D01'
    """

    code: str
    name: str
    cell_codes: tuple[str, ...]
    geom: BaseGeometry


def plan_duty_grids(cells: list[CellPlan]) -> list[DutyGridPlan]:
    """Group each community's cells into duty grids of about 20–40 cells.

    Whole blocks are kept together where they fit (a patrol area bounded by roads):
    small neighbouring blocks, in block order, share a duty grid up to
    :data:`MAX_CELLS` cells; a block with more cells is split in serial order (rows
    west → east, north → south) into runs of about :data:`TARGET_CELLS`.  Every cell
    ends up in exactly one duty grid.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = [CellPlan(f"410199001001{k:03d}", "410199001", "商都社区", box(k, 0, k + 1, 1), "green", 1, k // 50)
    ...          for k in range(1, 81)]
    >>> [(d.code, len(d.cell_codes)) for d in plan_duty_grids(cells)]
    [('410199001001-D01', 24), ('410199001001-D02', 25), ('410199001001-D03', 31)]
    """
    out: list[DutyGridPlan] = []
    ordered = sorted(cells, key=lambda c: c.code)
    for community, members in groupby(ordered, key=lambda c: c.community_code):
        by_block = groupby(sorted(members, key=lambda c: (c.block_index, c.code)), key=lambda c: c.block_index)
        runs: list[list[CellPlan]] = []
        current: list[CellPlan] = []
        for _, block_cells in by_block:
            block_cells = list(block_cells)
            if len(current) + len(block_cells) > MAX_CELLS and current:
                runs.append(current)
                current = []
            if len(block_cells) > MAX_CELLS:
                n = max(math.ceil(len(block_cells) / MAX_CELLS), round(len(block_cells) / TARGET_CELLS))
                bounds = np.linspace(0, len(block_cells), n + 1).round().astype(int)
                runs.extend(block_cells[bounds[g] : bounds[g + 1]] for g in range(n))
            else:
                current += block_cells
        if current:
            runs.append(current)
        if len(runs) > 99:
            raise DemoError(f"community {community}: {len(runs)} duty grids, the code allows 99")
        for g, run in enumerate(runs):
            out.append(
                DutyGridPlan(
                    f"{community}-D{g + 1:02d}",
                    f"{run[0].community_name}第{g + 1}责任网格",
                    tuple(sorted(c.code for c in run)),
                    clean_union([c.polygon for c in run]),
                )
            )
    return out


def insert_duty_grids(
    session: Session, settings: Settings, plans: list[DutyGridPlan], inspector_ids: list[int]
) -> dict[str, int]:
    """Insert duty grids (the i-th gets the i-th inspector) and their cell memberships.

    Examples
    --------
    >>> insert_duty_grids.__name__
    'insert_duty_grids'
    """
    if len(inspector_ids) < len(plans):
        raise DemoError(f"{len(plans)} duty grids but only {len(inspector_ids)} inspectors")
    rows = [
        {
            "code": p.code,
            "name": p.name,
            "district_code": settings.district_code,
            "inspector_id": inspector_ids[k],
            "geom": to_db(p.geom, settings.storage_srid),
        }
        for k, p in enumerate(plans)
    ]
    ids = session.execute(insert(DutyGrid).returning(DutyGrid.id, sort_by_parameter_order=True), rows).scalars().all()
    members = [{"duty_grid_id": i, "cell_code": code} for i, p in zip(ids, plans) for code in p.cell_codes]
    session.execute(insert(DutyGridCell), members)
    return {"duty_grids": len(rows), "duty_grid_cells": len(members)}
