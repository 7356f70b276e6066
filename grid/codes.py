"""Unit grid codes: 6 district + 3 street + 3 community + 3 serial digits."""

from __future__ import annotations

from dataclasses import dataclass

from grid.errors import InvalidGridCodeError

__all__ = [
    "GridCode",
    "StreetCode",
    "CommunityCode",
    "parse_grid_code",
    "format_grid_code",
    "is_valid_grid_code",
    "parse_street_code",
    "parse_community_code",
]

# (name, width) of each part, in code order.
_PARTS = (("district", 6), ("street", 3), ("community", 3), ("serial", 3))
_FORMS = {
    9: "9 digits (6 district + 3 street)",
    12: "12 digits (6 district + 3 street + 3 community)",
    15: "15 digits (6 district + 3 street + 3 community + 3 serial)",
}
_KINDS = {9: "street code", 12: "community code", 15: "grid code"}


def _is_digits(text: str) -> bool:
    """Return True if text is non-empty and made of ASCII digits only."""
    # str.isdigit alone would accept non-ASCII digits such as '٣'.
    return text.isascii() and text.isdigit()


def _check_part(label: str, name: str, width: int, value: object) -> None:
    """Raise InvalidGridCodeError unless value is a valid code part."""
    if not isinstance(value, str):
        raise TypeError(f"{label}: {name} part must be str, got {type(value).__name__}")
    if len(value) != width or not _is_digits(value):
        raise InvalidGridCodeError(f"{label}: {name} part {value!r} must be {width} digits")
    if name == "district" and value.startswith("0"):
        raise InvalidGridCodeError(
            f"{label}: district part {value!r} must not start with 0 "
            "(GB/T 2260 codes start with 1-9)"
        )
    if name == "serial" and value == "000":
        raise InvalidGridCodeError(
            f"{label}: serial part '000' not allowed (serials start at 001)"
        )


def _split(text: object, length: int) -> list[str]:
    """Validate text as a code of the given total length and return its parts."""
    kind = _KINDS[length]
    if not isinstance(text, str):
        raise TypeError(f"{kind} must be str, got {type(text).__name__}: {text!r}")
    code = text.strip()
    if len(code) != length:
        raise InvalidGridCodeError(
            f"{kind} {code!r}, length {len(code)}: expected {_FORMS[length]}"
        )
    parts: list[str] = []
    pos = 0
    for name, width in _PARTS:
        if pos >= length:
            break
        part = code[pos : pos + width]
        _check_part(f"{kind} {code!r}", name, width, part)
        parts.append(part)
        pos += width
    return parts


@dataclass(frozen=True, order=True)
class StreetCode:
    """A 9-digit street (街道/乡镇) code: 6 district + 3 street digits.

    Parameters
    ----------
    district : str
        6-digit county-level administrative code (GB/T 2260), not starting with 0.
    street : str
        3-digit street/township code (GB/T 10114).

    Examples
    --------
    >>> str(StreetCode("410105", "001"))
    '410105001'
    """

    district: str
    street: str

    def __post_init__(self) -> None:
        label = f"street code '{self.district!s}{self.street!s}'"
        _check_part(label, "district", 6, self.district)
        _check_part(label, "street", 3, self.street)

    def __str__(self) -> str:
        return self.district + self.street


@dataclass(frozen=True, order=True)
class CommunityCode:
    """A 12-digit community (社区/村) code: 6 district + 3 street + 3 community.

    Parameters
    ----------
    district, street, community : str
        The 6-, 3- and 3-digit parts.

    Examples
    --------
    >>> c = CommunityCode("410105", "001", "002")
    >>> str(c), c.street_code
    ('410105001002', '410105001')
    """

    district: str
    street: str
    community: str

    def __post_init__(self) -> None:
        label = f"community code '{self.district!s}{self.street!s}{self.community!s}'"
        _check_part(label, "district", 6, self.district)
        _check_part(label, "street", 3, self.street)
        _check_part(label, "community", 3, self.community)

    @property
    def street_code(self) -> str:
        """The 9-digit street code this community belongs to."""
        return self.district + self.street

    def __str__(self) -> str:
        return self.district + self.street + self.community


@dataclass(frozen=True, order=True)
class GridCode:
    """A 15-digit unit grid (单元网格) code.

    The parts follow the Beijing DB11 / GB/T 30428.1 layout
    ``AAAAAA SSS CCC NNN``: district, street, community and serial number.
    Instances are validated on construction, so an invalid code cannot exist.

    Parameters
    ----------
    district : str
        6 digits, first digit 1-9.
    street : str
        3 digits.
    community : str
        3 digits.
    serial : str
        3 digits, ``'001'`` to ``'999'``.

    Examples
    --------
    >>> code = GridCode("410105", "001", "002", "003")
    >>> str(code)
    '410105001002003'
    >>> code.street_code, code.community_code
    ('410105001', '410105001002')
    >>> GridCode.parse("410105001002003") == code
    True
    """

    district: str
    street: str
    community: str
    serial: str

    def __post_init__(self) -> None:
        label = (
            f"grid code '{self.district!s}{self.street!s}{self.community!s}{self.serial!s}'"
        )
        for name, width in _PARTS:
            _check_part(label, name, width, getattr(self, name))

    @classmethod
    def parse(cls, text: str) -> GridCode:
        """Parse 15-digit text; same as :func:`parse_grid_code`.

        Examples
        --------
        >>> GridCode.parse(" 410105001002003 ").serial
        '003'
        """
        return parse_grid_code(text)

    @property
    def street_code(self) -> str:
        """The 9-digit street code (first 9 digits)."""
        return self.district + self.street

    @property
    def community_code(self) -> str:
        """The 12-digit community code (first 12 digits)."""
        return self.district + self.street + self.community

    def __str__(self) -> str:
        return self.district + self.street + self.community + self.serial


def parse_grid_code(text: str) -> GridCode:
    """Parse a 15-digit unit grid code.

    Surrounding whitespace is stripped; nothing else is forgiven.

    Parameters
    ----------
    text : str
        The code, e.g. ``'410105001002003'``.

    Returns
    -------
    GridCode

    Raises
    ------
    TypeError
        If `text` is not a str.
    InvalidGridCodeError
        If the length is not 15, a part is not all digits, the district starts
        with 0, or the serial is ``'000'``. The message names the bad part.

    Examples
    --------
    >>> parse_grid_code("410105001002003")
    GridCode(district='410105', street='001', community='002', serial='003')
    >>> parse_grid_code("41010")
    Traceback (most recent call last):
    ...
    grid.errors.InvalidGridCodeError: grid code '41010', length 5: expected 15 digits (6 district + 3 street + 3 community + 3 serial)
    >>> parse_grid_code("410105001A02003")
    Traceback (most recent call last):
    ...
    grid.errors.InvalidGridCodeError: grid code '410105001A02003': community part 'A02' must be 3 digits
    """
    return GridCode(*_split(text, 15))


def format_grid_code(code: GridCode) -> str:
    """Format a :class:`GridCode` as its 15-digit text; inverse of :func:`parse_grid_code`.

    Parameters
    ----------
    code : GridCode

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If `code` is not a GridCode.

    Examples
    --------
    >>> format_grid_code(parse_grid_code("410105001002003"))
    '410105001002003'
    """
    if not isinstance(code, GridCode):
        raise TypeError(f"expected GridCode, got {type(code).__name__}: {code!r}")
    return str(code)


def is_valid_grid_code(text: str) -> bool:
    """Return True if `text` parses as a 15-digit grid code.

    Parameters
    ----------
    text : str

    Returns
    -------
    bool

    Raises
    ------
    TypeError
        If `text` is not a str (a non-string is a programming error, not an
        invalid code).

    Examples
    --------
    >>> is_valid_grid_code("410105001002003"), is_valid_grid_code("410105001002000")
    (True, False)
    """
    try:
        parse_grid_code(text)
    except InvalidGridCodeError:
        return False
    return True


def parse_street_code(text: str) -> StreetCode:
    """Parse a 9-digit street code (6 district + 3 street).

    Parameters
    ----------
    text : str

    Returns
    -------
    StreetCode

    Raises
    ------
    TypeError
        If `text` is not a str.
    InvalidGridCodeError
        If `text` is not 9 digits or the district starts with 0.

    Examples
    --------
    >>> parse_street_code("410105001")
    StreetCode(district='410105', street='001')
    """
    return StreetCode(*_split(text, 9))


def parse_community_code(text: str) -> CommunityCode:
    """Parse a 12-digit community code (6 district + 3 street + 3 community).

    Parameters
    ----------
    text : str

    Returns
    -------
    CommunityCode

    Raises
    ------
    TypeError
        If `text` is not a str.
    InvalidGridCodeError
        If `text` is not 12 digits or the district starts with 0.

    Examples
    --------
    >>> str(parse_community_code("410105001002"))
    '410105001002'
    >>> parse_community_code("4101050010")
    Traceback (most recent call last):
    ...
    grid.errors.InvalidGridCodeError: community code '4101050010', length 10: expected 12 digits (6 district + 3 street + 3 community)
    """
    return CommunityCode(*_split(text, 12))
