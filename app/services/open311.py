"""Open311 GeoReport v2: client API keys, the service list, and the public view of cases."""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import distinct_on
from sqlalchemy.orm import Session, joinedload

from gis import crs as gcrs

from ..caseflow.machine import TERMINAL_STATES
from ..config import Settings
from ..models import Case, CaseEvent, CasePhoto, Category, District, Open311Client, User
from .accounts import add_user
from .audit import Actor, record

__all__ = [
    "CLOSED_STATES",
    "MAX_SPAN",
    "Open311ClientError",
    "RequestQuery",
    "STATE_NOTES",
    "create_client",
    "ensure_client",
    "find_service",
    "key_digest",
    "list_services",
    "open311_status",
    "query_requests",
    "request_dicts",
    "service_dict",
    "verify_key",
]

LOGGER = logging.getLogger(__name__)

#: Internal states shown as Open311 ``closed``; every other state is ``open``.
CLOSED_STATES = TERMINAL_STATES
#: The longest start_date..end_date window the spec allows, and the default window.
MAX_SPAN = timedelta(days=90)
#: Times are given in the district's local time (China Standard Time, no DST).
LOCAL_TZ = timezone(timedelta(hours=8))

#: What each internal state means to the public: (Chinese, English).
STATE_NOTES: dict[str, tuple[str, str]] = {
    "reported": ("已受理，待核实", "Received, awaiting review"),
    "verifying": ("核实中", "Being verified on site"),
    "pending_filing": ("已核实，待立案", "Verified, awaiting registration"),
    "filed": ("已立案，待派遣", "Registered, awaiting dispatch"),
    "dispatched": ("已派遣至处置部门", "Dispatched to the responsible department"),
    "processing": ("处置中", "Work in progress"),
    "suspended": ("暂停处置", "Work suspended"),
    "handled": ("已处置，待核查", "Work done, awaiting inspection"),
    "checking": ("核查中", "Being inspected"),
    "pending_close": ("已核查，待结案", "Inspected, awaiting closure"),
    "closed": ("已结案", "Closed"),
    "rejected": ("不予立案", "Not accepted"),
    "voided": ("已作废", "Cancelled"),
}


class Open311ClientError(ValueError):
    """An Open311 client cannot be set up as asked; ``field`` names the bad value."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


# -- client keys --------------------------------------------------------------------------


def key_digest(api_key: str) -> str:
    """SHA-256 hex digest of an API key (only the digest is stored).

    Examples
    --------
    >>> key_digest("abc")[:16]
    'ba7816bf8f01cfea'
    """
    return hashlib.sha256(api_key.encode()).hexdigest()


def _check_key(api_key: str) -> None:
    if not isinstance(api_key, str) or not 16 <= len(api_key) <= 200 or not api_key.isprintable():
        raise Open311ClientError("api_key", "16–200 printable characters")


def _add(session: Session, actor: Actor, name: str, user: User, api_key: str) -> Open311Client:
    if not name or len(name) > 100:
        raise Open311ClientError("name", "1–100 characters")
    if user.role != "operator":
        raise Open311ClientError("user", f"{user.username!r} has role {user.role!r}; an Open311 client reports as an operator")
    client = Open311Client(name=name, key_hash=key_digest(api_key), user_id=user.id, active=True)
    session.add(client)
    session.flush()
    record(session, actor, "open311_client.create", "open311_client", client.id,
           {"name": name, "user": user.username})
    return client


def create_client(session: Session, actor: Actor, name: str, user: User) -> tuple[str, Open311Client]:
    """Issue a new API key for ``user`` (role operator); the clear key is returned once.

    Examples
    --------
    >>> create_client(None, None, "", None)
    Traceback (most recent call last):
    ...
    app.services.open311.Open311ClientError: name: 1–100 characters
    """
    api_key = "o311_" + secrets.token_urlsafe(32)
    return api_key, _add(session, actor, name, user, api_key)


def verify_key(session: Session, api_key: str | None) -> Open311Client | None:
    """The active client holding ``api_key`` whose user is active, else None.

    Examples
    --------
    >>> verify_key(None, "")  # an empty key is never valid, no query needed
    """
    if not api_key:
        return None
    client = session.scalar(
        sa.select(Open311Client).where(Open311Client.key_hash == key_digest(api_key))
    )
    if client is None or not client.active:
        return None
    user = session.get(User, client.user_id)
    if user is None or not user.active:
        return None
    return client


def ensure_client(
    session: Session,
    actor: Actor,
    name: str,
    api_key: str,
    username: str = "open311",
    district_code: str | None = None,
) -> Open311Client:
    """The client with this key, created (with its operator user) if missing; safe to run again.

    The user ``username`` (role operator) is created when absent, with a random password:
    it acts only through the API key. ``district_code`` defaults to the one district in the
    database. A known key is re-activated and keeps its user.

    Examples
    --------
    >>> ensure_client(None, None, "demo", "short")
    Traceback (most recent call last):
    ...
    app.services.open311.Open311ClientError: api_key: 16–200 printable characters
    """
    _check_key(api_key)
    client = session.scalar(sa.select(Open311Client).where(Open311Client.key_hash == key_digest(api_key)))
    if client is not None:
        if not client.active:
            client.active = True
            record(session, actor, "open311_client.activate", "open311_client", client.id, {"name": client.name})
        return client
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        if district_code is None:
            codes = session.scalars(sa.select(District.code)).all()
            if len(codes) != 1:
                raise Open311ClientError(
                    "district_code", f"found {len(codes)} districts in the database; name the user's district"
                )
            district_code = codes[0]
        user = add_user(session, actor, username=username, password=secrets.token_urlsafe(24), role="operator",
                        district_code=district_code, display_name=f"Open311: {name}"[:100])
    return _add(session, actor, name, user, api_key)


# -- services -----------------------------------------------------------------------------


def _english(locale: str | None) -> bool:
    return bool(locale) and locale.lower().startswith("en")


def service_dict(category: Category, locale: str | None = None) -> dict[str, Any]:
    """One GET services entry for a category.

    Examples
    --------
    >>> c = Category(kind="event", code="06010", major_code="06", major_name="街面秩序",
    ...              name="占道经营", name_en="Street vending", standard_ref="GB/T 47678.5-2026")
    >>> d = service_dict(c)
    >>> d["service_code"], d["service_name"], d["group"], d["metadata"], d["type"]
    ('E06010', '占道经营', '街面秩序', False, 'realtime')
    >>> service_dict(c, "en")["service_name"]
    'Street vending'
    """
    kind_zh = "部件" if category.kind == "component" else "事件"
    name = category.name_en if _english(locale) and category.name_en else category.name
    keywords = [category.name, category.major_name, kind_zh]
    if category.name_en:
        keywords.append(category.name_en)
    return {
        "service_code": category.full_code,
        "service_name": name,
        "description": f"{kind_zh} {category.major_code} {category.major_name} / {category.code} {category.name}"
                       f" ({category.standard_ref})",
        "metadata": False,
        "type": "realtime",
        "keywords": ",".join(k.replace(",", " ") for k in keywords),
        "group": category.major_name,
    }


def list_services(session: Session, settings: Settings, locale: str | None = None) -> list[dict[str, Any]]:
    """Every enabled category of the active standard, components first, in code order."""
    rows = session.scalars(
        sa.select(Category)
        .where(Category.standard_ref == settings.category_standard, Category.enabled.is_(True))
        .order_by(Category.kind, Category.code)
    )
    return [service_dict(c, locale) for c in rows]


def find_service(session: Session, settings: Settings, service_code: str) -> Category | None:
    """The enabled category of the active standard with this kind-qualified code, else None."""
    if not service_code or len(service_code) < 2 or service_code[0].upper() not in "CE":
        return None
    kind = "component" if service_code[0].upper() == "C" else "event"
    return session.scalar(
        sa.select(Category).where(
            Category.standard_ref == settings.category_standard, Category.enabled.is_(True),
            Category.kind == kind, Category.code == service_code[1:],
        )
    )


# -- requests -----------------------------------------------------------------------------


def open311_status(state: str) -> str:
    """``closed`` for closed, rejected and voided cases, else ``open``.

    Examples
    --------
    >>> open311_status("processing"), open311_status("voided")
    ('open', 'closed')
    """
    return "closed" if state in CLOSED_STATES else "open"


@dataclass(frozen=True)
class RequestQuery:
    """The filters of GET requests, already validated (``ids`` overrides all others)."""

    ids: tuple[str, ...] = ()
    category_ids: tuple[int, ...] = ()
    start: datetime | None = None
    end: datetime | None = None
    statuses: tuple[str, ...] = ()
    page: int = 1
    page_size: int = 50


def query_requests(session: Session, query: RequestQuery) -> tuple[list[tuple[Case, float, float]], int]:
    """The cases matching ``query`` (newest first) with storage x/y, and the total count."""
    stmt = sa.select(Case.id)
    if query.ids:
        stmt = stmt.where(Case.number.in_(query.ids))
    else:
        if query.category_ids:
            stmt = stmt.where(Case.category_id.in_(query.category_ids))
        if query.start is not None:
            stmt = stmt.where(Case.reported_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(Case.reported_at <= query.end)
        if set(query.statuses) == {"closed"}:
            stmt = stmt.where(Case.state.in_(CLOSED_STATES))
        elif set(query.statuses) == {"open"}:
            stmt = stmt.where(Case.state.not_in(CLOSED_STATES))
    total = session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))
    page = (
        sa.select(Case, sa.func.ST_X(Case.geom), sa.func.ST_Y(Case.geom))
        .where(Case.id.in_(stmt.scalar_subquery()))
        .options(joinedload(Case.category), joinedload(Case.department))
        .order_by(Case.reported_at.desc(), Case.id.desc())
    )
    if not query.ids:
        page = page.offset((query.page - 1) * query.page_size).limit(query.page_size)
    rows = [(case, float(x), float(y)) for case, x, y in session.execute(page).unique()]
    return rows, total


def _local(value: datetime | None) -> str | None:
    return value.astimezone(LOCAL_TZ).isoformat(timespec="seconds") if value else None


def _status_notes(session: Session, ids: list[int]) -> dict[int, str]:
    """The note of each case's latest state change that carried one (why the status changed)."""
    if not ids:
        return {}
    rows = session.execute(
        sa.select(CaseEvent.case_id, CaseEvent.note)
        .where(CaseEvent.case_id.in_(ids), CaseEvent.note.is_not(None), CaseEvent.note != "",
               CaseEvent.from_state.is_distinct_from(CaseEvent.to_state))
        .ext(distinct_on(CaseEvent.case_id))
        .order_by(CaseEvent.case_id, CaseEvent.at.desc(), CaseEvent.id.desc())
    )
    return dict(rows.all())


def _media(session: Session, ids: list[int], photo_url: Callable[[int, int], str]) -> dict[int, str]:
    """A media URL per case: the one an Open311 client sent, else the first report photo."""
    if not ids:
        return {}
    found: dict[int, str] = {}
    photos = session.execute(
        sa.select(CasePhoto.case_id, CasePhoto.id)
        .where(CasePhoto.case_id.in_(ids), CasePhoto.stage == "report")
        .ext(distinct_on(CasePhoto.case_id))
        .order_by(CasePhoto.case_id, CasePhoto.id)
    )
    for case_id, photo_id in photos:
        found[case_id] = photo_url(case_id, photo_id)
    sent = session.execute(
        sa.select(CaseEvent.case_id, CaseEvent.data["media_url"])
        .where(CaseEvent.case_id.in_(ids), CaseEvent.action == "report", CaseEvent.data.has_key("media_url"))
    )
    for case_id, urls in sent:
        # Stored as a JSON list (the spec allows several); the public view shows the first.
        if isinstance(urls, list) and urls:
            found[case_id] = str(urls[0])
    return found


def request_dicts(
    session: Session,
    settings: Settings,
    rows: Sequence[tuple[Case, float, float]],
    photo_url: Callable[[int, int], str],
    locale: str | None = None,
) -> list[dict[str, Any]]:
    """The public Open311 view of cases: the spec's fields only, never the reporter's contact."""
    ids = [case.id for case, _, _ in rows]
    notes = _status_notes(session, ids)
    media = _media(session, ids, photo_url)
    if rows:
        lons, lats = gcrs.storage_to_lonlat([x for _, x, _ in rows], [y for _, _, y in rows], settings.storage_srid)
    else:
        lons, lats = [], []
    english = _english(locale)
    out = []
    for (case, _, _), lon, lat in zip(rows, lons, lats):
        closed = case.state in CLOSED_STATES
        dept = case.department
        agency = None
        if dept is not None:
            agency = dept.name_en if english and dept.name_en else dept.name
        category = case.category
        state_note = STATE_NOTES.get(case.state, (case.state, case.state))[1 if english else 0]
        out.append({
            "service_request_id": case.number,
            "status": "closed" if closed else "open",
            "status_notes": notes.get(case.id) or state_note,
            "service_name": category.name_en if english and category.name_en else category.name,
            "service_code": category.full_code,
            "description": case.description,
            "agency_responsible": agency,
            "service_notice": state_note,
            "requested_datetime": _local(case.reported_at),
            "updated_datetime": _local(case.closed_at if closed and case.closed_at else case.updated_at),
            "expected_datetime": _local(case.handle_deadline or case.stage_deadline),
            "address": case.address,
            "address_id": None,
            "zipcode": None,
            "lat": round(float(lat), 7),
            "long": round(float(lon), 7),
            "media_url": media.get(case.id),
        })
    return out
