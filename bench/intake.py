"""Benchmark POST /api/v1/cases against a bare Flask + PostGIS insert endpoint (DESIGN §9).

Run from the repository root: ``.venv/bin/python bench/intake.py``.

Both servers run exactly as ``citygrid serve`` runs citygrid (``app.server``: gunicorn + uvicorn
workers behind the ASGI front, 2 workers × 8 threads by default, access log on), each in its own subprocess on a free
loopback port, and the same load generator (keep-alive ``http.client`` connections, one
per client thread, spread over a few processes) drives both with the same request bodies
and headers. Exits with status 1 only on a correctness failure: after each run the rows
written must equal the number of 201 answers. Missing the speed targets prints FAIL but
exits 0.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import io
import json
import math
import multiprocessing as mp
import os
import platform
import pstats
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

__all__ = ["LoadResult", "Setup", "baseline_app", "main", "run_load", "setup_database"]

DEFAULT_DB = "citygrid_bench_intake"
SECRET = "bench-intake-secret-key-not-for-production"
# The bare endpoint's table; minimal, but with the spatial index any real table has.
BASELINE_DDL = """
CREATE TABLE IF NOT EXISTS bench_cases (
    id bigserial PRIMARY KEY,
    category text NOT NULL,
    description text NOT NULL,
    cell_code varchar(15),
    geom geometry(Point, {srid}) NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS bench_cases_geom_idx ON bench_cases USING gist (geom);
"""
BASELINE_INSERT = """
WITH p AS (SELECT ST_SetSRID(ST_MakePoint(:x, :y), {srid}) AS pt)
INSERT INTO bench_cases (category, description, cell_code, geom)
SELECT :category, :description,
       (SELECT c.code FROM cells c WHERE c.valid_to IS NULL AND ST_Covers(c.geom, p.pt)
        ORDER BY c.code LIMIT 1),
       p.pt
FROM p
RETURNING id, cell_code
"""
DESCRIPTIONS = ("井盖缺失", "道路破损", "占道经营", "暴露垃圾", "乱堆物料", "绿地脏乱", "违规广告", "积水")


# -- database ------------------------------------------------------------------------------


def server_url() -> str:
    """URL of the PostgreSQL server to create the bench database on (as tests/conftest.py)."""
    from app.config import local_database_url, normalize_db_url

    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    return normalize_db_url(url) if url else local_database_url(os.environ)


def bench_env(url: str, data_dir: str) -> dict[str, str]:
    """Environment of both server subprocesses: production settings on the bench database."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYGRID_") or k == "CITYGRID_PG_PORT"}
    env.update(DATABASE_URL=url, CITYGRID_ENV="production", CITYGRID_SECRET_KEY=SECRET,
               CITYGRID_PUBLIC_URL="http://127.0.0.1",
               CITYGRID_DATA_DIR=data_dir, PYTHONPATH=str(ROOT))
    return env


@dataclass
class Setup:
    """The prepared bench database."""

    url: str
    srid: int
    tokens: list[str]
    inspector_ids: list[int]
    points: list[tuple[float, float]]
    categories: list[str]
    grid: str
    counts: dict[str, Any] = field(default_factory=dict)


def _sample_points(session, srid: int, n: int, seed: int) -> list[tuple[float, float]]:
    """``n`` lon/lat points drawn uniformly inside the current cells, 2 m clear of edges."""
    import shapely
    import sqlalchemy as sa

    from gis.crs import storage_to_lonlat

    wkb = session.scalars(sa.text("SELECT ST_AsBinary(geom) FROM cells WHERE valid_to IS NULL")).all()
    cells = shapely.buffer(shapely.from_wkb([bytes(b) for b in wkb]), -2.0)
    cells = cells[~shapely.is_empty(cells)]
    rng = np.random.default_rng(seed)
    areas = shapely.area(cells)
    picks = rng.choice(len(cells), size=n, p=areas / areas.sum())
    xs, ys = np.empty(n), np.empty(n)
    for k, ix in enumerate(picks):
        minx, miny, maxx, maxy = cells[ix].bounds
        while True:  # rejection sampling in the cell's box; cells are compact, few tries
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(cells[ix], x, y):
                xs[k], ys[k] = x, y
                break
    lon, lat = storage_to_lonlat(xs, ys, srid)
    return list(zip(np.asarray(lon).tolist(), np.asarray(lat).tolist()))


def setup_database(name: str, grid: str, inspectors: int, data_dir: str, seed: int = 7) -> Setup:
    """Create, migrate and fill database ``name``; return tokens, points and categories."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url
    from sqlalchemy.orm import Session

    from app.cli import run_migrations
    from app.config import load_settings
    from app.db import drop_database, ensure_database, make_engine
    from app.models import Category, User
    from app.services.accounts import hash_password, issue_token
    from app.services.audit import SYSTEM
    from app.services.categories import load_categories
    from app.services.workcal import seed_calendar

    url = make_url(server_url()).set(database=name).render_as_string(hide_password=False)
    drop_database(url)
    ensure_database(url)
    run_migrations(url)
    settings = load_settings(bench_env(url, data_dir))
    engine = make_engine(url)
    counts: dict[str, Any] = {}
    started = time.perf_counter()
    with Session(engine, expire_on_commit=False) as session:
        if grid == "demo":
            from app.demo import load_demo

            summary = load_demo(session, settings, size="small")
            counts.update(summary.counts)
        else:
            _test_layer_grid(session, settings, data_dir)
        # The demo seeds both already; loading again is a no-op there and needed for "test".
        load_categories(session, SYSTEM)
        seed_calendar(session, SYSTEM)
        session.execute(sa.text(BASELINE_DDL.format(srid=settings.storage_srid)))
        users = []
        for i in range(inspectors):
            user = User(username=f"bench_inspector_{i:03d}", display_name=f"压测巡查员{i}",
                        password_hash=hash_password("bench-password-1"), role="inspector",
                        district_code=settings.district_code)
            session.add(user)
            users.append(user)
        session.flush()
        tokens = [issue_token(session, u, ttl_hours=24, label="bench")[0] for u in users]
        categories = session.scalars(
            sa.select(Category.code).where(Category.standard_ref == settings.category_standard,
                                           Category.kind == "event", Category.enabled.is_(True))
        ).all()
        points = _sample_points(session, settings.storage_srid, 20_000, seed)
        counts["cells"] = session.scalar(sa.text("SELECT count(*) FROM cells WHERE valid_to IS NULL"))
        counts["cases_before"] = session.scalar(sa.text("SELECT count(*) FROM cases"))
        session.commit()
        ids = [u.id for u in users]
    engine.dispose()
    counts["setup_s"] = round(time.perf_counter() - started, 1)
    return Setup(url, settings.storage_srid, tokens, ids, points, ["E" + c for c in categories], grid, counts)


def _test_layer_grid(session, settings, data_dir: str) -> None:
    """Fallback grid: the six-cell test layer (tests/app) through the real import path."""
    from app.services.audit import SYSTEM
    from app.services.cell_import import import_cells
    from tests.app.conftest import make_layer, write_layer

    path = write_layer(Path(data_dir) / "cells", make_layer(settings), settings.storage_srid)
    import_cells(session, SYSTEM, path, settings)


def count_rows(url: str, sql: str, params: dict[str, Any] | None = None) -> int:
    """One count from the bench database on a fresh connection."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(sa.text(sql), params or {}))
    finally:
        engine.dispose()


# -- servers -------------------------------------------------------------------------------


def baseline_app(url: str, srid: int):
    """A bare Flask app: POST /cases parses the JSON, projects lon/lat, INSERTs one row.

    No auth, no validation beyond the numbers; a pooled SQLAlchemy engine (the same pool
    size as citygrid's, without pre-ping) and a per-thread pyproj transformer.
    """
    import pyproj
    import sqlalchemy as sa
    from flask import Flask, jsonify, request

    app = Flask("bench_baseline")
    engine = sa.create_engine(url, pool_size=10, max_overflow=20)
    insert = sa.text(BASELINE_INSERT.format(srid=srid))
    local = threading.local()

    def transformer() -> pyproj.Transformer:
        # pyproj transformers are not safe to share between threads.
        if not hasattr(local, "t"):
            local.t = pyproj.Transformer.from_crs("EPSG:4326", f"EPSG:{srid}", always_xy=True)
        return local.t

    @app.post("/cases")
    def create():
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            return jsonify({"error": "body is not a JSON object"}), 400
        try:
            lon, lat = float(data["lon"]), float(data["lat"])
        except (KeyError, TypeError, ValueError):
            return jsonify({"error": "lon and lat are required numbers"}), 400
        if not (math.isfinite(lon) and math.isfinite(lat)):
            return jsonify({"error": "lon and lat must be finite"}), 400
        x, y = transformer().transform(lon, lat)
        with engine.begin() as conn:
            row = conn.execute(insert, {"x": x, "y": y, "category": str(data.get("category", "")),
                                        "description": str(data.get("description", ""))}).one()
        if row.cell_code is None:
            return jsonify({"error": "outside the grid"}), 422
        return jsonify({"id": row.id, "cell_code": row.cell_code}), 201

    @app.get("/ping")
    def ping():
        return "ok"

    return app


def serve(which: str, port: int, workers: int, threads: int, srid: int) -> None:
    """Run one server exactly as ``citygrid serve`` runs citygrid (subprocess entry)."""
    from app import server
    from app.config import load_settings

    def load():
        if which == "baseline":
            bare = baseline_app(os.environ["DATABASE_URL"], srid)
            bare.config["MAX_CONTENT_LENGTH"] = load_settings().max_upload_bytes  # as citygrid's
            return bare
        from app import create_app

        return create_app()

    server.run(load, bind=f"127.0.0.1:{port}", workers=workers, threads=threads,
               body_timeout=load_settings().body_timeout_s)


def free_port() -> int:
    """A free loopback port (the kernel's choice)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A gunicorn subprocess, stopped by its own pid."""

    def __init__(self, which: str, env: dict[str, str], workers: int, threads: int, srid: int, log_dir: Path):
        self.which, self.port = which, free_port()
        self.log_path = log_dir / f"{which}.log"
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "serve", which, "--port", str(self.port), "--workers", str(workers),
             "--threads", str(threads), "--srid", str(srid)],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=ROOT,
        )

    def wait_ready(self, path: str, timeout: float = 60.0) -> None:
        """Poll ``path`` until it answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.which} server exited; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
                conn.request("GET", path)
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.which} server did not answer {path} within {timeout} s; see {self.log_path}")

    def stop(self) -> None:
        """SIGTERM the gunicorn master (it stops its workers) and wait."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


# -- load generator ------------------------------------------------------------------------


@dataclass
class LoadResult:
    """What one load run saw."""

    name: str
    duration_s: float
    latencies_ms: np.ndarray  # requests started inside the measured window
    statuses: Counter  # same window
    created_total: int  # every 201, warm-up included (for the row count)
    errors_total: int  # connection errors and timeouts, whole run
    replays_total: int  # answers marked Idempotent-Replayed (must be 0: every key is new)

    @property
    def throughput(self) -> float:
        """201 answers per second in the measured window."""
        return self.statuses.get(201, 0) / self.duration_s

    def pct(self, q: float) -> float:
        """Latency percentile in ms."""
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else math.nan


def make_body(rng: random.Random, points: list[tuple[float, float]], categories: list[str]) -> bytes:
    """One report as the phone sends it (no photos)."""
    lon, lat = rng.choice(points)
    return json.dumps({
        "lon": round(lon, 7), "lat": round(lat, 7), "category": rng.choice(categories),
        "description": f"{rng.choice(DESCRIPTIONS)}，压测 {rng.getrandbits(32):08x}",
        "address": "郑东新区压测路",
    }, ensure_ascii=False).encode()


def _client(port: int, path: str, token: str, points, categories, seed: int,
            t_start: float, t_measure: float, t_end: float, out: list) -> None:
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat_ms: list[float] = []
    statuses: Counter = Counter()
    created = errors = replays = 0
    time.sleep(max(t_start - time.perf_counter(), 0.0))  # all clients start together
    while True:
        now = time.perf_counter()
        if now >= t_end:
            break
        body = make_body(rng, points, categories)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}",
                   "Idempotency-Key": str(uuid.UUID(int=rng.getrandbits(128))), "Connection": "keep-alive"}
        t0 = time.perf_counter()
        try:
            conn.request("POST", path, body=body, headers=headers)
            resp = conn.getresponse()
            resp.read()
            status = resp.status
            if resp.getheader("Idempotent-Replayed"):
                replays += 1
            if resp.will_close:
                conn.close()
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            continue
        t1 = time.perf_counter()
        if status == 201:
            created += 1
        if t0 >= t_measure:
            lat_ms.append((t1 - t0) * 1000.0)
            statuses[status] += 1
    conn.close()
    out.append((lat_ms, statuses, created, errors, replays))


def _client_proc(args: tuple, queue) -> None:
    port, path, tokens, points, categories, seeds, t_start, t_measure, t_end = args
    out: list = []
    threads = [threading.Thread(target=_client, args=(port, path, tok, points, categories, s,
                                                      t_start, t_measure, t_end, out))
               for tok, s in zip(tokens, seeds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    queue.put(out)


def run_load(name: str, port: int, path: str, tokens: list[str], points, categories, clients: int,
             procs: int, warmup: float, duration: float, seed: int) -> LoadResult:
    """Drive ``clients`` keep-alive connections (over ``procs`` processes) for warm-up + duration.

    ``perf_counter`` is system-wide monotonic on Linux, so the window is shared by all
    client processes; only requests started inside it are measured.
    """
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    t_start = time.perf_counter() + 0.5  # give the processes time to start
    t_measure = t_start + warmup
    t_end = t_measure + duration
    jobs = []
    for p in range(procs):
        ix = list(range(p, clients, procs))
        args = (port, path, [tokens[i % len(tokens)] for i in ix], points, categories,
                [seed * 1000 + i for i in ix], t_start, t_measure, t_end)
        proc = ctx.Process(target=_client_proc, args=(args, queue))
        proc.start()
        jobs.append(proc)
    parts = [r for _ in jobs for r in queue.get(timeout=warmup + duration + 120)]
    for proc in jobs:
        proc.join()
    lat = np.array([x for part in parts for x in part[0]])
    statuses = sum((part[1] for part in parts), Counter())
    return LoadResult(name, duration, lat, statuses, sum(p[2] for p in parts), sum(p[3] for p in parts),
                      sum(p[4] for p in parts))


# -- profiling -----------------------------------------------------------------------------


def profile_intake(setup: Setup, data_dir: str, n: int, top: int) -> str:
    """Run ``n`` intakes in-process through the Flask test client under cProfile.

    Also counts SQL statements per request. Single-threaded, so it shows CPU and database
    round trips per intake, not contention.
    """
    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings
    from app.db import make_engine

    settings = load_settings(bench_env(setup.url, data_dir))
    engine = make_engine(setup.url)
    statements: Counter = Counter()
    seconds: Counter = Counter()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _count(conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t0"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _time(conn, cursor, statement, parameters, context, executemany):
        key = " ".join(statement.split())[:90]
        statements[key] += 1
        seconds[key] += time.perf_counter() - conn.info.pop("bench_t0")

    app = create_app({"SETTINGS": settings, "ENGINE": engine})
    client = app.test_client()
    rng = random.Random(99)
    headers = {"Authorization": f"Bearer {setup.tokens[0]}"}

    def one():
        resp = client.post("/api/v1/cases", data=make_body(rng, setup.points, setup.categories),
                           content_type="application/json",
                           headers={**headers, "Idempotency-Key": uuid.uuid4().hex})
        assert resp.status_code == 201, resp.get_data(as_text=True)

    for _ in range(20):  # warm caches (calendar, pyproj, SQLAlchemy statement cache)
        one()
    t0 = time.perf_counter()
    for _ in range(n):
        one()
    plain_ms = (time.perf_counter() - t0) / n * 1000
    statements.clear()
    seconds.clear()
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for _ in range(n):
        one()
    prof.disable()
    wall = time.perf_counter() - t0
    buf = io.StringIO()
    buf.write(f"{n} sequential intakes in-process: {plain_ms:.2f} ms each "
              f"({wall / n * 1000:.2f} ms under cProfile)\n")
    buf.write(f"SQL statements per intake: {sum(statements.values()) / n:.1f}, "
              f"{sum(seconds.values()) / n * 1000:.2f} ms in the driver (count, ms per intake, statement):\n")
    for stmt, secs in seconds.most_common():
        buf.write(f"  {statements[stmt] / n:4.1f} {secs / n * 1000:6.2f}  {stmt}\n")
    stats = pstats.Stats(prof, stream=buf)
    by_package: Counter = Counter()
    for (filename, _line, _name), (_cc, _nc, tt, _ct, _callers) in stats.stats.items():
        by_package[_package(filename)] += tt
    buf.write("self time by package (ms per intake, under cProfile):\n")
    for pkg, tt in by_package.most_common(15):
        buf.write(f"  {tt / n * 1000:6.2f}  {pkg}\n")
    stats.sort_stats("cumulative").print_stats(r"/(app|gis)/", top)  # the project's own functions
    stats.sort_stats("tottime").print_stats(top // 2)
    engine.dispose()
    return buf.getvalue()


def _package(filename: str) -> str:
    """Top-level package of a profiled file (site-packages name, project dir, or builtin)."""
    if "site-packages/" in filename:
        return filename.split("site-packages/", 1)[1].split("/", 1)[0]
    if filename.startswith(str(ROOT)):
        return "/".join(Path(filename).relative_to(ROOT).parts[:2])
    if filename.startswith("<") or filename == "~":
        return "builtins/C"
    return "stdlib"


# -- report --------------------------------------------------------------------------------


def _table(results: list[LoadResult]) -> str:
    head = ("run", "server", "req/s (201)", "p50 ms", "p95 ms", "p99 ms", "max ms", "201s", "non-201", "conn errors")
    rows = [head]
    for i, r in enumerate(results):
        non = sum(v for k, v in r.statuses.items() if k != 201)
        rows.append((str(i // 2 + 1), r.name, f"{r.throughput:.1f}", f"{r.pct(50):.1f}", f"{r.pct(95):.1f}", f"{r.pct(99):.1f}",
                     f"{r.latencies_ms.max() if len(r.latencies_ms) else math.nan:.1f}",
                     str(r.statuses.get(201, 0)), str(non), str(r.errors_total)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in rows]
    lines.insert(1, "| " + " | ".join("-" * w for w in widths) + " |")
    return "\n".join(lines)


def _machine() -> str:
    model = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
            f"load average before run {load[0]:.2f}")


def main(argv: list[str] | None = None) -> int:
    """Set up, serve, load both endpoints, check row counts; 1 on a correctness failure."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        p = argparse.ArgumentParser()
        p.add_argument("which", choices=("baseline", "citygrid"))
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--workers", type=int, required=True)
        p.add_argument("--threads", type=int, required=True)
        p.add_argument("--srid", type=int, required=True)
        a = p.parse_args(argv[1:])
        serve(a.which, a.port, a.workers, a.threads, a.srid)
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=32, help="concurrent keep-alive clients (32)")
    parser.add_argument("--client-procs", type=int, default=2, help="load generator processes (2)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring (3)")
    parser.add_argument("--duration", type=float, default=20.0, help="measured seconds per run (20)")
    parser.add_argument("--rounds", type=int, default=1, help="baseline/citygrid pairs to run (1)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers per server (2)")
    parser.add_argument("--threads", type=int, default=8, help="Flask threads per worker (8)")
    parser.add_argument("--inspectors", type=int, default=32, help="inspector users with tokens (32)")
    parser.add_argument("--grid", choices=("demo", "test"), default="demo",
                        help="demo: small demo district; test: the six-cell test layer")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database name ({DEFAULT_DB}); dropped first")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="after the runs, profile N in-process intakes with cProfile")
    parser.add_argument("--no-load", action="store_true", help="skip the load runs (with --profile)")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)

    print(f"machine: {_machine()}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    work = Path(tempfile.mkdtemp(prefix="bench_intake_"))
    setup = setup_database(args.db, args.grid, args.inspectors, str(work))
    print(f"database {args.db}: grid {args.grid}, {setup.counts['cells']} cells, "
          f"{len(setup.categories)} event categories, {setup.counts['cases_before']} demo cases, "
          f"setup {setup.counts['setup_s']} s")
    if args.no_load:
        print(profile_intake(setup, str(work), max(args.profile, 1), 30))
        if not args.keep_db:
            from app.db import drop_database

            drop_database(setup.url)
        shutil.rmtree(work, ignore_errors=True)
        return 0
    env = bench_env(setup.url, str(work))
    servers = {
        "baseline": Server("baseline", env, args.workers, args.threads, setup.srid, work),
        "citygrid": Server("citygrid", env, args.workers, args.threads, setup.srid, work),
    }
    paths = {"baseline": "/cases", "citygrid": "/api/v1/cases"}
    results: list[LoadResult] = []
    failures: list[str] = []
    try:
        servers["baseline"].wait_ready("/ping")
        servers["citygrid"].wait_ready("/healthz")
        print(f"servers: citygrid serve (gunicorn + uvicorn, ASGI front), {args.workers} workers × {args.threads} threads each; "
              f"{args.clients} clients over {args.client_procs} processes; "
              f"{args.warmup:g} s warm-up + {args.duration:g} s measured per run")
        owned = "SELECT count(*) FROM cases WHERE reporter_id = ANY(:ids)"
        for rnd in range(args.rounds):
            for name in ("baseline", "citygrid"):
                before = (count_rows(setup.url, "SELECT count(*) FROM bench_cases") if name == "baseline"
                          else count_rows(setup.url, owned, {"ids": setup.inspector_ids}))
                r = run_load(name, servers[name].port, paths[name], setup.tokens, setup.points,
                             setup.categories, args.clients, args.client_procs, args.warmup, args.duration,
                             args.seed + rnd)
                time.sleep(1.0)  # let requests cut off at the deadline finish their commits
                after = (count_rows(setup.url, "SELECT count(*) FROM bench_cases") if name == "baseline"
                         else count_rows(setup.url, owned, {"ids": setup.inspector_ids}))
                rows = after - before
                ok = rows == r.created_total and r.replays_total == 0
                print(f"round {rnd + 1} {name}: {r.throughput:.1f} req/s, p50 {r.pct(50):.1f} ms, "
                      f"p99 {r.pct(99):.1f} ms; rows written {rows}, 201 answers {r.created_total}, "
                      f"replays {r.replays_total}, connection errors {r.errors_total} -> "
                      f"{'OK' if ok else 'MISMATCH'}", flush=True)
                if not ok:
                    failures.append(f"{name} round {rnd + 1}: {rows} rows for {r.created_total} 201 answers")
                results.append(r)
    finally:
        for s in servers.values():
            s.stop()

    print()
    print(_table(results))
    base = [r for r in results if r.name == "baseline"]
    city = [r for r in results if r.name == "citygrid"]
    ratios = [c.throughput / b.throughput for b, c in zip(base, city) if b.throughput > 0]
    ratio = float(np.median(ratios)) if ratios else math.nan
    p99 = max(c.pct(99) for c in city)
    print()
    print(f"throughput citygrid / baseline: {ratio * 100:.1f} %"
          + (f" (median of {', '.join(f'{x * 100:.1f} %' for x in ratios)})" if len(ratios) > 1 else ""))
    print(f"target ≥ 60 % of baseline: {'PASS' if ratio >= 0.6 else 'FAIL'}")
    print(f"target citygrid p99 < 100 ms (worst run {p99:.1f} ms): {'PASS' if p99 < 100 else 'FAIL'}")
    print(f"row count = 201 answers: {'PASS' if not failures else 'FAIL: ' + '; '.join(failures)}")

    if args.profile:
        print()
        print(profile_intake(setup, str(work), args.profile, 30))
    if not args.keep_db:
        from app.db import drop_database

        drop_database(setup.url)
    if failures:
        print(f"server logs kept in {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
