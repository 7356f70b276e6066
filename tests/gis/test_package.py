"""Tests for the gis package surface and its error hierarchy."""

import pytest

import gis
from gis import errors


def test_all_names_exist():
    missing = [name for name in gis.__all__ if not hasattr(gis, name)]
    assert missing == []


@pytest.mark.parametrize(
    "cls",
    [
        errors.CRSError,
        errors.UnknownCRSError,
        errors.GeoJSONError,
        errors.VectorFileError,
        errors.InvalidGeometryError,
    ],
)
def test_errors_are_gis_and_value_errors(cls):
    assert issubclass(cls, errors.GisError)
    assert issubclass(cls, ValueError)


def test_unknown_crs_is_a_crs_error():
    err = errors.UnknownCRSError("x", gis.INPUT_CRS)
    assert isinstance(err, errors.CRSError)
    assert err.accepted == ("wgs84", "cgcs2000", "gcj02", "bd09")


def test_vector_file_error_copies_rows():
    rows = [{"row": 1, "field": None, "message": "bad"}]
    err = errors.VectorFileError("x", rows=rows)
    rows.append({})
    assert len(err.rows) == 1
    assert errors.VectorFileError("y").rows == []
