"""Benchmark open live streams (SSE) against /healthz latency on one `citygrid serve` (issue #9, point 2).

Run from the repository root: ``.venv/bin/python bench/live.py`` (or ``citygrid bench live``).

A fresh database with the small demo district (bench/intake.py's set-up) is served by a real
``citygrid serve`` subprocess (production settings, its default 2 workers × 8 threads) on a
free loopback port. ``/healthz`` is timed one request after another, each on a new
connection (so both workers answer), first with no stream open (the baseline of the same
run), then with N ``GET /api/v1/stream`` connections held open by a separate client
process (asyncio, one socket per stream, signed in as the demo dispatcher). With the
streams open one case is reported through the API and the script checks that the event
reaches every stream. The target: with 200 streams open, p99 under 100 ms and every stream
served. With ``--gthread`` the run ends with the server as it was before (gunicorn gthread,
2 × 8 threads) holding 32 streams (at most 16 open), to show what the change removed; its
/healthz requests time out after 2 s.

Exits 1 only when a stream misses the event or cannot be opened; a slow /healthz prints
FAIL but exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import multiprocessing as mp
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import intake  # noqa: E402  (bench/intake.py: database, server and machine helpers)

__all__ = ["main"]

DEFAULT_DB = "citygrid_bench_live"
P99_TARGET_MS = 100.0


# -- servers -------------------------------------------------------------------------------


class Serve:
    """``citygrid serve`` in a subprocess (or, with ``gthread``, the server as it was before)."""

    def __init__(self, env: dict[str, str], log: Path, gthread: bool = False) -> None:
        self.port = intake.free_port()
        self._log = open(log, "wb")
        if gthread:
            # `citygrid serve` as it was: gunicorn gthread, 2 workers × 8 threads, the Flask app itself.
            cmd = [sys.executable, "-m", "gunicorn", "--worker-class", "gthread", "--workers", "2", "--threads", "8",
                   "--timeout", "60", "--bind", f"127.0.0.1:{self.port}", "--no-control-socket", "app:create_app()"]
        else:
            cmd = [sys.executable, "-m", "app.cli", "serve", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited; see {log}")
            try:
                if healthz(self.port, 5) is not None:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server did not answer /healthz within 60 s; see {log}")

    def stop(self) -> float:
        """SIGTERM the master; returns the seconds the graceful stop took."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return time.monotonic() - started


def healthz(port: int, timeout: float) -> float | None:
    """Seconds one GET /healthz took on a new connection, or None if it timed out / failed."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", "/healthz")
        resp = conn.getresponse()
        resp.read()
        return time.perf_counter() - started if resp.status == 200 else None
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def time_healthz(port: int, n: int, timeout: float) -> tuple[np.ndarray, int]:
    """Latencies in ms of ``n`` sequential /healthz requests, and how many failed or timed out."""
    times, failed = [], 0
    for _ in range(n):
        t = healthz(port, timeout)
        if t is None:
            failed += 1
        else:
            times.append(t * 1000)
    return np.array(times), failed


def _fmt(ms: np.ndarray, failed: int) -> str:
    if not len(ms):
        return f"{'—':>7} {'—':>7} {'—':>7}  failed {failed}"
    return (f"{np.percentile(ms, 50):7.1f} {np.percentile(ms, 99):7.1f} {ms.max():7.1f}  failed {failed}")


# -- the stream holder (its own process, so its reading does not slow the timing) --------


async def _hold(port: int, token: str, n: int, ready, go, out) -> None:
    opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
    head = (f"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
            "Accept: text/event-stream\r\n\r\n").encode()

    async def open_one():
        reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 10)
        writer.write(head)
        seen = await asyncio.wait_for(reader.readuntil(b": connected\n\n"), 10)
        if not seen.startswith(b"HTTP/1.1 200"):
            raise RuntimeError(seen[:200])
        opened.append((reader, writer))

    failed = 0
    for start in range(0, n, 50):  # in batches, as pages open over time
        results = await asyncio.gather(*(open_one() for _ in range(min(50, n - start))), return_exceptions=True)
        failed += sum(isinstance(r, BaseException) for r in results)

    async def wait_event(reader) -> tuple[float, bytes] | None:
        try:
            await asyncio.wait_for(reader.readuntil(b"event: case\n"), 30)
            data = await asyncio.wait_for(reader.readuntil(b"\n\n"), 5)
            return time.monotonic(), data
        except (asyncio.TimeoutError, asyncio.IncompleteReadError, OSError):
            return None

    waiting = [asyncio.ensure_future(wait_event(r)) for r, _ in opened]
    ready.send((len(opened), failed))
    # The reported case's number and when its report was sent (CLOCK_MONOTONIC is system-wide).
    message = await asyncio.get_running_loop().run_in_executor(None, go.recv)
    if message is None:  # no event this run
        for _, writer in opened:
            writer.close()
        return
    number, sent = message
    arrived = await asyncio.gather(*waiting)
    got = [a[0] - sent for a in arrived if a is not None and f'"number":"{number}"'.encode() in a[1]]
    out.send((len(got), max(got) if got else None))
    await asyncio.get_running_loop().run_in_executor(None, go.recv)  # done: close
    for _, writer in opened:
        writer.close()


def hold_streams(port: int, token: str, n: int, ready, go, out) -> None:
    """Process entry: open ``n`` streams, report, wait for the event, report again."""
    asyncio.run(_hold(port, token, n, ready, go, out))


def report_case(port: int, token: str, point: tuple[float, float], category: str, description: str) -> str:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("POST", "/api/v1/cases", body=json.dumps({
            "lon": point[0], "lat": point[1], "category": category, "description": description}),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        if resp.status != 201:
            raise RuntimeError(f"report answered {resp.status}: {body}")
        return body["case"]["number"]
    finally:
        conn.close()


def dispatcher_token(url: str) -> str:
    """A bearer token of the demo dispatcher (the command centre's role)."""
    import sqlalchemy as sa
    from sqlalchemy.orm import Session

    from app.db import make_engine
    from app.models import User
    from app.services.accounts import issue_token

    engine = make_engine(url)
    try:
        with Session(engine) as session:
            user = session.scalars(sa.select(User).where(User.role == "dispatcher").order_by(User.username)).first()
            token = issue_token(session, user, ttl_hours=24, label="bench-live")[0]
            session.commit()
            return token
    finally:
        engine.dispose()


def run_with_streams(port: int, token: str, n: int, requests: int, timeout: float, event) -> dict:
    """Open ``n`` streams in a child process, time /healthz, report one case if ``event``; the figures.

    ``event`` is (inspector token, point, category) or None.
    """
    ready_r, ready_w = mp.Pipe(duplex=False)
    go_r, go_w = mp.Pipe(duplex=False)
    out_r, out_w = mp.Pipe(duplex=False)
    marker = f"bench-live-{n}-{time.time_ns()}"
    holder = mp.Process(target=hold_streams, args=(port, token, n, ready_w, go_r, out_w), daemon=True)
    holder.start()
    try:
        if not ready_r.poll(120):
            raise RuntimeError("the stream holder did not open its streams within 120 s")
        opened, open_failed = ready_r.recv()
        ms, failed = time_healthz(port, requests, timeout)
        reached, slowest = None, None
        if opened and event is not None:
            sent = time.monotonic()
            go_w.send((report_case(port, *event, marker), sent))
            if out_r.poll(60):
                reached, slowest = out_r.recv()
        go_w.send(None)
        return {"streams": n, "opened": opened, "open_failed": open_failed, "ms": ms, "failed": failed,
                "reached": reached, "slowest": slowest}
    finally:
        holder.join(10)
        if holder.is_alive():
            holder.kill()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--streams", type=int, nargs="+", default=[200, 400], help="open streams per run (200 400)")
    parser.add_argument("--requests", type=int, default=500, help="/healthz requests per measurement (500)")
    parser.add_argument("--timeout", type=float, default=2.0, help="/healthz client timeout in seconds (2)")
    parser.add_argument("--gthread", action="store_true", help="also hold 20 streams on the old gthread server")
    parser.add_argument("--db", default=DEFAULT_DB, help=f"database name ({DEFAULT_DB}); dropped first")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    args = parser.parse_args(argv)

    print(f"machine: {intake._machine()}")
    print(f"date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    work = Path(tempfile.mkdtemp(prefix="bench_live_"))
    setup = intake.setup_database(args.db, "demo", 1, str(work))
    token = dispatcher_token(setup.url)
    env = intake.bench_env(setup.url, str(work))
    print(f"database {args.db}: {setup.counts['cells']} cells, {setup.counts['cases_before']} demo cases; "
          f"/healthz: {args.requests} sequential requests, a new connection each, timeout {args.timeout:g} s")
    failures: list[str] = []
    rows = []
    try:
        server = Serve(env, work / "serve.log")
        try:
            for _ in range(20):  # warm both workers (first requests, caches)
                healthz(server.port, 5)
            base_ms, base_failed = time_healthz(server.port, args.requests, args.timeout)
            rows.append(("citygrid serve", 0, "—", base_ms, base_failed, "—"))
            for i, n in enumerate(args.streams):
                r = run_with_streams(server.port, token, n, args.requests, args.timeout,
                                     (setup.tokens[0], setup.points[i], setup.categories[0]))
                reach = "—" if r["reached"] is None else f"{r['reached']}/{r['opened']} ≤ {r['slowest'] * 1000:.0f} ms"
                rows.append(("citygrid serve", n, f"{r['opened']}/{n}", r["ms"], r["failed"], reach))
                if r["opened"] < n or r["reached"] != r["opened"]:
                    failures.append(f"{n} streams: {r['opened']} opened, {r['reached']} got the event")
        finally:
            server.stop()
        if args.gthread:
            old = Serve(env, work / "gthread.log", gthread=True)
            try:
                # Its threads are all pinned: a few /healthz requests, and no report (it would hang too).
                r = run_with_streams(old.port, token, 32, 10, args.timeout, None)
                rows.append(("gthread 2×8 (before)", 32, f"{r['opened']}/32", r["ms"], r["failed"], "not tried"))
            finally:
                old.stop()
    finally:
        if not args.keep_db:
            from app.db import drop_database

            drop_database(setup.url)
        shutil.rmtree(work, ignore_errors=True)

    print()
    print(f"{'server':<22} {'streams':>7} {'opened':>8}   /healthz ms: {'p50':>5} {'p99':>7} {'max':>7}   "
          "event reached (since the report was sent)")
    for name, n, opened, ms, failed, reach in rows:
        print(f"{name:<22} {n:>7} {opened:>8}   {'':>12}{_fmt(ms, failed)}   {reach}")
    base_p99 = float(np.percentile(base_ms, 99)) if len(base_ms) else float("nan")
    for name, n, _, ms, failed, _ in rows[1:]:
        if name != "citygrid serve":
            continue
        p99 = float(np.percentile(ms, 99)) if len(ms) else float("inf")
        verdict = "ok" if p99 < P99_TARGET_MS and not failed else "FAIL"
        print(f"{n} streams: /healthz p99 {p99:.1f} ms = {p99 / base_p99:.2f} × the no-stream baseline "
              f"({base_p99:.1f} ms); target p99 < {P99_TARGET_MS:g} ms with ≥ 200 streams: {verdict}")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
