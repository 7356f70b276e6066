"""Tests for grid.deviceid: GB/T 28181 20-digit device ids."""

import csv
from pathlib import Path

import pytest

from grid.deviceid import (
    INDUSTRY_CODES,
    NETWORK_CODES,
    TYPE_CODES,
    DeviceId,
    InvalidDeviceIdError,
    format_device_id,
    is_valid_device_id,
    parse_device_id,
)

SEED = Path(__file__).resolve().parents[2] / "app" / "seed" / "gb28181_codes.csv"


def test_code_tables_equal_the_seed_csv():
    with open(SEED, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    tables = {"industry": {}, "type": {}, "network": {}}
    for row in rows:
        tables[row["field"]][row["code"]] = row["meaning"]
    assert dict(INDUSTRY_CODES) == tables["industry"]
    assert dict(TYPE_CODES) == tables["type"]
    assert dict(NETWORK_CODES) == tables["network"]
    assert len(rows) == 54


def test_parse_splits_the_segments():
    d = parse_device_id(" 34020000001320000101 ")
    assert (d.centre, d.industry, d.type, d.network, d.serial) == ("34020000", "00", "132", "0", "000101")
    assert d.admin_code == "340200"
    assert (d.industry_name, d.type_name, d.network_name) == ("社会治安路面", "IPC", "公安视频传输网")
    assert d.is_camera
    assert str(d) == "34020000001320000101"


def test_ranges_beyond_the_listed_codes():
    # Industry 40–79 are enterprises; type 5xx video-analysis platforms.
    assert parse_device_id("41019900791326000001").industry_name == "企业 (40–79)"
    assert parse_device_id("41019900085996000001").type_name == "video-analysis platforms"
    assert not parse_device_id("41019900085996000001").is_camera
    with pytest.raises(InvalidDeviceIdError) as err:
        parse_device_id("41019900801326000001")
    assert err.value.part == "industry"


@pytest.mark.parametrize(
    ("text", "part", "positions", "message"),
    [
        ("4101990008132600001", "length", None, "has 19 characters; expected 20 digits"),
        ("410199000813260000011", "length", None, "has 21 characters"),
        ("", "length", None, "has 0 characters"),
        ("41019900081326000O01", "digits", (18, 18), "'O' at position 18 is not a digit"),
        ("4101990008132600000١", "digits", (20, 20), "position 20 is not a digit"),
        ("99019900081326000001", "centre", (1, 8), "centre code 99019900 (positions 1–8) is not plausible"),
        ("41001900081326000001", "centre", (1, 8), "county part 19 but no city part"),
        ("41019900151326000001", "industry", (9, 10),
         "industry code 15 (positions 9–10) is not a GB/T 28181 industry code"),
        ("41019900081996000001", "type", (11, 13),
         "device id 41019900081996000001: type code 199 (positions 11–13) is not a GB/T 28181 device type"),
        ("41019900081406000001", "type", (11, 13), "type code 140"),
    ],
)
def test_errors_name_the_bad_part(text, part, positions, message):
    with pytest.raises(InvalidDeviceIdError) as err:
        parse_device_id(text)
    assert err.value.part == part
    assert err.value.positions == positions
    assert message in str(err.value)
    assert not is_valid_device_id(text)


def test_every_network_digit_is_known():
    for digit in "0123456789":
        assert parse_device_id(f"4101990008132{digit}000001").network == digit


def test_serial_may_be_zero():
    assert parse_device_id("41019900081326000000").serial == "000000"


def test_non_strings_are_type_errors():
    with pytest.raises(TypeError):
        parse_device_id(41019900081326000001)
    assert not is_valid_device_id(41019900081326000001)


def test_format_builds_valid_ids():
    assert format_device_id("410199", 7) == "41019900081326000007"
    assert format_device_id("41019901", "123456", industry="00", type="131", network="0") == "41019901001310123456"
    assert parse_device_id(format_device_id("410199", 999_999)).serial == "999999"


@pytest.mark.parametrize(
    ("kwargs", "part"),
    [
        ({"centre": "4101", "serial": 1}, "centre"),
        ({"centre": "410199", "serial": -1}, "serial"),
        ({"centre": "410199", "serial": "1234567"}, "serial"),
        ({"centre": "410199", "serial": "12a"}, "serial"),
        ({"centre": "410199", "serial": 1, "industry": "8"}, "industry"),
        ({"centre": "410199", "serial": 1, "industry": "99"}, "industry"),
        ({"centre": "410199", "serial": 1, "type": "999"}, "type"),
        ({"centre": "410199", "serial": 1, "network": "66"}, "network"),
        ({"centre": "000000", "serial": 1}, "centre"),
    ],
)
def test_format_refuses_bad_parts(kwargs, part):
    with pytest.raises(InvalidDeviceIdError) as err:
        format_device_id(**kwargs)
    assert err.value.part == part


def test_device_id_objects_are_validated_on_construction():
    assert str(DeviceId("41019900", "08", "131", "6", "000001")) == "41019900081316000001"
    with pytest.raises(InvalidDeviceIdError):
        DeviceId("41019900", "08", "199", "6", "000001")
    with pytest.raises(TypeError):
        DeviceId("41019900", "08", 132, "6", "000001")
