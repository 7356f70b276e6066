"""GB/T 28181 device / channel ids: 20 digits naming the centre, industry, type and network.

Layout (GB/T 28181-2016 Annex D; positions are 1-based)::

    CCCCCCCC II TTT N SSSSSS
    1-8      centre code: 6-digit GB/T 2260 administrative code + 2 digits for the base unit
    9-10     industry code (08 = city management access)
    11-13    type code (131 camera, 132 IPC, ...)
    14       network code (6 = e-government extranet)
    15-20    serial number

The code tables below are copied from ``app/seed/gb28181_codes.csv`` (a test checks they are
equal); besides the listed codes, industry codes 40–79 are enterprises and type codes 500–599
video-analysis platforms, as the table's notes say.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

from grid.errors import GridError

__all__ = [
    "INDUSTRY_CODES",
    "NETWORK_CODES",
    "TYPE_CODES",
    "DeviceId",
    "InvalidDeviceIdError",
    "format_device_id",
    "is_valid_device_id",
    "parse_device_id",
]

#: Industry codes (positions 9–10) listed in the table; 40–79 are all enterprise codes.
INDUSTRY_CODES = MappingProxyType({
    "00": "社会治安路面",
    "01": "社会治安社区",
    "02": "社会治安内部",
    "03": "社会治安其他",
    "04": "交通路面",
    "05": "交通卡口",
    "06": "交通内部",
    "07": "交通其他",
    "08": "城市管理接入",
    "09": "卫生环保",
    "10": "商检海关",
    "11": "教育",
    "12": "民航",
    "13": "铁路",
    "14": "航运",
    "40": "企业 (40–79): 农林牧渔",
    "41": "企业 (40–79): 采矿",
    "42": "企业 (40–79): 制造",
    "43": "企业 (40–79): 电力热力燃气水",
})
#: Type codes (positions 11–13); ``5xx`` stands for the range 500–599.
TYPE_CODES = MappingProxyType({
    "111": "DVR",
    "112": "video server",
    "113": "encoder",
    "114": "decoder",
    "118": "NVR",
    "121": "视频卡口",
    "130": "HVR",
    "131": "camera",
    "132": "IPC",
    "133": "monitor",
    "134": "alarm input",
    "135": "alarm output",
    "136": "audio input",
    "137": "audio output",
    "138": "mobile transmission",
    "200": "SIP/central signalling server",
    "202": "media distribution (unverified)",
    "207": "GIS server",
    "209": "access gateway",
    "210": "media storage",
    "215": "business group",
    "216": "virtual organisation",
    "300": "central user",
    "400": "terminal user",
    "5xx": "video-analysis platforms",
})
#: Network codes (position 14).
NETWORK_CODES = MappingProxyType({
    "0": "公安视频传输网",
    "1": "公安视频传输网",
    "2": "行业专网",
    "3": "政法信息网",
    "4": "公安移动信息网",
    "5": "公安信息网",
    "6": "电子政务外网",
    "7": "互联网",
    "8": "专线",
    "9": "reserved",
})

#: GB/T 2260 province-level codes (first two digits of an administrative code).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 "
    "50 51 52 53 54 61 62 63 64 65 71 81 82".split()
)
#: Types that are video sources (a camera layer holds these).
_CAMERA_TYPES = frozenset({"131", "132"})


class InvalidDeviceIdError(GridError, ValueError):
    """A device id is malformed; ``part`` names the bad segment.

    ``part`` is one of ``"length"``, ``"digits"``, ``"centre"``, ``"industry"``, ``"type"``,
    ``"network"`` or ``"serial"``; ``positions`` the 1-based positions of that segment.

    Examples
    --------
    >>> err = InvalidDeviceIdError("x", "type", (11, 13))
    >>> err.part, err.positions
    ('type', (11, 13))
    """

    def __init__(self, message: str, part: str, positions: tuple[int, int] | None = None):
        super().__init__(message)
        self.part = part
        self.positions = positions


def _digits(text: str) -> bool:
    """True for non-empty text of ASCII digits."""
    # str.isdigit alone accepts non-ASCII digits such as '٣'.
    return text.isascii() and text.isdigit()


def _industry_name(code: str) -> str | None:
    if code in INDUSTRY_CODES:
        return INDUSTRY_CODES[code]
    if 40 <= int(code) <= 79:
        return "企业 (40–79)"
    return None


def _type_name(code: str) -> str | None:
    if code in TYPE_CODES:
        return TYPE_CODES[code]
    if code.startswith("5"):
        return TYPE_CODES["5xx"]
    return None


def _centre_problem(centre: str) -> str | None:
    """Why an 8-digit centre code is implausible, or None."""
    province, city, county = centre[0:2], centre[2:4], centre[4:6]
    if province not in _PROVINCES:
        return f"its administrative code {centre[:6]} starts with {province}, which is no GB/T 2260 province"
    if city == "00" and county != "00":
        return f"its administrative code {centre[:6]} has a county part {county} but no city part"
    return None


@dataclass(frozen=True)
class DeviceId:
    """A valid GB/T 28181 device id, split into its segments.

    Instances are validated on construction, so an invalid id cannot exist.

    Parameters
    ----------
    centre : str
        8 digits: the 6-digit administrative code of the monitoring centre and 2 digits for
        its base unit.
    industry : str
        2 digits from :data:`INDUSTRY_CODES` or 40–79.
    type : str
        3 digits from :data:`TYPE_CODES` or 500–599.
    network : str
        1 digit from :data:`NETWORK_CODES`.
    serial : str
        6 digits.

    Examples
    --------
    >>> d = DeviceId("41019900", "08", "132", "6", "000001")
    >>> str(d)
    '41019900081326000001'
    >>> d.admin_code, d.type_name, d.network_name, d.is_camera
    ('410199', 'IPC', '电子政务外网', True)
    """

    centre: str
    industry: str
    type: str
    network: str
    serial: str

    def __post_init__(self) -> None:
        parts = (self.centre, self.industry, self.type, self.network, self.serial)
        if not all(isinstance(p, str) for p in parts):
            raise TypeError(f"device id parts must be str, got {parts!r}")
        _check("".join(parts))

    def __str__(self) -> str:
        return self.centre + self.industry + self.type + self.network + self.serial

    @property
    def admin_code(self) -> str:
        """The 6-digit GB/T 2260 administrative code of the centre."""
        return self.centre[:6]

    @property
    def industry_name(self) -> str:
        """What the industry code means."""
        return _industry_name(self.industry) or ""

    @property
    def type_name(self) -> str:
        """What the type code means."""
        return _type_name(self.type) or ""

    @property
    def network_name(self) -> str:
        """What the network code means."""
        return NETWORK_CODES[self.network]

    @property
    def is_camera(self) -> bool:
        """True for the video-source types 131 (camera) and 132 (IPC)."""
        return self.type in _CAMERA_TYPES


def parse_device_id(text: str) -> DeviceId:
    """Parse and validate a 20-digit GB/T 28181 device id.

    Parameters
    ----------
    text : str
        The id; surrounding whitespace is ignored.

    Returns
    -------
    DeviceId

    Raises
    ------
    InvalidDeviceIdError
        Naming the bad part and its positions.
    TypeError
        If ``text`` is not a string.

    Examples
    --------
    >>> parse_device_id("34020000001320000101").type_name
    'IPC'
    >>> parse_device_id("4101990008132600001")
    Traceback (most recent call last):
    ...
    grid.deviceid.InvalidDeviceIdError: device id 4101990008132600001 has 19 characters; expected 20 digits (8 centre + 2 industry + 3 type + 1 network + 6 serial)
    >>> parse_device_id("41019900081996000001")
    Traceback (most recent call last):
    ...
    grid.deviceid.InvalidDeviceIdError: device id 41019900081996000001: type code 199 (positions 11–13) is not a GB/T 28181 device type
    >>> parse_device_id("41019900991326000001")
    Traceback (most recent call last):
    ...
    grid.deviceid.InvalidDeviceIdError: device id 41019900991326000001: industry code 99 (positions 9–10) is not a GB/T 28181 industry code
    """
    return DeviceId(*_check(text))


def _check(text: str) -> tuple[str, str, str, str, str]:
    """The five segments of a valid id; raises InvalidDeviceIdError naming the bad one."""
    if not isinstance(text, str):
        raise TypeError(f"device id must be str, got {type(text).__name__}: {text!r}")
    code = text.strip()
    if len(code) != 20:
        shown = code if len(code) <= 40 else code[:37] + "..."
        raise InvalidDeviceIdError(
            f"device id {shown} has {len(code)} characters; expected 20 digits "
            "(8 centre + 2 industry + 3 type + 1 network + 6 serial)",
            "length",
        )
    if not _digits(code):
        bad = next(i for i, ch in enumerate(code, start=1) if not _digits(ch))
        raise InvalidDeviceIdError(
            f"device id {code}: {code[bad - 1]!r} at position {bad} is not a digit; "
            "a GB/T 28181 id is 20 digits",
            "digits", (bad, bad),
        )
    centre, industry, type_, network, serial = code[:8], code[8:10], code[10:13], code[13], code[14:]
    problem = _centre_problem(centre)
    if problem:
        raise InvalidDeviceIdError(
            f"device id {code}: centre code {centre} (positions 1–8) is not plausible: {problem}",
            "centre", (1, 8),
        )
    if _industry_name(industry) is None:
        raise InvalidDeviceIdError(
            f"device id {code}: industry code {industry} (positions 9–10) is not a GB/T 28181 industry code",
            "industry", (9, 10),
        )
    if _type_name(type_) is None:
        raise InvalidDeviceIdError(
            f"device id {code}: type code {type_} (positions 11–13) is not a GB/T 28181 device type",
            "type", (11, 13),
        )
    if network not in NETWORK_CODES:  # every digit is listed; kept for a table that changes
        raise InvalidDeviceIdError(
            f"device id {code}: network code {network} (position 14) is not a GB/T 28181 network code",
            "network", (14, 14),
        )
    return centre, industry, type_, network, serial


def is_valid_device_id(text: object) -> bool:
    """Whether ``text`` is a valid GB/T 28181 device id.

    Examples
    --------
    >>> is_valid_device_id("41019900081326000001"), is_valid_device_id("4101990008132600000x")
    (True, False)
    >>> is_valid_device_id(None)
    False
    """
    if not isinstance(text, str):
        return False
    try:
        parse_device_id(text)
    except InvalidDeviceIdError:
        return False
    return True


def format_device_id(centre: str, serial: int | str, *, industry: str = "08", type: str = "132",
                     network: str = "6") -> str:
    """Build a device id from its parts and validate it.

    The defaults describe a city-management (08) IPC (132) on the e-government extranet (6).

    Parameters
    ----------
    centre : str
        The 8-digit centre code, or a 6-digit administrative code (padded with ``00``).
    serial : int or str
        0–999999; zero-padded to 6 digits.
    industry, type, network : str
        The 2-, 3- and 1-digit codes.

    Returns
    -------
    str
        The 20-digit id.

    Raises
    ------
    InvalidDeviceIdError
        If a part is malformed or not in the code tables.

    Examples
    --------
    >>> format_device_id("410199", 1)
    '41019900081326000001'
    >>> format_device_id("41019901", "42", type="131", network="7")
    '41019901081317000042'
    >>> format_device_id("410199", 1_000_000)
    Traceback (most recent call last):
    ...
    grid.deviceid.InvalidDeviceIdError: serial 1000000 (positions 15–20) must be 0–999999
    """
    centre = str(centre).strip()
    if len(centre) == 6:
        centre += "00"
    if len(centre) != 8 or not _digits(centre):
        raise InvalidDeviceIdError(f"centre code {centre!r} (positions 1–8) must be 6 or 8 digits",
                                   "centre", (1, 8))
    for name, value, width, positions in (("industry", industry, 2, (9, 10)), ("type", type, 3, (11, 13)),
                                          ("network", network, 1, (14, 14))):
        if len(value) != width or not _digits(value):
            raise InvalidDeviceIdError(f"{name} code {value!r} (positions {positions[0]}–{positions[1]}) "
                                       f"must be {width} digit{'s' if width > 1 else ''}", name, positions)
    if isinstance(serial, str):
        if not (_digits(serial) and len(serial) <= 6):
            raise InvalidDeviceIdError(f"serial {serial!r} (positions 15–20) must be up to 6 digits",
                                       "serial", (15, 20))
        serial = int(serial)
    if isinstance(serial, bool) or not 0 <= serial <= 999_999:
        raise InvalidDeviceIdError(f"serial {serial} (positions 15–20) must be 0–999999", "serial", (15, 20))
    return str(parse_device_id(f"{centre}{industry}{type}{network}{serial:06d}"))
