"""Parse query parameters into plain values; every failure names the parameter."""

from __future__ import annotations

import math

from flask import request

from .errors import BadRequest


def required(name: str) -> str:
    """A non-empty query parameter."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        raise BadRequest(f"query parameter '{name}' is required", field=name)
    return raw.strip()


def number(name: str, lo: float, hi: float, default: float | None = None) -> float:
    """A finite number within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        if default is not None:
            return default
        raise BadRequest(f"query parameter '{name}' is required", field=name)
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a number, got {raw!r}", field=name) from None
    if not math.isfinite(value):
        raise BadRequest(f"'{name}' must be a finite number, got {raw!r}", field=name)
    if not lo <= value <= hi:
        raise BadRequest(f"'{name}' must be between {lo:g} and {hi:g}, got {value:g}", field=name)
    return value


def integer(name: str, lo: int, hi: int, default: int) -> int:
    """A whole number within [lo, hi]."""
    raw = request.args.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be a whole number, got {raw!r}", field=name) from None
    if not lo <= value <= hi:
        raise BadRequest(f"'{name}' must be between {lo} and {hi}, got {value}", field=name)
    return value


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
