"""Benchmark the asset look-ups through the API against their bare PostGIS queries (DESIGN §9).

Run from the repository root: ``.venv/bin/python bench/assets.py`` (or ``citygrid bench assets``).

``GET /api/v1/cameras/seeing?lon=&lat=`` (which cameras see a point) and
``GET /api/v1/pipelines/near?lon=&lat=&radius=50`` (the excavation check) are timed one
request after another over the same few thousand random points inside the demo district,
each request carrying a bearer token, and in the same run the bare SQL each endpoint rests on
(``ST_Intersects`` on ``cameras.fov``, ``ST_DWithin`` on ``pipelines.geom``) is timed on the same
points, already projected, over one plain psycopg connection. The API runs in-process through
the Flask test client (``--via client``, default: the app's own cost without HTTP) or under
gunicorn as ``citygrid serve`` starts it, driven over one keep-alive connection
(``--via http``). Every point's answer must list the same rows as the bare query, else the
run fails (exit 1).
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import intake  # noqa: E402  (bench/intake.py: database, server and machine helpers)

__all__ = ["Setup", "Timing", "main", "setup_database"]

DEFAULT_DB = "citygrid_bench_assets"
BENCH_USER = "bench_assets"
# The bare queries: the spatial predicate each endpoint rests on, ids only.
SEEING_SQL = "SELECT id FROM cameras WHERE ST_Intersects(fov, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {srid}))"
NEAR_SQL = ("SELECT id FROM pipelines "
            "WHERE ST_DWithin(geom, ST_SetSRID(ST_MakePoint(%(x)s, %(y)s), {srid}), %(radius)s)")


@dataclass
class Setup:
    """The prepared bench database."""

    url: str
    srid: int
    token: str
    lonlat: list[tuple[float, float]]
    xy: np.ndarray
    counts: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timing:
    """Latencies (ms) and answers of one query kind run over all points."""

    name: str
    latencies_ms: list[float] = field(default_factory=list)
    answers: list[tuple[int, ...]] = field(default_factory=list)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if self.latencies_ms else math.nan


def setup_database(name: str, size: str, n_points: int, data_dir: str, seed: int, reuse: bool) -> Setup:
    """Create, migrate and load the demo into database ``name`` (or reuse it); a token and points."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from app.cli import run_migrations
    from app.config import load_settings
    from app.db import drop_database, ensure_database, make_engine
    from app.models import User
    from app.services.accounts import hash_password, issue_token
    from gis.crs import lonlat_to_storage

    url = make_url(intake.server_url()).set(database=name).render_as_string(hide_password=False)
    settings = load_settings(intake.bench_env(url, data_dir))
    counts: dict[str, Any] = {}
    started = time.perf_counter()
    loaded = False
    if reuse:
        try:
            engine = make_engine(url)
            with engine.connect() as conn:
                loaded = bool(conn.scalar(sa.text("SELECT count(*) FROM cameras")))
            engine.dispose()
        except sa.exc.SQLAlchemyError:
            loaded = False
    if not loaded:
        drop_database(url)
        ensure_database(url)
        run_migrations(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        if not loaded:
            from app.demo import load_demo

            summary = load_demo(session, settings, size=size)
            counts["demo_load_s"] = summary.seconds
        user = session.scalar(sa.select(User).where(User.username == BENCH_USER))
        if user is None:
            user = User(username=BENCH_USER, display_name="压测用户", password_hash=hash_password("bench-password-1"),
                        role="inspector", district_code=settings.district_code)
            session.add(user)
            session.flush()
        token = issue_token(session, user, ttl_hours=24, label="bench")[0]
        lonlat = intake._sample_points(session, settings.storage_srid, n_points, seed)
        for table in ("cells", "cameras", "pipelines", "components", "buildings"):
            counts[table] = session.scalar(sa.text(f"SELECT count(*) FROM {table}"))  # constant names
        session.commit()
    engine.dispose()
    lon = np.array([p[0] for p in lonlat])
    lat = np.array([p[1] for p in lonlat])
    x, y = lonlat_to_storage(lon, lat, settings.storage_srid)
    counts["setup_s"] = round(time.perf_counter() - started, 1)
    return Setup(url, settings.storage_srid, token, lonlat, np.column_stack([x, y]), counts)


# -- the two sides ---------------------------------------------------------------------------


def _api_paths(setup: Setup, radius: float) -> dict[str, list[str]]:
    """Request paths per endpoint, lon/lat written with full precision (repr)."""
    return {
        "seeing": [f"/api/v1/cameras/seeing?lon={lon!r}&lat={lat!r}&limit=100" for lon, lat in setup.lonlat],
        "near": [f"/api/v1/pipelines/near?lon={lon!r}&lat={lat!r}&radius={radius:g}&limit=500"
                 for lon, lat in setup.lonlat],
    }


def _ids(kind: str, body: bytes) -> tuple[int, ...]:
    data = json.loads(body)
    items = data["cameras"] if kind == "seeing" else data["pipelines"]
    return tuple(sorted(item["id"] for item in items))


class ClientSide:
    """The app in-process, requests through the Flask test client."""

    label = "citygrid (test client)"

    def __init__(self, setup: Setup, data_dir: str):
        from app import create_app
        from app.config import load_settings
        from app.db import make_engine

        settings = load_settings(intake.bench_env(setup.url, data_dir))
        self.engine = make_engine(setup.url)
        self.client = create_app({"SETTINGS": settings, "ENGINE": self.engine}).test_client()
        self.headers = {"Authorization": f"Bearer {setup.token}"}

    def get(self, path: str) -> tuple[int, bytes]:
        resp = self.client.get(path, headers=self.headers)
        return resp.status_code, resp.get_data()

    def close(self) -> None:
        self.engine.dispose()


class HttpSide:
    """The app under gunicorn (``citygrid serve`` settings), one keep-alive connection."""

    label = "citygrid (gunicorn, HTTP)"

    def __init__(self, setup: Setup, data_dir: str, workers: int, threads: int):
        self.server = intake.Server("citygrid", intake.bench_env(setup.url, data_dir), workers, threads,
                                    setup.srid, Path(data_dir))
        self.server.wait_ready("/healthz")
        self.conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=30)
        self.headers = {"Authorization": f"Bearer {setup.token}", "Connection": "keep-alive"}

    def get(self, path: str) -> tuple[int, bytes]:
        self.conn.request("GET", path, headers=self.headers)
        resp = self.conn.getresponse()
        body = resp.read()
        if resp.will_close:
            self.conn.close()
        return resp.status, body

    def close(self) -> None:
        self.conn.close()
        self.server.stop()


def run_api(side, kind: str, paths: list[str], warmup: int) -> Timing:
    """Time every request of ``paths`` (after ``warmup`` untimed ones); a non-200 stops the run."""
    for path in paths[:warmup]:
        side.get(path)
    out = Timing(f"{kind} api")
    for path in paths:
        t0 = time.perf_counter()
        status, body = side.get(path)
        t1 = time.perf_counter()
        if status != 200:
            raise RuntimeError(f"GET {path} answered {status}: {body[:300]!r}")
        out.latencies_ms.append((t1 - t0) * 1000.0)
        out.answers.append(_ids(kind, body))
    return out


def run_bare(url: str, kind: str, sql: str, params: list[dict[str, float]], warmup: int) -> Timing:
    """Time the bare query on each point over one psycopg connection (autocommit)."""
    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conninfo = psycopg.conninfo.make_conninfo(host=u.host or "", port=u.port or 5432, user=u.username or "",
                                              password=u.password or "", dbname=u.database)
    out = Timing(f"{kind} bare SQL")
    with psycopg.connect(conninfo, autocommit=True) as conn, conn.cursor() as cur:
        for p in params[:warmup]:
            cur.execute(sql, p)
            cur.fetchall()
        for p in params:
            t0 = time.perf_counter()
            cur.execute(sql, p)
            rows = cur.fetchall()
            t1 = time.perf_counter()
            out.latencies_ms.append((t1 - t0) * 1000.0)
            out.answers.append(tuple(sorted(r[0] for r in rows)))
    return out


# -- report --------------------------------------------------------------------------------


def _row(t: Timing) -> list[str]:
    hits = sum(1 for a in t.answers if a)
    mean = sum(len(a) for a in t.answers) / max(len(t.answers), 1)
    return [t.name, str(len(t.latencies_ms)), f"{hits / max(len(t.answers), 1):.0%}", f"{mean:.1f}",
            f"{t.pct(50):.2f}", f"{t.pct(95):.2f}", f"{t.pct(99):.2f}", f"{max(t.latencies_ms):.2f}"]


def _markdown(rows: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def report(results: dict[str, tuple[Timing, Timing]]) -> str:
    """One table of latencies and one of ratios (API / bare) per percentile."""
    head = ["query", "requests", "points with a hit", "rows per point", "p50 ms", "p95 ms", "p99 ms", "max ms"]
    rows = [head]
    for api, bare in results.values():
        rows += [_row(api), _row(bare)]
    ratios = [["query", "p50 ratio", "p95 ratio", "p99 ratio", "API − bare at p50 (ms)"]]
    for kind, (api, bare) in results.items():
        ratios.append([kind] + [f"{api.pct(q) / bare.pct(q):.1f}×" for q in (50, 95, 99)]
                      + [f"{api.pct(50) - bare.pct(50):.2f}"])
    return _markdown(rows) + "\n\n" + _markdown(ratios)


def _merge(parts: list[Timing]) -> Timing:
    out = Timing(parts[0].name)
    for p in parts:
        out.latencies_ms += p.latencies_ms
    out.answers = parts[0].answers
    return out


def main(argv: list[str] | None = None) -> int:
    """Set up, time both endpoints and both bare queries, compare answers; 1 on a mismatch."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", choices=("small", "default", "large"), default="default",
                        help="demo size to load (default)")
    parser.add_argument("--points", type=int, default=3000, help="random points inside the district (3000)")
    parser.add_argument("--radius", type=float, default=50.0, help="excavation check radius in m (50)")
    parser.add_argument("--warmup", type=int, default=200, help="untimed requests before each run (200)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="rounds over all points; the order API/bare alternates per round (2)")
    parser.add_argument("--via", choices=("client", "http"), default="client",
                        help="client: Flask test client in-process; http: gunicorn on a loopback port")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers with --via http (2)")
    parser.add_argument("--threads", type=int, default=8, help="Flask threads per worker with --via http (8)")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database name ({DEFAULT_DB}); dropped first")
    parser.add_argument("--reuse-db", action="store_true",
                        help="keep an already loaded bench database instead of reloading the demo")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args(argv)

    print(f"machine: {intake._machine()}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    work = Path(tempfile.mkdtemp(prefix="bench_assets_"))
    setup = setup_database(args.db, args.size, args.points, str(work), args.seed, args.reuse_db)
    c = setup.counts
    print(f"database {args.db}: {args.size} demo, {c['cells']} cells, {c['cameras']} cameras, "
          f"{c['pipelines']} pipeline segments, {c['components']} components, {c['buildings']} buildings; "
          f"{len(setup.lonlat)} points; setup {c['setup_s']} s"
          + (f" (demo load {c['demo_load_s']} s)" if "demo_load_s" in c else " (reused)"))
    paths = _api_paths(setup, args.radius)
    bare_sql = {"seeing": SEEING_SQL.format(srid=setup.srid), "near": NEAR_SQL.format(srid=setup.srid)}
    params = [{"x": float(x), "y": float(y), "radius": args.radius} for x, y in setup.xy]
    side = ClientSide(setup, str(work)) if args.via == "client" else HttpSide(setup, str(work), args.workers,
                                                                                  args.threads)
    print(f"API via {side.label}; bare SQL over one psycopg connection; {args.rounds} round(s), "
          f"{args.warmup} warm-up requests each")
    failures: list[str] = []
    results: dict[str, tuple[Timing, Timing]] = {}
    try:
        for kind in ("seeing", "near"):
            api_parts: list[Timing] = []
            bare_parts: list[Timing] = []
            runs: list[Callable[[], None]] = [
                lambda: api_parts.append(run_api(side, kind, paths[kind], args.warmup)),
                lambda: bare_parts.append(run_bare(setup.url, kind, bare_sql[kind], params, args.warmup)),
            ]
            for rnd in range(args.rounds):
                for run in (runs if rnd % 2 == 0 else runs[::-1]):
                    run()
            api, bare = _merge(api_parts), _merge(bare_parts)
            for part in api_parts[1:]:
                if part.answers != api.answers:
                    failures.append(f"{kind}: the API's answers changed between rounds")
            wrong = [i for i, (a, b) in enumerate(zip(api.answers, bare.answers)) if a != b]
            if wrong:
                i = wrong[0]
                failures.append(f"{kind}: {len(wrong)} of {len(params)} points answered differently, e.g. "
                                f"{setup.lonlat[i]}: API {api.answers[i]} vs bare {bare.answers[i]}")
            results[kind] = (api, bare)
    finally:
        side.close()
        if not args.keep_db:
            from app.db import drop_database

            drop_database(setup.url)
        shutil.rmtree(work, ignore_errors=True)
    print(report(results))
    print("answers: " + ("identical for every point" if not failures else "MISMATCH"))
    for f in failures:
        print(f"FAIL: {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
