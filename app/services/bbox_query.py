"""One page of a layer's rows whose geometry meets a CRS84 box, and how many match in all.

Every map layer (cells, cameras, pipelines, buildings, components) answers ``?bbox=`` the same
way: the box is projected once into the storage CRS, the GiST index finds candidates (``&&``)
and ``ST_Intersects`` keeps the real ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

#: The box as a geometry in the storage CRS, named ``q.env``.
BOX_CTE = "WITH q AS (SELECT ST_Transform(ST_MakeEnvelope(:minx, :miny, :maxx, :maxy, 4326), :srid) AS env)"


def page_in_bbox(
    session: Session,
    srid: int,
    bbox: tuple[float, float, float, float],
    *,
    table: str,
    alias: str,
    select: str,
    joins: str = "",
    where: Sequence[str] = (),
    params: Mapping[str, Any] | None = None,
    order_by: str,
    limit: int,
    offset: int = 0,
) -> tuple[list[Mapping[str, Any]], int]:
    """Rows of ``table`` (as ``alias``, with a ``geom`` column) meeting ``bbox``.

    ``select`` (the column list) and ``joins`` (tables joined for the columns, not needed
    to count) are SQL fragments written in code; ``where`` adds conditions on the table; all
    values go in ``params`` as bind parameters, never into the SQL.
    """
    base = {"minx": bbox[0], "miny": bbox[1], "maxx": bbox[2], "maxy": bbox[3], "srid": srid, **(params or {})}
    cond = " AND ".join([f"{alias}.geom && q.env", f"ST_Intersects({alias}.geom, q.env)", *where])
    total = session.scalar(sa.text(f"{BOX_CTE} SELECT count(*) FROM {table} {alias} CROSS JOIN q WHERE {cond}"),
                           base)
    rows = session.execute(sa.text(
        f"{BOX_CTE} SELECT {select} FROM {table} {alias} {joins} CROSS JOIN q WHERE {cond} "
        f"ORDER BY {order_by} LIMIT :limit OFFSET :offset"
    ), {**base, "limit": limit, "offset": offset}).mappings().all()
    return list(rows), int(total or 0)
