"""The demo district generator against a real PostGIS: hierarchy, coverage, topology, people, determinism."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from statistics import median

import numpy as np
import pytest
import shapely
import sqlalchemy as sa

from app.config import DEMO_DISTRICT_CODE_PLACEHOLDER
from app.demo import SIZES, DemoError, load_demo
from app.demo.people import ROLE_USERS
from app.demo.admin import partition
from app.demo.blocks import MIN_BLOCK_AREA_M2, build_blocks, size_extent
from app.demo.cells import build_cells
from app.demo.roads import CBD_CENTRE_LONLAT, build_roads, intersections
from app.models import User
from app.services.accounts import authenticate
from grid import CellLocator, CellSet


def scalar(session, sql: str, **params):
    return session.execute(sa.text(sql), params).scalar_one()


@pytest.fixture
def small(db_session, settings):
    """The small demo loaded into the test's transaction."""
    return load_demo(db_session, settings, size="small", seed=7)


def test_small_demo_hierarchy_and_counts(small, db_session, settings):
    assert small.district_code == settings.district_code
    assert small.district_code_is_placeholder == (settings.district_code == DEMO_DISTRICT_CODE_PLACEHOLDER)
    for table in ("streets", "communities", "cells", "duty_grids", "departments", "users"):
        assert scalar(db_session, f"SELECT count(*) FROM {table}") == small.counts[table], table
    assert small.counts["streets"] >= 4
    assert small.counts["communities"] >= 8
    # 9 km² of about 1 ha cells, roads included.
    assert 800 <= small.counts["cells"] <= 1000
    # Codes nest: street = district + 3, community = street + 3, cell = community + 3.
    assert scalar(
        db_session,
        """SELECT count(*) FROM cells c JOIN communities m ON m.code = c.community_code
           WHERE c.street_code <> m.street_code OR left(c.code, 12) <> c.community_code
              OR left(m.code, 9) <> m.street_code OR c.district_code <> :d""",
        d=settings.district_code,
    ) == 0
    names = db_session.execute(sa.text("SELECT name FROM streets ORDER BY code")).scalars().all()
    assert names[0] == "如意湖街道" and all(n.endswith("街道") for n in names)
    assert scalar(db_session, "SELECT count(*) FROM audit_log WHERE action = 'demo.load'") == 1


def test_small_demo_cells_are_about_a_hectare_and_tile_their_communities(small, db_session):
    areas = db_session.execute(sa.text("SELECT ST_Area(geom) FROM cells")).scalars().all()
    assert 5_000 <= median(areas) <= 20_000
    stored = db_session.execute(sa.text("SELECT max(abs(area_m2 - ST_Area(geom))) FROM cells")).scalar_one()
    assert stored < 0.1
    overlapping = scalar(
        db_session,
        """SELECT count(*) FROM cells a JOIN cells b
             ON a.code < b.code AND a.geom && b.geom AND ST_Intersects(a.geom, b.geom)
           WHERE ST_Area(ST_Intersection(a.geom, b.geom)) > 0.5""",
    )
    assert overlapping == 0
    outside = scalar(
        db_session,
        """WITH m AS (SELECT code, ST_Buffer(geom, 0.05) AS g FROM communities)
           SELECT count(*) FROM cells c JOIN m ON m.code = c.community_code
           WHERE NOT ST_CoveredBy(c.geom, m.g)""",
    )
    assert outside == 0
    # Cells tile their community: the areas add up.
    worst = scalar(
        db_session,
        """SELECT max(abs(ST_Area(m.geom) - s.a)) FROM communities m
           JOIN (SELECT community_code, sum(ST_Area(geom)) AS a FROM cells GROUP BY 1) s
             ON s.community_code = m.code""",
    )
    assert worst < 1.0
    uses = set(db_session.execute(sa.text("SELECT DISTINCT land_use FROM cells")).scalars())
    assert uses <= {"commercial", "residential", "education", "green", "industrial"}
    assert {"commercial", "green"} <= uses
    assert set(db_session.execute(sa.text("SELECT DISTINCT area_class FROM cells")).scalars()) == {1, 2}


def stored_cells(session) -> CellSet:
    rows = session.execute(sa.text("SELECT code, ST_AsBinary(geom) FROM cells ORDER BY code")).all()
    return CellSet.from_polygons([(code, shapely.from_wkb(bytes(wkb))) for code, wkb in rows])


def test_small_demo_cells_cover_the_whole_district_roads_included(small, db_session, settings):
    # The district is the extent; the cells (roads included) tile it with no gap.
    assert scalar(
        db_session,
        """SELECT ST_Area(ST_SymDifference((SELECT ST_Union(geom) FROM cells), d.geom))
           FROM districts d""",
    ) < 1.0
    assert scalar(db_session, "SELECT ST_Area(geom) FROM districts") == pytest.approx(9e6, rel=1e-9)
    for table in ("streets", "communities"):
        assert scalar(
            db_session,
            f"SELECT abs(sum(ST_Area(geom)) - (SELECT ST_Area(geom) FROM districts)) FROM {table}",
        ) < 1.0, table
    # Every random point of the district lies in a cell.
    cells = stored_cells(db_session)
    minx, miny, maxx, maxy = cells.bounds
    rng = np.random.default_rng(5)
    xs, ys = rng.uniform(minx, maxx, 100_000), rng.uniform(miny, maxy, 100_000)
    assert int((CellLocator(cells).locate_many(xs, ys) < 0).sum()) == 0
    # Points on road centrelines (cell edges) lie in a cell, also by PostGIS' exact test.
    roads = build_roads(settings.storage_srid, seed=7)
    district = shapely.box(minx, miny, maxx, maxy).buffer(-1.0)
    on_roads = [
        ln.interpolate(f, normalized=True)
        for ln in roads.lines
        for f in (0.1, 0.37, 0.5, 0.81)
        if district.contains(ln.interpolate(f, normalized=True))
    ]
    on_roads += [p for p in intersections(roads) if district.contains(p)]
    assert len(on_roads) > 100
    uncovered = scalar(
        db_session,
        """SELECT count(*) FROM unnest(CAST(:xs AS float8[]), CAST(:ys AS float8[])) AS p(x, y)
           WHERE NOT EXISTS (SELECT 1 FROM cells c
                             WHERE ST_Covers(c.geom, ST_SetSRID(ST_MakePoint(p.x, p.y), ST_SRID(c.geom))))""",
        xs=[p.x for p in on_roads],
        ys=[p.y for p in on_roads],
    )
    assert uncovered == 0
    # Cells meet edge to edge (no T-junction cracks), so shapely sees a valid coverage.
    assert bool(shapely.coverage_is_valid(np.array(cells.geoms)))


def test_blocks_are_centreline_faces_that_tile_the_extent():
    roads = build_roads(4547, seed=3)
    for size in ("small", "default"):
        extent = size_extent(roads, SIZES[size])
        blocks = build_blocks(roads, extent, seed=3)
        areas = [b.polygon.area for b in blocks]
        assert sum(areas) == pytest.approx(extent.area, rel=1e-6), size
        assert min(areas) >= MIN_BLOCK_AREA_M2, size
        union = shapely.union_all([b.polygon for b in blocks])
        assert shapely.symmetric_difference(union, extent).area < 1e-3, size
        # Block edges run on centrelines: the middle of a road inside the extent is on a
        # block boundary, not inside a block.
        inner = extent.buffer(-5.0)
        mids = [ln.interpolate(0.5, normalized=True) for ln in roads.lines]
        mids = [p for p in mids if inner.contains(p)]
        boundaries = shapely.union_all([b.polygon.boundary for b in blocks])
        assert max(p.distance(boundaries) for p in mids) < 1e-6, size


@pytest.mark.slow
def test_default_demo_has_thousands_of_cells(db_session, settings):
    summary = load_demo(db_session, settings, size="default", seed=3)
    assert summary.counts["cells"] >= 3_000
    assert scalar(
        db_session,
        """SELECT ST_Area(ST_SymDifference((SELECT ST_Union(geom) FROM cells), d.geom))
           FROM districts d""",
    ) < 1.0


@pytest.mark.slow
def test_large_size_gives_about_twenty_thousand_cells_of_about_a_hectare():
    size = SIZES["large"]
    roads = build_roads(4547, seed=3)
    extent = size_extent(roads, size)
    blocks = build_blocks(roads, extent, seed=3)
    streets = partition(blocks, "410199", size.streets, size.communities, roads.cbd_centre, seed=3)
    cells = build_cells(streets, blocks, 3, target_area_m2=size.cell_area_m2, boundary=extent)
    assert 18_000 <= len(cells) <= 22_000
    assert 5_000 <= median(c.polygon.area for c in cells) <= 10_000
    assert sum(c.polygon.area for c in cells) == pytest.approx(extent.area, rel=1e-6)


def test_small_demo_lies_in_zhengdong(small, db_session):
    box = db_session.execute(
        sa.text(
            """SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e)
               FROM (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e FROM districts) q"""
        )
    ).one()
    assert 113.72 <= box[0] < box[2] <= 113.86
    assert 34.72 <= box[1] < box[3] <= 34.82
    # The CBD rings are inside: the lake block at the ring centre belongs to the first community.
    code = scalar(
        db_session,
        """SELECT c.community_code FROM cells c
           WHERE ST_DWithin(c.geom, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), ST_SRID(c.geom)), 1)
           ORDER BY c.code LIMIT 1""",
        lon=CBD_CENTRE_LONLAT[0],
        lat=CBD_CENTRE_LONLAT[1],
    )
    assert code.endswith("001001")


def test_small_demo_serials_run_west_to_east_then_north_to_south(small, db_session):
    rows = db_session.execute(
        sa.text("SELECT community_code, serial, ST_AsBinary(geom) FROM cells ORDER BY code")
    ).all()
    by_community: dict[str, list] = {}
    for community, serial, wkb in rows:
        by_community.setdefault(community, []).append((serial, shapely.from_wkb(bytes(wkb))))
    for community, cells in by_community.items():
        assert [s for s, _ in cells] == [f"{k:03d}" for k in range(1, len(cells) + 1)], community
        # The documented rule (grid.number_cells): rows of height √(median area) from the
        # community's northern edge, by each cell's point on surface; west → east in a row.
        pts = [shapely.point_on_surface(g) for _, g in cells]
        top = max(g.bounds[3] for _, g in cells)
        height = math.sqrt(median(g.area for _, g in cells))
        keys = [(math.floor((top - p.y) / height), p.x) for p in pts]
        assert keys == sorted(keys), community
        first, last = pts[0], pts[-1]
        assert first.y > last.y


def test_small_demo_duty_grids_cover_every_cell_once(small, db_session):
    assert scalar(
        db_session,
        """SELECT count(*) FROM cells c LEFT JOIN duty_grid_cells d ON d.cell_code = c.code
           WHERE c.valid_to IS NULL AND d.cell_code IS NULL""",
    ) == 0
    assert scalar(db_session, "SELECT count(*) FROM duty_grid_cells") == small.counts["cells"]
    sizes = db_session.execute(
        sa.text("SELECT count(*) FROM duty_grid_cells GROUP BY duty_grid_id")
    ).scalars().all()
    assert max(sizes) <= 40 and 20 <= median(sizes) <= 40
    # Every duty grid lies within one community and has its own inspector.
    assert scalar(
        db_session,
        """SELECT count(*) FROM (SELECT d.duty_grid_id FROM duty_grid_cells d
           JOIN cells c ON c.code = d.cell_code GROUP BY 1 HAVING count(DISTINCT c.community_code) > 1) q""",
    ) == 0
    assert scalar(
        db_session,
        """SELECT count(DISTINCT g.inspector_id) FROM duty_grids g
           JOIN users u ON u.id = g.inspector_id WHERE u.role = 'inspector'""",
    ) == small.counts["duty_grids"]
    first = db_session.execute(
        sa.text(
            """SELECT g.code, g.name, ST_Distance(ST_Centroid(g.geom),
                      ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), ST_SRID(g.geom)))
               FROM duty_grids g JOIN users u ON u.id = g.inspector_id WHERE u.username = 'inspector1'"""
        ),
        {"lon": CBD_CENTRE_LONLAT[0], "lat": CBD_CENTRE_LONLAT[1]},
    ).one()
    assert first[0].endswith("001001-D01") and first[1].endswith("第1责任网格")
    assert first[2] < 1_000  # inside the CBD's outer ring
    # The duty grid's geometry is its cells (up to the snapping that closes hairline cracks).
    assert scalar(
        db_session,
        """SELECT max(abs(ST_Area(g.geom) - s.a) / s.a) FROM duty_grids g JOIN
           (SELECT d.duty_grid_id, sum(ST_Area(c.geom)) AS a FROM duty_grid_cells d
            JOIN cells c ON c.code = d.cell_code GROUP BY 1) s ON s.duty_grid_id = g.id""",
    ) < 1e-5


def test_small_demo_accounts_sign_in(small, db_session, settings):
    assert [a[:2] for a in small.accounts] == [(u, r) for u, r, _ in ROLE_USERS]
    for username, role, _ in ROLE_USERS:
        user = authenticate(db_session, username, settings.demo_password)
        assert user is not None and user.role == role, username
        assert user.phone.startswith("1380000") and len(user.phone) == 11
    assert authenticate(db_session, "admin1", settings.demo_password + "x") is None
    department1 = db_session.scalar(sa.select(User).where(User.username == "department1"))
    assert department1.department.code == "municipal_roads"
    water = db_session.scalar(sa.select(User).where(User.username == "dept_water1"))
    assert water.role == "department" and water.department.name == "供水"
    assert scalar(db_session, "SELECT count(*) FROM departments WHERE code = 'municipal_roads' AND name = '市政道路'") == 1
    inspectors = scalar(db_session, "SELECT count(*) FROM users WHERE role = 'inspector'")
    assert inspectors == small.counts["duty_grids"]


def test_demo_is_deterministic_and_reload_replaces_it(db_session, settings):
    def snapshot():
        return db_session.execute(
            sa.text(
                """SELECT array_agg(code ORDER BY code), sum(ST_Area(geom)),
                          md5(string_agg(ST_AsEWKB(geom)::text, '' ORDER BY code))
                   FROM cells"""
            )
        ).one()

    # The case history is measured from "now" (the load instant by default): pin it.
    now = datetime(2026, 11, 20, 10, 30, tzinfo=timezone(timedelta(hours=8)))
    first = load_demo(db_session, settings, size="small", seed=11, history_end=now)
    before = snapshot()
    again = load_demo(db_session, settings, size="small", seed=11, history_end=now)
    after = snapshot()
    assert first.counts == again.counts
    assert before[0] == after[0]
    assert before[1] == pytest.approx(after[1], abs=1e-6)
    assert before[2] == after[2]
    # The reload replaced the data rather than adding to it.
    assert scalar(db_session, "SELECT count(*) FROM cells") == again.counts["cells"]
    assert scalar(db_session, "SELECT count(*) FROM users WHERE username = 'admin1'") == 1
    # One summary row per load; the reload wiped the first load's rows.
    assert scalar(db_session, "SELECT count(*) FROM audit_log WHERE action = 'demo.load'") == 1


def test_another_seed_gives_another_network():
    a, b = build_roads(4547, seed=1), build_roads(4547, seed=2)
    assert [ln.wkb for ln in a.lines] != [ln.wkb for ln in b.lines]
    assert len(intersections(a)) > 100


def test_unknown_size_is_refused(db_session, settings):
    with pytest.raises(DemoError, match="size 'huge'"):
        load_demo(db_session, settings, size="huge")
    assert set(SIZES) == {"small", "default", "large"}
