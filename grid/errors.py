"""Exception classes raised by the grid package."""

from __future__ import annotations

__all__ = [
    "GridError",
    "InvalidGridCodeError",
    "OutsideGridError",
    "CellSetError",
    "InvalidParameterError",
]


class GridError(Exception):
    """Root of every error raised by the grid package.

    Examples
    --------
    >>> issubclass(InvalidGridCodeError, GridError)
    True
    """


class InvalidGridCodeError(GridError, ValueError):
    """A grid, street or community code does not have the expected form.

    Examples
    --------
    >>> raise InvalidGridCodeError("grid code 'x': expected 15 digits")
    Traceback (most recent call last):
    ...
    grid.errors.InvalidGridCodeError: grid code 'x': expected 15 digits
    """


class OutsideGridError(GridError, LookupError):
    """A point lies outside every cell of a cell set.

    Examples
    --------
    >>> isinstance(OutsideGridError("point (0, 0) is outside"), LookupError)
    True
    """


class InvalidParameterError(GridError, ValueError):
    """A numeric or geometric argument is out of its allowed range.

    Examples
    --------
    >>> isinstance(InvalidParameterError("cell_size_m must be > 0"), ValueError)
    True
    """


class CellSetError(GridError, ValueError):
    """One or more rows given to build a cell set are unusable.

    Parameters
    ----------
    problems : list of str
        One message per bad row; all of them are kept so that a caller can
        fix every row in one pass.

    Examples
    --------
    >>> err = CellSetError(["row 0: bad code", "row 3: empty polygon"])
    >>> err.problems
    ['row 0: bad code', 'row 3: empty polygon']
    >>> print(err)
    2 problem(s) in cell set: row 0: bad code; row 3: empty polygon
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems: list[str] = list(problems)
        super().__init__(
            f"{len(self.problems)} problem(s) in cell set: " + "; ".join(self.problems)
        )
