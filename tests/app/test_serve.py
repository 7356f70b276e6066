"""`citygrid serve` as a real server on loopback: open streams and slow bodies hold no thread, no Server header."""

from __future__ import annotations

import http.client
import io
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy.orm import Session

from app.config import ROOT
from app.services import live
from tests.app.conftest import PASSWORD, committed_database, lonlat_of, origin_xy

ROLES = ("inspector", "dispatcher", "department")
#: The server under test runs 1 worker × 2 threads: anything pinning a thread shows at once.
THREADS = 2
BODY_TIMEOUT_S = 1
MAX_UPLOAD_MB = 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Serve:
    """One `citygrid serve` subprocess on a free loopback port."""

    def __init__(self, settings, home: Path, *extra: str) -> None:
        """Start the server; :meth:`wait_ready` waits for it."""
        self.port = _free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("CITYGRID_") and k != "XDG_RUNTIME_DIR"}
        env.update(DATABASE_URL=settings.database_url, CITYGRID_ENV="test", CITYGRID_SECRET_KEY="x" * 32,
                   CITYGRID_DATA_DIR=str(settings.data_dir), CITYGRID_BODY_TIMEOUT_S=str(BODY_TIMEOUT_S),
                   CITYGRID_MAX_UPLOAD_MB=str(MAX_UPLOAD_MB), HOME=str(home), PYTHONPATH=str(ROOT))
        # The server's own log goes to a file: a pipe nobody reads could fill and stall it.
        self.log = tempfile.NamedTemporaryFile(prefix="citygrid-serve-", suffix=".log")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1", "--threads", str(THREADS), *extra],
            env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=self.log)

    def wait_ready(self) -> Serve:
        """Return once /healthz answers (fail after 30 s)."""
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, Path(self.log.name).read_text()
            try:
                if self.get("/healthz")[0] == 200:
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        pytest.fail("citygrid serve did not answer /healthz within 30 s")

    def request(self, method: str, path: str, body=None, headers=None, timeout: float = 5.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = json.dumps(body).encode() if body is not None else None
            conn.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def get(self, path: str, headers=None, timeout: float = 5.0):
        return self.request("GET", path, headers=headers, timeout=timeout)

    def raw(self, head: bytes, timeout: float = 5.0) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=timeout)
        sock.sendall(head)
        return sock

    def stop(self, timeout: float = 15.0) -> float:
        """SIGTERM and wait; returns how long the graceful stop took."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return time.monotonic() - started


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with committed_database("citygrid_test_serve", tmp_path_factory, ROLES, "s_",
                            departments=("municipal_roads", "parks")) as (settings, engine):
        home = tmp_path_factory.mktemp("home")
        ctl = home / "first.ctl"
        # Two servers at once on one host (and one HOME): they start in parallel to save time.
        server = Serve(settings, home, "--control-socket", str(ctl))
        second = Serve(settings, home)
        try:
            server.wait_ready()
            second.wait_ready()
            tokens = {}
            for role in ROLES:
                status, _, body = server.request("POST", "/api/v1/auth/token",
                                                 {"username": f"s_{role}", "password": PASSWORD})
                assert status == 201, body
                tokens[role] = f"Bearer {json.loads(body)['access_token']}"
            yield server, settings, engine, tokens, home, ctl, second
        finally:
            second.stop()
            server.stop()


def _open_stream(server: Serve, token: str) -> tuple[socket.socket, bytes]:
    """A raw SSE connection; returns it once the head and the opening comment arrived."""
    sock = server.raw(f"GET /api/v1/stream HTTP/1.1\r\nHost: x\r\nAuthorization: {token}\r\n"
                      "Accept: text/event-stream\r\n\r\n".encode())
    seen = b""
    while b": connected" not in seen:
        chunk = sock.recv(4096)
        assert chunk, seen
        seen += chunk
    return sock, seen


def _read_until(sock: socket.socket, marker: bytes, seen: bytes = b"") -> bytes:
    while marker not in seen:
        chunk = sock.recv(4096)
        assert chunk, seen
        seen += chunk
    return seen


def _healthz_times(server: Serve, n: int) -> list[float]:
    times = []
    for _ in range(n):
        started = time.monotonic()
        status, headers, _ = server.get("/healthz", timeout=3)
        times.append(time.monotonic() - started)
        assert status == 200
    return times


def test_forty_open_streams_hold_no_thread_and_an_action_reaches_them(served):
    server, settings, engine, tokens, _, _, _ = served
    streams = [_open_stream(server, tokens["dispatcher"]) for _ in range(40)]  # 20 × the 2 threads
    dept_sock, dept_seen = _open_stream(server, tokens["department"])
    try:
        head = streams[0][1].split(b"\r\n\r\n", 1)[0].decode().lower()
        assert "content-type: text/event-stream" in head and "cache-control: no-cache, no-store" in head
        assert "x-accel-buffering: no" in head
        assert "\r\nserver:" not in head and "x-citygrid-stream" not in head and "content-length" not in head
        assert max(_healthz_times(server, 20)) < 1.0
        # An event committed by an API action through the same server reaches every open stream.
        x0, y0 = origin_xy(settings)
        lon, lat = lonlat_of(settings, x0 + 50, y0 + 50)
        status, _, body = server.request("POST", "/api/v1/cases", {
            "lon": lon, "lat": lat, "category": "E06010", "description": "服务器实时测试"},
            headers={"Authorization": tokens["inspector"]})
        assert status == 201, body
        number = json.loads(body)["case"]["number"]
        for sock, seen in streams:
            assert number.encode() in _read_until(sock, b"event: case", seen)
        # The department's stream is scoped by the same rule: the undispatched report is left out.
        with Session(engine) as session:
            live.notify(session, {"id": -1, "number": "roads-only", "department": "municipal_roads"})
            session.commit()
        data = _read_until(dept_sock, b"event: case", dept_seen)
        assert b"roads-only" in data and number.encode() not in data
    finally:
        for sock, _ in streams:
            sock.close()
        dept_sock.close()


def test_slow_bodies_hold_no_thread_and_get_408(served):
    server, _, _, tokens, _, _, _ = served
    slow = [server.raw(f"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: {tokens['inspector']}\r\n"
                       "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{".encode())
            for _ in range(20)]
    try:
        started = time.monotonic()
        assert max(_healthz_times(server, 10)) < 1.0
        for sock in slow:
            sock.sendall(b" ")  # still trickling
        for sock in slow:
            answer = _read_until(sock, b"}")
            head, body = answer.split(b"\r\n\r\n", 1)
            assert head.startswith(b"HTTP/1.1 408"), head
            assert b"content-type: application/problem+json" in head.lower()
            assert json.loads(body)["status"] == 408
        assert time.monotonic() - started < BODY_TIMEOUT_S + 3
    finally:
        for sock in slow:
            sock.close()
    assert server.get("/healthz")[0] == 200


def test_an_oversized_content_length_gets_413_without_sending_the_body(served):
    server, _, _, tokens, _, _, _ = served
    sock = server.raw(f"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: {tokens['inspector']}\r\n"
                      "Content-Type: application/json\r\nContent-Length: 1000000000\r\n\r\n".encode(), timeout=2)
    try:
        head, body = _read_until(sock, b"}").split(b"\r\n\r\n", 1)
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 413"), head
    problem = json.loads(body)
    assert problem["status"] == 413 and problem["type"] == "/problems/payload-too-large"


def test_a_chunked_body_past_the_limit_gets_413(served):
    server, _, _, tokens, _, _, _ = served
    sock = server.raw(f"POST /api/v1/cases HTTP/1.1\r\nHost: x\r\nAuthorization: {tokens['inspector']}\r\n"
                      "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode())
    try:
        chunk = b"x" * 65536
        try:
            for _ in range(MAX_UPLOAD_MB * 16 + 2):
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:  # the server may answer and close before the last chunk
            pass
        head, body = _read_until(sock, b"}").split(b"\r\n\r\n", 1)
    finally:
        sock.close()
    assert head.startswith(b"HTTP/1.1 413"), head
    assert json.loads(body)["type"] == "/problems/payload-too-large"


def test_a_multipart_report_with_photos_arrives_whole(served):
    """The pre-read body reaches Flask intact: both photos read back with their sizes."""
    from werkzeug.datastructures import FileStorage
    from werkzeug.test import encode_multipart

    from tests.app.test_cases_api import jpeg

    server, settings, _, tokens, _, _, _ = served
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 80, y0 + 60)
    photos = [jpeg(colour=(200, 30, 30)), jpeg(size=(400, 300), colour=(10, 200, 10))]
    boundary, data = encode_multipart({
        "data": json.dumps({"lon": lon, "lat": lat, "category": "E06010", "description": "带照片"}),
        "photos": [FileStorage(io.BytesIO(p), f"p{i}.jpg", content_type="image/jpeg")
                   for i, p in enumerate(photos)]})
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        conn.request("POST", "/api/v1/cases", body=data, headers={
            "Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": tokens["inspector"]})
        resp = conn.getresponse()
        body = json.loads(resp.read())
    finally:
        conn.close()
    assert resp.status == 201, body
    case_id = body["case"]["id"]
    _, _, detail = server.get(f"/api/v1/cases/{case_id}", headers={"Authorization": tokens["dispatcher"]})
    urls = [p["url"] for p in json.loads(detail)["photos"]]
    sizes = sorted(Image.open(io.BytesIO(server.get(url, headers={"Authorization": tokens["dispatcher"]})[2])).size
                   for url in urls)
    assert sizes == [(64, 48), (400, 300)]


def test_answers_name_no_server_software(served):
    server, _, _, tokens, _, _, _ = served
    for path in ("/healthz", "/login", "/api/v1/cases?page_size=1", "/no-such-page"):
        _, headers, _ = server.get(path, headers={"Authorization": tokens["dispatcher"]})
        assert not {k.lower() for k in headers} & {"server", "x-powered-by"}, (path, headers)


def test_two_servers_do_not_share_a_control_socket_and_stop_with_streams_open(served):
    first, _, _, tokens, home, ctl, second = served
    assert stat.S_ISSOCK(ctl.stat().st_mode)
    try:
        # The default per-user socket (~/.gunicorn/gunicorn.ctl) is not created by either.
        assert not (home / ".gunicorn").exists()
        stream, _ = _open_stream(second, tokens["dispatcher"])
    finally:
        took = second.stop()
    stream.close()
    assert took < 10, "an open stream kept the server from stopping"  # else it waits ~30 s
    assert stat.S_ISSOCK(ctl.stat().st_mode) and first.get("/healthz")[0] == 200


def test_a_stream_queue_on_the_event_loop_that_overflows_is_told_to_resync():
    """The hub's thread hands events to an asyncio stream; a backlog past the limit becomes one resync."""
    import asyncio
    import threading

    async def run():
        q = live.LoopQueue(asyncio.get_running_loop(), maxsize=3)
        thread = threading.Thread(target=lambda: [q.put_threadsafe({"type": "case", "id": i}) for i in range(5)])
        thread.start()
        await asyncio.get_running_loop().run_in_executor(None, thread.join)
        got = [await q.get(0.05) for _ in range(3)]
        return got

    assert asyncio.run(run()) == [live.RESYNC, {"type": "case", "id": 4}, None]
