"""Grid queries: locate a point, cells in a bounding box, the district's extent."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .bbox_query import page_in_bbox

_LOCATE_SQL = sa.text(
    """
    SELECT c.code, c.community_code, c.street_code, c.district_code, c.area_m2, c.area_class,
           co.name AS community_name, st.name AS street_name, di.name AS district_name,
           dg.code AS duty_code, dg.name AS duty_name,
           u.username AS inspector_username, u.display_name AS inspector_name,
           u.phone AS inspector_phone, u.on_duty AS inspector_on_duty
    FROM cells c
    JOIN communities co ON co.code = c.community_code
    JOIN streets st ON st.code = c.street_code
    JOIN districts di ON di.code = c.district_code
    LEFT JOIN duty_grid_cells dgc ON dgc.cell_code = c.code
    LEFT JOIN duty_grids dg ON dg.id = dgc.duty_grid_id
    LEFT JOIN users u ON u.id = dg.inspector_id
    WHERE c.valid_to IS NULL
      AND ST_Covers(c.geom, ST_SetSRID(ST_MakePoint(:x, :y), :srid))
    -- The same boundary rule as grid.CellLocator: a point on a shared edge or vertex
    -- belongs to the lowest code among the cells that cover it.
    ORDER BY c.code
    LIMIT 1
    """
)


@dataclass(frozen=True)
class Extent:
    """The district's extent in lon/lat."""

    min_lon: float
    min_lat: float
    max_lon: float
    max_lat: float

    def as_list(self) -> list[float]:
        """[minx, miny, maxx, maxy] rounded to 6 decimals."""
        return [round(v, 6) for v in (self.min_lon, self.min_lat, self.max_lon, self.max_lat)]


def _features(rows, props: tuple[str, ...], geometry: str = "g") -> list[dict[str, Any]]:
    """GeoJSON features from rows holding a ``code``, a GeoJSON text column and properties."""
    return [
        {
            "type": "Feature",
            "id": r["code"],
            "geometry": json.loads(r[geometry]),
            "properties": {k: r[k] for k in props},
        }
        for r in rows
    ]


def locate(session: Session, x: float, y: float, srid: int) -> dict[str, Any] | None:
    """The current cell covering storage-CRS point (x, y) with its hierarchy and inspector."""
    row = session.execute(_LOCATE_SQL, {"x": x, "y": y, "srid": srid}).mappings().first()
    if row is None:
        return None
    inspector = None
    if row["inspector_username"]:
        inspector = {
            "username": row["inspector_username"],
            "name": row["inspector_name"],
            "phone": row["inspector_phone"],
            "on_duty": row["inspector_on_duty"],
        }
    return {
        "cell": {
            "code": row["code"],
            "area_m2": round(row["area_m2"], 1),
            "area_class": row["area_class"],
        },
        "community": {"code": row["community_code"], "name": row["community_name"]},
        "street": {"code": row["street_code"], "name": row["street_name"]},
        "district": {"code": row["district_code"], "name": row["district_name"]},
        "duty_grid": (
            {"code": row["duty_code"], "name": row["duty_name"]} if row["duty_code"] else None
        ),
        "inspector": inspector,
    }


def district_extent(session: Session) -> Extent | None:
    """Lon/lat extent of the current cells (None when no cells are loaded)."""
    row = session.execute(
        sa.text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM ("
            " SELECT ST_Extent(ST_Transform(ST_Envelope(geom), 4326)) AS e"
            " FROM cells WHERE valid_to IS NULL) s"
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return Extent(*row)


def cells_in_bbox(
    session: Session, bbox: tuple[float, float, float, float], srid: int, limit: int, offset: int = 0
) -> tuple[list[dict[str, Any]], int]:
    """GeoJSON features (CRS84) of current cells meeting a lon/lat bbox, and the total count."""
    rows, total = page_in_bbox(
        session, srid, bbox, table="cells", alias="c",
        select="""c.code, c.community_code, c.street_code, round(c.area_m2::numeric, 1)::float AS area_m2,
                  co.name AS community_name, st.name AS street_name,
                  dg.code AS duty_grid, u.display_name AS inspector,
                  ST_AsGeoJSON(ST_Transform(c.geom, 4326), 7) AS g""",
        joins="""JOIN communities co ON co.code = c.community_code
                 JOIN streets st ON st.code = c.street_code
                 LEFT JOIN duty_grid_cells dgc ON dgc.cell_code = c.code
                 LEFT JOIN duty_grids dg ON dg.id = dgc.duty_grid_id
                 LEFT JOIN users u ON u.id = dg.inspector_id""",
        where=["c.valid_to IS NULL"], order_by="c.code", limit=limit, offset=offset,
    )
    features = _features(
        rows,
        ("code", "community_code", "community_name", "street_code", "street_name", "area_m2",
         "duty_grid", "inspector"),
    )
    return features, total


def areas_geojson(session: Session, table: str) -> dict[str, Any]:
    """All streets or communities as a CRS84 FeatureCollection (small layers)."""
    if table not in ("streets", "communities"):
        raise ValueError(f"unknown area layer {table!r}")
    rows = session.execute(
        sa.text(
            f"SELECT code, name, ST_AsGeoJSON(ST_Transform(geom, 4326), 6) AS g FROM {table} ORDER BY code"
        )
    ).mappings()
    return {"type": "FeatureCollection", "features": _features(rows, ("code", "name"))}


def duty_grids_of(session: Session, inspector_id: int) -> dict[str, Any]:
    """The duty grids patrolled by one inspector as a CRS84 FeatureCollection."""
    rows = session.execute(
        sa.text(
            """
            SELECT dg.code, dg.name, count(dgc.cell_code) AS cells,
                   ST_AsGeoJSON(ST_Transform(dg.geom, 4326), 6) AS g
            FROM duty_grids dg
            LEFT JOIN duty_grid_cells dgc ON dgc.duty_grid_id = dg.id
            WHERE dg.inspector_id = :uid AND dg.geom IS NOT NULL
            GROUP BY dg.id ORDER BY dg.code
            """
        ),
        {"uid": inspector_id},
    ).mappings()
    return {"type": "FeatureCollection", "features": _features(rows, ("code", "name", "cells"))}
