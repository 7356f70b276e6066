"""Open311 GeoReport v2 at /open311/v2: discovery, services, requests, in JSON and XML."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
import xml.etree.ElementTree as ET
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request, url_for
from werkzeug.exceptions import HTTPException

from gis.errors import GisError
from grid.errors import GridError

from .. import params
from ..db import get_session
from ..errors import BadRequest, Conflict, Forbidden, NotFound, Problem, TooManyRequests, unavailable_problem
from ..models import User
from ..security import client_address
from ..services import cases as case_service
from ..services import idempotency
from ..services import open311 as o311
from ..services import throttle
from ..services.audit import Actor
from ..services.photos import PhotoStore
from ..services.workcal import load_calendar
from .cases_api import parse_intake

__all__ = ["bp"]

LOGGER = logging.getLogger(__name__)

bp = Blueprint("open311", __name__, url_prefix="/open311/v2")

FMT = "<any(json,xml):fmt>"
SPEC_URL = "http://wiki.open311.org/GeoReport_v2"
#: When this endpoint's behaviour last changed (discovery "changeset").
CHANGESET = "2026-11-26T00:00:00+08:00"
FORMATS = ["text/xml", "application/json"]
XML_MIMETYPE = "text/xml"

#: POST requests arguments of the spec (plus attribute[...], which we accept and ignore:
#: no service defines attributes).
POST_FIELDS = {
    "api_key", "jurisdiction_id", "service_code", "lat", "long", "address_string", "address_id",
    "email", "device_id", "account_id", "first_name", "last_name", "phone", "description", "media_url",
}
#: Internal field names (problems raised by shared parsers) → the Open311 argument names.
FIELD_NAMES = {
    "lon": "long",
    "category": "service_code",
    "address": "address_string",
    "reporter.name": "first_name",
    "reporter.email": "email",
    "reporter.phone": "phone",
}
#: XML element name of a list's items, by the list's element name.
LIST_ITEMS = {"formats": "format", "endpoints": "endpoint", "attributes": "attribute", "values": "value"}
MAX_IDS = 1000
MAX_MEDIA_URLS = 9
#: Characters XML 1.0 cannot carry at all (C0 controls but tab/LF/CR, surrogates, U+FFFE/F):
#: one of them in a stored description would make the whole document unreadable.
XML_FORBIDDEN = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


# -- rendering ----------------------------------------------------------------------------


def _fill(element: ET.Element, value: Any) -> None:
    """Write ``value`` into ``element``: dicts as children, lists as repeated items, null as empty."""
    if isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        tag = LIST_ITEMS.get(element.tag, "item")
        for item in value:
            _fill(ET.SubElement(element, tag), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = XML_FORBIDDEN.sub("", str(value))


def render(fmt: str, data: Any, root: str, item: str | None = None, status: int = 200) -> Response:
    """``data`` as JSON, or as XML under ``root`` (a list becomes ``item`` children)."""
    if fmt == "json":
        resp = jsonify(data)
    else:
        element = ET.Element(root)
        if isinstance(data, list):
            for entry in data:
                _fill(ET.SubElement(element, item or "item"), entry)
        else:
            _fill(element, data)
        body = '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(element, encoding="unicode")
        resp = Response(body, mimetype=XML_MIMETYPE)
    resp.status_code = status
    return resp


def _fmt() -> str:
    fmt = (request.view_args or {}).get("fmt")
    if fmt in ("json", "xml"):
        return fmt
    return "xml" if request.path.endswith(".xml") else "json"


def error_response(status: int, description: str) -> Response:
    """The Open311 error document: ``[{"code", "description"}]`` or ``<errors><error>``."""
    return render(_fmt(), [{"code": status, "description": description}], "errors", "error", status)


def _problem_fields(exc: Problem) -> list[str]:
    names = [exc.extensions.get("field")] + [e.get("field") for e in exc.extensions.get("errors") or []]
    out: list[str] = []
    for name in names:
        if name:
            mapped = FIELD_NAMES.get(name, name)
            if mapped not in out:
                out.append(mapped)
    return out


@bp.errorhandler(Exception)
def _error(exc: Exception):
    """Every failure inside these views answers in the Open311 error format."""
    unavailable = unavailable_problem(exc)
    if unavailable is not None:
        resp = error_response(unavailable.status, str(unavailable.detail))
        resp.headers.update(unavailable.headers)
        return resp
    if isinstance(exc, Problem):
        # Open311 knows 403 (api_key), 404 (not found) and 400 (anything else).
        status = {401: 403, 403: 403, 404: 404, 429: 429}.get(exc.status, 400 if exc.status < 500 else exc.status)
        detail = str(exc.detail)
        fields = _problem_fields(exc)
        prefix = ", ".join(fields)
        if fields and not any(detail.startswith(name) for name in fields):
            detail = f"{prefix}: {detail}"
        if status >= 500:
            LOGGER.error("open311 %s failed: %s", request.path, detail)
        resp = error_response(status, detail)
        resp.headers.update(exc.headers)
        return resp
    if isinstance(exc, (GridError, GisError)):
        return error_response(400, str(exc))
    if isinstance(exc, HTTPException):
        return error_response(exc.code or 500, exc.description or exc.name)
    LOGGER.error("unhandled error on %s", request.path, exc_info=exc)
    return error_response(500, "an unexpected error occurred; it has been logged")


def _jurisdiction(values) -> None:
    """One endpoint serves one jurisdiction: a jurisdiction_id, if sent, must be ours."""
    sent = values.get("jurisdiction_id")
    settings = current_app.config["SETTINGS"]
    if sent and sent != settings.district_code:
        raise NotFound(f"jurisdiction_id: unknown jurisdiction {sent!r}; this endpoint serves {settings.district_code}",
                       field="jurisdiction_id")


def public_url(path: str) -> str:
    """The absolute URL of an app path, on the configured CITYGRID_PUBLIC_URL.

    Never from the request's Host header: a client could make the links others receive
    point anywhere.
    """
    return current_app.config["SETTINGS"].public_url + path.removeprefix(request.script_root)


def _photo_url(case_id: int, photo_id: int) -> str:
    return public_url(url_for("cases_api.read_photo", case_id=case_id, photo_id=photo_id))


# -- discovery and services ---------------------------------------------------------------


def _discovery() -> dict[str, Any]:
    settings = current_app.config["SETTINGS"]
    base = public_url(bp.url_prefix)
    return {
        "changeset": CHANGESET,
        "contact": f"{settings.district_name} 数字化城市管理监督指挥中心 (digital city management centre)",
        "key_service": f"API keys for POST requests are issued by the {settings.district_name} "
                       "city management centre's administrator.",
        "endpoints": [{
            "specification": SPEC_URL,
            "url": base,
            "changeset": CHANGESET,
            "type": "production",
            "formats": list(FORMATS),
        }],
    }


@bp.get(f"/discovery.{FMT}")
def discovery(fmt: str):
    """The discovery document: where the GeoReport v2 endpoint is and which formats it speaks."""
    return render(fmt, _discovery(), "discovery")


@bp.get(f"/services.{FMT}")
def list_services(fmt: str):
    """One service per enabled category of the active classification standard."""
    _jurisdiction(request.args)
    settings = current_app.config["SETTINGS"]
    services = o311.list_services(get_session(), settings, request.args.get("locale"))
    return render(fmt, services, "services", "service")


@bp.get(f"/services/<service_code>.{FMT}")
def service_definition(service_code: str, fmt: str):
    """A service's definition; no service defines extra attributes (metadata is false)."""
    _jurisdiction(request.args)
    category = o311.find_service(get_session(), current_app.config["SETTINGS"], service_code)
    if category is None:
        raise NotFound(f"service_code: unknown service {service_code!r}; see services.{fmt}", field="service_code")
    return render(fmt, {"service_code": category.full_code, "attributes": []}, "service_definition")


# -- requests -----------------------------------------------------------------------------


def _list(name: str) -> list[str]:
    return [v.strip() for raw in request.args.getlist(name) for v in raw.split(",") if v.strip()]


def _request_query() -> o311.RequestQuery:
    """Validate GET requests' filters (spec parameters plus page/page_size)."""
    db = get_session()
    settings = current_app.config["SETTINGS"]
    ids = _list("service_request_id")
    if len(ids) > MAX_IDS:
        raise BadRequest(f"service_request_id: {len(ids)} ids; at most {MAX_IDS}", field="service_request_id")
    if ids:
        # The spec: service_request_id overrides every other parameter.
        return o311.RequestQuery(ids=tuple(ids))
    category_ids = []
    for code in _list("service_code"):
        category = o311.find_service(db, settings, code)
        if category is None:
            raise BadRequest(f"service_code: unknown service {code!r}; see services.json", field="service_code")
        category_ids.append(category.id)
    statuses = _list("status")
    for status in statuses:
        if status not in ("open", "closed"):
            raise BadRequest(f"status: {status!r} is not a status; use open or closed", field="status")
    start_raw, end_raw = request.args.get("start_date"), request.args.get("end_date")
    start = params.parse_timestamp(start_raw, "start_date", o311.LOCAL_TZ) if start_raw else None
    end = params.parse_timestamp(end_raw, "end_date", o311.LOCAL_TZ) if end_raw else None
    if start is None and end is None:
        end = case_service.now_utc()
    if start is None:
        start = end - o311.MAX_SPAN
    if end is None:
        end = start + o311.MAX_SPAN
    if end < start:
        raise BadRequest("end_date: it is before start_date", field="end_date")
    if end - start > o311.MAX_SPAN:
        raise BadRequest(f"end_date: the range from start_date spans {(end - start).days} days; at most 90",
                         field="end_date")
    return o311.RequestQuery(
        category_ids=tuple(category_ids),
        start=start,
        end=end,
        statuses=tuple(statuses),
        page=params.integer("page", 1, 1_000_000, 1),
        page_size=params.integer("page_size", 1, 1000, 50),
    )


@bp.get(f"/requests.{FMT}")
def list_requests(fmt: str):
    """Service requests by id, service, date range and status, newest first; page/page_size."""
    _jurisdiction(request.args)
    db = get_session()
    settings = current_app.config["SETTINGS"]
    query = _request_query()
    rows, total = o311.query_requests(db, query)
    items = o311.request_dicts(db, settings, rows, _photo_url, request.args.get("locale"))
    resp = render(fmt, items, "service_requests", "request")
    resp.headers["X-Total-Count"] = str(total)
    return resp


@bp.get(f"/requests/<service_request_id>.{FMT}")
def read_request(service_request_id: str, fmt: str):
    """One service request (an array of one, as the spec shows)."""
    _jurisdiction(request.args)
    db = get_session()
    rows, _ = o311.query_requests(db, o311.RequestQuery(ids=(service_request_id,)))
    if not rows:
        raise NotFound(f"service_request_id: no request {service_request_id!r}", field="service_request_id")
    items = o311.request_dicts(db, current_app.config["SETTINGS"], rows, _photo_url, request.args.get("locale"))
    return render(fmt, items, "service_requests", "request")


def _optional(form, name: str, limit: int) -> str | None:
    raw = form.get(name)
    if raw is None or not raw.strip():
        return None
    if len(raw) > limit:
        raise BadRequest(f"{name}: {len(raw)} characters; at most {limit}", field=name)
    return raw.strip()


def _coordinate(form, name: str, limit: float) -> float:
    raw = form.get(name, "").strip()
    try:
        value = float(raw)
    except ValueError:
        raise BadRequest(f"{name}: {raw!r} is not a number; send WGS 84 decimal degrees", field=name) from None
    if not math.isfinite(value) or abs(value) > limit:
        raise BadRequest(f"{name}: {raw} is not between -{limit:g} and {limit:g}", field=name)
    return value


def _location(form) -> tuple[float, float]:
    has_lat, has_long = bool(form.get("lat", "").strip()), bool(form.get("long", "").strip())
    if not has_lat and not has_long:
        if form.get("address_string") or form.get("address_id"):
            raise BadRequest(
                "lat, long: both are required; this server places every request on its unit grid and does "
                "not geocode address_string or address_id (send the address along with lat and long)",
                field="lat",
            )
        raise BadRequest("lat, long: both are required (WGS 84 decimal degrees)", field="lat")
    if not has_lat or not has_long:
        missing = "lat" if not has_lat else "long"
        raise BadRequest(f"{missing}: required together with {'long' if missing == 'lat' else 'lat'}", field=missing)
    return _coordinate(form, "lat", 90), _coordinate(form, "long", 180)


def _media_urls(form) -> list[str]:
    urls = [u.strip() for u in form.getlist("media_url") if u.strip()]
    if len(urls) > MAX_MEDIA_URLS:
        raise BadRequest(f"media_url: {len(urls)} values; at most {MAX_MEDIA_URLS}", field="media_url")
    for url in urls:
        if len(url) > 2000 or not url.lower().startswith(("http://", "https://")):
            raise BadRequest(f"media_url: {url[:80]!r} is not an http(s) URL of at most 2000 characters",
                             field="media_url")
    return urls


def _request_digest(form) -> str:
    items = sorted((k, form.getlist(k)) for k in form if k != "api_key")
    return hashlib.sha256(json.dumps(items, ensure_ascii=False).encode()).hexdigest()


def _replay(db, user_id: int, key: str, digest: str, fmt: str) -> Response | None:
    record = idempotency.stored(db, user_id, key)
    if record is None:
        return None
    if record.request_hash != digest:
        raise BadRequest("Idempotency-Key: this key was used for a different request; use a new key",
                         field="Idempotency-Key")
    resp = render(fmt, record.body["open311"], "service_requests", "request", record.status)
    resp.headers["Idempotent-Replayed"] = "true"
    return resp


def _client_for_key(db, api_key: str | None):
    """The Open311 client holding ``api_key``; guessing is throttled per client address."""
    if not api_key:
        raise Forbidden("api_key: invalid or missing api_key -- can't proceed with create_request")
    attempt = [(throttle.OPEN311_KEY, client_address() or "?")]
    wait = throttle.reserve(db, attempt)
    db.commit()  # counted before the key is checked, visible to parallel guesses
    if wait is not None:
        raise TooManyRequests("api_key: too many invalid api_key attempts from this address; wait and retry",
                              retry_after=wait)
    client = o311.verify_key(db, api_key)
    if client is None:
        raise Forbidden("api_key: invalid or missing api_key -- can't proceed with create_request")
    throttle.release(db, attempt)
    db.commit()  # a valid key gives its place back, whatever the request does next
    return client


@bp.post(f"/requests.{FMT}")
def create_request(fmt: str):
    """Create a service request (form-encoded, api_key required) → a case with source open311."""
    settings = current_app.config["SETTINGS"]
    db = get_session()
    if request.mimetype not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise BadRequest("Content-Type: send application/x-www-form-urlencoded, as Open311 specifies",
                         field="Content-Type")
    form = request.form
    client = _client_for_key(db, form.get("api_key") or request.args.get("api_key"))
    unknown = sorted(k for k in form if k not in POST_FIELDS and not k.startswith("attribute["))
    if unknown:
        raise BadRequest(f"{unknown[0]}: not an Open311 POST requests argument", field=unknown[0])
    if request.files:
        raise BadRequest("media_url: file uploads are not accepted; send a media_url", field="media_url")
    _jurisdiction(form)
    code = (form.get("service_code") or "").strip()
    if not code:
        raise BadRequest("service_code: required; see services.json", field="service_code")
    category = o311.find_service(db, settings, code)
    if category is None:
        raise BadRequest(f"service_code: unknown service {code!r}; see services.json", field="service_code")
    lat, lon = _location(form)
    contact = {}
    first, last = _optional(form, "first_name", 50), _optional(form, "last_name", 50)
    if first or last:
        contact["name"] = " ".join(p for p in (first, last) if p)
    for name in ("email", "phone"):
        value = _optional(form, name, 100)
        if value:
            contact[name] = value
    extra = {name: _optional(form, name, 100) for name in ("device_id", "account_id")}
    media_urls = _media_urls(form)

    user = db.get(User, client.user_id)
    key = request.headers.get("Idempotency-Key")
    if key is not None and not (0 < len(key) <= 100 and key.isprintable()):
        raise BadRequest("Idempotency-Key: 1–100 printable characters", field="Idempotency-Key")
    stored_key = f"open311:{client.id}:{key}" if key else None
    digest = _request_digest(form) if key else None
    # Claimed first, so a retry racing the first request replays its answer without
    # drawing a case number (see services.idempotency).
    if key and not idempotency.claim(db, user.id, stored_key, digest):
        db.rollback()
        replay = _replay(db, user.id, stored_key, digest, fmt)
        if replay is None:
            raise Conflict("Idempotency-Key: the request with this key changed while we answered; send it again")
        return replay

    description = form.get("description")
    intake = parse_intake(db, settings, {
        "lon": lon,
        "lat": lat,
        "category": category.id,
        # Open311 makes description optional; a case needs one, so the service name stands in.
        "description": description if description and description.strip() else category.name,
        "address": form.get("address_string"),
        "source": "open311",
        "reporter": contact or None,
    }, [])
    # Identifiers of the submitter are contact data too: kept with it, never published.
    contact.update({k: v for k, v in extra.items() if v})
    intake.reporter_contact = contact or None
    # media_url is only recorded (never fetched): the departments see it in the timeline.
    intake.event_data = {"open311_client": client.name, **({"media_url": media_urls} if media_urls else {})}
    actor = Actor(user.id, user.username, user.role, getattr(g, "request_id", None), request.remote_addr)
    calendar = load_calendar(db)
    store = PhotoStore(settings.photo_dir)
    try:
        result = case_service.create_case(db, settings, calendar, user, actor, intake, store)
        notice = f"已受理，案件号 {result.number} / Received as case {result.number}"
        if result.duplicates:
            notice += f"; {len(result.duplicates)} similar open report(s) nearby"
        body = [{"service_request_id": result.number, "service_notice": notice, "account_id": None}]
        if key:
            idempotency.answer(db, user.id, stored_key, 201, {"open311": body})
        db.commit()
    except BaseException:
        db.rollback()
        raise
    resp = render(fmt, body, "service_requests", "request", 201)
    resp.headers["Location"] = url_for("open311.read_request", service_request_id=result.number, fmt=fmt)
    return resp


# -- everything else ----------------------------------------------------------------------


@bp.get("/")
def index():
    """The bare endpoint URL answers with the discovery document (JSON)."""
    return render("json", _discovery(), "discovery")


@bp.route("/<path:rest>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown(rest: str):
    """Unknown paths and formats answer with an Open311 404, not the app's problem+json."""
    raise NotFound(f"no Open311 resource {request.method} {bp.url_prefix}/{rest}; "
                   "see discovery.json (formats: .json, .xml)")
