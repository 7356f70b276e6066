"""Component identifiers 管理部件标识码 under both standards: parts, errors naming the part, serials."""

import pytest

from grid.componentid import (
    MAX_SERIAL,
    STANDARD_2026,
    STANDARD_LEGACY,
    ComponentId,
    ComponentIdError,
    format_component_id,
    id_format,
    is_valid_component_id,
    next_serial,
    parse_component_id,
)

KNOWN_2026 = {"01001", "01037", "03005"}


def test_2026_id_splits_into_district_class_and_serial():
    cid = parse_component_id("41019901037000123", STANDARD_2026, district="410199", known_classes=KNOWN_2026)
    assert cid == ComponentId("410199", "01037", 123, STANDARD_2026)
    assert (cid.major, cid.minor) == ("01", "037")
    assert str(cid) == "41019901037000123"


def test_legacy_id_is_16_digits_with_a_4_digit_class():
    # Suzhou's published sample: 上水井盖 0101, serial 1.
    cid = parse_component_id("3205080101000001", STANDARD_LEGACY)
    assert (cid.district, cid.class_code, cid.major, cid.minor, cid.serial) == ("320508", "0101", "01", "01", 1)
    assert str(cid) == "3205080101000001"


@pytest.mark.parametrize("text, standard, part", [
    ("4101990100100004", STANDARD_2026, "length"),       # 16 digits under 2026
    ("41019901001000042", STANDARD_LEGACY, "length"),    # 17 digits under legacy
    ("", STANDARD_2026, "length"),
    ("41019901001A00042", STANDARD_2026, "digits"),
    ("4101990100１000042", STANDARD_2026, "digits"),      # a full-width digit is not ASCII
    ("01019901001000042", STANDARD_2026, "district"),    # GB/T 2260 codes do not start with 0
    ("41010501001000042", STANDARD_2026, "district"),    # another district
    ("41019999001000042", STANDARD_2026, "class"),       # 99001 not in the directory
    ("41019901001000000", STANDARD_2026, "serial"),
])
def test_bad_ids_name_the_bad_part(text, standard, part):
    with pytest.raises(ComponentIdError) as err:
        parse_component_id(text, standard, district="410199", known_classes=KNOWN_2026)
    assert err.value.part == part
    assert text.strip() in str(err.value) or part == "length"


def test_class_is_only_checked_when_a_directory_is_given():
    assert parse_component_id("41019999001000042").class_code == "99001"


def test_surrounding_blanks_are_ignored_but_inner_ones_are_not():
    assert parse_component_id("  41019901001000042\n").serial == 42
    with pytest.raises(ComponentIdError):
        parse_component_id("410199 01001 000042")


def test_format_round_trips_and_pads_the_serial():
    text = format_component_id("410199", "03005", 7)
    assert text == "41019903005000007"
    assert parse_component_id(text) == ComponentId("410199", "03005", 7)
    assert format_component_id("410199", "0305", 7, STANDARD_LEGACY) == "4101990305000007"


@pytest.mark.parametrize("district, class_code, serial, part", [
    ("41019", "01001", 1, "district"),
    ("010199", "01001", 1, "district"),
    ("410199", "0100", 1, "class"),
    ("410199", "01001", 0, "serial"),
    ("410199", "01001", MAX_SERIAL + 1, "serial"),
    ("410199", "01001", True, "serial"),
])
def test_format_refuses_bad_parts(district, class_code, serial, part):
    with pytest.raises(ComponentIdError) as err:
        format_component_id(district, class_code, serial)
    assert err.value.part == part


def test_next_serial_continues_after_the_highest_and_never_fills_gaps():
    assert next_serial(None) == 1
    assert next_serial([]) == 1
    assert next_serial(41) == 42
    assert next_serial([1, 2, 41, 5]) == 42  # 3, 4 and 6..40 stay unused
    with pytest.raises(ComponentIdError) as err:
        next_serial(MAX_SERIAL)
    assert err.value.part == "serial"


def test_formats_and_validity():
    assert (id_format(STANDARD_2026).length, id_format(STANDARD_LEGACY).length) == (17, 16)
    assert is_valid_component_id("41019901001000001")
    assert not is_valid_component_id("41019901001000001", STANDARD_LEGACY)
    assert not is_valid_component_id(41019901001000001)
    with pytest.raises(ComponentIdError) as err:
        id_format("GB/T 1-1999")
    assert err.value.part == "standard"
