"""Live events on a real committed database: NOTIFY on commit only, the SSE stream, positions, the command view."""

from __future__ import annotations

import json
import queue
import threading
import time

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from app import create_app
from app.blueprints import live_api
from app.services import live
from tests.app.conftest import PASSWORD, committed_database, lonlat_of, origin_xy

ROLES = ("inspector", "operator", "shift_leader", "dispatcher", "department", "leader")


@pytest.fixture(scope="module")
def live_app(tmp_path_factory):
    """An app on its own committed database, with a short heartbeat."""
    with committed_database("citygrid_test_live", tmp_path_factory, ROLES, "l_",
                            departments=("municipal_roads", "parks")) as (settings, engine):
        app = create_app({"SETTINGS": settings, "ENGINE": engine, "TESTING": True, "LIVE_HEARTBEAT_SECONDS": 0.2})
        hub = live.hub_for(engine.url)
        hub.retry_seconds = 0.2
        yield app, settings, engine
        hub.stop()


@pytest.fixture(scope="module")
def tokens(live_app):
    app = live_app[0]
    client = app.test_client()
    out = {}
    for role in ROLES:
        resp = client.post("/api/v1/auth/token", json={"username": f"l_{role}", "password": PASSWORD})
        assert resp.status_code == 201, resp.get_json()
        out[role] = {"Authorization": f"Bearer {resp.get_json()['access_token']}"}
    return out


class StreamReader:
    """Reads GET /api/v1/stream on a thread; parsed events land in ``events``, comments in ``comments``."""

    def __init__(self, app, headers) -> None:
        self.resp = app.test_client().get("/api/v1/stream", headers=headers, buffered=False)
        assert self.resp.status_code == 200, self.resp.get_data(as_text=True)
        assert self.resp.mimetype == "text/event-stream"
        self.events: queue.Queue = queue.Queue()
        self.comments: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        buffer = ""
        try:
            for chunk in self.resp.response:
                buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
                while "\n\n" in buffer:
                    block, buffer = buffer.split("\n\n", 1)
                    fields = dict(line.split(": ", 1) for line in block.split("\n") if line and not line.startswith(":")
                                  and ": " in line)
                    self.comments.extend(line for line in block.split("\n") if line.startswith(":"))
                    if "event" in fields:
                        self.events.put((fields["event"], json.loads(fields["data"])))
                if self._stop.is_set():
                    break
        finally:
            self.resp.close()  # GeneratorExit in the app's generator: the queue is dropped

    def next(self, timeout: float = 5.0):
        """The next (event, data), or None after ``timeout`` seconds."""
        try:
            return self.events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        assert not self._thread.is_alive()


@pytest.fixture
def hub(live_app):
    return live.hub_for(live_app[2].url)


def _wait_listening(hub) -> None:
    assert hub.listening.wait(5), "the listener did not start"


def report(app, settings, headers, dx=50.0, description="实时测试") -> dict:
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + dx, y0 + 50)
    resp = app.test_client().post("/api/v1/cases", json={
        "lon": lon, "lat": lat, "category": "E06010", "description": description}, headers=headers)
    assert resp.status_code == 201, resp.get_json()
    return resp.get_json()["case"]


def act(app, headers, case, action, **extra) -> dict:
    resp = app.test_client().post(f"/api/v1/cases/{case['id']}/actions",
                                  json={"action": action, "version": case["version"], **extra}, headers=headers)
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["case"]


def test_a_committed_report_and_action_reach_an_open_stream(live_app, tokens, hub):
    app, settings, _ = live_app
    reader = StreamReader(app, tokens["dispatcher"])
    try:
        _wait_listening(hub)
        started = time.monotonic()
        case = report(app, settings, tokens["inspector"])
        got = reader.next()
        assert got is not None, "no event within 5 s of the commit"
        assert time.monotonic() - started < 5
        kind, data = got
        assert kind == "case"
        assert data["id"] == case["id"] and data["number"] == case["number"]
        assert data["state"] == "reported" and data["action"] == "report"
        assert data["light"] == "green" and data["department"] is None and data["at"]
        act(app, tokens["operator"], case, "accept")
        kind, data = reader.next()
        assert (data["id"], data["action"], data["state"]) == (case["id"], "accept", "pending_filing")
    finally:
        reader.close()


def test_a_rolled_back_transaction_sends_nothing(live_app, tokens, hub):
    app, _, engine = live_app
    reader = StreamReader(app, tokens["shift_leader"])
    try:
        _wait_listening(hub)
        with Session(engine) as session:
            live.notify(session, {"id": -1, "number": "rolled-back", "action": "report"})
            session.rollback()
        # A refused action rolls back too: a stale version announces nothing.
        resp = app.test_client().post("/api/v1/cases/1/actions", json={"action": "accept", "version": 999},
                                      headers=tokens["operator"])
        assert resp.status_code in (404, 409)
        assert reader.next(timeout=1.5) is None
        with Session(engine) as session:
            live.notify(session, {"id": -2, "number": "committed", "action": "report"})
            session.commit()
        kind, data = reader.next()
        assert data["number"] == "committed"
    finally:
        reader.close()


def test_a_department_streams_only_its_own_cases(live_app, tokens, hub):
    app, settings, _ = live_app
    reader = StreamReader(app, tokens["department"])
    try:
        _wait_listening(hub)
        case = report(app, settings, tokens["inspector"], dx=150)
        case = act(app, tokens["operator"], case, "accept")
        case = act(app, tokens["shift_leader"], case, "file")
        other = report(app, settings, tokens["inspector"], dx=250)
        other = act(app, tokens["operator"], other, "accept")
        other = act(app, tokens["shift_leader"], other, "file")
        act(app, tokens["dispatcher"], other, "dispatch", department="parks")
        act(app, tokens["dispatcher"], case, "dispatch")
        kind, data = reader.next()
        # Reports, accepts, files and the other department's dispatch were left out.
        assert (data["id"], data["action"], data["department"]) == (case["id"], "dispatch", "municipal_roads")
        assert reader.next(timeout=0.5) is None
    finally:
        reader.close()


def test_heartbeats_flow_and_a_closed_stream_drops_its_queue(live_app, tokens, hub):
    app = live_app[0]
    before = hub.subscribers
    reader = StreamReader(app, tokens["leader"])
    assert hub.subscribers == before + 1
    time.sleep(0.7)
    reader.close()
    assert ": heartbeat" in reader.comments
    assert hub.subscribers == before


def test_the_listener_reconnects_and_tells_streams_to_resync(live_app, tokens, hub):
    app, _, engine = live_app
    reader = StreamReader(app, tokens["dispatcher"])
    try:
        _wait_listening(hub)
        with engine.connect() as conn:
            killed = conn.scalar(sa.text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND query LIKE 'LISTEN %'"))
        assert killed == 1
        assert reader.next(timeout=10) == ("resync", {})
        _wait_listening(hub)
        with Session(engine) as session:
            live.notify(session, {"id": -3, "number": "after-reconnect", "action": "report"})
            session.commit()
        assert reader.next()[1]["number"] == "after-reconnect"
    finally:
        reader.close()


def test_stream_refuses_roles_without_a_live_view(live_app, tokens):
    app = live_app[0]
    resp = app.test_client().get("/api/v1/stream", headers=tokens["inspector"])
    assert resp.status_code == 403
    assert resp.mimetype == "application/problem+json"
    assert app.test_client().get("/api/v1/stream").status_code == 401


def test_notify_refuses_payloads_postgresql_would_reject(live_app):
    engine = live_app[2]
    with Session(engine) as session:
        with pytest.raises(live.LiveError, match="at most 7999"):
            live.notify(session, {"note": "x" * 8000})
        with pytest.raises(live.LiveError, match="JSON"):
            live.notify(session, {"at": object()})


def test_inspector_positions_in_crs84(live_app, tokens):
    app, settings, _ = live_app
    x0, y0 = origin_xy(settings)
    lon, lat = lonlat_of(settings, x0 + 20, y0 + 20)
    client = app.test_client()
    resp = client.post("/api/v1/inspectors/me/position", json={"lon": lon, "lat": lat, "on_duty": True},
                       headers=tokens["inspector"])
    assert resp.status_code == 200, resp.get_json()
    body = client.get("/api/v1/inspectors/positions", headers=tokens["dispatcher"]).get_json()
    mine = [p for p in body["inspectors"] if p["username"] == "l_inspector"]
    assert len(mine) == 1
    assert mine[0]["lon"] == pytest.approx(lon, abs=1e-6) and mine[0]["lat"] == pytest.approx(lat, abs=1e-6)
    assert mine[0]["on_duty"] is True and mine[0]["last_position_at"]
    assert client.get("/api/v1/inspectors/positions", headers=tokens["department"]).status_code == 403


def test_command_view_counts_filters_and_aggregates(live_app, tokens, monkeypatch):
    app, settings, _ = live_app
    client = app.test_client()
    fresh = report(app, settings, tokens["inspector"], dx=120, description="指挥中心视图")
    body = client.get("/api/v1/command/cases", headers=tokens["dispatcher"]).get_json()
    counts = body["counts"]
    assert counts["total"] == sum(counts[k] for k in ("red", "yellow", "green", "none")) >= 1
    assert body["map"]["mode"] == "points"
    point = next(p for p in body["map"]["points"] if p["id"] == fresh["id"])
    assert point["light"] == "green" and point["state"] == "reported"
    assert body["list"]["items"][0]["id"] == fresh["id"]  # newest first
    item = body["list"]["items"][0]
    assert (item["lon"], item["lat"]) == (point["lon"], point["lat"])

    # A bbox away from the case, a state it is not in, or another light leave it out.
    far = client.get("/api/v1/command/cases", query_string={"bbox": "100,20,101,21"},
                     headers=tokens["dispatcher"]).get_json()
    assert far["map"]["total"] == 0 and far["map"]["points"] == []
    # The list covers every matching case unless asked to follow the map view.
    assert far["list"]["total"] == far["counts"]["total"] == counts["total"]
    far_view = client.get("/api/v1/command/cases", query_string={"bbox": "100,20,101,21", "in_view": "1"},
                          headers=tokens["dispatcher"]).get_json()
    assert far_view["list"]["total"] == 0 and far_view["list"]["items"] == []
    for query in ({"state": "filed"}, {"light": "red"}, {"category": "C01"}, {"department": "parks"}):
        ids = [i["id"] for i in client.get("/api/v1/command/cases", query_string=query,
                                           headers=tokens["dispatcher"]).get_json()["list"]["items"]]
        assert fresh["id"] not in ids, query
    for query in ({"state": "reported"}, {"light": "green"}, {"category": "E06010"}, {"category": "E06"},
                  {"department": "none"}, {"source": "inspector"}, {"from": "2000-01-01T00:00"}):
        ids = [i["id"] for i in client.get("/api/v1/command/cases", query_string=query,
                                           headers=tokens["dispatcher"]).get_json()["list"]["items"]]
        assert fresh["id"] in ids, query

    # Past the point limit the map is aggregated, with per-light counts that add up.
    monkeypatch.setattr(live_api, "POINT_LIMIT", 1)
    agg = client.get("/api/v1/command/cases", query_string={"zoom": 12}, headers=tokens["dispatcher"]).get_json()
    assert agg["map"]["mode"] == "clusters"
    assert sum(c["count"] for c in agg["map"]["clusters"]) == agg["map"]["total"] == counts["total"]
    assert all(c["count"] == c["red"] + c["yellow"] + c["green"] + c["none"] for c in agg["map"]["clusters"])


@pytest.mark.parametrize("query, field", [
    ({"state": "closed"}, "state"), ({"light": "blue"}, "light"), ({"bbox": "1,2,3"}, "bbox"),
    ({"bbox": "5,5,4,4"}, "bbox"), ({"category": "06010"}, "category"), ({"from": "yesterday"}, "from"),
    ({"sort": "random"}, "sort"), ({"page_size": "1000"}, "page_size"), ({"zoom": "23"}, "zoom"),
    ({"zoom": "near"}, "zoom"), ({"zoom": "nan"}, "zoom"),
])
def test_command_view_names_the_bad_parameter(live_app, tokens, query, field):
    resp = live_app[0].test_client().get("/api/v1/command/cases", query_string=query, headers=tokens["dispatcher"])
    assert resp.status_code == 400
    assert resp.get_json()["field"] == field


def test_command_view_floors_a_fractional_zoom(live_app, tokens, monkeypatch):
    """A reload during a fly-to animation sends Leaflet's fractional zoom: the drawn level is used."""
    app, settings, _ = live_app
    report(app, settings, tokens["inspector"], dx=140, description="飞行中刷新")
    monkeypatch.setattr(live_api, "POINT_LIMIT", 0)
    client = app.test_client()

    def view(zoom):
        resp = client.get("/api/v1/command/cases", query_string={"zoom": zoom}, headers=tokens["dispatcher"])
        assert resp.status_code == 200, resp.get_json()
        return resp.get_json()["map"]

    during = view("16.98")
    assert during["mode"] == "clusters"  # level 16, not rounded up to the point level 17
    assert during == view("16")
    assert view("14.98") == view("14")


def test_command_page_is_for_the_command_roles(live_app):
    app = live_app[0]
    from tests.app.conftest import login

    client = app.test_client()
    login(client, "l_dispatcher")
    page = client.get("/command")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'id="cg-command-config"' in html and "vendor/leaflet/dist/leaflet.js" in html
    assert "//unpkg" not in html and "cdn" not in html.lower()
    other = app.test_client()
    login(other, "l_inspector")
    assert other.get("/command").status_code == 403


def test_command_cells_take_the_worst_light_of_their_open_cases(live_app, tokens):
    """Each cell holding open cases comes with its shape and the worst light among them."""
    app, settings, engine = live_app
    client = app.test_client()
    # Two cases 20 m apart in the same 100 m test cell; one is made overdue (red).
    first = report(app, settings, tokens["inspector"], dx=215, description="网格亮灯一")
    second = report(app, settings, tokens["inspector"], dx=235, description="网格亮灯二")
    with engine.begin() as conn:
        conn.execute(sa.text(
            "UPDATE cases SET stage_started_at = now() - interval '9 days', "
            "stage_deadline = now() - interval '8 days' WHERE id = :id"), {"id": second["id"]})
        cell_code = conn.execute(sa.text("SELECT cell_code FROM cases WHERE id = :id"),
                                 {"id": first["id"]}).scalar_one()
        expected_area = conn.execute(sa.text(
            "SELECT ST_Area(ST_Transform(geom, 4326)::geography) FROM cells WHERE code = :c"),
            {"c": cell_code}).scalar_one()
    body = client.get("/api/v1/command/cases", headers=tokens["dispatcher"]).get_json()
    cells = {c["code"]: c for c in body["map"]["cells"]}
    cell = cells[cell_code]
    assert cell["light"] == "red"
    assert cell["red"] >= 1 and cell["green"] >= 1
    assert cell["geometry"]["type"] in ("Polygon", "MultiPolygon")
    # Every cell's counts add up to the cases drawn, and every case's cell is there.
    assert sum(c["red"] + c["yellow"] + c["green"] + c["none"] for c in cells.values()) == body["map"]["total"]
    from shapely.geometry import shape
    from pyproj import Geod
    area = abs(Geod(ellps="WGS84").geometry_area_perimeter(shape(cell["geometry"]))[0])
    assert area == pytest.approx(expected_area, rel=0.01)

    # Filtered to green, the same cell is green: the colour follows the filters.
    green = client.get("/api/v1/command/cases", query_string={"light": "green"},
                       headers=tokens["dispatcher"]).get_json()
    assert {c["code"]: c["light"] for c in green["map"]["cells"]}[cell_code] == "green"
    # Past the cell limit no shapes are sent (the aggregates carry the picture).
    import app.blueprints.live_api as live_api_module
    old = live_api_module.CELL_LIMIT
    live_api_module.CELL_LIMIT = 0
    try:
        assert client.get("/api/v1/command/cases", headers=tokens["dispatcher"]).get_json()["map"]["cells"] is None
    finally:
        live_api_module.CELL_LIMIT = old
