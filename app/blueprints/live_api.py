"""Command-center API: the live event stream (SSE), open cases for a map view, inspector positions."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, Response, current_app, jsonify, request
from flask_babel import get_locale
from sqlalchemy.orm import aliased

from .. import params
from ..caseflow.machine import OPEN_STATES
from ..asgi import asgi_stream_slot
from ..db import get_engine, get_session
from ..errors import BadRequest
from ..models import Case, Category, Department, User
from ..security import current_user, roles_required
from ..services import live
from ..services.names import in_language
from ..services.cases import Clock, ClockDepartment, now_utc, warning_light
from ..services.workcal import load_calendar

__all__ = ["bp", "COMMAND_ROLES", "STREAM_ROLES"]

bp = Blueprint("live_api", __name__, url_prefix="/api/v1")

#: Who watches the whole district live.
COMMAND_ROLES = ("dispatcher", "shift_leader", "operator", "leader", "admin")
#: A department may follow its own cases.
STREAM_ROLES = (*COMMAND_ROLES, "department")
#: Seconds between SSE comment lines that keep proxies from closing an idle stream.
HEARTBEAT_SECONDS = 15.0
#: A view with at most this many cases is drawn case by case; more are aggregated.
POINT_LIMIT = 1500
#: From this zoom on every case is drawn on its own, however many there are.
POINT_ZOOM = 17
#: Width of an aggregation square on screen, in pixels (Web Mercator, 256-px tiles).
CLUSTER_PX = 72
#: Cells coloured by their worst open case are sent while the view holds at most this many.
CELL_LIMIT = 6000
LIGHTS = ("red", "yellow", "green", "none")
SORTS = ("newest", "deadline", "light")
_LIGHT_RANK = {"red": 0, "yellow": 1, "green": 2, "none": 3}
LOCAL_TZ = timezone(timedelta(hours=8))


# -- the stream --------------------------------------------------------------------------


def _event_stream(hub: live.Hub, q, department: str | None, heartbeat: float) -> Iterator[str]:
    """SSE text for one client; the queue is dropped when the client goes (GeneratorExit)."""
    try:
        yield live.SSE_OPENING
        while True:
            event = live.wait_for(q, heartbeat)
            if event is None:
                yield live.SSE_HEARTBEAT
            elif live.visible_to(event, department):
                yield live.sse_frame(event)
    finally:
        hub.unsubscribe(q)


@bp.get("/stream")
@roles_required(*STREAM_ROLES)
def stream():
    """Server-Sent Events: `event: case` for every report and action (a department: its own cases)."""
    user = current_user()
    department = None
    if user.role == "department":
        department = user.department.code if user.department else ""
    hub = live.hub_for(get_engine().url)
    heartbeat = float(current_app.config.get("LIVE_HEARTBEAT_SECONDS", HEARTBEAT_SECONDS))
    handoff = asgi_stream_slot(request.environ)
    if handoff is not None:
        # Under the ASGI server (`citygrid serve`) the stream runs on its event loop and
        # holds no request thread: this answer only carries the checked scope to it.
        resp = Response(headers=handoff.claim(hub, department, heartbeat))
    else:
        # Plain WSGI (tests, the development server). No stream_with_context: the request's
        # database session is closed before streaming starts, so an open stream holds a
        # thread but no pooled connection.
        resp = Response(_event_stream(hub, hub.subscribe(), department, heartbeat))
    resp.mimetype = "text/event-stream"
    resp.headers["Cache-Control"] = "no-cache, no-store"
    resp.headers["X-Accel-Buffering"] = "no"
    return resp


# -- inspector positions -----------------------------------------------------------------


@bp.get("/inspectors/positions")
@roles_required(*COMMAND_ROLES)
def inspector_positions():
    """Inspectors with a known position (CRS84), newest first."""
    db = get_session()
    point = sa.func.ST_Transform(User.last_position, 4326)
    rows = db.execute(
        sa.select(User.username, User.display_name, User.on_duty, User.phone, User.last_position_at,
                  sa.func.ST_X(point), sa.func.ST_Y(point))
        .where(User.role == "inspector", User.active.is_(True), User.last_position.is_not(None))
        .order_by(User.last_position_at.desc().nulls_last(), User.username)
    ).all()
    return jsonify({"inspectors": [
        {"username": r[0], "name": r[1], "on_duty": r[2], "phone": r[3],
         "last_position_at": r[4].isoformat() if r[4] else None,
         "lon": round(float(r[5]), 7), "lat": round(float(r[6]), 7)}
        for r in rows
    ]})


# -- open cases for the command map --------------------------------------------------------


def _codes(name: str, accepted: tuple[str, ...] | frozenset[str] | None = None) -> list[str]:
    values = [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]
    if accepted is not None:
        bad = [v for v in values if v not in accepted]
        if bad:
            raise BadRequest(f"'{name}' value {bad[0]!r} is not one of {', '.join(sorted(accepted))}",
                             field=name)
    return values


def _bbox() -> tuple[float, float, float, float] | None:
    raw = request.args.get("bbox")
    if not raw:
        return None
    parts = raw.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise BadRequest("'bbox' must be minlon,minlat,maxlon,maxlat in degrees", field="bbox")
    w, s, e, n = values
    if not (-180 <= w < e <= 180 and -90 <= s < n <= 90):
        raise BadRequest("'bbox' must be minlon,minlat,maxlon,maxlat with min < max, in degrees", field="bbox")
    return w, s, e, n


def _when(name: str) -> datetime | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw)
    except ValueError:
        raise BadRequest(f"'{name}' must be an ISO 8601 date or time, got {raw!r}", field=name) from None
    if when.tzinfo is None:
        # A bare date or time from a form field is local time, like case numbers (UTC+8).
        when = when.replace(tzinfo=LOCAL_TZ)
    return when


def _category_clause(refs: list[str]):
    """Kind-qualified codes: C01001 / E06010 for a category, C01 / E06 for a whole major class."""
    clauses = []
    for ref in refs:
        kind = {"C": "component", "E": "event"}.get(ref[:1].upper())
        code = ref[1:]
        if kind is None or not code.isdigit() or len(code) not in (2, 5):
            raise BadRequest(f"'category' value {ref!r}: expected a code such as E06010 or a major class such as E06",
                             field="category")
        if len(code) == 2:
            clauses.append(sa.and_(Case.kind == kind, Case.category_code.like(code + "%")))
        else:
            clauses.append(sa.and_(Case.kind == kind, Case.category_code == code))
    return sa.or_(*clauses)


def _open_cases_query():
    """Open cases matching the request's filters, with what the map, list and light need."""
    states = _codes("state", OPEN_STATES) or sorted(OPEN_STATES)
    dept = aliased(Department)
    suggested = aliased(Department)
    point = sa.func.ST_Transform(Case.geom, 4326)
    query = (
        sa.select(
            Case.id, Case.number, Case.state, Case.source, Case.kind, Case.category_code, Category.name,
            Case.urgency, Case.description, Case.address, Case.street_code, Case.community_code,
            Case.stage, Case.stage_deadline, Case.stage_limit_minutes, Case.stage_limit_unit,
            Case.suspended_at, Case.handle_deadline, Case.pending_request, Case.reported_at,
            Case.version, Case.camera_id, dept.code, dept.works_weekends, suggested.code,
            sa.func.ST_X(point), sa.func.ST_Y(point), Case.cell_code, Category.name_en,
        )
        .join(Category, Category.id == Case.category_id)
        .outerjoin(dept, dept.id == Case.department_id)
        .outerjoin(suggested, suggested.id == Case.suggested_department_id)
        .where(Case.state.in_(states))
    )
    for name, column in (("source", Case.source), ("street", Case.street_code),
                         ("community", Case.community_code), ("urgency", Case.urgency)):
        values = _codes(name)
        if values:
            query = query.where(column.in_(values))
    categories = _codes("category")
    if categories:
        query = query.where(_category_clause(categories))
    departments = _codes("department")
    if departments:
        wanted = [d for d in departments if d != "none"]
        clause = dept.code.in_(wanted)
        if "none" in departments:
            clause = sa.or_(clause, Case.department_id.is_(None))
        query = query.where(clause)
    since, until = _when("from"), _when("to")
    if since:
        query = query.where(Case.reported_at >= since)
    if until:
        query = query.where(Case.reported_at < until)
    return query


def _row_dict(r, light: str | None) -> dict[str, Any]:
    description = r[8] or ""
    return {
        "id": r[0], "number": r[1], "state": r[2], "source": r[3],
        "category": {"code": r[5], "kind": r[4], "name": in_language(r[6], r[28], get_locale().language),
                     "name_zh": r[6], "name_en": r[28]},
        "urgency": r[7],
        "description": description if len(description) <= 120 else description[:119] + "…",
        "address": r[9], "street_code": r[10], "community_code": r[11],
        "stage": r[12], "stage_deadline": r[13].isoformat() if r[13] else None,
        "handle_deadline": r[17].isoformat() if r[17] else None,
        "pending": (r[18] or {}).get("kind"),
        "reported_at": r[19].isoformat(), "version": r[20], "camera_id": r[21],
        "department": r[22], "suggested_department": r[24],
        "light": light, "lon": round(float(r[25]), 7), "lat": round(float(r[26]), 7),
    }


def _clusters(rows: list[tuple[Any, str]], zoom: int, bbox) -> list[dict[str, Any]]:
    """Aggregate (row, light) pairs into squares about CLUSTER_PX wide at ``zoom``."""
    mid_lat = (bbox[1] + bbox[3]) / 2 if bbox else 34.77
    dlon = CLUSTER_PX * 360.0 / (256 * 2 ** zoom)
    dlat = dlon * max(math.cos(math.radians(mid_lat)), 0.05)
    cells: dict[tuple[int, int], dict[str, Any]] = {}
    for r, light in rows:
        lon, lat = float(r[25]), float(r[26])
        key = (math.floor(lon / dlon), math.floor(lat / dlat))
        cell = cells.get(key)
        if cell is None:
            cell = cells[key] = {"count": 0, "sx": 0.0, "sy": 0.0, "red": 0, "yellow": 0, "green": 0, "none": 0}
        cell["count"] += 1
        cell["sx"] += lon
        cell["sy"] += lat
        cell[light or "none"] += 1
    out = []
    for cell in cells.values():
        n = cell.pop("count")
        sx, sy = cell.pop("sx"), cell.pop("sy")
        out.append({"lon": round(sx / n, 6), "lat": round(sy / n, 6), "count": n, **cell})
    out.sort(key=lambda c: -c["count"])
    return out


def _cell_lights(rows: list[tuple[Any, str]]) -> list[dict[str, Any]]:
    """Per cell: the worst light among its open cases (red > yellow > green > none) and counts."""
    cells: dict[str, dict[str, Any]] = {}
    for r, light in rows:
        cell = cells.get(r[27])
        if cell is None:
            cell = cells[r[27]] = {"code": r[27], "light": light, "red": 0, "yellow": 0, "green": 0, "none": 0}
        cell[light] += 1
        if _LIGHT_RANK[light] < _LIGHT_RANK[cell["light"]]:
            cell["light"] = light
    return list(cells.values())


def _cell_shapes(db, codes: list[str]) -> dict[str, Any]:
    """GeoJSON geometry (CRS84, simplified to ~1 m) of current cells, cached per process.

    Cells change only on import, so the shapes are kept for refcache's TTL and the command
    view (refreshed on every live event) does not re-read thousands of polygons.
    """
    from ..services import refcache

    cache: dict[str, Any] = refcache.cached("command-cell-shapes", dict)
    missing = [c for c in codes if c not in cache]
    if missing:
        rows = db.execute(sa.text(
            "SELECT code, ST_AsGeoJSON(ST_Transform(ST_SimplifyPreserveTopology(geom, 1.0), 4326), 6) "
            "FROM cells WHERE code = ANY(:codes) AND valid_to IS NULL"
        ), {"codes": missing})
        for code, shape in rows:
            cache[code] = json.loads(shape)
    return {c: cache[c] for c in codes if c in cache}


@bp.get("/command/cases")
@roles_required(*COMMAND_ROLES)
def command_cases():
    """Open cases for the command center: light counts, the map view (cases or aggregates) and a list page.

    Filters: state (open states), category (E06010 / E06), street, community, department
    (codes, ``none`` = not dispatched), source, urgency, light (red/yellow/green/none),
    from/to (reported, ISO 8601); bbox=minlon,minlat,maxlon,maxlat and zoom for the view;
    sort (newest, deadline, light), page, page_size (≤ 200); in_view=1 lists only the cases in
    bbox (else every matching case, while the map shows the bbox).
    """
    db = get_session()
    lights = _codes("light", LIGHTS)
    bbox = _bbox()
    zoom = params.zoom()
    sort = request.args.get("sort") or "newest"
    if sort not in SORTS:
        raise BadRequest(f"'sort' must be one of {', '.join(SORTS)}", field="sort")
    page = params.integer("page", 1, 10_000, 1)
    page_size = params.integer("page_size", 1, 200, 50)
    calendar = load_calendar(db)
    now = now_utc()
    list_in_view = request.args.get("in_view") == "1"
    counts = dict.fromkeys(LIGHTS, 0)
    matching: list[tuple[Any, str]] = []
    in_view: list[tuple[Any, str]] = []
    for r in db.execute(_open_cases_query()):
        clock = Clock(r[2], r[12], r[13], r[14], r[15], r[16], ClockDepartment(bool(r[23])) if r[22] else None)
        light = warning_light(calendar, clock, now) or "none"
        counts[light] += 1
        if lights and light not in lights:
            continue
        matching.append((r, light))
        if not bbox or (bbox[0] <= r[25] <= bbox[2] and bbox[1] <= r[26] <= bbox[3]):
            in_view.append((r, light))
    if zoom >= POINT_ZOOM or len(in_view) <= POINT_LIMIT:
        map_part = {"mode": "points", "points": [
            {"id": r[0], "number": r[1], "state": r[2], "light": light, "urgency": r[7],
             "lon": round(float(r[25]), 7), "lat": round(float(r[26]), 7)}
            for r, light in in_view
        ]}
    else:
        map_part = {"mode": "clusters", "clusters": _clusters(in_view, zoom, bbox)}
    cell_part: dict[str, Any] = {"cells": None}
    cell_lights = _cell_lights(in_view)
    if len(cell_lights) <= CELL_LIMIT:
        shapes = _cell_shapes(db, [c["code"] for c in cell_lights])
        cell_part["cells"] = [{**c, "geometry": shapes[c["code"]]} for c in cell_lights if c["code"] in shapes]
    listed = in_view if list_in_view else matching
    far = datetime.max.replace(tzinfo=now.tzinfo)
    if sort == "newest":
        listed.sort(key=lambda p: (p[0][19], p[0][0]), reverse=True)
    elif sort == "deadline":
        listed.sort(key=lambda p: (p[0][13] or far, p[0][0]))
    else:
        listed.sort(key=lambda p: (_LIGHT_RANK[p[1]], p[0][13] or far, p[0][0]))
    start = (page - 1) * page_size
    items = [_row_dict(r, None if light == "none" else light) for r, light in listed[start:start + page_size]]
    return jsonify({
        "counts": {**counts, "total": sum(counts.values())},
        "map": {**map_part, **cell_part, "total": len(in_view)},
        "list": {"items": items, "total": len(listed), "page": page, "page_size": page_size, "sort": sort,
                 "in_view": list_in_view},
        "generated_at": now.isoformat(),
    })
