"""CellSet: validated unit grid cells (code + polygon) kept in code order."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Iterator
from functools import cached_property

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon

from grid.codes import InvalidGridCodeError, parse_community_code, parse_grid_code, parse_street_code
from grid.errors import CellSetError

__all__ = ["CellSet"]

# Already-clean 15-digit codes skip the slower, message-building parser.
_FAST_CODE = re.compile(r"[1-9][0-9]{11}(?!000)[0-9]{3}")


class CellSet:
    """An immutable set of unit grid cells, sorted by code.

    Build it with :meth:`CellSet.from_polygons`; the constructor is for
    already-validated data. Index ``i`` of every array attribute refers to the
    same cell, and because cells are sorted, a lower index means a lower code.

    Parameters
    ----------
    codes : sequence of str
        Valid, unique, sorted 15-digit codes.
    polygons : sequence of Polygon or MultiPolygon
        One valid polygon per code, in metres of a projected CRS.

    Attributes
    ----------
    codes : tuple of str
    polygons : tuple of Polygon or MultiPolygon
    geoms : numpy.ndarray
        The same polygons as an object array (for shapely's vectorised functions).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> cells = CellSet.from_polygons([
    ...     ("410105001001002", box(100, 0, 200, 100)),
    ...     ("410105001001001", box(0, 0, 100, 100)),
    ... ])
    >>> len(cells), cells.codes
    (2, ('410105001001001', '410105001001002'))
    >>> cells.index_of("410105001001002"), cells.bounds
    (1, (0.0, 0.0, 200.0, 100.0))
    """

    def __init__(self, codes: Iterable[str], polygons: Iterable[Polygon | MultiPolygon]) -> None:
        self.codes: tuple[str, ...] = tuple(codes)
        self.polygons: tuple[Polygon | MultiPolygon, ...] = tuple(polygons)
        if len(self.codes) != len(self.polygons):
            raise CellSetError(
                [f"{len(self.codes)} codes but {len(self.polygons)} polygons; expected equal counts"]
            )
        if list(self.codes) != sorted(set(self.codes)):
            raise CellSetError(["codes must be unique and sorted; use CellSet.from_polygons"])
        self.geoms: np.ndarray = np.empty(len(self.polygons), dtype=object)
        self.geoms[:] = self.polygons
        self._index = {code: i for i, code in enumerate(self.codes)}

    @classmethod
    def from_polygons(
        cls, pairs: Iterable[tuple[str, Polygon | MultiPolygon]]
    ) -> CellSet:
        """Validate ``(code, polygon)`` pairs and build a cell set sorted by code.

        Every row is checked and all problems are reported together.

        Parameters
        ----------
        pairs : iterable of (str, Polygon or MultiPolygon)
            15-digit code and cell polygon.

        Returns
        -------
        CellSet

        Raises
        ------
        CellSetError
            If any code does not parse, a code repeats, a geometry is not a
            Polygon/MultiPolygon, is empty, invalid or has zero area, or no
            rows are given. ``err.problems`` lists one message per bad row
            with its row index and code.

        Examples
        --------
        >>> from shapely.geometry import Polygon, box
        >>> bowtie = Polygon([(0, 0), (1, 1), (1, 0), (0, 1)])
        >>> CellSet.from_polygons([("4101050010010", box(0, 0, 1, 1)),
        ...                        ("410105001001001", bowtie)])
        Traceback (most recent call last):
        ...
        grid.errors.CellSetError: 2 problem(s) in cell set: row 0 code '4101050010010': grid code '4101050010010', length 13: expected 15 digits (6 district + 3 street + 3 community + 3 serial); row 1 code '410105001001001': invalid polygon (Self-intersection[0.5 0.5])
        """
        problems: list[tuple[int, str]] = []
        rows: list[tuple[int, str, object]] = []
        for row, pair in enumerate(pairs):
            try:
                code, geom = pair
            except (TypeError, ValueError):
                problems.append((row, f"row {row}: expected a (code, polygon) pair, got {pair!r}"))
                continue
            rows.append((row, code, geom))
        bad_rows: set[int] = set()
        first_row: dict[str, int] = {}
        for row, code, _ in rows:
            label = f"row {row} code {code!r}"
            if not (isinstance(code, str) and _FAST_CODE.fullmatch(code)):
                # Slow path only for unusual text, to get the precise message.
                try:
                    code = str(parse_grid_code(code))
                except (InvalidGridCodeError, TypeError) as exc:
                    problems.append((row, f"{label}: {exc}"))
                    bad_rows.add(row)
                    continue
            if code in first_row:
                problems.append((row, f"{label}: duplicate code (first seen in row {first_row[code]})"))
                bad_rows.add(row)
            else:
                first_row[code] = row
        for (row, code, geom), reason in zip(rows, _geometry_problems([r[2] for r in rows])):
            if reason is not None:
                problems.append((row, f"row {row} code {code!r}: {reason}"))
                bad_rows.add(row)
        if not problems and not rows:
            problems.append((0, "no cells given; a cell set needs at least one (code, polygon) row"))
        if problems:
            problems.sort(key=lambda p: p[0])
            raise CellSetError([p[1] for p in problems])
        good = sorted(
            ((str(parse_grid_code(code)) if not _FAST_CODE.fullmatch(code) else code, geom)
             for row, code, geom in rows),
            key=lambda r: r[0],
        )
        return cls([r[0] for r in good], [r[1] for r in good])

    def __len__(self) -> int:
        return len(self.codes)

    def __iter__(self) -> Iterator[tuple[str, Polygon | MultiPolygon]]:
        return iter(zip(self.codes, self.polygons))

    def __contains__(self, code: object) -> bool:
        return code in self._index

    def __repr__(self) -> str:
        return f"<CellSet of {len(self)} cells, bounds={self.bounds}>"

    def index_of(self, code: str) -> int:
        """Return the index of the cell with this code.

        Parameters
        ----------
        code : str
            15-digit grid code.

        Returns
        -------
        int

        Raises
        ------
        KeyError
            If no cell has this code; the message names the code.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1))])
        >>> cells.index_of("410105001001001")
        0
        >>> cells.index_of("410105001001009")
        Traceback (most recent call last):
        ...
        KeyError: "no cell with code '410105001001009' in this cell set of 1 cells"
        """
        try:
            return self._index[code]
        except KeyError:
            raise KeyError(
                f"no cell with code {code!r} in this cell set of {len(self)} cells"
            ) from None

    def polygon(self, code: str) -> Polygon | MultiPolygon:
        """Return the polygon of the cell with this code.

        Raises
        ------
        KeyError
            If no cell has this code.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 2, 1))])
        >>> cells.polygon("410105001001001").area
        2.0
        """
        return self.polygons[self.index_of(code)]

    @cached_property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(xmin, ymin, xmax, ymax)`` of all cells, as floats."""
        b = shapely.bounds(self.geoms)
        return (float(b[:, 0].min()), float(b[:, 1].min()), float(b[:, 2].max()), float(b[:, 3].max()))

    @cached_property
    def area_m2(self) -> np.ndarray:
        """Area of each cell in m² (float64 array, read-only).

        Examples
        --------
        >>> from shapely.geometry import box
        >>> CellSet.from_polygons([("410105001001001", box(0, 0, 100, 50))]).area_m2
        array([5000.])
        """
        area = shapely.area(self.geoms)
        area.flags.writeable = False
        return area

    @cached_property
    def fingerprint(self) -> str:
        """A hex digest of the codes and WKB geometries; equal sets give equal digests.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> a = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1))])
        >>> b = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1))])
        >>> a.fingerprint == b.fingerprint
        True
        """
        digest = hashlib.blake2b(digest_size=16)
        for code, wkb in zip(self.codes, shapely.to_wkb(self.geoms)):
            digest.update(code.encode("ascii"))
            digest.update(len(wkb).to_bytes(8, "little"))
            digest.update(wkb)
        return digest.hexdigest()

    def codes_in_community(self, community_code: str) -> tuple[str, ...]:
        """Return the codes of cells in a community, in code order.

        Parameters
        ----------
        community_code : str
            12-digit community code.

        Raises
        ------
        InvalidGridCodeError
            If `community_code` is not a 12-digit community code.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1)),
        ...                                ("410105001002001", box(1, 0, 2, 1))])
        >>> cells.codes_in_community("410105001002")
        ('410105001002001',)
        """
        prefix = str(parse_community_code(community_code))
        return tuple(c for c in self.codes if c.startswith(prefix))

    def codes_in_street(self, street_code: str) -> tuple[str, ...]:
        """Return the codes of cells in a street (街道), in code order.

        Parameters
        ----------
        street_code : str
            9-digit street code.

        Raises
        ------
        InvalidGridCodeError
            If `street_code` is not a 9-digit street code.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1)),
        ...                                ("410105002001001", box(1, 0, 2, 1))])
        >>> cells.codes_in_street("410105001")
        ('410105001001001',)
        """
        prefix = str(parse_street_code(street_code))
        return tuple(c for c in self.codes if c.startswith(prefix))

    def community_of(self, code: str) -> str:
        """Return the 12-digit community code of a cell in this set.

        Raises
        ------
        KeyError
            If no cell has this code.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1))])
        >>> cells.community_of("410105001001001")
        '410105001001'
        """
        self.index_of(code)
        return code[:12]

    def community_codes(self) -> tuple[str, ...]:
        """Return the distinct 12-digit community codes, sorted.

        Examples
        --------
        >>> from shapely.geometry import box
        >>> cells = CellSet.from_polygons([("410105001001001", box(0, 0, 1, 1)),
        ...                                ("410105001001002", box(1, 0, 2, 1))])
        >>> cells.community_codes()
        ('410105001001',)
        """
        return tuple(sorted({c[:12] for c in self.codes}))


def _geometry_problems(geoms: list[object]) -> list[str | None]:
    """Return, per geometry, why it cannot be a cell polygon, or None if it can."""
    polygonal = [isinstance(g, (Polygon, MultiPolygon)) for g in geoms]
    arr = np.empty(len(geoms), dtype=object)
    arr[:] = [g if ok else None for g, ok in zip(geoms, polygonal)]
    # Non-finite coordinates are reported below, not warned about here.
    with np.errstate(invalid="ignore"):
        empty = shapely.is_empty(arr)
        valid = shapely.is_valid(arr)
        area = shapely.area(arr)
    coords, owner = shapely.get_coordinates(arr, return_index=True)
    nonfinite = set(owner[~np.isfinite(coords).all(axis=1)].tolist())
    reasons: list[str | None] = []
    for i, geom in enumerate(geoms):
        if not polygonal[i]:
            reasons.append(f"geometry must be a Polygon or MultiPolygon, got {type(geom).__name__}")
        elif empty[i]:
            reasons.append("empty polygon")
        elif i in nonfinite:
            reasons.append("polygon has non-finite coordinates")
        elif not valid[i]:
            reasons.append(f"invalid polygon ({shapely.is_valid_reason(geom)})")
        elif not area[i] > 0:
            reasons.append(f"polygon has zero area (area {area[i]} m²)")
        else:
            reasons.append(None)
    return reasons
