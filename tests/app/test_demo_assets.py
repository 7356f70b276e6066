"""The demo asset layers against PostGIS: pipelines in the road corridors, covers on their pipes,
cameras at intersections, buildings inside blocks, ids, cell codes, the layer validators."""

from __future__ import annotations

import dataclasses
import math
import re
from collections import Counter, defaultdict

import numpy as np
import pytest
import shapely
import sqlalchemy as sa
from shapely.geometry import LineString, Point, Polygon, box
from sqlalchemy.orm import Session

from app.demo import SIZES, load_demo
from app.demo.blocks import build_blocks, size_extent
from app.demo.pipelines import build_pipelines
from app.demo.roads import RoadNetwork, build_roads
from app.services import buildings as building_service
from app.services import cameras as camera_service
from app.services import components as component_service
from app.services import pipelines as pipeline_service
from app.services import roads as road_service
from app.services.layer_io import RowError
from gis.fov import fov_sector
from grid.componentid import parse_component_id
from grid.deviceid import parse_device_id

SEED = 7
# Cover depth ranges (m) the brief asks for, per CJJ 61 class / subclass.
DEPTHS = {
    ("JS", "JP"): (0.8, 1.5), ("PS", "YS"): (1.5, 4.0), ("PS", "WS"): (1.5, 4.0), ("RQ", "TR"): (0.9, 1.2),
    ("DL", "GD"): (0.7, 1.2), ("TX", "XX"): (0.7, 1.0), ("RL", "RS"): (1.5, 2.0),
}
# Manhole cover class of each pipeline class (GB/T 47678.5-2026 and the legacy 4-digit codes).
COVERS_2026 = {"01001": ("JS", "JP"), "01002": ("PS", "WS"), "01003": ("PS", "YS"), "01005": ("DL", "GD"),
               "01007": ("TX", "XX"), "01010": ("RL", "RS"), "01011": ("RQ", "TR")}
COVERS_LEGACY = {"0101": ("JS", "JP"), "0102": ("PS", "WS"), "0103": ("PS", "YS"), "0105": ("DL", "GD"),
                 "0107": ("TX", "XX"), "0110": ("RL", "RS"), "0111": ("RQ", "TR")}


@pytest.fixture(scope="module")
def demo(engine, settings):
    """The small demo loaded once for the module (rolled back after), with its road network and blocks."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    summary = load_demo(session, settings, size="small", seed=SEED)
    session.flush()
    roads = build_roads(settings.storage_srid, SEED)
    extent = size_extent(roads, SIZES["small"])
    blocks = build_blocks(roads, extent, SEED)
    try:
        yield session, summary, roads, extent, blocks
    finally:
        session.close()
        outer.rollback()
        connection.close()


def rows(session, sql: str, **params):
    return session.execute(sa.text(sql), params).all()


def scalar(session, sql: str, **params):
    return session.execute(sa.text(sql), params).scalar_one()


def geoms(session, sql: str, **params) -> np.ndarray:
    return shapely.from_wkb([bytes(r[0]) for r in rows(session, sql, **params)])


def test_counts_and_district(demo, settings):
    session, summary, *_ = demo
    for table in ("buildings", "cameras", "pipelines", "components"):
        assert scalar(session, f"SELECT count(*) FROM {table}") == summary.counts[table] > 0, table
        assert scalar(session, f"SELECT count(*) FROM {table} WHERE district_code <> :d",
                      d=settings.district_code) == 0, table
    # 9 km² with ~33 km of road: thousands of components, hundreds of buildings, about a hundred cameras.
    assert summary.counts["components"] > 5000
    assert summary.counts["pipelines"] > 1000
    assert 50 <= summary.counts["cameras"] <= 400
    assert summary.counts["buildings"] > 500


# -- pipelines -------------------------------------------------------------------------------


def test_every_pipeline_class_runs_along_the_roads(demo):
    session, *_ = demo
    length = {(r.class_abbr, r.subclass_abbr): r.km for r in rows(
        session, "SELECT class_abbr, subclass_abbr, sum(ST_Length(geom)) / 1000 AS km FROM pipelines GROUP BY 1, 2")}
    assert set(length) == set(DEPTHS)
    # Every road carries water, gas, both sewers, power and telecom: as many km as the roads have.
    for key in (("JS", "JP"), ("PS", "YS"), ("PS", "WS"), ("RQ", "TR"), ("DL", "GD"), ("TX", "XX")):
        assert length[key] > 25.0, key
    assert length[("RL", "RS")] > 10.0  # heat only under the arterial, secondary and ring roads


def test_pipelines_lie_inside_the_road_corridors_and_clear_of_buildings(demo):
    session, _, roads, extent, _ = demo
    pipes = geoms(session, "SELECT ST_AsBinary(geom) FROM pipelines")
    corridor = roads.area_polygon.buffer(0.01)
    assert bool(shapely.covered_by(pipes, corridor).all())
    assert bool(shapely.covered_by(pipes, extent.buffer(0.01)).all())
    # Each lies within one road's own corridor, parallel to its axis at least a metre off it.
    polygons = np.array([p.buffer(0.01) for p in roads.polygons], dtype=object)
    pipe_ix, road_ix = shapely.STRtree(polygons).query(pipes, predicate="covered_by")
    lines = np.array(roads.lines, dtype=object)
    off_axis = shapely.distance(pipes[pipe_ix], lines[road_ix]) >= 1.0
    assert set(pipe_ix[off_axis].tolist()) == set(range(len(pipes)))
    assert scalar(session, """SELECT count(*) FROM pipelines p JOIN buildings b
                              ON p.geom && b.geom AND ST_Intersects(p.geom, b.geom)""") == 0


def test_pipeline_depths_sizes_and_codes(demo):
    session, *_ = demo
    for r in rows(session, """SELECT class_abbr, subclass_abbr, min(least(start_depth_m, end_depth_m)) AS lo,
                                     max(greatest(start_depth_m, end_depth_m)) AS hi,
                                     max(abs(end_depth_m - start_depth_m)) AS step
                              FROM pipelines GROUP BY 1, 2"""):
        lo, hi = DEPTHS[(r.class_abbr, r.subclass_abbr)]
        assert lo <= r.lo and r.hi <= hi, (r.class_abbr, r.subclass_abbr, r.lo, r.hi)
        assert r.step < 0.5  # depth varies only slightly from start to end
    assert scalar(session, "SELECT count(*) FROM pipelines WHERE start_depth_m <> end_depth_m") > 1000
    codes = [r[0] for r in rows(session, "SELECT code FROM pipelines")]
    assert len(set(codes)) == len(codes)
    assert all(re.fullmatch(r"(JS|PS|RQ|RL|DL|TX)-\d{6}", c) for c in codes)
    assert scalar(session, "SELECT count(*) FROM pipelines WHERE left(code, 2) <> class_abbr") == 0
    # Segments of about 100–150 m (shorter where a crossing or the district edge cuts them).
    lengths = [r[0] for r in rows(session, "SELECT ST_Length(geom) FROM pipelines")]
    assert max(lengths) < 190.0 and min(lengths) >= 5.0
    assert 100.0 <= float(np.median(lengths)) <= 150.0
    # Sizes: round pipes have a diameter, duct banks a section; only cables carry a voltage.
    assert scalar(session, """SELECT count(*) FROM pipelines
                              WHERE (class_abbr IN ('DL', 'TX')) = (diameter_mm IS NOT NULL)
                                 OR (class_abbr IN ('DL', 'TX')) <> (section IS NOT NULL)""") == 0
    assert scalar(session, "SELECT count(*) FROM pipelines WHERE (voltage_kv IS NOT NULL) <> (class_abbr = 'DL')") == 0
    years = [r[0] for r in rows(session, "SELECT build_year FROM pipelines")]
    assert min(years) >= 1995 and max(years) <= 2025 and max(years) - min(years) >= 15
    owners = {r[0] for r in rows(session, "SELECT DISTINCT owner FROM pipelines")}
    assert {"郑州华润燃气股份有限公司", "国网郑州供电公司", "郑州热力集团有限公司"} <= owners


def test_pipelines_split_at_crossings_on_a_known_network():
    # Two branch roads (16 m) crossing at x = 150: every pipeline of the east-west road is cut
    # there, into two 150 m segments at its offset (power 0.85 × 8 m to the left).
    a, b = LineString([(0, 0), (300, 0)]), LineString([(150, -150), (150, 150)])
    net = RoadNetwork([a, b], ["甲路", "乙路"], ["branch", "branch"], [16.0, 16.0], Polygon(),
                      box(-10, -200, 310, 200), Point(0, 0), 4547)
    plan = build_pipelines(net, box(-10, -200, 310, 200), seed=1)
    power = sorted(
        (shapely.get_coordinates(g).round(6).tolist() for r, g in zip(plan.rows, plan.geoms)
         if r["class_abbr"] == "DL" and g.bounds[1] == g.bounds[3])
    )
    assert power == [[[0.0, 6.8], [150.0, 6.8]], [[150.0, 6.8], [300.0, 6.8]]]
    # Six classes per branch road, each cut into two pieces on either road.
    assert Counter(r["class_abbr"] for r in plan.rows) == {"DL": 4, "JS": 4, "PS": 8, "TX": 4, "RQ": 4}


def test_pipelines_are_deterministic():
    roads = build_roads(4547, SEED)
    extent = size_extent(roads, SIZES["small"])
    one, two = build_pipelines(roads, extent, SEED), build_pipelines(roads, extent, SEED)
    assert one.rows == two.rows
    assert [g.wkb for g in one.geoms] == [g.wkb for g in two.geoms]


# -- components ------------------------------------------------------------------------------


def test_manhole_covers_sit_on_a_pipeline_of_their_class(demo):
    session, *_ = demo
    counts = dict(rows(session, "SELECT category_code, count(*) FROM components GROUP BY 1"))
    assert set(COVERS_2026) | {"01037", "03005"} == set(counts)
    for code, (cls, sub) in COVERS_2026.items():
        far = scalar(session, """SELECT count(*) FROM components k WHERE k.category_code = :code
                                 AND NOT EXISTS (SELECT 1 FROM pipelines p
                                     WHERE p.class_abbr = :cls AND p.subclass_abbr = :sub
                                       AND ST_DWithin(p.geom, k.geom, 0.5))""", code=code, cls=cls, sub=sub)
        assert far == 0, code
        # One cover at every segment start and one every 40–60 m along it.
        km = scalar(session, "SELECT sum(ST_Length(geom)) / 1000 FROM pipelines WHERE class_abbr = :c "
                             "AND subclass_abbr = :s", c=cls, s=sub)
        assert 1000 / 60 * km <= counts[code] <= 1000 / 40 * km + scalar(
            session, "SELECT count(*) FROM pipelines WHERE class_abbr = :c AND subclass_abbr = :s", c=cls, s=sub)


def test_street_lights_and_bins_line_the_roads(demo):
    session, _, roads, extent, _ = demo
    km = sum(ln.intersection(extent).length for ln in roads.lines) / 1000
    for code, spacing in (("01037", (30.0, 35.0)), ("03005", (80.0, 100.0))):
        points = geoms(session, "SELECT ST_AsBinary(geom) FROM components WHERE category_code = :c", c=code)
        # Both sides of every road, less the stretches inside crossing roads.
        assert 0.75 * 2000 * km / spacing[1] <= len(points) <= 2000 * km / spacing[0]
        assert bool(shapely.covered_by(points, roads.area_polygon).all())
    assert scalar(session, """SELECT count(*) FROM components k JOIN buildings b
                              ON k.geom && b.geom AND ST_Intersects(k.geom, b.geom)""") == 0


def test_component_ids_categories_departments_and_statuses(demo, settings):
    session, *_ = demo
    standard = settings.category_standard
    found = rows(session, """SELECT k.component_id, k.category_code, k.standard_ref, k.name, k.status,
                                    k.owner_department_id, k.maintainer_department_id, k.building_id,
                                    k.surveyed_on, k.changed_on, c.code, c.standard_ref AS cat_standard,
                                    c.kind, c.name AS cat_name, c.default_department_id
                             FROM components k JOIN categories c ON c.id = k.category_id""")
    ids = [r.component_id for r in found]
    assert len(set(ids)) == len(ids)
    serials = defaultdict(list)
    for r in found:
        cid = parse_component_id(r.component_id, standard, district=settings.district_code)
        assert len(r.component_id) == 17 and cid.class_code == r.category_code == r.code
        assert r.standard_ref == r.cat_standard == standard and r.kind == "component" and r.name == r.cat_name
        assert r.owner_department_id == r.maintainer_department_id == r.default_department_id is not None
        assert r.building_id is None
        assert r.changed_on is None if r.status == "intact" else r.changed_on > r.surveyed_on
        serials[r.category_code].append(cid.serial)
    # Serials run 1..n per class, and the allocator's counters start after them.
    assert all(sorted(s) == list(range(1, len(s) + 1)) for s in serials.values())
    assert dict(rows(session, "SELECT class_code, last_serial FROM component_serials")) == {
        k: len(v) for k, v in serials.items()}
    depts = dict(rows(session, "SELECT c.category_code, d.code FROM components c "
                               "JOIN departments d ON d.id = c.owner_department_id GROUP BY 1, 2"))
    assert depts == {"01001": "water", "01002": "drainage", "01003": "drainage", "01005": "power",
                     "01007": "telecom", "01010": "municipal_roads", "01011": "gas",
                     "01037": "municipal_roads", "03005": "sanitation"}
    status = Counter(r.status for r in found)
    assert status["intact"] > 0.9 * len(found) and status["damaged"] > 0 and status["missing"] > 0


@pytest.mark.slow
def test_legacy_standard_gives_16_digit_ids(demo, settings):
    # In a savepoint of the module's transaction (another connection would wait on its locks).
    session, *_ = demo
    legacy = dataclasses.replace(settings, category_standard="GB/T 30428.2-2013")
    nested = session.begin_nested()
    try:
        load_demo(session, legacy, size="small", seed=SEED)
        codes = dict(rows(session, "SELECT category_code, count(*) FROM components GROUP BY 1"))
        assert set(codes) == set(COVERS_LEGACY) | {"0118", "0305"}
        for cid, code in rows(session, "SELECT component_id, category_code FROM components"):
            parsed = parse_component_id(cid, legacy.category_standard, district=settings.district_code)
            assert len(cid) == 16 and parsed.class_code == code
        assert scalar(session, """SELECT count(*) FROM components k JOIN categories c ON c.id = k.category_id
                                  WHERE c.standard_ref <> 'GB/T 30428.2-2013' OR c.code <> k.category_code""") == 0
    finally:
        nested.rollback()


# -- cameras ---------------------------------------------------------------------------------


def _bearings_at(roads: RoadNetwork, p: Point) -> list[float]:
    """Bearings of the road directions through ``p`` (both ways along every road within 1 m of it)."""
    out = []
    for ln in roads.lines:
        if ln.distance(p) > 1.0:
            continue
        xy = np.asarray(ln.coords)
        # The segment(s) through p: at a vertex of a curved road (the CBD rings), both.
        for k in range(len(xy) - 1):
            if LineString(xy[k:k + 2]).distance(p) <= 1.0:
                dx, dy = xy[k + 1] - xy[k]
                b = math.degrees(math.atan2(dx, dy)) % 360
                out += [b, (b + 180) % 360]
    return out


def test_cameras_stand_at_intersections_looking_along_a_road(demo, settings):
    session, _, roads, extent, _ = demo
    cams = rows(session, """SELECT device_id, ST_X(geom) AS x, ST_Y(geom) AS y, azimuth_deg, hfov_deg, range_m,
                                   height_m, ptz_type, status, stream_url, name FROM cameras""")
    crossings = roads.intersections()
    tree = shapely.STRtree(crossings)
    per_junction = Counter()
    for c in cams:
        p = Point(c.x, c.y)
        # On the kerb just past the crossing road (within 40 m of the junction), looking
        # along one of the roads that meet there.
        near = tree.query(p, predicate="dwithin", distance=40.0).tolist()
        looks = [j for j in near
                 if min(abs((c.azimuth_deg - b + 180) % 360 - 180) for b in _bearings_at(roads, crossings[j])) < 0.2]
        assert looks, (c.name, c.azimuth_deg)
        assert extent.contains(p) and roads.area_polygon.contains(p)
        j = min(looks, key=lambda k: crossings[k].distance(p))
        assert 6.0 <= c.height_m <= 10.0 and 80.0 <= c.range_m <= 150.0
        assert (c.hfov_deg == 360 and c.ptz_type == 1) or (50 <= c.hfov_deg <= 90 and c.ptz_type == 3)
        assert c.stream_url == f"https://video.example.invalid/live/{c.device_id}.m3u8"
        per_junction[j] += 1
    assert set(per_junction.values()) <= {1, 2, 3, 4}
    assert sum(1 for c in cams if c.hfov_deg == 360) >= 3
    status = Counter(c.status for c in cams)
    assert status["online"] > 0.8 * len(cams) and set(status) <= {"online", "offline", "fault"}
    ids = [c.device_id for c in cams]
    assert len(set(ids)) == len(ids)
    for device in ids:
        parsed = parse_device_id(device)
        assert device[:8] == settings.district_code + "00"
        assert (device[8:10], device[10:13], device[13]) == ("08", "132", "6"), parsed


def test_camera_views_are_their_sectors_cut_by_the_buildings(demo, settings):
    session, *_ = demo
    cams = rows(session, """SELECT id, ST_X(geom) AS x, ST_Y(geom) AS y, azimuth_deg, hfov_deg, range_m, occluded,
                                   ST_AsBinary(fov) AS fov, ST_IsValid(fov) AS valid FROM cameras""")
    houses = geoms(session, "SELECT ST_AsBinary(geom) FROM buildings")
    tree = shapely.STRtree(houses)
    cut = 0
    for c in cams:
        fov = shapely.from_wkb(bytes(c.fov))
        sector = fov_sector(c.x, c.y, c.azimuth_deg, c.hfov_deg, c.range_m)
        assert c.valid and c.occluded and fov.is_valid
        assert fov.difference(sector).area < 1e-3
        blockers = houses[tree.query(sector, predicate="intersects")]
        if len(blockers) == 0:
            assert fov.symmetric_difference(sector).area < 1e-6
            continue
        cut += 1
        # Nothing inside a building is seen, and the camera's own spot is.
        assert sum(fov.intersection(b).area for b in blockers) < 0.01
        assert fov.buffer(1e-6).contains(Point(c.x, c.y)) and fov.area < sector.area
        # The same view the camera service draws when the camera is edited through the API.
        again = camera_service.field_of_view(session, settings.storage_srid, c.x, c.y, c.azimuth_deg,
                                             c.hfov_deg, c.range_m, True)
        assert again.symmetric_difference(fov).area < 1e-6
    assert cut > len(cams) / 3


# -- buildings -------------------------------------------------------------------------------


def test_buildings_are_valid_inside_their_blocks_off_the_roads_and_apart(demo):
    session, _, roads, extent, blocks = demo
    found = rows(session, """SELECT ST_AsBinary(geom) AS g, name, address, floors, height_m,
                                    gross_floor_area_m2, use, build_year FROM buildings""")
    houses = shapely.from_wkb([bytes(r.g) for r in found])
    assert bool(shapely.is_valid(houses).all())
    assert not bool(shapely.intersects(houses, roads.area_polygon).any())
    block_polys = np.array([b.polygon for b in blocks], dtype=object)
    h_ix, b_ix = shapely.STRtree(block_polys).query(houses, predicate="within")
    assert sorted(h_ix.tolist()) == list(range(len(houses)))  # each inside exactly one block
    overlapping = scalar(session, """SELECT count(*) FROM buildings a JOIN buildings b
                                     ON a.id < b.id AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)""")
    assert overlapping == 0
    # Nearly every block is built on (a few slivers between roads are too narrow).
    built = set(b_ix.tolist())
    assert len(built) >= 0.9 * len(blocks)
    assert all(i in built for i, b in enumerate(blocks) if b.polygon.area > 30_000)
    names = [r.name for r in found]
    assert len(set(names)) == len(names)
    road_names = set(roads.names)
    for r, g in zip(found, houses):
        m = re.fullmatch(r"郑州市郑东新区(.+?)(\d+)号", r.address)
        assert m and m.group(1) in road_names, r.address
        assert abs(r.gross_floor_area_m2 - g.area * r.floors) < 1.0
        if r.name not in ("千玺广场", "郑州国际会展中心", "河南艺术中心"):
            assert 3.0 * r.floors - 0.1 <= r.height_m <= 3.5 * r.floors + 0.1, r.name
        assert 1995 <= r.build_year <= 2025
    uses = Counter(r.use for r in found)
    assert {"residential", "office", "school", "public"} <= set(uses)
    towers = [r.floors for r in found if r.use == "office"]
    assert max(towers) >= 40 and min(r.floors for r in found if r.use == "residential") >= 11


# -- cells and validators --------------------------------------------------------------------


def test_every_asset_has_the_cell_that_contains_it(demo):
    session, *_ = demo
    for table in ("buildings", "cameras", "pipelines", "components"):
        assert scalar(session, f"SELECT count(*) FROM {table} WHERE cell_code IS NULL") == 0, table
        # The coded cell is a current cell and meets the asset.
        assert scalar(session, f"""SELECT count(*) FROM {table} a LEFT JOIN cells c
                                   ON c.code = a.cell_code AND c.valid_to IS NULL
                                   WHERE c.code IS NULL OR NOT ST_Intersects(c.geom, a.geom)""") == 0, table
    # Points (found in Python by the loader): PostGIS agrees, lowest code on shared edges.
    for table in ("cameras", "components"):
        assert scalar(session, f"""SELECT count(*) FROM {table} a
                                   WHERE a.cell_code IS DISTINCT FROM (
                                       SELECT c.code FROM cells c WHERE ST_Covers(c.geom, a.geom)
                                       ORDER BY c.code LIMIT 1)""") == 0, table
    assert scalar(session, """SELECT count(*) FROM buildings b JOIN cells c ON c.code = b.cell_code
                              WHERE NOT ST_Covers(c.geom, ST_PointOnSurface(b.geom))""") == 0
    assert scalar(session, """SELECT count(*) FROM pipelines p JOIN cells c ON c.code = p.cell_code
                              WHERE NOT ST_Covers(c.geom, ST_LineInterpolatePoint(p.geom, 0.5))""") == 0


def test_the_demo_stores_its_named_roads_as_the_roads_layer(demo, settings):
    session, summary, network, extent, _ = demo
    stored = rows(session, f"SELECT {', '.join(road_service.WRITABLE)}, cell_code, ST_AsBinary(geom) AS g "
                           "FROM roads ORDER BY code")
    assert len(stored) == summary.counts["roads"] > 20
    # Every generated road meeting the built extent is there, by name, with its CJJ 37 class.
    meeting = {n for ln, n in zip(network.lines, network.names) if ln.intersects(extent) and
               ln.intersection(extent).length >= 1.0}
    assert {r.name for r in stored} == meeting
    assert {r.road_class for r in stored} == {"arterial", "secondary", "branch"}
    ctx = road_service.prepare(session, settings)
    for r in stored:
        values = dict(r._mapping)
        geom = shapely.from_wkb(bytes(values.pop("g")))
        assert extent.buffer(0.01).covers(geom), r.code
        assert road_service.validate(ctx, values, geom)["road_class"] == r.road_class
    assert scalar(session, """SELECT count(*) FROM roads r LEFT JOIN cells c ON c.code = r.cell_code
                              AND c.valid_to IS NULL
                              WHERE c.code IS NULL OR NOT ST_Covers(c.geom,
                                    ST_LineInterpolatePoint(ST_GeometryN(r.geom, 1), 0.5))""") == 0


def test_demo_rows_pass_the_layer_validators(demo, settings):
    session, *_ = demo
    pctx = pipeline_service.prepare(session, settings)
    for r in rows(session, f"SELECT {', '.join(pipeline_service.FIELD_NAMES)}, ST_AsBinary(geom) AS g "
                           "FROM pipelines"):
        values = dict(r._mapping)
        rec = pipeline_service.validate(pctx, values, shapely.from_wkb(bytes(values.pop("g"))))
        assert (rec["class_abbr"], rec["section"]) == (r.class_abbr, r.section)
    cctx = component_service.prepare(session, settings)
    for r in rows(session, """SELECT component_id, name, category_code AS category, status, surveyed_on,
                                     changed_on, data_source, owner_name, maintainer_name,
                                     owner_department_id::text AS owner_department,
                                     maintainer_department_id::text AS maintainer_department,
                                     ST_AsBinary(geom) AS g FROM components"""):
        values = dict(r._mapping)
        rec = component_service.validate(cctx, values, shapely.from_wkb(bytes(values.pop("g"))))
        assert rec["component_id"] == r.component_id
    camctx = camera_service.CameraContext(session, settings)
    for r in rows(session, f"SELECT {', '.join(camera_service.FIELD_NAMES)}, cell_code, "
                           "ST_AsBinary(geom) AS g FROM cameras"):
        values = dict(r._mapping)
        rec = camera_service.validate(camctx, values, shapely.from_wkb(bytes(values.pop("g"))))
        assert rec["cell_code"] == r.cell_code
    bctx = building_service.prepare(session, settings)
    for r in rows(session, "SELECT code, name, address, floors, underground_floors, height_m, "
                           "gross_floor_area_m2, use, build_year, ST_AsBinary(geom) AS g FROM buildings"):
        values = dict(r._mapping)
        try:
            building_service.validate(bctx, values, shapely.from_wkb(bytes(values.pop("g"))))
        except RowError as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"building {r.code}: {exc}")


def test_reload_with_the_same_seed_replaces_the_same_assets(demo, settings):
    session, summary, *_ = demo

    def digest():
        return {
            "pipelines": rows(session, "SELECT code, md5(ST_AsBinary(geom)) FROM pipelines ORDER BY code"),
            "components": rows(session, "SELECT component_id, md5(ST_AsBinary(geom)) FROM components "
                                        "ORDER BY component_id"),
            "cameras": rows(session, "SELECT device_id, md5(ST_AsBinary(fov)) FROM cameras ORDER BY device_id"),
            "buildings": rows(session, "SELECT code, name, md5(ST_AsBinary(geom)) FROM buildings ORDER BY code"),
            "serials": rows(session, "SELECT * FROM component_serials ORDER BY class_code"),
            "roads": rows(session, "SELECT code, name, md5(ST_AsBinary(geom)) FROM roads ORDER BY code"),
        }

    before = digest()
    again = load_demo(session, settings, size="small", seed=SEED)
    assert digest() == before
    assert {k: again.counts[k] for k in ("buildings", "cameras", "pipelines", "components")} == {
        k: summary.counts[k] for k in ("buildings", "cameras", "pipelines", "components")}
