"""Parse query parameters into plain values; every failure names the parameter.

The messages of the common failures are in the request's language (pages show them).
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, timezone, tzinfo

from flask import request
from flask_babel import gettext

from .errors import BadRequest

#: The largest id of a bigint key (cases, events, photos, components) and of an integer
#: key (everything else); a larger number names nothing and would fail in PostgreSQL.
MAX_ID = 2**63 - 1
MAX_INT_ID = 2**31 - 1
#: Dates and times outside these years are typing errors, and near datetime's own limits
#: arithmetic (a 90-day window, a time zone) overflows.
MIN_YEAR, MAX_YEAR = 1970, 2100
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    r"""Why ``value`` cannot be stored as text, or None.

    PostgreSQL text cannot hold NUL, and a lone UTF-16 surrogate (JSON ``"\ud800"``)
    cannot be encoded as UTF-8; no field of this system accepts either.

    Examples
    --------
    >>> text_problem("路面坑洞"), text_problem("a\x00b"), text_problem("\ud800")
    (None, 'contains a NUL character', 'contains a lone surrogate (U+D800)')
    """
    found = _BAD_TEXT.search(value)
    if found is None:
        return None
    char = found.group()
    return "contains a NUL character" if char == "\x00" else f"contains a lone surrogate (U+{ord(char):04X})"


def check_text(value: str, field: str) -> str:
    """``value`` unchanged, or a 400 naming ``field`` when it cannot be stored as text."""
    problem = text_problem(value)
    if problem:
        raise BadRequest(f"'{field}' {problem}", field=field)
    return value


def _required(name: str) -> str:
    return gettext("query parameter '%(name)s' is required", name=name)


def _between(name: str, lo: object, hi: object, value: object) -> str:
    return gettext("'%(name)s' must be between %(lo)s and %(hi)s, got %(value)s", name=name, lo=lo, hi=hi, value=value)


def required(name: str) -> str:
    """A non-empty query parameter."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        raise BadRequest(_required(name), field=name)
    return raw.strip()


def number(name: str, lo: float, hi: float, default: float | None = None) -> float:
    """A finite number within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        if default is not None:
            return default
        raise BadRequest(_required(name), field=name)
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(gettext("'%(name)s' must be a number, got %(value)s", name=name, value=repr(raw)),
                         field=name) from None
    if not math.isfinite(value):
        raise BadRequest(gettext("'%(name)s' must be a finite number, got %(value)s", name=name, value=repr(raw)),
                         field=name)
    if not lo <= value <= hi:
        raise BadRequest(_between(name, f"{lo:g}", f"{hi:g}", f"{value:g}"), field=name)
    return value


def integer(name: str, lo: int, hi: int, default: int) -> int:
    """A whole number within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(gettext("'%(name)s' must be a whole number, got %(value)s", name=name, value=repr(raw)),
                         field=name) from None
    if not lo <= value <= hi:
        raise BadRequest(_between(name, lo, hi, value), field=name)
    return value


def zoom(name: str = "zoom", default: int = 14, largest: int = 22) -> int:
    """A map zoom level 0..``largest``, fractional values floored.

    Leaflet reports a fractional zoom while a fly-to or pinch animation runs (and with
    ``zoomSnap`` < 1); the level whose tiles are drawn is the floor.
    """
    return math.floor(number(name, 0, largest, default))


def id_value(name: str, largest: int = MAX_INT_ID) -> int | None:
    """An optional id query parameter: a whole number from 1 to ``largest``."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 1 <= int(raw) <= largest:
        raise BadRequest(f"'{name}' must be an id (a whole number from 1 to {largest}), got {raw[:40]!r}",
                         field=name)
    return int(raw)


def parse_day(raw: str, field: str) -> date:
    """A calendar date YYYY-MM-DD between the years MIN_YEAR and MAX_YEAR."""
    try:
        value = date.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest(f"{field}: {raw[:40]!r} is not a date (YYYY-MM-DD)", field=field) from None
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise BadRequest(f"{field}: {value} is not between the years {MIN_YEAR} and {MAX_YEAR}", field=field)
    return value


def parse_timestamp(raw: str, field: str, local_tz: tzinfo | None = None) -> datetime:
    """An ISO 8601 date or time within the years MIN_YEAR..MAX_YEAR (UTC), 400 naming ``field``.

    Without a zone the value is taken in ``local_tz`` (or kept naive when None).

    Examples
    --------
    >>> parse_timestamp("2026-11-01", "start_date", timezone.utc).isoformat()
    '2026-11-01T00:00:00+00:00'
    >>> parse_timestamp("9999-12-31T23:59:59-12:00", "start_date")
    Traceback (most recent call last):
    ...
    app.errors.BadRequest: start_date: '9999-12-31T23:59:59-12:00' is not between the years 1970 and 2100
    """
    try:
        value = datetime.fromisoformat(raw.strip())
    except ValueError:
        raise BadRequest(f"{field}: {raw[:40]!r} is not an ISO 8601 date or time (e.g. 2026-11-01T00:00:00Z)",
                         field=field) from None
    if value.tzinfo is None and local_tz is not None:
        value = value.replace(tzinfo=local_tz)
    try:
        year = value.astimezone(timezone.utc).year if value.tzinfo else value.year
    except OverflowError:  # 9999-12-31T23:59:59-12:00 is in the year 10000 in UTC
        year = None
    if year is None or not MIN_YEAR <= year < MAX_YEAR:
        raise BadRequest(f"{field}: {raw[:40]!r} is not between the years {MIN_YEAR} and {MAX_YEAR}",
                         field=field)
    return value


def timestamp(name: str, local_tz: tzinfo | None = None) -> datetime | None:
    """An optional ISO 8601 date/time query parameter (see :func:`parse_timestamp`)."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return None
    return parse_timestamp(raw, name, local_tz)


def lonlat() -> tuple[float, float]:
    """The lon/lat pair of a request."""
    return number("lon", -180.0, 180.0), number("lat", -90.0, 90.0)


def body_number(data: dict, name: str, lo: float, hi: float) -> float:
    """A required finite number field of a JSON body, within [lo, hi]; 400 naming it otherwise."""
    raw = data.get(name)
    if raw is None or raw == "":
        raise BadRequest(f"'{name}' is required", field=name)
    if isinstance(raw, bool):
        raise BadRequest(f"'{name}' must be a number", field=name)
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise BadRequest(f"'{name}' must be a number, got {raw!r}", field=name) from None
    if not math.isfinite(value) or not lo <= value <= hi:
        raise BadRequest(f"'{name}' must be a finite number between {lo:g} and {hi:g}", field=name)
    return value
