"""What one unit grid cell holds: components by class, cameras, pipeline length by class (clipped
to the cell), buildings, and its open cases by warning light.

Components, cameras and buildings are counted by their denormalised ``cell_code`` (the cell
their point, or a point on their surface, falls in), so the counts agree with statistics;
pipelines cross cells, so their length is measured inside the cell's polygon.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..caseflow.worktime import WorkCalendar
from ..models import Case
from .asset_cases import case_items, open_light_counts
from .cases import Caller

#: Rows listed per section at most (counts are always complete).
LIST_LIMIT = 200
NEWEST_CASES = 10

_CELL_SQL = sa.text(
    """
    SELECT c.code, c.name, c.area_m2, c.area_class, c.land_use, c.valid_from, c.valid_to,
           c.community_code, co.name AS community_name, c.street_code, st.name AS street_name,
           c.district_code, di.name AS district_name
    FROM cells c
    JOIN communities co ON co.code = c.community_code
    JOIN streets st ON st.code = c.street_code
    JOIN districts di ON di.code = c.district_code
    WHERE c.code = :code
    """
)
_COMPONENTS_SQL = sa.text(
    """
    SELECT k.category_code AS code, cat.name, count(*) AS count
    FROM components k JOIN categories cat ON cat.id = k.category_id
    WHERE k.cell_code = :code
    GROUP BY k.category_code, cat.name
    ORDER BY k.category_code
    """
)
_CAMERAS_SQL = sa.text(
    """
    SELECT id, device_id, name, status, stream_url, count(*) OVER () AS total
    FROM cameras WHERE cell_code = :code ORDER BY device_id LIMIT :limit
    """
)
_PIPELINES_SQL = sa.text(
    """
    SELECT parts.class_abbr AS code, pc.class_name AS name, pc.rgb,
           round(sum(parts.len)::numeric, 1)::float AS length_m, count(*) AS segments
    FROM (
        SELECT p.class_abbr, p.subclass_abbr, ST_Length(ST_Intersection(p.geom, c.geom)) AS len
        FROM cells c
        JOIN pipelines p ON p.geom && c.geom AND ST_Intersects(p.geom, c.geom)
        WHERE c.code = :code
    ) parts
    JOIN pipeline_classes pc ON pc.class_abbr = parts.class_abbr AND pc.subclass_abbr = parts.subclass_abbr
    -- a pipe that only touches the cell's edge is not in it (as in pipelines.cell_stats)
    WHERE parts.len > 0
    GROUP BY parts.class_abbr, pc.class_name, pc.rgb
    ORDER BY parts.class_abbr
    """
)
_BUILDINGS_SQL = sa.text(
    """
    SELECT id, code, name, use, floors, count(*) OVER () AS total
    FROM buildings WHERE cell_code = :code ORDER BY name, id LIMIT :limit
    """
)


def _hex(rgb: str) -> str:
    r, g, b = (int(v) for v in rgb.split(","))
    return f"#{r:02x}{g:02x}{b:02x}"


def cell_inventory(session: Session, user: Caller, calendar: WorkCalendar, code: str,
                   now: datetime | None = None) -> dict[str, Any] | None:
    """The inventory of the cell ``code`` (current or retired), or None when no cell has it."""
    cell = session.execute(_CELL_SQL, {"code": code}).mappings().first()
    if cell is None:
        return None
    params = {"code": code, "limit": LIST_LIMIT}
    components = [dict(r) for r in session.execute(_COMPONENTS_SQL, params).mappings()]
    cameras = [dict(r) for r in session.execute(_CAMERAS_SQL, params).mappings()]
    pipelines = [dict(r) for r in session.execute(_PIPELINES_SQL, params).mappings()]
    for p in pipelines:
        p["color"] = _hex(p.pop("rgb"))
    buildings = [dict(r) for r in session.execute(_BUILDINGS_SQL, params).mappings()]
    in_cell = Case.cell_code == code
    newest, open_total = case_items(session, user, calendar, in_cell, limit=NEWEST_CASES, open_only=True, now=now)
    return {
        "cell": {
            "code": cell["code"], "name": cell["name"], "area_m2": round(cell["area_m2"], 1),
            "area_class": cell["area_class"], "land_use": cell["land_use"],
            "valid_from": cell["valid_from"].isoformat() if cell["valid_from"] else None,
            "valid_to": cell["valid_to"].isoformat() if cell["valid_to"] else None,
            "community": {"code": cell["community_code"], "name": cell["community_name"]},
            "street": {"code": cell["street_code"], "name": cell["street_name"]},
            "district": {"code": cell["district_code"], "name": cell["district_name"]},
        },
        "components": {"total": sum(c["count"] for c in components), "by_class": components},
        "cameras": {"count": cameras[0]["total"] if cameras else 0,
                    "items": [{k: v for k, v in c.items() if k != "total"} for c in cameras]},
        "pipelines": {"length_m": round(sum(p["length_m"] for p in pipelines), 1), "by_class": pipelines},
        "buildings": {"count": buildings[0]["total"] if buildings else 0,
                      "items": [{k: v for k, v in b.items() if k != "total"} for b in buildings]},
        "open_cases": {"count": open_total,
                       "by_light": open_light_counts(session, user, calendar, in_cell, now),
                       "newest": newest},
    }
