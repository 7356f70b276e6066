"""Tests for grid.codes."""

import pytest

from grid import (
    CommunityCode,
    GridCode,
    InvalidGridCodeError,
    StreetCode,
    format_grid_code,
    is_valid_grid_code,
    parse_community_code,
    parse_grid_code,
    parse_street_code,
)


def test_parse_splits_parts_and_round_trips():
    code = parse_grid_code("410105001002003")
    assert (code.district, code.street, code.community, code.serial) == ("410105", "001", "002", "003")
    assert code.street_code == "410105001"
    assert code.community_code == "410105001002"
    assert format_grid_code(code) == str(code) == "410105001002003"


def test_surrounding_whitespace_is_stripped():
    assert str(parse_grid_code("  410105001002003\n")) == "410105001002003"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("41010", "grid code '41010', length 5: expected 15 digits (6 district + 3 street + 3 community + 3 serial)"),
        ("", "grid code '', length 0: expected 15 digits"),
        ("4101050010020031", "length 16"),
        ("410105001A02003", "community part 'A02' must be 3 digits"),
        ("41010X001002003", "district part '41010X' must be 6 digits"),
        ("010105001002003", "district part '010105' must not start with 0"),
        ("4101050-1002003", "street part '0-1' must be 3 digits"),
        ("410105001002000", "serial part '000' not allowed (serials start at 001)"),
        ("410105001002 03", "serial part ' 03' must be 3 digits"),
        ("41010500100200٣", "serial part '00٣' must be 3 digits"),  # non-ASCII digit
    ],
)
def test_invalid_codes_name_the_bad_part(text, message):
    with pytest.raises(InvalidGridCodeError, match="^grid code") as info:
        parse_grid_code(text)
    assert message in str(info.value)
    assert not is_valid_grid_code(text)


@pytest.mark.parametrize("value", [410105001002003, None, b"410105001002003"])
def test_non_str_is_a_type_error(value):
    with pytest.raises(TypeError, match="must be str"):
        parse_grid_code(value)
    with pytest.raises(TypeError):
        is_valid_grid_code(value)


def test_invalid_code_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_grid_code("x")


def test_direct_construction_is_validated():
    with pytest.raises(InvalidGridCodeError, match="serial part '000'"):
        GridCode("410105", "001", "002", "000")
    with pytest.raises(InvalidGridCodeError, match="street part '1'"):
        GridCode("410105", "1", "002", "001")
    with pytest.raises(TypeError):
        GridCode("410105", "001", "002", 1)


def test_codes_are_frozen_hashable_and_ordered_like_text():
    a, b = parse_grid_code("410105001002003"), parse_grid_code("410105001010001")
    with pytest.raises(AttributeError):
        a.serial = "004"
    assert {a, parse_grid_code("410105001002003")} == {a}
    assert (a < b) == (str(a) < str(b))


def test_format_rejects_text():
    with pytest.raises(TypeError, match="expected GridCode"):
        format_grid_code("410105001002003")


def test_street_and_community_codes():
    assert parse_street_code("410105001") == StreetCode("410105", "001")
    community = parse_community_code(" 410105001002 ")
    assert community == CommunityCode("410105", "001", "002")
    assert community.street_code == "410105001"
    assert str(community) == "410105001002"
    with pytest.raises(InvalidGridCodeError, match="street code '41010500', length 8: expected 9 digits"):
        parse_street_code("41010500")
    with pytest.raises(InvalidGridCodeError, match="community part '00x'"):
        parse_community_code("41010500100x")
    with pytest.raises(InvalidGridCodeError, match="must not start with 0"):
        parse_street_code("010105001")
