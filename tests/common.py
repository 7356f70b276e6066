"""Canonical sample geometries and a small hand-drawn cell set shared by tests.

The valid set has two communities of street 410105001 in a 400 m x 200 m
district part, with origin ``ORIGIN`` (EPSG:4547-like metres, Zhengzhou):

    y=200 +---------+---------+---------------+---------+
          |  A1 001 |  A2 002 |    B1 001     |  B3 003 |
    y=100 +------(90,100)-----+  +--------+   |         |
          |  A3 003 |  A4 004 |  | B2 002 |   |         |
          |         |         |  +--------+   |         |
    y=0   +-------(120,0)-----+---------(320,0)---------+
          x=0               x=200                     x=400

Local coordinates (before adding ``ORIGIN``): A1/A2 split at (90,100)-(110,200),
A3/A4 at (120,0)-(90,100); the four A cells meet at vertex (90,100), so A1-A4
and A2-A3 touch only at that corner. B2 fills a hole of B1
((230,60)-(280,120)); B1/B3 split at (320,0)-(300,200). All coordinates are
integers, so points on edges and vertices are exact.
"""

from __future__ import annotations

from shapely import affinity
from shapely.geometry import MultiPolygon, Polygon, box

from grid import CellSet

__all__ = [
    "ORIGIN", "COMMUNITY_A", "COMMUNITY_B", "STREET", "CODES", "LOCAL_CELLS",
    "at", "shift", "cell_pairs", "cell_set", "communities", "boundary",
    "pairs_with_gap", "pairs_with_overlap", "pairs_crossing_community",
    "pairs_with_bowtie", "pairs_with_duplicate_code",
    "POLYGON", "POLYGON_WITH_HOLE", "MULTIPOLYGON", "EMPTY_POLYGON", "BOWTIE",
]

ORIGIN = (470_000, 3_840_000)
STREET = "410105001"
COMMUNITY_A = STREET + "001"
COMMUNITY_B = STREET + "002"

HOLE = [(230, 60), (280, 60), (280, 120), (230, 120)]
LOCAL_CELLS: dict[str, Polygon] = {
    COMMUNITY_A + "001": Polygon([(0, 100), (90, 100), (110, 200), (0, 200)]),
    COMMUNITY_A + "002": Polygon([(90, 100), (200, 100), (200, 200), (110, 200)]),
    COMMUNITY_A + "003": Polygon([(0, 0), (120, 0), (90, 100), (0, 100)]),
    COMMUNITY_A + "004": Polygon([(120, 0), (200, 0), (200, 100), (90, 100)]),
    COMMUNITY_B + "001": Polygon([(200, 0), (320, 0), (300, 200), (200, 200)], [HOLE]),
    COMMUNITY_B + "002": Polygon(HOLE),
    COMMUNITY_B + "003": Polygon([(320, 0), (400, 0), (400, 200), (300, 200)]),
}
CODES = tuple(sorted(LOCAL_CELLS))

# Generic sample geometries (local metres).
POLYGON = box(0, 0, 100, 100)
POLYGON_WITH_HOLE = Polygon(box(0, 0, 100, 100).exterior, [box(40, 40, 60, 60).exterior])
MULTIPOLYGON = MultiPolygon([box(0, 0, 10, 10), box(20, 0, 30, 10)])
EMPTY_POLYGON = Polygon()
BOWTIE = Polygon([(0, 100), (90, 200), (90, 100), (0, 200)])


def at(x: float, y: float) -> tuple[float, float]:
    """Return local coordinates ``(x, y)`` shifted to the real CRS."""
    return (ORIGIN[0] + x, ORIGIN[1] + y)


def shift(geom):
    """Move a local geometry to the real CRS (exact for integer coordinates)."""
    return affinity.translate(geom, ORIGIN[0], ORIGIN[1])


def cell_pairs() -> list[tuple[str, Polygon]]:
    """The valid cells as ``(code, polygon)`` pairs, in the real CRS."""
    return [(code, shift(poly)) for code, poly in LOCAL_CELLS.items()]


def cell_set() -> CellSet:
    """The valid cell set."""
    return CellSet.from_polygons(cell_pairs())


def communities() -> dict[str, Polygon]:
    """Community polygons by 12-digit code."""
    return {COMMUNITY_A: shift(box(0, 0, 200, 200)), COMMUNITY_B: shift(box(200, 0, 400, 200))}


def boundary() -> Polygon:
    """The area the cells should cover."""
    return shift(box(0, 0, 400, 200))


def _replace(changes: dict[str, Polygon | None]) -> list[tuple[str, Polygon]]:
    """Valid pairs with some local polygons replaced (None removes the cell)."""
    local = {**LOCAL_CELLS, **changes}
    return [(code, shift(poly)) for code, poly in local.items() if poly is not None]


def pairs_with_gap() -> list[tuple[str, Polygon]]:
    """B2 removed: its 3000 m² hole inside B1 becomes a gap."""
    return _replace({COMMUNITY_B + "002": None})


def pairs_with_overlap() -> list[tuple[str, Polygon]]:
    """A2 pushed west over A1: a 10 m wide overlap (triangle + strip) with A1."""
    return _replace({COMMUNITY_A + "002": Polygon([(80, 100), (200, 100), (200, 200), (100, 200)])})


def pairs_crossing_community() -> list[tuple[str, Polygon]]:
    """A4 extended 10 m into community B (B1 shrunk to match): 1000 m² outside A."""
    return _replace({
        COMMUNITY_A + "004": Polygon([(120, 0), (210, 0), (210, 100), (90, 100)]),
        COMMUNITY_B + "001": Polygon(
            [(210, 0), (320, 0), (300, 200), (200, 200), (200, 100), (210, 100)], [HOLE]
        ),
    })


def pairs_with_bowtie() -> list[tuple[str, Polygon]]:
    """A1 replaced by a self-intersecting bow-tie (invalid polygon)."""
    return _replace({COMMUNITY_A + "001": BOWTIE})


def pairs_with_duplicate_code() -> list[tuple[str, Polygon]]:
    """A second polygon under B3's code."""
    return cell_pairs() + [(COMMUNITY_B + "003", shift(box(400, 0, 500, 100)))]
