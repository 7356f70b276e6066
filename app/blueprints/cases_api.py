"""JSON API of the case loop: report, list, read, act; inspectors' positions."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import Blueprint, current_app, jsonify, request, send_file, url_for
from flask_babel import get_locale
from geoalchemy2.shape import from_shape
from shapely.geometry import Point

from gis import crs as gcrs
from gis.errors import UnknownCRSError
from grid.deviceid import InvalidDeviceIdError, parse_device_id

from .. import inbound, params
from ..db import get_session
from ..errors import BadRequest, Conflict, NotFound, ValidationProblem
from ..models import Case, CaseEvent, CasePhoto, Category, Department, User
from ..security import current_actor, current_user, roles_required
from ..services import cameras as camera_service
from ..services import cases as case_service
from ..services import components as component_service
from ..services import idempotency
from ..services import refcache
from ..services.audit import record
from ..services.names import in_language
from ..services.photos import PhotoError, PhotoStore, check_photo
from ..services.workcal import load_calendar

bp = Blueprint("cases_api", __name__, url_prefix="/api/v1")

INTAKE_FIELDS = {
    "lon", "lat", "crs", "category", "description", "address", "source", "urgency",
    "self_handled", "camera_id", "reporter",
}
ACTION_FIELDS = {"action", "version", "note", "outcome", "department", "inspector", "hours", "duplicate_of"}
URGENCIES = ("normal", "urgent")
LIGHT_ROLES = ("operator", "shift_leader", "dispatcher", "department", "leader", "admin", "inspector")


# -- request parsing ----------------------------------------------------------------------


def _body() -> tuple[dict[str, Any], list[bytes]]:
    """The request's fields and uploaded photo bytes (JSON, or multipart with 'photos')."""
    if request.mimetype == "application/json":
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise BadRequest("body is not a JSON object", field="body")
        return data, []
    if request.mimetype == "multipart/form-data":
        data: dict[str, Any] = {}
        if "data" in request.form:
            try:
                data = inbound.load_json(request.form["data"], field="data")
            except ValueError:
                raise BadRequest("form field 'data' is not valid JSON", field="data") from None
            if not isinstance(data, dict):
                raise BadRequest("form field 'data' must be a JSON object", field="data")
        for key in request.form:
            if key != "data":
                data[key] = request.form[key]
        unknown_files = set(request.files) - {"photos"}
        if unknown_files:
            raise BadRequest(f"unknown file field(s): {', '.join(sorted(unknown_files))}; use 'photos'",
                             field=sorted(unknown_files)[0])
        return data, [f.read() for f in request.files.getlist("photos")]
    raise BadRequest("send application/json or multipart/form-data", field="Content-Type")


#: Action fields that name something by text (the state machine compares them as text).
ACTION_TEXT_FIELDS = {"note": case_service.MAX_DESCRIPTION, "outcome": 32, "department": 64, "inspector": 64}


def _action_fields(data: dict[str, Any]) -> None:
    """Text action fields must be text (or null): a list, object or number names nothing."""
    for name, limit in ACTION_TEXT_FIELDS.items():
        value = data.get(name)
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"'{name}' must be text", field=name)
        if value is not None and len(value) > limit:
            raise BadRequest(f"'{name}' has {len(value)} characters; at most {limit}", field=name)
    ref = data.get("duplicate_of")
    if isinstance(ref, int) and not isinstance(ref, bool) and not 1 <= ref <= params.MAX_ID:
        raise BadRequest("'duplicate_of' must name another existing case (id or number)", field="duplicate_of")


def _reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise BadRequest(f"unknown field(s): {', '.join(unknown)}; accepted: {', '.join(sorted(allowed))}",
                         field=unknown[0])


def _text(data: dict[str, Any], name: str, limit: int, required: bool = False) -> str | None:
    raw = data.get(name)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        if required:
            raise BadRequest(f"'{name}' is required", field=name)
        return None
    if not isinstance(raw, str):
        raise BadRequest(f"'{name}' must be text", field=name)
    if len(raw) > limit:
        raise BadRequest(f"'{name}' has {len(raw)} characters; at most {limit}", field=name)
    return raw.strip()


def _flag(data: dict[str, Any], name: str) -> bool:
    raw = data.get(name, False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw.lower() in ("true", "1", "yes", "false", "0", "no", ""):
        return raw.lower() in ("true", "1", "yes")
    raise BadRequest(f"'{name}' must be true or false", field=name)


def storage_point(data: dict[str, Any], srid: int) -> tuple[float, float, float, float]:
    """lon/lat (+ optional crs: gcj02, bd09 …) of a body → storage x, y and CRS84 lon, lat."""
    lon = params.body_number(data, "lon", -180, 180)
    lat = params.body_number(data, "lat", -90, 90)
    try:
        crs_name = gcrs.normalize_crs_name(data.get("crs"))
    except UnknownCRSError as exc:
        raise BadRequest(str(exc), field="crs", accepted=list(exc.accepted)) from None
    lon84, lat84 = gcrs.to_wgs84(lon, lat, crs_name)
    x, y = gcrs.lonlat_to_storage(lon84, lat84, srid)
    return float(x), float(y), float(lon84), float(lat84)


def resolve_category(db, settings, ref: Any) -> int:
    """The id of a category given by id or kind-qualified code (C01001 component, E06010 event)."""
    if isinstance(ref, bool) or ref in (None, ""):
        raise BadRequest("'category' is required (an id or a code such as E06010)", field="category")
    if not isinstance(ref, (int, str)):
        raise BadRequest("'category' must be an id or a code such as E06010", field="category")

    def load() -> int | None:
        query = sa.select(Category.id).where(Category.standard_ref == settings.category_standard,
                                             Category.enabled.is_(True))
        if isinstance(ref, int) or (ref.isdigit() and len(ref) < 8):
            if not 1 <= int(ref) <= params.MAX_INT_ID:
                return None
            return db.scalar(query.where(Category.id == int(ref)))
        if len(ref) >= 5 and ref[0].upper() in "CE":
            kind = "component" if ref[0].upper() == "C" else "event"
            return db.scalar(query.where(Category.kind == kind, Category.code == ref[1:]))
        return None

    # Phones send the same few codes all day: remember them for a minute.
    category_id = refcache.cached(("category_ref", settings.category_standard, ref), load)
    if category_id is None:
        raise BadRequest(f"unknown category {ref!r} in {settings.category_standard}; see /api/v1/categories",
                         field="category")
    return category_id


def parse_intake(db, settings, data: dict[str, Any], photos: list[bytes]) -> case_service.IntakeInput:
    """Validate a report; every error names its field."""
    _reject_unknown(data, INTAKE_FIELDS)
    x, y, lon84, lat84 = storage_point(data, settings.storage_srid)
    category_id = resolve_category(db, settings, data.get("category"))
    urgency = data.get("urgency") or "normal"
    if urgency not in URGENCIES:
        raise BadRequest(f"'urgency' must be one of {', '.join(URGENCIES)}", field="urgency")
    reporter = data.get("reporter")
    if reporter is not None:
        if not isinstance(reporter, dict) or set(reporter) - {"name", "phone", "email"}:
            raise BadRequest("'reporter' must be an object with name, phone and/or email", field="reporter")
        for key, value in reporter.items():
            if not isinstance(value, str) or len(value) > 100:
                raise BadRequest(f"'reporter.{key}' must be text of at most 100 characters", field=f"reporter.{key}")
    if len(photos) > settings.max_photos:
        raise BadRequest(f"{len(photos)} photos; at most {settings.max_photos}", field="photos")
    try:
        checked = [check_photo(i, raw, settings.max_photo_bytes) for i, raw in enumerate(photos)]
    except PhotoError as exc:
        raise BadRequest(str(exc), field=f"photos[{exc.index}]") from None
    camera_id = _text(data, "camera_id", 40)
    if camera_id:
        try:
            camera_id = str(parse_device_id(camera_id))
        except InvalidDeviceIdError as exc:
            raise BadRequest(f"'camera_id' must be a GB/T 28181 device id: {exc}", field="camera_id") from None
    return case_service.IntakeInput(
        x=x, y=y, lon=lon84, lat=lat84,
        category_id=category_id,
        description=_text(data, "description", case_service.MAX_DESCRIPTION, required=True),
        address=_text(data, "address", 255),
        source=_text(data, "source", 16),
        urgency=urgency,
        self_handled=_flag(data, "self_handled"),
        camera_id=camera_id,
        reporter_contact=reporter,
        photos=checked,
    )


def _request_hash(data: dict[str, Any], photos: list[bytes]) -> str:
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, ensure_ascii=False, default=str).encode())
    for raw in photos:
        digest.update(hashlib.sha256(raw).digest())
    return digest.hexdigest()


# -- responses ----------------------------------------------------------------------------


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def category_ref(category: Category) -> dict[str, Any]:
    """A case's category: ``name`` in the request's language, ``name_zh`` / ``name_en`` as stored."""
    return {"id": category.id, "code": category.code,
            "name": in_language(category.name, category.name_en, get_locale().language),
            "name_zh": category.name, "name_en": category.name_en, "standard_ref": category.standard_ref}


def case_summary(case: Case, calendar, lonlat: tuple[float, float] | None = None) -> dict[str, Any]:
    """The list view of a case."""
    return {
        "id": case.id,
        "number": case.number,
        "state": case.state,
        "source": case.source,
        "kind": case.kind,
        "category": {**category_ref(case.category), "code": case.category_code, "standard_ref": case.standard_ref},
        "urgency": case.urgency,
        "description": case.description,
        "address": case.address,
        "location": {"lon": lonlat[0], "lat": lonlat[1]} if lonlat else None,
        "cell_code": case.cell_code,
        "community_code": case.community_code,
        "street_code": case.street_code,
        "department": case.department.code if case.department else None,
        "suggested_department": case.suggested_department.code if case.suggested_department else None,
        "stage": case.stage,
        "stage_deadline": _iso(case.stage_deadline),
        "handle_deadline": _iso(case.handle_deadline),
        "light": case_service.warning_light(calendar, case),
        "self_handled": case.self_handled,
        "pending_request": case.pending_request,
        "counters": {"postponements": case.postponements, "reworks": case.reworks,
                     "returns": case.returns, "urges": case.urges},
        "close_type": case.close_type,
        "duplicate_of": case.duplicate_of_id,
        "reported_at": _iso(case.reported_at),
        "closed_at": _iso(case.closed_at),
        "updated_at": _iso(case.updated_at),
        "version": case.version,
        "url": url_for("cases_api.read_case", case_id=case.id),
    }


def _lonlat(db, case: Case) -> tuple[float, float]:
    settings = current_app.config["SETTINGS"]
    x, y = db.execute(sa.select(sa.func.ST_X(Case.geom), sa.func.ST_Y(Case.geom)).where(Case.id == case.id)).one()
    lon, lat = gcrs.storage_to_lonlat(x, y, settings.storage_srid)
    return round(float(lon), 7), round(float(lat), 7)


def case_detail(db, user: User, case: Case, calendar) -> dict[str, Any]:
    """The full view: location, timeline, photos, duplicates, what the caller may do next."""
    from ..caseflow import machine

    body = case_summary(case, calendar, _lonlat(db, case))
    events = db.scalars(sa.select(CaseEvent).where(CaseEvent.case_id == case.id).order_by(CaseEvent.at, CaseEvent.id))
    body["timeline"] = [
        {"at": _iso(e.at), "actor": e.actor, "role": e.role, "action": e.action,
         "from": e.from_state, "to": e.to_state, "note": e.note, "data": e.data}
        for e in events
    ]
    photos = db.scalars(sa.select(CasePhoto).where(CasePhoto.case_id == case.id).order_by(CasePhoto.id))
    body["photos"] = [
        {"id": p.id, "stage": p.stage, "content_type": p.content_type, "width": p.width, "height": p.height,
         "sha256": p.sha256, "exif": p.exif,
         "url": url_for("cases_api.read_photo", case_id=case.id, photo_id=p.id)}
        for p in photos
    ]
    body["duplicates"] = [
        {"id": i, "number": n} for i, n in db.execute(
            sa.select(Case.id, Case.number).where(Case.duplicate_of_id == case.id, case_service.visible_cases(user))
        )
    ]
    body["assignee"] = case.assignee.username if case.assignee else None
    body["camera_id"] = case.camera_id
    body["cameras"] = camera_service.cameras_for_case(db, current_app.config["SETTINGS"], case.id)
    body["component"] = component_service.case_component(db, case.component_id)
    if user.role in ("operator", "shift_leader", "dispatcher", "admin"):
        body["reporter_contact"] = case.reporter_contact
    body["allowed_actions"] = list(machine.actions_for(
        case.state, user.role, pending=(case.pending_request or {}).get("kind"), self_handled=case.self_handled
    ))
    return body


# -- views --------------------------------------------------------------------------------


@bp.post("/cases")
@roles_required("inspector", "operator")
def create_case():
    """Report a case (JSON, or multipart with up to 9 photos); Idempotency-Key makes retries safe."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    user = current_user()
    data, photos = _body()
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 128 and key.isprintable()):
        raise BadRequest("'Idempotency-Key' must be 1–128 printable characters", field="Idempotency-Key")
    digest = _request_hash(data, photos) if key else None
    # The key is claimed before anything else, so a retry racing the first request waits for
    # it and replays its answer without drawing a case number or writing photos.
    if key and not idempotency.claim(db, user.id, key, digest):
        db.rollback()
        return _replay(db, user.id, key, digest)
    intake = parse_intake(db, settings, data, photos)
    calendar = load_calendar(db)
    # Photos written here stay when the request fails: the same bytes may belong to another
    # request's case (content addressing); `citygrid sweep-photos` removes unreferenced ones.
    store = PhotoStore(settings.photo_dir)
    try:
        result = case_service.create_case(
            db, settings, calendar, user, current_actor(), intake, store
        )
        url = url_for("cases_api.read_case", case_id=result.id)
        category = db.get(Category, result.summary["category"]["id"])
        body = {"case": {**result.summary, "category": category_ref(category), "url": url},
                "possible_duplicates": result.duplicates}
        if key:
            idempotency.answer(db, user.id, key, 201, body)
        db.commit()
    except BaseException:
        db.rollback()
        raise
    resp = jsonify(body)
    resp.status_code = 201
    resp.headers["Location"] = url
    return resp


def _replay(db, user_id: int, key: str, digest: str):
    record = idempotency.stored(db, user_id, key)
    if record is None:  # claimed and committed, then removed (a demo reset) before we read it
        raise Conflict("the request with this Idempotency-Key changed while we answered; send it again")
    if record.request_hash != digest:
        raise ValidationProblem(
            "this Idempotency-Key was used for a different request; use a new key for a new report",
            errors=[{"field": "Idempotency-Key", "message": "reused with a different body"}],
        )
    resp = jsonify(record.body)
    resp.status_code = record.status
    resp.headers["Idempotent-Replayed"] = "true"
    resp.headers["Location"] = record.body["case"]["url"]
    return resp


@bp.get("/cases")
@roles_required()
def list_cases():
    """Cases the caller may see, filtered and paged, newest first."""
    db = get_session()
    user = current_user()
    query = sa.select(Case).where(case_service.visible_cases(user))
    for name, column in (("state", Case.state), ("source", Case.source), ("street", Case.street_code),
                         ("community", Case.community_code), ("cell", Case.cell_code),
                         ("urgency", Case.urgency)):
        values = [v for v in request.args.getlist(name) for v in v.split(",") if v]
        if values:
            query = query.where(column.in_(values))
    if request.args.get("category"):
        query = query.where(Case.category_code.in_(request.args["category"].split(",")))
    if request.args.get("department"):
        query = query.join(Department, Department.id == Case.department_id).where(
            Department.code.in_(request.args["department"].split(",")))
    for name, op in (("from", "__ge__"), ("to", "__lt__")):
        when = params.timestamp(name)
        if when is not None:
            query = query.where(getattr(Case.reported_at, op)(when))
    if request.args.get("mine") == "1" and user.role == "inspector":
        query = query.where(Case.assignee_id == user.id, Case.state.in_(("verifying", "checking")))
    page = params.integer("page", 1, 100_000, 1)
    page_size = params.integer("page_size", 1, 500, 50)
    total = db.scalar(sa.select(sa.func.count()).select_from(query.subquery()))
    rows = db.execute(query.add_columns(sa.func.ST_X(Case.geom), sa.func.ST_Y(Case.geom))
                      .order_by(Case.reported_at.desc(), Case.id.desc())
                      .offset((page - 1) * page_size).limit(page_size)).all()
    calendar = load_calendar(db)
    srid = current_app.config["SETTINGS"].storage_srid
    items = []
    for case, x, y in rows:
        lon, lat = gcrs.storage_to_lonlat(x, y, srid)
        items.append(case_summary(case, calendar, (round(float(lon), 7), round(float(lat), 7))))
    light_filter = request.args.get("light")
    if light_filter:
        if light_filter not in ("green", "yellow", "red"):
            raise BadRequest("'light' must be green, yellow or red", field="light")
        items = [i for i in items if i["light"] == light_filter]
    return jsonify({"items": items, "total": total, "page": page, "page_size": page_size})


@bp.get("/cases/<bigid:case_id>")
@roles_required()
def read_case(case_id: int):
    """One case with its timeline, photos and the actions the caller may take."""
    db = get_session()
    user = current_user()
    case = case_service.get_case(db, user, case_id)
    return jsonify(case_detail(db, user, case, load_calendar(db)))


@bp.post("/cases/<bigid:case_id>/actions")
@roles_required("inspector", "operator", "shift_leader", "dispatcher", "department")
def act_on_case(case_id: int):
    """Take an action on a case: {"action": …, "version": …, …} (multipart for photos)."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    user = current_user()
    data, raw_photos = _body()
    _reject_unknown(data, ACTION_FIELDS)
    action = data.get("action")
    if not isinstance(action, str) or not action:
        raise BadRequest("'action' is required", field="action")
    version = data.get("version")
    if isinstance(version, str) and version.isdigit():
        version = int(version)
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadRequest("'version' (the case version you saw) is required", field="version")
    if raw_photos and action not in ("feedback", "check", "verify"):
        raise BadRequest(f"photos are taken with feedback, verify and check, not {action}", field="photos")
    if len(raw_photos) > settings.max_photos:
        raise BadRequest(f"{len(raw_photos)} photos; at most {settings.max_photos}", field="photos")
    try:
        photos = [check_photo(i, raw, settings.max_photo_bytes) for i, raw in enumerate(raw_photos)]
    except PhotoError as exc:
        raise BadRequest(str(exc), field=f"photos[{exc.index}]") from None
    _action_fields(data)
    if "hours" in data and isinstance(data["hours"], str):
        try:
            data["hours"] = float(data["hours"])
        except ValueError:
            raise BadRequest("'hours' must be a number", field="hours") from None
    calendar = load_calendar(db)
    store = PhotoStore(settings.photo_dir)
    case = case_service.get_case(db, user, case_id, for_update=False)
    try:
        event = case_service.perform_action(
            db, calendar, case_service.Caller.of(user), current_actor(), case, action, version, data,
            store=store, photos=photos,
        )
        if action == "file":
            case_service.auto_dispatch(db, calendar, case)
        db.commit()
    except BaseException:
        db.rollback()  # written photos stay (see create_case)
        raise
    return jsonify({"event": {"action": event.action, "from": event.from_state, "to": event.to_state,
                              "at": _iso(event.at)},
                    "case": case_detail(db, user, case, calendar)})


@bp.get("/cases/<bigid:case_id>/photos/<bigid:photo_id>")
@roles_required()
def read_photo(case_id: int, photo_id: int):
    """A case photo, to callers who may see the case."""
    db = get_session()
    case_service.get_case(db, current_user(), case_id)
    photo = db.scalar(sa.select(CasePhoto).where(CasePhoto.id == photo_id, CasePhoto.case_id == case_id))
    if photo is None:
        raise NotFound(f"photo {photo_id} of case {case_id} does not exist")
    path = PhotoStore(current_app.config["SETTINGS"].photo_dir).path_of(photo.sha256, photo.content_type)
    if not path.exists():
        raise NotFound(f"the file of photo {photo_id} is missing from storage")
    return send_file(path, mimetype=photo.content_type, max_age=86400, etag=photo.sha256)


@bp.post("/inspectors/me/position")
@roles_required("inspector")
def report_position():
    """An inspector's phone reports where it is (and whether the inspector is on duty)."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    user = current_user()
    data, _ = _body()
    _reject_unknown(data, {"lon", "lat", "crs", "on_duty"})
    if "on_duty" not in data or "lon" in data or "lat" in data:
        # A duty toggle alone may come without a GPS fix; a position needs both coordinates.
        x, y, lon84, lat84 = storage_point(data, settings.storage_srid)
        user.last_position = from_shape(Point(float(x), float(y)), srid=settings.storage_srid)
        user.last_position_at = case_service.now_utc()
    if "on_duty" in data and _flag(data, "on_duty") != user.on_duty:
        user.on_duty = _flag(data, "on_duty")
        # Positions stream in every few seconds; only duty changes go to the audit log.
        record(db, current_actor(), "inspector.duty", "user", user.id, {"on_duty": user.on_duty})
    db.commit()
    position = None
    if user.last_position is not None:
        px, py = db.execute(sa.select(sa.func.ST_X(User.last_position), sa.func.ST_Y(User.last_position))
                            .where(User.id == user.id)).one()
        plon, plat = gcrs.storage_to_lonlat(px, py, settings.storage_srid)
        position = {"lon": round(float(plon), 7), "lat": round(float(plat), 7)}
    return jsonify({"username": user.username, "on_duty": user.on_duty, "position": position,
                    "at": _iso(user.last_position_at)})
