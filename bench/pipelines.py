"""Time the excavation check GET /api/v1/pipelines/near on a loaded demo (target: p99 < 20 ms).

Run from the repository root after ``citygrid demo --size large`` (tens of thousands of segments):
``.venv/bin/python bench/pipelines.py [--database-url URL] [--n 2000] [--radius 30 200]``.

Requests go through the real application (Flask, bearer-token auth, PostGIS) in this process
via the test client, so network and gunicorn are left out. Points are drawn uniformly over the
pipelines' extent with a fixed seed. The baseline is the bare ``ST_DWithin`` query any
implementation must run for the same points, timed in the same run; the ratio says what the
API adds (depth interpolation, names, colours, JSON) on top of it.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGET_P99_MS = 20.0
BASELINE = """
SELECT id FROM pipelines
WHERE ST_DWithin(geom, ST_Transform(ST_SetSRID(ST_MakePoint(:lon, :lat), 4326), :srid), :radius)
"""


def _pct(ms: list[float], q: float) -> float:
    ms = sorted(ms)
    return ms[min(len(ms) - 1, round(q * (len(ms) - 1)))]


def _line(name: str, ms: list[float]) -> str:
    return (f"{name:<24} median {statistics.median(ms):6.2f} ms  p95 {_pct(ms, 0.95):6.2f} ms  "
            f"p99 {_pct(ms, 0.99):6.2f} ms  (n={len(ms)})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="defaults to DATABASE_URL or the local cluster's citygrid database")
    parser.add_argument("--n", type=int, default=2000, help="requests per radius")
    parser.add_argument("--radius", type=float, nargs="+", default=[30.0, 200.0])
    parser.add_argument("--user", default="inspector1")
    args = parser.parse_args(argv)
    if args.database_url:
        os.environ["DATABASE_URL"] = args.database_url
    os.environ.setdefault("CITYGRID_LOG_LEVEL", "WARNING")

    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings

    settings = load_settings()
    app = create_app({"SETTINGS": settings})
    client = app.test_client()
    resp = client.post("/api/v1/auth/token", json={"username": args.user, "password": settings.demo_password})
    if resp.status_code != 201:
        print(f"cannot sign in as {args.user}: {resp.get_json()}", file=sys.stderr)
        return 2
    headers = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}
    engine = app.extensions["citygrid.engine"]
    with engine.connect() as conn:
        count = conn.scalar(sa.text("SELECT count(*) FROM pipelines"))
        extent = conn.execute(sa.text(
            "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) FROM"
            " (SELECT ST_Extent(ST_Transform(geom, 4326)) AS e FROM pipelines) s")).one()
    if not count:
        print("no pipelines loaded; run `citygrid demo --size large` first", file=sys.stderr)
        return 2
    print(f"{count} pipeline segments; {args.n} points per radius")

    worst = 0.0
    for radius in args.radius:
        rnd = random.Random(61)
        points = [(rnd.uniform(extent[0], extent[2]), rnd.uniform(extent[1], extent[3])) for _ in range(args.n)]
        api_ms, sql_ms, hits = [], [], []
        with engine.connect() as conn:
            for lon, lat in points[:20]:  # warm caches as a running server has them
                client.get("/api/v1/pipelines/near", query_string={"lon": lon, "lat": lat, "radius": radius},
                           headers=headers)
            for lon, lat in points:
                t0 = time.perf_counter()
                conn.execute(sa.text(BASELINE), {"lon": lon, "lat": lat, "srid": settings.storage_srid,
                                                 "radius": radius}).all()
                sql_ms.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                r = client.get("/api/v1/pipelines/near", query_string={"lon": f"{lon:.7f}", "lat": f"{lat:.7f}",
                                                                       "radius": radius}, headers=headers)
                api_ms.append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    print(f"HTTP {r.status_code}: {r.get_json()}", file=sys.stderr)
                    return 1
                hits.append(r.get_json()["numberReturned"])
        print(f"radius {radius:g} m: {statistics.mean(hits):.1f} segments per answer on average")
        print("  " + _line("API /pipelines/near", api_ms))
        print("  " + _line("bare ST_DWithin (SQL)", sql_ms))
        print(f"  API / bare SQL at p99: {_pct(api_ms, 0.99) / _pct(sql_ms, 0.99):.1f}×")
        worst = max(worst, _pct(api_ms, 0.99))
    verdict = "meets" if worst < TARGET_P99_MS else "MISSES"
    print(f"worst p99 {worst:.2f} ms {verdict} the {TARGET_P99_MS:g} ms target")
    return 0 if worst < TARGET_P99_MS else 1


if __name__ == "__main__":
    sys.exit(main())
