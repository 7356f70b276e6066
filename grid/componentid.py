"""Management component identifiers 管理部件标识码: parse, validate, format, next serial.

Two layouts are in use (standards.md §3):

* GB/T 47678.5-2026: 6 admin (district) + 5 class (2 major + 3 minor) + 6 serial = 17 digits;
* legacy GB/T 30428.2-2013 / CJ/T 214-2007: 6 admin + 4 class (2 major + 2 minor) + 6 serial
  = 16 digits (e.g. Suzhou's ``3205080101000001``, 上水井盖 ``0101``).

Serials start at ``000001``; ``000000`` is not an identifier.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from grid.errors import GridError

__all__ = [
    "FORMATS",
    "MAX_SERIAL",
    "STANDARD_2026",
    "STANDARD_LEGACY",
    "ComponentId",
    "ComponentIdError",
    "IdFormat",
    "format_component_id",
    "id_format",
    "is_valid_component_id",
    "next_serial",
    "parse_component_id",
]

STANDARD_2026 = "GB/T 47678.5-2026"
STANDARD_LEGACY = "GB/T 30428.2-2013"
SERIAL_WIDTH = 6
MAX_SERIAL = 10**SERIAL_WIDTH - 1


class ComponentIdError(GridError, ValueError):
    """A component identifier (or one of its parts) is wrong; ``part`` names which.

    ``part`` is one of ``length``, ``digits``, ``district``, ``class``, ``serial``
    and ``standard``.

    Examples
    --------
    >>> err = ComponentIdError("serial", "serial 000000 is not allowed")
    >>> err.part, str(err)
    ('serial', 'serial 000000 is not allowed')
    """

    def __init__(self, part: str, message: str) -> None:
        super().__init__(message)
        self.part = part
        self.message = message


@dataclass(frozen=True)
class IdFormat:
    """The layout of one standard's identifiers.

    Examples
    --------
    >>> f = id_format(STANDARD_LEGACY)
    >>> f.class_width, f.minor_width, f.length
    (4, 2, 16)
    """

    standard: str
    minor_width: int

    @property
    def class_width(self) -> int:
        """Digits of the class code: 2 major + the minor digits."""
        return 2 + self.minor_width

    @property
    def length(self) -> int:
        """Digits of a whole identifier."""
        return 6 + self.class_width + SERIAL_WIDTH

    def describe(self) -> str:
        """The layout in words, for error messages."""
        return (f"{self.length} digits (6 district + {self.class_width} class "
                f"[2 major + {self.minor_width} minor] + {SERIAL_WIDTH} serial)")


#: Identifier layout of each supported standard.
FORMATS = {
    STANDARD_2026: IdFormat(STANDARD_2026, 3),
    STANDARD_LEGACY: IdFormat(STANDARD_LEGACY, 2),
}


def id_format(standard: str) -> IdFormat:
    """The layout of ``standard``'s identifiers.

    Examples
    --------
    >>> id_format(STANDARD_2026).length
    17
    >>> id_format("GB/T 1-1999")
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: unknown standard 'GB/T 1-1999'; expected GB/T 47678.5-2026 or GB/T 30428.2-2013
    """
    try:
        return FORMATS[standard]
    except KeyError:
        raise ComponentIdError(
            "standard", f"unknown standard {standard!r}; expected {' or '.join(FORMATS)}"
        ) from None


def _digits(text: str) -> bool:
    # str.isdigit alone accepts non-ASCII digits such as '٣'.
    return text.isascii() and text.isdigit()


@dataclass(frozen=True, order=True)
class ComponentId:
    """A parsed identifier: district, class code and serial, under one standard.

    Examples
    --------
    >>> cid = parse_component_id("41019901001000042")
    >>> cid.district, cid.class_code, cid.major, cid.minor, cid.serial
    ('410199', '01001', '01', '001', 42)
    >>> str(cid)
    '41019901001000042'
    """

    district: str
    class_code: str
    serial: int
    standard: str = STANDARD_2026

    @property
    def major(self) -> str:
        """The 2-digit major class (大类)."""
        return self.class_code[:2]

    @property
    def minor(self) -> str:
        """The minor class digits (小类): 3 in 2026, 2 in the legacy layout."""
        return self.class_code[2:]

    def __str__(self) -> str:
        return format_component_id(self.district, self.class_code, self.serial, self.standard)


def parse_component_id(
    text: object,
    standard: str = STANDARD_2026,
    *,
    district: str | None = None,
    known_classes: Collection[str] | None = None,
) -> ComponentId:
    """Parse and check an identifier; the error names the bad part.

    Parameters
    ----------
    text : str
        The identifier (surrounding blanks are ignored).
    standard : str
        ``"GB/T 47678.5-2026"`` (17 digits) or ``"GB/T 30428.2-2013"`` (16 digits).
    district : str, optional
        When given, the identifier's 6-digit admin code must equal it.
    known_classes : collection of str, optional
        When given, the class code must be one of these (the component classes of the
        standard's directory).

    Returns
    -------
    ComponentId

    Raises
    ------
    ComponentIdError
        ``part`` is ``length``, ``digits``, ``district``, ``class`` or ``serial``.

    Examples
    --------
    >>> parse_component_id("3205080101000001", "GB/T 30428.2-2013").class_code
    '0101'
    >>> parse_component_id("4101990100100004")
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: component id '4101990100100004' has 16 characters; GB/T 47678.5-2026 ids have 17 digits (6 district + 5 class [2 major + 3 minor] + 6 serial)
    >>> parse_component_id("41019901001A00042")
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: component id '41019901001A00042' must be digits only
    >>> try:
    ...     parse_component_id("41010501001000042", district="410199")
    ... except ComponentIdError as err:
    ...     print(err.part, "|", err)
    district | component id '41010501001000042' belongs to district 410105, not 410199
    >>> try:
    ...     parse_component_id("41019999001000042", known_classes={"01001"})
    ... except ComponentIdError as err:
    ...     print(err.part, "|", err)
    class | component id '41019999001000042': class 99001 is not a component class of GB/T 47678.5-2026
    >>> parse_component_id("41019901001000000")
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: component id '41019901001000000': serial 000000 is not allowed (serials start at 000001)
    """
    fmt = id_format(standard)
    if not isinstance(text, str):
        raise ComponentIdError("digits", f"component id must be text, got {type(text).__name__}")
    code = text.strip()
    if len(code) != fmt.length:
        raise ComponentIdError(
            "length",
            f"component id {code!r} has {len(code)} characters; {standard} ids have {fmt.describe()}",
        )
    if not _digits(code):
        raise ComponentIdError("digits", f"component id {code!r} must be digits only")
    admin, class_code, serial = code[:6], code[6 : 6 + fmt.class_width], code[6 + fmt.class_width :]
    if admin.startswith("0"):
        raise ComponentIdError(
            "district", f"component id {code!r}: district {admin} must not start with 0 (GB/T 2260)"
        )
    if district is not None and admin != district:
        raise ComponentIdError(
            "district", f"component id {code!r} belongs to district {admin}, not {district}"
        )
    if known_classes is not None and class_code not in known_classes:
        raise ComponentIdError(
            "class", f"component id {code!r}: class {class_code} is not a component class of {standard}"
        )
    if int(serial) == 0:
        raise ComponentIdError(
            "serial", f"component id {code!r}: serial 000000 is not allowed (serials start at 000001)"
        )
    return ComponentId(admin, class_code, int(serial), standard)


def is_valid_component_id(text: object, standard: str = STANDARD_2026) -> bool:
    """Whether ``text`` is a well-formed identifier of ``standard``.

    Examples
    --------
    >>> is_valid_component_id("41019901001000001"), is_valid_component_id("4101990100100000")
    (True, False)
    """
    try:
        parse_component_id(text, standard)
    except ComponentIdError:
        return False
    return True


def format_component_id(district: str, class_code: str, serial: int, standard: str = STANDARD_2026) -> str:
    """Build an identifier from its parts.

    Examples
    --------
    >>> format_component_id("410199", "01001", 42)
    '41019901001000042'
    >>> format_component_id("410199", "0101", 1, STANDARD_LEGACY)
    '4101990101000001'
    >>> format_component_id("410199", "0101", 1)
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: class code '0101' must be 5 digits under GB/T 47678.5-2026
    >>> format_component_id("410199", "01001", 1_000_000)
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: serial 1000000 is out of range 1–999999
    """
    fmt = id_format(standard)
    if not (isinstance(district, str) and len(district) == 6 and _digits(district) and district[0] != "0"):
        raise ComponentIdError("district", f"district {district!r} must be 6 digits, not starting with 0")
    if not (isinstance(class_code, str) and len(class_code) == fmt.class_width and _digits(class_code)):
        raise ComponentIdError(
            "class", f"class code {class_code!r} must be {fmt.class_width} digits under {standard}"
        )
    if isinstance(serial, bool) or not isinstance(serial, int) or not 1 <= serial <= MAX_SERIAL:
        raise ComponentIdError("serial", f"serial {serial!r} is out of range 1–{MAX_SERIAL}")
    return f"{district}{class_code}{serial:0{SERIAL_WIDTH}d}"


def next_serial(used: Iterable[int] | int | None) -> int:
    """The serial after the highest ever used (gaps are never filled: ids are not reused).

    Parameters
    ----------
    used : int, iterable of int or None
        The highest serial used so far, or all serials used; ``None``/empty when none.

    Examples
    --------
    >>> next_serial(None), next_serial(41), next_serial([3, 41, 7])
    (1, 42, 42)
    >>> next_serial(999999)
    Traceback (most recent call last):
    ...
    grid.componentid.ComponentIdError: every serial up to 999999 is used for this class
    """
    if used is None:
        top = 0
    elif isinstance(used, int):
        top = used
    else:
        top = max(used, default=0)
    if top >= MAX_SERIAL:
        raise ComponentIdError("serial", f"every serial up to {MAX_SERIAL} is used for this class")
    return top + 1
