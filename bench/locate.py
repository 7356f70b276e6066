"""Benchmark CellLocator against geopandas.sjoin on irregular Voronoi cells.

Run from the repository root: ``.venv/bin/python bench/locate.py``.
Exits with status 1 if the two methods assign any point differently.
"""

from __future__ import annotations

import argparse
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from grid import CellLocator, CellSet  # noqa: E402

__all__ = ["make_cells", "main"]

# South-west corner of the extent, in EPSG:4547-like metres (Zhengzhou area).
X0, Y0 = 470_000.0, 3_840_000.0


def make_cells(n_cells: int, seed: int, fine_per_cell: int = 6) -> tuple[CellSet, float]:
    """Return ~n_cells irregular cells of ~1 ha with 15-digit codes, and the extent side.

    Each cell is the union of the small Voronoi polygons (``fine_per_cell``
    per cell on average) whose seeds fall in one coarse Voronoi polygon, so
    cells have crooked edges with many vertices, like blocks drawn along
    streets, while neighbours still share their edges exactly.
    """
    rng = np.random.default_rng(seed)
    side = 100.0 * np.sqrt(n_cells)
    extent = shapely.box(X0, Y0, X0 + side, Y0 + side)
    # Jittered lattice seeds give irregular but not degenerate coarse cells.
    k = int(np.ceil(np.sqrt(n_cells)))
    gx, gy = np.meshgrid(np.arange(k), np.arange(k))
    step = side / k
    px = X0 + (gx.ravel() + 0.5 + rng.uniform(-0.45, 0.45, k * k)) * step
    py = Y0 + (gy.ravel() + 0.5 + rng.uniform(-0.45, 0.45, k * k)) * step
    keep = rng.permutation(k * k)[:n_cells]
    coarse = shapely.voronoi_polygons(shapely.multipoints(np.c_[px[keep], py[keep]]), extend_to=extent)
    coarse = shapely.intersection(np.asarray(shapely.get_parts(coarse)), extent)
    if fine_per_cell <= 1:
        polygons = list(coarse)
        codes = [
            f"410105{i // 999 // 999 + 1:03d}{i // 999 % 999 + 1:03d}{i % 999 + 1:03d}"
            for i in range(len(polygons))
        ]
        return CellSet.from_polygons(zip(codes, polygons)), side
    fine_xy = rng.uniform(0, side, (n_cells * fine_per_cell, 2)) + [X0, Y0]
    fine_seeds = shapely.points(fine_xy)
    fine = shapely.voronoi_polygons(shapely.multipoints(fine_xy), extend_to=extent)
    fine = shapely.intersection(np.asarray(shapely.get_parts(fine)), extent)
    # Match each fine polygon to its seed, then its seed to a coarse cell.
    poly_i, seed_i = shapely.STRtree(fine_seeds).query(fine, predicate="contains")
    owner = np.full(len(fine), -1)
    pt_i, cell_i = shapely.STRtree(coarse).query(fine_seeds[seed_i], predicate="intersects")
    owner[poly_i[pt_i]] = cell_i
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(coarse) + 1))
    polygons = [
        shapely.coverage_union_all(fine[order[a:b]]) for a, b in zip(bounds[:-1], bounds[1:]) if b > a
    ]
    codes = [
        f"410105{i // 999 // 999 + 1:03d}{i // 999 % 999 + 1:03d}{i % 999 + 1:03d}"
        for i in range(len(polygons))
    ]
    return CellSet.from_polygons(zip(codes, polygons)), side


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a Markdown table of the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=20_000)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--pixel-size", type=float, default=None)
    parser.add_argument("--fine-per-cell", type=int, default=6,
                        help="small Voronoi polygons merged into each cell (1 = plain Voronoi cells)")
    args = parser.parse_args(argv)

    cell_set, side = make_cells(args.cells, args.seed, args.fine_per_cell)
    vertices = shapely.get_num_coordinates(cell_set.geoms) - 1
    rng = np.random.default_rng(args.seed + 1)
    xs = rng.uniform(X0, X0 + side, args.points)
    ys = rng.uniform(Y0, Y0 + side, args.points)

    t = time.perf_counter()
    locator = CellLocator(cell_set, args.pixel_size)
    build_s = time.perf_counter() - t
    t = time.perf_counter()
    ours = locator.locate_many(xs, ys)
    query_s = time.perf_counter() - t

    points = gpd.GeoDataFrame(geometry=gpd.points_from_xy(xs, ys))
    cells = gpd.GeoDataFrame({"cell": np.arange(len(cell_set))}, geometry=list(cell_set.polygons))
    t = time.perf_counter()
    joined = gpd.sjoin(points, cells, predicate="within")
    sjoin_s = time.perf_counter() - t
    theirs = np.full(args.points, np.iinfo(np.int64).max, dtype=np.int64)
    # Lowest index (= lowest code) if a point were within several cells.
    np.minimum.at(theirs, joined.index.to_numpy(), joined["cell"].to_numpy())
    theirs[theirs == np.iinfo(np.int64).max] = -1
    identical = bool(np.array_equal(ours, theirs))

    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
            if line.startswith("Model name")
        )
    except (OSError, StopIteration):
        model = platform.processor() or "unknown"
    rows = [
        ("cells", f"{len(cell_set):,} (vertices per cell: 5–95th pct "
                  f"{np.percentile(vertices, 5):.0f}–{np.percentile(vertices, 95):.0f}, "
                  f"mean {vertices.mean():.1f}; mean area {cell_set.area_m2.mean():,.0f} m²; "
                  f"{sum(g.geom_type == 'MultiPolygon' for g in cell_set.polygons)} multipolygons)"),
        ("points", f"{args.points:,} uniform over {side / 1000:.1f} km × {side / 1000:.1f} km"),
        ("raster", f"{locator.shape[1]} × {locator.shape[0]} px of {locator.pixel_size:.2f} m; "
                   f"{locator.mixed_fraction:.1%} mixed, {locator.n_general_pixels:,} general; "
                   f"lookup arrays {locator.nbytes / 2**20:.0f} MiB"),
        ("CellLocator build", f"{build_s:.2f} s"),
        ("CellLocator.locate_many", f"{query_s:.3f} s"),
        ("geopandas.sjoin(predicate='within')", f"{sjoin_s:.3f} s"),
        ("speed-up, query only (sjoin / locate_many)", f"{sjoin_s / query_s:.1f}×"),
        ("speed-up, build + query", f"{sjoin_s / (build_s + query_s):.2f}×"),
        ("points outside all cells", f"{int((ours < 0).sum()):,}"),
        ("peak RSS of the whole run", f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"),
        ("assignments identical", "yes" if identical else f"NO ({int((ours != theirs).sum())} differ)"),
    ]
    print(f"machine: {model}, {len(__import__('os').sched_getaffinity(0))} cores; "
          f"python {platform.python_version()}, shapely {shapely.__version__}, "
          f"geopandas {gpd.__version__}, numpy {np.__version__}")
    print(f"command: .venv/bin/python bench/locate.py --cells {args.cells} "
          f"--points {args.points} --seed {args.seed} --fine-per-cell {args.fine_per_cell}")
    print()
    print("| measure | value |")
    print("| --- | --- |")
    for name, value in rows:
        print(f"| {name} | {value} |")
    return 0 if identical else 1


if __name__ == "__main__":
    sys.exit(main())
