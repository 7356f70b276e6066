"""Exception classes raised by the ``gis`` package."""

from __future__ import annotations

__all__ = [
    "CRSError",
    "GeoJSONError",
    "GisError",
    "InvalidGeometryError",
    "UnknownCRSError",
    "VectorFileError",
]


class GisError(Exception):
    """Root of every error raised by ``gis``.

    Examples
    --------
    >>> issubclass(CRSError, GisError)
    True
    """


class CRSError(GisError, ValueError):
    """A coordinate reference system or coordinate value is unusable.

    Examples
    --------
    >>> str(CRSError("longitude 200.0 is out of range [-180, 180]"))
    'longitude 200.0 is out of range [-180, 180]'
    """


class UnknownCRSError(CRSError):
    """A CRS name given by a user is not one of the accepted names.

    Parameters
    ----------
    name : object
        The name that was given.
    accepted : tuple of str
        The canonical names that are accepted.
    aliases : tuple of str, optional
        Other accepted spellings, listed in the message.

    Examples
    --------
    >>> err = UnknownCRSError("utm", ("wgs84", "gcj02"), aliases=("amap",))
    >>> err.accepted
    ('wgs84', 'gcj02')
    >>> str(err)
    "unknown CRS 'utm'; expected one of: wgs84, gcj02 (aliases: amap)"
    """

    def __init__(
        self, name: object, accepted: tuple[str, ...], aliases: tuple[str, ...] = ()
    ) -> None:
        self.name = name
        self.accepted = tuple(accepted)
        message = f"unknown CRS {name!r}; expected one of: {', '.join(self.accepted)}"
        if aliases:
            message += f" (aliases: {', '.join(aliases)})"
        super().__init__(message)


class GeoJSONError(GisError, ValueError):
    """A GeoJSON object is malformed, out of range or too large.

    Parameters
    ----------
    path : str
        JSON-pointer-like location of the problem, e.g.
        ``"geometry.coordinates[0][3]"``.
    reason : str
        What is wrong and what was expected.

    Examples
    --------
    >>> err = GeoJSONError("geometry.coordinates[0]", "ring is not closed")
    >>> err.path, err.reason
    ('geometry.coordinates[0]', 'ring is not closed')
    >>> str(err)
    'geometry.coordinates[0]: ring is not closed'
    """

    def __init__(self, path: str, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}" if path else reason)


class VectorFileError(GisError, ValueError):
    """A vector file cannot be read or written, or has bad rows.

    Parameters
    ----------
    message : str
        Summary of the problem.
    rows : list of dict, optional
        Row-level problems, each ``{"row": int, "field": str | None,
        "message": str}`` with 1-based source row numbers.

    Examples
    --------
    >>> err = VectorFileError(
    ...     "1 bad row", rows=[{"row": 3, "field": "lon", "message": "not a number"}]
    ... )
    >>> err.rows[0]["row"]
    3
    >>> str(err)
    '1 bad row'
    """

    def __init__(self, message: str, rows: list[dict] | None = None) -> None:
        self.rows: list[dict] = list(rows or [])
        super().__init__(message)


class InvalidGeometryError(GisError, ValueError):
    """A geometry is invalid, empty, of the wrong type or out of its extent.

    Examples
    --------
    >>> isinstance(InvalidGeometryError("empty polygon"), ValueError)
    True
    """
