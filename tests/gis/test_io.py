"""Tests for gis.io (real files in tmp_path)."""

import json
import zipfile

import geopandas as gpd
import pyogrio
import pytest
from shapely.geometry import Point, box

from gis.crs import wgs84_to_bd09, wgs84_to_gcj02
from gis.errors import CRSError, VectorFileError
from gis.io import SUPPORTED, read_vector, write_vector

ZHENGDONG = (113.6, 34.6, 113.9, 34.9)
BEIJING_PT = (116.39, 39.91)


@pytest.fixture
def cells():
    """Two 1 km-ish cells in Zhengdong, stored in EPSG:4547, with text codes."""
    return gpd.GeoDataFrame(
        {"code": ["0101", "0102"], "name": ["甲", "b"], "level": [1, 2]},
        geometry=[box(113.70, 34.70, 113.71, 34.71), box(113.71, 34.70, 113.72, 34.71)],
        crs=4326,
    ).to_crs(4547)


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".json", ".shp", ".csv"])
def test_round_trip_each_format(tmp_path, cells, ext):
    path = write_vector(cells, tmp_path / f"cells{ext}")
    back = read_vector(path, to_srid=4547, expected_bounds_lonlat=ZHENGDONG)
    assert back.crs.to_epsg() == 4547
    assert back["_row"].tolist() == [1, 2]
    assert back["code"].tolist() == ["0101", "0102"]
    assert back["name"].tolist() == ["甲", "b"]
    for a, b in zip(back.geometry, cells.geometry, strict=True):
        # GeoJSON/CSV carry 7 decimals of a degree (~1 cm).
        assert a.symmetric_difference(b).area < 1.0
        assert a.area == pytest.approx(b.area, rel=1e-5)


def test_geojson_output_is_rfc7946(tmp_path, cells):
    path = write_vector(cells, tmp_path / "cells.geojson")
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert "crs" not in doc
    x, y = doc["features"][0]["geometry"]["coordinates"][0][0]
    assert 113.6 < x < 113.8 and 34.6 < y < 34.8


def test_gpkg_keeps_crs_or_uses_to_crs_and_layers(tmp_path, cells):
    path = tmp_path / "cells.gpkg"
    write_vector(cells, path, layer="a")
    write_vector(cells, path, layer="b", to_crs=4490)
    assert gpd.read_file(path, layer="a").crs.to_epsg() == 4547
    assert gpd.read_file(path, layer="b").crs.to_epsg() == 4490
    with pytest.raises(VectorFileError, match="2 layers; pass layer= one of: a, b"):
        read_vector(path, to_srid=4547)
    back = read_vector(path, layer="b", to_srid=4326)
    assert back.crs.to_epsg() == 4326
    assert back.total_bounds == pytest.approx((113.70, 34.70, 113.72, 34.71), abs=1e-6)


def test_zipped_shapefile(tmp_path, cells):
    write_vector(cells, tmp_path / "cells.shp")
    archive = tmp_path / "cells.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for part in tmp_path.glob("cells.*"):
            if part.suffix != ".zip":
                zf.write(part, part.name)
    back = read_vector(archive, to_srid=4547)
    assert back["code"].tolist() == ["0101", "0102"]
    with pytest.raises(VectorFileError, match="supported for writing: .gpkg"):
        write_vector(cells, tmp_path / "out.zip")


def test_csv_points_written_as_lonlat(tmp_path):
    pts = gpd.GeoDataFrame({"id": [1]}, geometry=[Point(113.7, 34.7)], crs=4326).to_crs(
        4547
    )
    path = write_vector(pts, tmp_path / "pts.csv")
    header, row = path.read_text(encoding="utf-8-sig").splitlines()
    assert header == "lon,lat,id"
    assert row == "113.7,34.7,1"


def test_csv_polygons_written_as_wkt(tmp_path, cells):
    path = write_vector(cells, tmp_path / "cells.csv")
    assert path.read_text(encoding="utf-8-sig").splitlines()[0] == "wkt,code,name,level"


@pytest.mark.parametrize(
    "header",
    ["lon,lat", "lng,lat", "Longitude,Latitude", "X,Y", "经度,纬度", "LNG , LAT"],
)
def test_csv_detects_coordinate_columns(tmp_path, header):
    path = tmp_path / "p.csv"
    path.write_text(f"name,{header}\nA,113.7,34.7\nB,113.8,34.8\n", encoding="utf-8")
    gdf = read_vector(path, to_srid=4326)
    assert gdf.geometry.x.tolist() == pytest.approx([113.7, 113.8])
    assert gdf["name"].tolist() == ["A", "B"]
    assert list(gdf.columns) == ["name", "geometry", "_row"]


def test_csv_explicit_fields_gbk_and_crlf(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes("名称,东经,北纬\r\n郑东,113.7,34.7\r\n".encode("gb18030"))
    gdf = read_vector(path, to_srid=4326, lon_field="东经", lat_field="北纬")
    assert gdf["名称"].tolist() == ["郑东"]
    with pytest.raises(
        VectorFileError, match="longitude column 'lon' not found; columns are"
    ):
        read_vector(path, to_srid=4326, lon_field="lon", lat_field="北纬")


def test_csv_wkt_column(tmp_path):
    path = tmp_path / "w.csv"
    path.write_text(
        'id,WKT\n1,"POLYGON ((113.7 34.7, 113.8 34.7, 113.8 34.8, 113.7 34.7))"\n'
    )
    gdf = read_vector(path, to_srid=4547)
    assert gdf.geometry.iloc[0].geom_type == "Polygon"
    path.write_text("id,wkt\n1,POINT (113.7 34.7)\n2,POLYGON ((1 2\n3,\n")
    with pytest.raises(VectorFileError) as info:
        read_vector(path, to_srid=4547)
    assert [(r["row"], r["field"]) for r in info.value.rows] == [(2, "wkt"), (3, "wkt")]
    assert info.value.rows[1]["message"] == "missing geometry"


def test_csv_without_coordinates(tmp_path):
    path = tmp_path / "n.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(
        VectorFileError, match="has no coordinate columns.*columns are: a, b"
    ):
        read_vector(path, to_srid=4326)


def test_csv_row_errors_are_all_reported(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "name,lon,lat\nok,113.7,34.7\nb,abc,34.7\nc,113.7,\nd,200,95\ne,nan,1\n"
    )
    with pytest.raises(VectorFileError) as info:
        read_vector(path, to_srid=4547)
    rows = [(r["row"], r["field"], r["message"]) for r in info.value.rows]
    assert rows == [
        (2, "lon", "'abc' is not a finite number"),
        (3, "lat", "missing value"),
        (4, "lon", "200.0 is out of range [-180, 180]"),
        (4, "lat", "95.0 is out of range [-90, 90]"),
        (5, "lon", "'nan' is not a finite number"),
    ]
    assert str(info.value).startswith("4 row(s) of 'bad.csv' have bad coordinates")


def test_csv_assume_projected_crs(tmp_path):
    path = tmp_path / "xy.csv"
    path.write_text("x,y\n500000,3846849\n")
    gdf = read_vector(path, to_srid=4326, assume_crs=4547)
    assert gdf.geometry.x.iloc[0] == pytest.approx(114.0, abs=1e-9)


@pytest.mark.parametrize(
    "crs, forward", [("gcj02", wgs84_to_gcj02), ("baidu", wgs84_to_bd09)]
)
def test_csv_in_offset_datum_is_converted(tmp_path, crs, forward):
    lon, lat = forward(113.729, 34.762)
    path = tmp_path / "amap.csv"
    path.write_text(f"lon,lat\n{lon!r},{lat!r}\n")
    gdf = read_vector(path, to_srid=4326, assume_crs=crs)
    assert (gdf.geometry.x.iloc[0], gdf.geometry.y.iloc[0]) == pytest.approx(
        (113.729, 34.762), abs=1e-9
    )


def test_geojson_in_gcj02_with_assume_crs(tmp_path, cells):
    path = write_vector(cells, tmp_path / "cells.geojson")
    plain = read_vector(path, to_srid=4326)
    shifted = read_vector(path, to_srid=4326, assume_crs="gcj02")
    dx = plain.geometry.iloc[0].centroid.x - shifted.geometry.iloc[0].centroid.x
    assert 0.005 < dx < 0.007  # GCJ-02 shifts Zhengdong ~566 m east
    with pytest.raises(CRSError, match="needs lon/lat data"):
        read_vector(
            write_vector(cells, tmp_path / "m.gpkg"), to_srid=4326, assume_crs="gcj02"
        )


def test_file_without_crs(tmp_path, cells):
    write_vector(cells, tmp_path / "nocrs.shp")
    (tmp_path / "nocrs.prj").unlink()
    with pytest.raises(CRSError, match="file 'nocrs.shp' has no CRS; pass assume_crs"):
        read_vector(tmp_path / "nocrs.shp", to_srid=4547)
    gdf = read_vector(tmp_path / "nocrs.shp", to_srid=4326, assume_crs=4547)
    assert gdf.total_bounds == pytest.approx((113.70, 34.70, 113.72, 34.71), abs=1e-6)


def test_mislabelled_crs_is_detected(tmp_path, cells):
    wrong = cells.set_crs(4326, allow_override=True)  # metres labelled as degrees
    path = write_vector(wrong, tmp_path / "wrong.gpkg")
    with pytest.raises(
        CRSError, match="layer seems to be in the wrong CRS: declared EPSG:4326"
    ):
        read_vector(path, to_srid=4547)


def test_data_outside_expected_bounds(tmp_path):
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(*BEIJING_PT)], crs=4326)
    path = write_vector(gdf, tmp_path / "bj.gpkg")
    with pytest.raises(CRSError) as info:
        read_vector(path, to_srid=4547, expected_bounds_lonlat=ZHENGDONG)
    assert "expected lon/lat bounds (113.6, 34.6, 113.9, 34.9)" in str(info.value)
    assert "116.39" in str(info.value)
    # Within the margin is fine.
    near = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(113.95, 34.7)], crs=4326)
    read_vector(
        write_vector(near, tmp_path / "near.gpkg"),
        to_srid=4547,
        expected_bounds_lonlat=ZHENGDONG,
    )


def test_unsupported_and_missing_files(tmp_path, cells):
    with pytest.raises(
        VectorFileError, match=r"unsupported file type '.kml'.*\.gpkg, \.geojson"
    ):
        read_vector(tmp_path / "a.kml", to_srid=4547)
    with pytest.raises(VectorFileError, match="unsupported file type '.txt'"):
        write_vector(cells, tmp_path / "a.txt")
    with pytest.raises(VectorFileError, match="file not found"):
        read_vector(tmp_path / "missing.gpkg", to_srid=4547)
    broken = tmp_path / "broken.geojson"
    broken.write_text("{not json")
    with pytest.raises(VectorFileError, match="cannot read 'broken.geojson'"):
        read_vector(broken, to_srid=4547)
    assert set(SUPPORTED) == {".gpkg", ".geojson", ".json", ".shp", ".csv", ".zip"}


def test_write_requires_crs_and_drops_row_column(tmp_path, cells):
    with pytest.raises(CRSError, match="has no CRS"):
        write_vector(gpd.GeoDataFrame(geometry=[Point(0, 0)]), tmp_path / "x.gpkg")
    back = read_vector(write_vector(cells, tmp_path / "a.gpkg"), to_srid=4547)
    again = read_vector(write_vector(back, tmp_path / "b.gpkg"), to_srid=4547)
    assert list(again.columns) == ["code", "name", "level", "geometry", "_row"]


def test_gbk_shapefile_without_cpg_needs_encoding(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"name": ["郑东新区"]}, geometry=[Point(113.7, 34.7)], crs=4326
    )
    pyogrio.write_dataframe(gdf, tmp_path / "g.shp", encoding="cp936")
    (tmp_path / "g.cpg").unlink()
    assert read_vector(tmp_path / "g.shp", to_srid=4326)["name"].tolist() != [
        "郑东新区"
    ]
    back = read_vector(tmp_path / "g.shp", to_srid=4326, encoding="gbk")
    assert back["name"].tolist() == ["郑东新区"]


def test_shapefile_refuses_long_field_names(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"责任网格编码": ["1"]}, geometry=[Point(113.7, 34.7)], crs=4326
    )
    with pytest.raises(
        VectorFileError, match=r"limited to 10 bytes; rename \['责任网格编码'\]"
    ):
        write_vector(gdf, tmp_path / "g.shp")
    assert not (tmp_path / "g.shp").exists()
    write_vector(gdf.rename(columns={"责任网格编码": "grid_code"}), tmp_path / "g.shp")


def test_layer_without_geometry_is_refused(tmp_path):
    import pandas as pd

    path = tmp_path / "t.gpkg"
    pyogrio.write_dataframe(pd.DataFrame({"a": [1]}), path, layer="attrs")
    with pytest.raises(VectorFileError, match="has no geometry column"):
        read_vector(path, to_srid=4547)


@pytest.mark.parametrize("ext", [".gpkg", ".geojson", ".csv"])
def test_write_in_gcj02_for_gaode_tools(tmp_path, ext):
    pts = gpd.GeoDataFrame({"a": [1]}, geometry=[Point(113.729, 34.762)], crs=4326)
    path = write_vector(pts.to_crs(4547), tmp_path / f"amap{ext}", to_crs="gcj02")
    raw = read_vector(path, to_srid=4326)
    assert (raw.geometry.x.iloc[0], raw.geometry.y.iloc[0]) == pytest.approx(
        wgs84_to_gcj02(113.729, 34.762), abs=1e-7
    )
    back = read_vector(path, to_srid=4326, assume_crs="gcj02")
    assert back.geometry.x.iloc[0] == pytest.approx(113.729, abs=1e-7)


def test_offset_datum_is_not_a_file_crs(tmp_path, cells):
    write_vector(cells, tmp_path / "nocrs.shp")
    (tmp_path / "nocrs.prj").unlink()
    # Lon/lat without a .prj, declared as Gaode coordinates, is accepted...
    lonlat = cells.to_crs(4326)
    write_vector(lonlat, tmp_path / "ll.shp")
    (tmp_path / "ll.prj").unlink()
    gdf = read_vector(tmp_path / "ll.shp", to_srid=4326, assume_crs="amap")
    assert gdf.total_bounds[0] < 113.70
    # ...but projected metres cannot be GCJ-02.
    with pytest.raises(CRSError, match="wrong CRS"):
        read_vector(tmp_path / "nocrs.shp", to_srid=4326, assume_crs="gcj02")


def _feature(geometry, name):
    return {"type": "Feature", "properties": {"name": name}, "geometry": geometry}


def test_geometries_geos_cannot_build_are_reported_by_row(tmp_path):
    ring = [[113.70, 34.70], [113.71, 34.70], [113.71, 34.71], [113.70, 34.71]]
    features = [
        _feature({"type": "Polygon", "coordinates": [ring + [ring[0]]]}, "closed"),
        _feature({"type": "Polygon", "coordinates": [ring]}, "unclosed"),
        _feature({"type": "LineString", "coordinates": [ring[0]]}, "one point"),
        _feature(None, "null geometry is the caller's to report"),
    ]
    path = tmp_path / "bad.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    with pytest.raises(VectorFileError) as info:
        read_vector(path, to_srid=4547, expected_bounds_lonlat=ZHENGDONG)
    rows = info.value.rows
    assert [(r["row"], r["field"]) for r in rows] == [(2, "geometry"), (3, "geometry")]
    assert "closed linestring" in rows[0]["message"]
    assert "0 or >1 elements" in rows[1]["message"]


def test_nan_and_infinite_coordinates_are_reported_by_row(tmp_path):
    frame = gpd.GeoDataFrame(
        {"name": ["ok", "nan", "inf"]},
        geometry=[Point(113.7, 34.7), Point(float("nan"), 34.7), Point(113.7, float("inf"))],
        crs=4326,
    )
    path = tmp_path / "nan.gpkg"
    frame.to_file(path, driver="GPKG")
    with pytest.raises(VectorFileError) as info:
        read_vector(path, to_srid=4547, expected_bounds_lonlat=ZHENGDONG)
    assert [(r["row"], r["message"]) for r in info.value.rows] == [
        (2, "non-finite coordinate (NaN or infinity)"),
        (3, "non-finite coordinate (NaN or infinity)"),
    ]
