"""Demo sizes: how much of the district to build and how finely to divide it."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["SIZES", "DemoSize"]


@dataclass(frozen=True)
class DemoSize:
    """One demo size.

    Parameters
    ----------
    name : str
        Key in :data:`SIZES`.
    width_m, height_m : float or None
        Extent to build, in metres, anchored on the CBD (``None`` = the whole district).
    streets : int
        Number of streets 街道.
    communities : int
        Number of communities 社区 over all streets.
    cell_area_m2 : float
        Target area of a unit grid cell; about 1 ha, a little less for the whole district
        so that it has about 20,000 cells.
    cases : int
        Cases in the demo's year of case history (:mod:`app.demo.cases`).

    Examples
    --------
    >>> SIZES["small"].streets
    4
    """

    name: str
    width_m: float | None
    height_m: float | None
    streets: int
    communities: int
    cell_area_m2: float = 10_000.0
    cases: int = 2_000


SIZES: dict[str, DemoSize] = {
    "small": DemoSize("small", 3000.0, 3000.0, streets=4, communities=8, cases=2_000),
    # About a year of a mid-sized district's caseload (~65 a day).
    "default": DemoSize("default", 6500.0, 6000.0, streets=6, communities=20, cases=24_000),
    # The whole district (about 143 km²) in about 20,000 cells; DESIGN §8's upper bound of
    # cases a year.
    "large": DemoSize("large", None, None, streets=9, communities=40, cell_area_m2=7_000.0, cases=1_000_000),
}
