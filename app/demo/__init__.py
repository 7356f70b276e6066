"""Deterministic demo district (Zhengdong New District): roads, blocks, grid hierarchy, people, duty grids."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from time import perf_counter
from types import ModuleType

import shapely
from shapely.geometry import Polygon
from sqlalchemy import text
from sqlalchemy.orm import Session

from ..config import DEMO_DISTRICT_CODE_PLACEHOLDER, Settings
from ..services.audit import SYSTEM, record
from . import assets, cases, reference
from .admin import StreetPlan, insert_admin, partition
from .blocks import Block, build_blocks, size_extent
from .cells import CellPlan, build_cells, insert_cells
from .duty import DutyGridPlan, insert_duty_grids, plan_duty_grids
from .errors import DemoError
from .people import People, insert_people
from .roads import RoadNetwork, build_roads
from .sizes import SIZES, DemoSize

__all__ = [
    "DEFAULT_SEED",
    "LATER_LAYERS",
    "SIZES",
    "WIPE_ORDER",
    "DemoContext",
    "DemoError",
    "DemoSize",
    "DemoSummary",
    "load_demo",
    "wipe_demo",
]

DEFAULT_SEED = 20261126

#: Tables of the core layers, deleted in this order (children before parents).
WIPE_ORDER = (
    # Asset layers reference categories, departments and buildings (issue #5).
    "components",
    "cameras",
    "pipelines",
    "buildings",
    "duty_grid_cells",
    "duty_grids",
    "user_sessions",
    "throttle_counters",
    "api_tokens",
    "users",
    "departments",
    "cells",
    "communities",
    "streets",
    "districts",
    "audit_log",
)

#: Layers built after the core (cases, assets, tax ...): modules with ``TABLES`` (insert
#: order) and ``load(ctx: DemoContext) -> dict[str, int]`` (row counts per table).
#: Their tables are wiped, in reverse, before the core ones.
LATER_LAYERS: tuple[ModuleType, ...] = (reference, assets, cases)


@dataclass
class DemoContext:
    """Everything built so far, handed to later layers.

    Examples
    --------
    >>> DemoContext.__dataclass_fields__["seed"].type
    'int'
    """

    session: Session
    settings: Settings
    size: DemoSize
    seed: int
    roads: RoadNetwork
    extent: Polygon
    blocks: list[Block]
    streets: list[StreetPlan]
    cells: list[CellPlan]
    duty_grids: list[DutyGridPlan]
    people: People | None = None
    counts: dict[str, int] = field(default_factory=dict)
    #: End of the case history (None: the load time truncated to the local day).
    history_end: datetime | None = None


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`load_demo` built.

    Parameters
    ----------
    size : str
        Key of :data:`SIZES`.
    seed : int
        The generator seed.
    district_code, district_name : str
        The district as stored.
    district_code_is_placeholder : bool
        True when the code is the demo placeholder, not a real admin code.
    counts : dict of str to int
        Rows (or generated features, for ``roads`` and ``blocks``) per layer.
    accounts : tuple of (username, role, display name)
        The role accounts, whose password is ``settings.demo_password``.
    seconds : float
        Wall time of generation and load.

    Examples
    --------
    >>> DemoSummary("small", 1, "410199", "郑东新区", True, {"cells": 3}, (), 0.1).counts["cells"]
    3
    """

    size: str
    seed: int
    district_code: str
    district_name: str
    district_code_is_placeholder: bool
    counts: dict[str, int]
    accounts: tuple[tuple[str, str, str], ...]
    seconds: float

    def describe(self) -> str:
        """A few lines for the CLI: district, size, counts, role accounts.

        Examples
        --------
        >>> print(DemoSummary("small", 1, "410199", "郑东新区", True, {"cells": 3}, (), 0.1).describe())
        郑东新区 410199 (placeholder code, not a real admin code) — size small, seed 1, 0.1 s
          cells: 3
        """
        note = " (placeholder code, not a real admin code)" if self.district_code_is_placeholder else ""
        lines = [f"{self.district_name} {self.district_code}{note} — size {self.size}, seed {self.seed}, {self.seconds} s"]
        lines += [f"  {name}: {count}" for name, count in self.counts.items()]
        lines += [f"  {username:<14} {role:<13} {name}" for username, role, name in self.accounts]
        return "\n".join(lines)


def wipe_demo(session: Session) -> None:
    """Delete all demo and grid data (later layers' tables first), keeping the schema.

    Examples
    --------
    >>> wipe_demo.__name__
    'wipe_demo'
    """
    later = [t for layer in reversed(LATER_LAYERS) for t in reversed(layer.TABLES)]
    # One TRUNCATE of all of them: millions of case events go in an instant, and it stays
    # inside the caller's transaction (PostgreSQL truncation is transactional).
    tables = dict.fromkeys([*later, *WIPE_ORDER])  # a layer may list a table WIPE_ORDER has too
    session.execute(text(f"TRUNCATE {', '.join(tables)}"))  # names are constants above


def load_demo(
    session: Session,
    settings: Settings,
    size: str = "default",
    seed: int = DEFAULT_SEED,
    history_end: datetime | None = None,
) -> DemoSummary:
    """Replace all grid data with the demo district, in the caller's transaction.

    Same ``seed`` and size give the same codes and geometries, and with the same
    ``history_end`` (an aware datetime; default the load time truncated to the local day)
    the same case history.  The caller commits.

    Raises
    ------
    DemoError
        For an unknown size, or when the generated grid fails its topology check.

    Examples
    --------
    >>> load_demo.__name__
    'load_demo'
    """
    if size not in SIZES:
        raise DemoError(f"size {size!r}: expected one of {', '.join(SIZES)}")
    spec = SIZES[size]
    started = perf_counter()
    roads = build_roads(settings.storage_srid, seed)
    extent = size_extent(roads, spec)
    blocks = build_blocks(roads, extent, seed)
    streets = partition(
        blocks, settings.district_code, spec.streets, spec.communities, roads.cbd_centre, seed
    )
    cells = build_cells(streets, blocks, seed, target_area_m2=spec.cell_area_m2, boundary=extent)
    duty = plan_duty_grids(cells)
    ctx = DemoContext(session, settings, spec, seed, roads, extent, blocks, streets, cells, duty,
                      history_end=history_end)
    ctx.counts["roads"] = int(shapely.intersects(roads.lines, extent).sum())
    ctx.counts["blocks"] = len(blocks)

    wipe_demo(session)
    ctx.counts.update(insert_admin(session, settings, streets, district_geom=extent))
    ctx.counts.update(insert_cells(session, settings, cells))
    ctx.people = insert_people(session, settings, len(duty), seed)
    ctx.counts["departments"] = len(ctx.people.department_ids)
    ctx.counts["users"] = len(ctx.people.user_ids)
    ctx.counts.update(insert_duty_grids(session, settings, duty, ctx.people.inspector_ids))
    for layer in LATER_LAYERS:
        ctx.counts.update(layer.load(ctx))

    placeholder = settings.district_code == DEMO_DISTRICT_CODE_PLACEHOLDER
    record(
        session,
        SYSTEM,
        "demo.load",
        "district",
        settings.district_code,
        detail={"size": size, "seed": seed, "placeholder_code": placeholder, "counts": dict(ctx.counts)},
    )
    session.flush()
    return DemoSummary(
        size=size,
        seed=seed,
        district_code=settings.district_code,
        district_name=settings.district_name,
        district_code_is_placeholder=placeholder,
        counts=dict(ctx.counts),
        accounts=tuple(ctx.people.accounts),
        seconds=round(perf_counter() - started, 2),
    )
