"""Errors raised by the demo generator."""

from __future__ import annotations

__all__ = ["DemoError"]


class DemoError(RuntimeError):
    """The demo cannot be built as asked, or the generator produced bad data (a bug).

    Examples
    --------
    >>> str(DemoError("size 'huge': expected one of small, default, large"))
    "size 'huge': expected one of small, default, large"
    """
