"""Demo asset layers: the roads themselves, and buildings, cameras, pipelines and components along them.

Everything is generated in the storage CRS from the road network and blocks
(:mod:`.pipelines`, :mod:`.components`, :mod:`.cameras`, :mod:`.buildings`),
deterministic for a seed, and written with COPY. Cell codes follow the layer services'
rules: points (cameras, components) the cell covering them, found in Python from the
cells' own polygons with :func:`app.services.grid.locate`'s tie rule (lowest code);
buildings the cell covering ``ST_PointOnSurface``, pipelines the one covering the
segment's midpoint, each in one UPDATE. Camera views are drawn by the camera service
(:func:`app.services.cameras.field_of_view`), cut by the demo buildings.
"""

from __future__ import annotations

import logging
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import sqlalchemy as sa
from shapely.geometry import MultiLineString, MultiPolygon

from grid.componentid import format_component_id

from ..config import CATEGORY_STANDARDS
from ..models.assets import ComponentSerial
from ..services.cameras import field_of_view
from .buildings import build_buildings
from .cameras import build_cameras
from .components import build_components
from .errors import DemoError
from .pipelines import build_pipelines
from .roads import CJJ37_CLASSES, LANES

if TYPE_CHECKING:
    from . import DemoContext

__all__ = ["TABLES", "load"]

LOGGER = logging.getLogger(__name__)

#: Tables this layer fills, in insert order (components point at buildings and categories;
#: component_serials holds the highest serial used per class, so new ids continue after them).
TABLES = ("roads", "buildings", "cameras", "pipelines", "components", "component_serials")

_BUILDING_COLUMNS = ("code", "district_code", "name", "address", "floors", "underground_floors", "height_m",
                     "gross_floor_area_m2", "use", "build_year", "geom")
_CAMERA_COLUMNS = ("device_id", "district_code", "name", "address", "height_m", "azimuth_deg", "hfov_deg",
                   "range_m", "ptz_type", "status", "stream_url", "occluded", "cell_code", "geom", "fov")
_PIPELINE_COLUMNS = ("code", "district_code", "class_abbr", "subclass_abbr", "material_code", "burial_code",
                     "diameter_mm", "section", "start_depth_m", "end_depth_m", "build_year", "owner",
                     "pressure_mpa", "voltage_kv", "status", "geom")
_ROAD_COLUMNS = ("code", "district_code", "name", "road_class", "width_m", "lanes", "one_way", "geom")
_COMPONENT_COLUMNS = ("component_id", "district_code", "category_id", "category_code", "standard_ref", "name",
                      "status", "owner_department_id", "maintainer_department_id", "owner_name",
                      "maintainer_name", "cell_code", "surveyed_on", "changed_on", "data_source", "geom")

# The rules of app.services.buildings and app.services.pipelines, for every row at once.
_BUILDING_CELLS = sa.text(
    """
    UPDATE buildings b SET cell_code = (
        SELECT c.code FROM cells c
        WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_PointOnSurface(b.geom))
        ORDER BY c.code LIMIT 1)
    """
)
# app.services.roads: the cell holding the midpoint of the road's first line.
_ROAD_CELLS = sa.text(
    """
    UPDATE roads r SET cell_code = (
        SELECT c.code FROM cells c
        WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_LineInterpolatePoint(ST_GeometryN(r.geom, 1), 0.5))
        ORDER BY c.code LIMIT 1)
    """
)
_PIPELINE_CELLS = sa.text(
    """
    UPDATE pipelines p SET cell_code = (
        SELECT c.code FROM cells c
        WHERE c.valid_to IS NULL AND ST_Covers(c.geom, ST_LineInterpolatePoint(p.geom, 0.5))
        ORDER BY c.code LIMIT 1)
    """
)


def _ewkb(geoms: list, srid: int) -> list[str]:
    """Hex EWKB with the SRID, as COPY takes it for a geometry column."""
    arr = shapely.set_srid(np.array(geoms, dtype=object), srid)
    return shapely.to_wkb(arr, hex=True, include_srid=True).tolist()


def _cell_codes(ctx: DemoContext, xs: np.ndarray, ys: np.ndarray) -> list[str | None]:
    """Code of the cell covering each point: the lowest code when it lies on a shared edge."""
    cells = sorted(ctx.cells, key=lambda c: c.code)
    tree = shapely.STRtree([c.polygon for c in cells])
    p_ix, c_ix = tree.query(shapely.points(xs, ys), predicate="intersects")
    first = np.full(len(xs), len(cells))
    np.minimum.at(first, p_ix, c_ix)
    codes = [c.code for c in cells] + [None]
    return [codes[i] for i in first.tolist()]


def _copy(raw: Any, table: str, columns: tuple[str, ...], rows) -> None:
    with raw.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def _analyze(session, table: str) -> None:
    session.execute(sa.text(f"ANALYZE {table}"))  # callers pass constant table names


def _categories(ctx: DemoContext, codes: set[str]) -> dict[str, Any]:
    """Category rows of the active standard for the component class codes used."""
    standard = ctx.settings.category_standard
    rows = ctx.session.execute(
        sa.text(
            "SELECT id, code, name, default_department_id FROM categories "
            "WHERE standard_ref = :s AND kind = 'component' AND code = ANY(:codes)"
        ),
        {"s": standard, "codes": sorted(codes)},
    ).all()
    found = {r.code: r for r in rows}
    missing = sorted(codes - set(found))
    if missing:
        raise DemoError(f"component classes {', '.join(missing)} are not in the {standard} directory "
                        "(load the categories first)")
    return found


def _road_rows(ctx: DemoContext) -> list[tuple]:
    """The demo roads clipped to the built extent, as roads-table rows (geometry last, unencoded)."""
    district = ctx.settings.district_code
    rows = []
    for line, name, cls, width in zip(ctx.roads.lines, ctx.roads.names, ctx.roads.classes, ctx.roads.widths):
        part = line.intersection(ctx.extent)
        lines = [p for p in shapely.get_parts(part).tolist() if p.geom_type == "LineString" and p.length >= 1.0]
        if lines:
            rows.append((f"{district}R{len(rows) + 1:05d}", district, name, CJJ37_CLASSES[cls], float(width),
                         LANES[cls], False, MultiLineString(lines)))
    return rows


def load(ctx: DemoContext) -> dict[str, int]:
    """Generate the road table and the four asset layers and COPY them in; needs the categories
    and departments.

    Examples
    --------
    >>> TABLES[:5]
    ('roads', 'buildings', 'cameras', 'pipelines', 'components')
    """
    started = perf_counter()
    session, settings, seed = ctx.session, ctx.settings, ctx.seed
    srid, district = settings.storage_srid, settings.district_code
    roads, extent = ctx.roads, ctx.extent
    pipes = build_pipelines(roads, extent, seed)
    parts = build_components(roads, extent, pipes, seed)
    cams = build_cameras(roads, extent, district, seed)
    houses = build_buildings(roads, ctx.blocks, ctx.streets, district, seed)
    generated = perf_counter()

    standard = settings.category_standard
    which = CATEGORY_STANDARDS.index(standard)
    cats = _categories(ctx, {pair[which] for pair in parts.codes})
    raw = session.connection().connection.driver_connection

    road_rows = _road_rows(ctx)
    _copy(raw, "roads", _ROAD_COLUMNS, (
        (*row[:-1], g) for row, g in zip(road_rows, _ewkb([r[-1] for r in road_rows], srid))
    ))
    session.execute(_ROAD_CELLS)

    _copy(raw, "buildings", _BUILDING_COLUMNS, (
        (r["code"], district, r["name"], r["address"], r["floors"], r["underground_floors"], r["height_m"],
         r["gross_floor_area_m2"], r["use"], r["build_year"], g)
        for r, g in zip(houses.rows, _ewkb([MultiPolygon([p]) for p in houses.geoms], srid))
    ))

    session.execute(_BUILDING_CELLS)
    _analyze(session, "buildings")  # the FOV queries below search it

    # Views are cut by the buildings just written (the camera service's own FOV function).
    fovs = [field_of_view(session, srid, r["x"], r["y"], r["azimuth_deg"], r["hfov_deg"], r["range_m"],
                          r["occluded"]) for r in cams.rows]
    cam_xy = np.array([(r["x"], r["y"]) for r in cams.rows]).reshape(-1, 2)
    cam_cells = _cell_codes(ctx, cam_xy[:, 0], cam_xy[:, 1])
    _copy(raw, "cameras", _CAMERA_COLUMNS, (
        (r["device_id"], district, r["name"], r["address"], r["height_m"], r["azimuth_deg"], r["hfov_deg"],
         r["range_m"], r["ptz_type"], r["status"], r["stream_url"], r["occluded"], cell, point, fov)
        for r, cell, point, fov in zip(cams.rows, cam_cells, _ewkb(shapely.points(cam_xy).tolist(), srid),
                                       _ewkb(fovs, srid))
    ))

    _copy(raw, "pipelines", _PIPELINE_COLUMNS, (
        (r["code"], district, r["class_abbr"], r["subclass_abbr"], r["material_code"], r["burial_code"],
         r["diameter_mm"], r["section"], r["start_depth_m"], r["end_depth_m"], r["build_year"], r["owner"],
         r["pressure_mpa"], r["voltage_kv"], r["status"], g)
        for r, g in zip(pipes.rows, _ewkb(pipes.geoms, srid))
    ))
    session.execute(_PIPELINE_CELLS)

    xs, ys = np.array(parts.xs), np.array(parts.ys)
    part_cells = _cell_codes(ctx, xs, ys)
    serial: dict[str, int] = {}

    def component_rows():
        for k, (pair, g) in enumerate(zip(parts.codes, _ewkb(shapely.points(xs, ys).tolist(), srid))):
            code = pair[which]
            cat = cats[code]
            n = serial[code] = serial.get(code, 0) + 1
            yield (format_component_id(district, code, n, standard), district, cat.id, code, standard, cat.name,
                   parts.statuses[k], cat.default_department_id, cat.default_department_id, parts.owners[k],
                   parts.maintainers[k], part_cells[k], parts.surveyed[k], parts.changed[k], "实测", g)

    _copy(raw, "components", _COMPONENT_COLUMNS, component_rows())
    session.execute(
        sa.insert(ComponentSerial),
        [{"district_code": district, "class_code": code, "last_serial": n} for code, n in sorted(serial.items())],
    )
    for table in ("roads", "cameras", "pipelines", "components"):
        _analyze(session, table)
    LOGGER.info("assets layer: generated in %.1f s, loaded in %.1f s", generated - started,
                perf_counter() - generated)
    return {"roads": len(road_rows), "buildings": len(houses), "cameras": len(cams), "pipelines": len(pipes), "components": len(parts)}
