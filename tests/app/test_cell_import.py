"""`citygrid import cells` / `export cells`: all or nothing, with a row-by-row report."""

import csv
import geopandas as gpd
import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from shapely.geometry import Polygon, box

from app.cli import main as cli
from app.services.audit import SYSTEM
from app.services.cell_import import ImportRefused, export_cells, import_cells
from tests.app.conftest import count, origin_xy, make_layer, write_layer
from tests.conftest import fresh_database


def codes(session, current=True):
    q = "SELECT code FROM cells" + (" WHERE valid_to IS NULL" if current else "") + " ORDER BY code"
    return list(session.scalars(sa.text(q)))


def refused(session, settings, path, **kw) -> ImportRefused:
    session.commit()  # keep the test's earlier work when the refused import rolls back
    before = (count(session, "cells"), count(session, "communities"), count(session, "audit_log"))
    with pytest.raises(ImportRefused) as err:
        import_cells(session, SYSTEM, path, settings, **kw)
    session.rollback()
    assert (count(session, "cells"), count(session, "communities"), count(session, "audit_log")) == before
    return err.value


def test_import_creates_cells_and_hierarchy(db_session, grid, settings):
    d = settings.district_code
    assert codes(db_session) == sorted(c for c, _ in make_layer(settings))
    names = dict(db_session.execute(sa.text("SELECT code, name FROM communities")).all())
    assert names == {d + "001001": "测试一社区", d + "001002": "测试二社区"}
    area = db_session.scalar(sa.text("SELECT sum(area_m2) FROM cells"))
    assert area == pytest.approx(60_000, rel=1e-6)
    audit = db_session.execute(sa.text("SELECT detail FROM audit_log WHERE action='cells.import'")).scalar_one()
    assert audit["inserted"] == 6


def test_reimport_is_unchanged(db_session, grid, settings, tmp_path):
    path = write_layer(tmp_path / "again", make_layer(settings), settings.storage_srid)
    result = import_cells(db_session, SYSTEM, path, settings)
    assert (result.inserted, result.updated, result.unchanged, result.retired) == (0, 0, 6, 0)


def test_missing_codes_are_assigned_and_never_reuse_a_retired_serial(db_session, grid, settings, tmp_path):
    layer = make_layer(settings)
    d = settings.district_code + "001"
    # Cell 002-002 is redrawn without a code: the old code is retired and the new cell
    # gets the next serial of its community, never 002 again.
    redrawn = layer[:5] + [("", layer[5][1])]
    path = write_layer(tmp_path / "redrawn", redrawn, settings.storage_srid,
                       extra={5: {"community_code": d + "002"}})
    result = import_cells(db_session, SYSTEM, path, settings)
    assert (result.inserted, result.retired, result.coded) == (1, 1, 1)
    assert d + "002003" in codes(db_session)
    assert d + "002002" in codes(db_session, current=False)


def test_missing_community_is_found_by_location(db_session, grid, settings, tmp_path):
    layer = make_layer(settings)
    blanked = [("", layer[0][1])] + layer[1:]
    result = import_cells(db_session, SYSTEM, write_layer(tmp_path / "b", blanked, settings.storage_srid), settings)
    assert result.coded == 1
    assert settings.district_code + "001001005" in codes(db_session)


def test_new_community_cells_are_numbered_west_to_east_north_to_south(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    c = settings.district_code + "001003"
    # A 2×2 block east of the grid, listed in scrambled order, in a new community.
    new = [("", box(x0 + 400 + dx, y0 + dy, x0 + 500 + dx, y0 + 100 + dy)) for dx, dy in
           [(100, 0), (0, 100), (0, 0), (100, 100)]]
    extra = {6 + i: {"community_code": c, "community_name": "新社区"} for i in range(4)}
    path = write_layer(tmp_path / "new", make_layer(settings) + new, settings.storage_srid, extra=extra)
    import_cells(db_session, SYSTEM, path, settings)
    rows = db_session.execute(sa.text(
        "SELECT code, ST_XMin(geom) - :x0, ST_YMin(geom) - :y0 FROM cells WHERE community_code = :c ORDER BY code"),
        {"x0": x0, "y0": y0, "c": c}).all()
    assert [(code[-3:], round(x), round(y)) for code, x, y in rows] == [
        ("001", 400, 100), ("002", 500, 100), ("003", 400, 0), ("004", 500, 0)]
    assert db_session.scalar(sa.text("SELECT name FROM communities WHERE code = :c"), {"c": c}) == "新社区"


def test_overlap_is_refused_naming_both_rows(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    layer = make_layer(settings)
    layer[1] = (layer[1][0], box(x0 + 50, y0 + 100, x0 + 200, y0 + 200))  # overlaps cell 001
    err = refused(db_session, settings, write_layer(tmp_path / "o", layer, settings.storage_srid))
    overlap = [r for r in err.rows if r.field == "overlap"]
    assert {r.row for r in overlap} == {1, 2}
    assert all(r.severity == "error" for r in overlap)


def test_overlap_is_refused_even_with_force(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    layer = make_layer(settings)
    layer[1] = (layer[1][0], box(x0 + 50, y0 + 100, x0 + 200, y0 + 200))
    refused(db_session, settings, write_layer(tmp_path / "o", layer, settings.storage_srid), force=True)


def test_duplicate_codes_and_bad_codes_are_listed(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    layer = make_layer(settings)
    layer.append((layer[0][0], box(x0, y0 + 300, x0 + 100, y0 + 400)))
    layer.append(("41019900100A001", box(x0 + 500, y0, x0 + 600, y0 + 100)))
    layer.append(("999999001001001", box(x0 + 700, y0, x0 + 800, y0 + 100)))
    err = refused(db_session, settings, write_layer(tmp_path / "d", layer, settings.storage_srid))
    by_row = {r.row: r.message for r in err.rows}
    assert "duplicate code" in by_row[7] and "row 1" in by_row[7]
    assert "community" in by_row[8]
    assert "district part 999999" in by_row[9]


def test_invalid_polygon_is_refused(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    layer = make_layer(settings)
    bowtie = Polygon([(x0, y0 + 300), (x0 + 100, y0 + 400), (x0 + 100, y0 + 300), (x0, y0 + 400)])
    layer.append((settings.district_code + "001001009", bowtie))
    err = refused(db_session, settings, write_layer(tmp_path / "bow", layer, settings.storage_srid))
    assert [r.row for r in err.rows] == [7]
    assert "Self-intersection" in err.rows[0].message


def test_wrong_crs_is_refused(db_session, grid, settings, tmp_path):
    # Projected metres in a file that says EPSG:4326.
    frame = gpd.GeoDataFrame({"code": [c for c, _ in make_layer(settings)]},
                             geometry=[g for _, g in make_layer(settings)], crs="EPSG:4326")
    path = tmp_path / "mislabelled.gpkg"
    frame.to_file(path, driver="GPKG")
    err = refused(db_session, settings, path)
    assert "CRS" in err.message or any("CRS" in r.message for r in err.rows)


def test_gap_is_a_warning_that_force_accepts(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    layer = make_layer(settings)
    # A ring of cells around an empty hole: the union has an interior gap.
    d = settings.district_code + "001003"
    ring = [(d + f"{i + 1:03d}", box(x0 + 400 + dx * 100, y0 + dy * 100, x0 + 500 + dx * 100, y0 + 100 + dy * 100))
            for i, (dx, dy) in enumerate([(0, 0), (1, 0), (2, 0), (0, 1), (2, 1), (0, 2), (1, 2), (2, 2)])]
    path = write_layer(tmp_path / "gap", layer + ring, settings.storage_srid)
    err = refused(db_session, settings, path)
    assert any(r.field == "gap" for r in err.rows) and all(r.severity == "warning" for r in err.rows)
    result = import_cells(db_session, SYSTEM, path, settings, force=True)
    assert result.inserted == 8 and any(w.field == "gap" for w in result.warnings)


def test_replace_retires_missing_cells_and_codes_are_never_reused(db_session, grid, settings, tmp_path):
    layer = make_layer(settings)
    path = write_layer(tmp_path / "less", layer[:5], settings.storage_srid)
    result = import_cells(db_session, SYSTEM, path, settings, force=True)  # it uncovers the cell's area
    assert result.retired == 1
    gone = layer[5][0]
    assert gone not in codes(db_session) and gone in codes(db_session, current=False)
    err = refused(db_session, settings, write_layer(tmp_path / "back", layer, settings.storage_srid))
    assert "never reused" in err.rows[0].message


def add_case(session, settings, cell_code: str, state: str) -> None:
    """A case row in ``cell_code`` (at the cell's centre), written directly."""
    category = session.scalar(sa.text("SELECT id FROM categories WHERE standard_ref = 'test'"))
    if category is None:
        category = session.scalar(sa.text(
            "INSERT INTO categories (standard_ref, kind, code, major_code, major_name, name, auto_dispatch, "
            "duplicate_radius_m, enabled) VALUES ('test', 'event', 'E0601', '06', '市容环境', '测试', false, 30, true) "
            "RETURNING id"))
    n = session.scalar(sa.text("SELECT count(*) FROM cases")) + 1
    session.execute(sa.text(
        """INSERT INTO cases (number, district_code, source, kind, category_id, category_code, standard_ref,
                              urgency, description, geom, cell_code, community_code, street_code, area_class,
                              state, self_handled, postponements, postponed_minutes, reworks, returns, urges,
                              reported_at, updated_at, version)
           SELECT :number, district_code, 'inspector', 'event', :cat, 'E0601', 'test', 'normal', '测试',
                  ST_PointOnSurface(geom), code, community_code, street_code, 1, :state, false, 0, 0, 0, 0, 0,
                  now(), now(), 1
           FROM cells WHERE code = :cell"""),
        {"number": f"T{n:08d}", "cat": category, "state": state, "cell": cell_code})


def test_replace_that_strands_open_cases_and_uncovers_edge_cells_is_refused_unless_forced(
        db_session, grid, settings, tmp_path):
    from tests.app.asset_support import add_camera

    layer = make_layer(settings)
    east_top, east_bottom = layer[4][0], layer[5][0]  # the east column: community 002, on the edge
    add_case(db_session, settings, east_bottom, "dispatched")
    add_case(db_session, settings, east_bottom, "reported")
    add_case(db_session, settings, east_bottom, "closed")
    add_case(db_session, settings, east_top, "voided")
    add_camera(db_session, settings, "41019900001320000001", 250, 150, 0.0)
    path = write_layer(tmp_path / "west", layer[:4], settings.storage_srid)

    err = refused(db_session, settings, path)
    assert "2 cells holding 2 open cases" in err.message and "20000.0 m²" in err.message
    retired = {r.code: r for r in err.rows if r.field == "retired"}
    assert set(retired) == {east_top, east_bottom}
    assert (retired[east_bottom].held["open_cases"], retired[east_bottom].severity) == (2, "warning")
    assert retired[east_top].held["open_cases"] == 0 and retired[east_top].held["cameras"] == 1
    assert "1 cameras" in retired[east_top].message and retired[east_top].severity == "info"
    coverage = [r for r in err.rows if r.field == "coverage"]
    assert len(coverage) == 1 and coverage[0].message.startswith("20000.0 m²")
    assert codes(db_session) == sorted(c for c, _ in layer)

    result = import_cells(db_session, SYSTEM, path, settings, force=True)
    assert result.retired == 2
    assert {r.code for r in result.retirements if r.field == "retired"} == {east_top, east_bottom}
    assert "20000.0 m²" in result.describe() and "2 open cases" in result.describe()
    assert codes(db_session) == sorted(c for c, _ in layer[:4])
    audit = db_session.scalar(sa.text(
        "SELECT detail FROM audit_log WHERE action = 'cells.import' ORDER BY id DESC LIMIT 1"))
    assert audit["retirement_forced"] == {"open_cases": 2, "uncovered_m2": 20000.0}


def test_replace_that_moves_boundaries_and_keeps_coverage_is_accepted(db_session, grid, settings, tmp_path):
    x0, y0 = origin_xy(settings)
    layer = make_layer(settings)
    # The edge between 001-001 and 001-002 moves 30 m east, and 002-002 is redrawn without its
    # code: it is retired (holding only a closed case) and comes back under a new code.
    add_case(db_session, settings, layer[5][0], "closed")
    moved = [(layer[0][0], box(x0, y0 + 100, x0 + 130, y0 + 200)),
             (layer[1][0], box(x0 + 130, y0 + 100, x0 + 200, y0 + 200))] + layer[2:5] + [("", layer[5][1])]
    path = write_layer(tmp_path / "moved", moved, settings.storage_srid,
                       extra={5: {"community_code": settings.district_code + "001002"}})
    result = import_cells(db_session, SYSTEM, path, settings)
    assert (result.updated, result.retired, result.inserted) == (2, 1, 1)
    assert [(r.code, r.severity) for r in result.retirements] == [(layer[5][0], "info")]


@pytest.mark.parametrize("ext", ["gpkg", "geojson", "shp", "csv"])
def test_export_and_reimport_round_trip(db_session, grid, settings, tmp_path, ext):
    path = tmp_path / f"cells.{ext}"
    assert export_cells(db_session, path, settings) == 6
    frame = gpd.read_file(path) if ext != "csv" else None
    if frame is not None:
        # Shapefiles carry the standard's 10-character attribute names.
        assert sorted(frame["SZDYWGBSM" if ext == "shp" else "code"]) == codes(db_session)
    result = import_cells(db_session, SYSTEM, path, settings)
    assert result.unchanged + result.updated == 6 and result.inserted == 0 and result.retired == 0


def test_cli_import_refuses_and_exports(tmp_path, settings):
    url = fresh_database("citygrid_test_cli")
    from app.cli import run_migrations

    run_migrations(url)
    env = {"DATABASE_URL": url, "CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_SECRET_KEY": "x" * 32}
    runner = CliRunner()
    layer = make_layer(settings)
    bad = layer + [(layer[0][0], layer[0][1])]
    bad_path = write_layer(tmp_path / "bad", bad, settings.storage_srid)
    out = runner.invoke(cli, ["import", "cells", str(bad_path), "--report", str(tmp_path / "r.csv")], env=env)
    assert out.exit_code != 0 and "nothing was written" in out.output
    assert "duplicate code" in (tmp_path / "r.csv").read_text(encoding="utf-8-sig")
    good = write_layer(tmp_path / "good", layer, settings.storage_srid)
    out = runner.invoke(cli, ["import", "cells", str(good)], env=env)
    assert out.exit_code == 0, out.output
    assert "6 new" in out.output
    out = runner.invoke(cli, ["export", "cells", str(tmp_path / "out.gpkg")], env=env)
    assert out.exit_code == 0 and "wrote 6 cells" in out.output
    # A replace missing the east column would uncover 2 ha: refused, the report lists the cells.
    west = write_layer(tmp_path / "west", layer[:4], settings.storage_srid)
    out = runner.invoke(cli, ["import", "cells", str(west), "--report", str(tmp_path / "w.csv")], env=env)
    assert out.exit_code != 0 and "nothing was written" in out.output and "20000.0 m²" in out.output
    rows = list(csv.DictReader((tmp_path / "w.csv").read_text(encoding="utf-8-sig").splitlines()))
    assert [(r["code"], r["field"], r["open_cases"]) for r in rows if r["field"] == "retired"] == [
        (layer[4][0], "retired", "0"), (layer[5][0], "retired", "0")]
    assert any(r["field"] == "coverage" and r["message"].startswith("20000.0 m²") for r in rows)
    out = runner.invoke(cli, ["import", "cells", str(west), "--force", "--report", str(tmp_path / "f.csv")],
                        env=env)
    assert out.exit_code == 0, out.output
    assert "2 retired" in out.output and layer[5][0] in (tmp_path / "f.csv").read_text(encoding="utf-8-sig")


def test_a_cell_with_an_unclosed_ring_is_reported_by_row(db_session, grid, settings, tmp_path):
    import json

    from gis.crs import transform_geometry

    features = []
    for code, geom in make_layer(settings):
        ring = [list(p) for p in transform_geometry(geom, settings.storage_srid, 4326).exterior.coords]
        features.append({"type": "Feature", "properties": {"code": code},
                         "geometry": {"type": "Polygon", "coordinates": [ring[:-1] if code.endswith("004") else ring]}})
    path = tmp_path / "open.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), encoding="utf-8")
    err = refused(db_session, settings, path)
    assert [(r.row, r.field) for r in err.rows] == [(4, "geometry")]
    assert "closed" in err.rows[0].message
