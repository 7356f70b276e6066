"""Open311 GeoReport v2 at /open311/v2 against PostGIS: JSON and XML, filters, errors, privacy."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from app.models import Case, CaseEvent, Category, Open311Client, User
from app.services import cases as case_service
from app.services.audit import SYSTEM, Actor
from app.services.categories import load_categories
from app.services.open311 import ensure_client, key_digest, verify_key
from app.services.workcal import load_calendar
from tests.app.conftest import count, lonlat_of, origin_xy, token_for

API_KEY = "test-open311-key-0001"
BASE = "/open311/v2"
CONTACT = {"first_name": "三丰", "last_name": "张", "email": "zhang.reporter@example.com", "phone": "13912345678"}


@pytest.fixture
def o311(db_session, grid, settings):
    """Categories of the active standard and one Open311 client."""
    load_categories(db_session, SYSTEM, standards=(settings.category_standard,))
    client_row = ensure_client(db_session, SYSTEM, "test app", API_KEY)
    db_session.commit()
    return client_row


def inside(settings, dx=50.0, dy=150.0) -> tuple[float, float]:
    """lon/lat of a point in the test grid (default: the north-west cell)."""
    x0, y0 = origin_xy(settings)
    return lonlat_of(settings, x0 + dx, y0 + dy)


def some_codes(db_session, settings, n=2) -> list[str]:
    rows = db_session.scalars(
        sa.select(Category).where(Category.standard_ref == settings.category_standard, Category.enabled.is_(True))
        .order_by(Category.kind, Category.code).limit(n)
    ).all()
    return [c.full_code for c in rows]


def post(client, settings, fmt="json", *, headers=None, **fields):
    """POST requests.{fmt} form-encoded; api_key and a point inside the grid by default."""
    lon, lat = inside(settings)
    data = {"api_key": API_KEY, "lat": str(lat), "long": str(lon), "description": "路面坑洞"}
    data.update(fields)
    data = {k: v for k, v in data.items() if v is not None}
    return client.post(f"{BASE}/requests.{fmt}", data=data, headers=headers or {})


def xml(resp) -> ET.Element:
    assert resp.mimetype == "text/xml", resp.get_data(as_text=True)
    return ET.fromstring(resp.data)


def assert_open311_error(resp, status, *words):
    """An Open311 error array (JSON or XML) with this status whose description has ``words``."""
    assert resp.status_code == status, resp.get_data(as_text=True)
    if resp.mimetype == "text/xml":
        root = xml(resp)
        assert root.tag == "errors"
        errors = [{"code": int(e.findtext("code")), "description": e.findtext("description")}
                  for e in root.findall("error")]
    else:
        assert resp.mimetype == "application/json"
        errors = resp.get_json()
    assert isinstance(errors, list) and len(errors) == 1
    assert errors[0]["code"] == status
    for word in words:
        assert word in errors[0]["description"], errors
    return errors[0]["description"]


def case_by_number(db_session, number) -> Case:
    return db_session.scalar(sa.select(Case).where(Case.number == number))


# -- clients ------------------------------------------------------------------------------


def test_ensure_client_stores_only_the_key_hash_and_is_idempotent(db_session, o311, settings):
    assert o311.key_hash == key_digest(API_KEY) != API_KEY
    user = db_session.get(User, o311.user_id)
    assert (user.username, user.role) == ("open311", "operator")
    assert ensure_client(db_session, SYSTEM, "test app", API_KEY).id == o311.id
    assert count(db_session, "open311_clients") == 1
    assert verify_key(db_session, API_KEY).id == o311.id
    assert verify_key(db_session, API_KEY + "x") is None
    o311.active = False
    db_session.flush()
    assert verify_key(db_session, API_KEY) is None


# -- discovery and services ---------------------------------------------------------------


def test_discovery_json_and_xml(client, o311, settings):
    # The Host header is the client's to set: links come from CITYGRID_PUBLIC_URL instead.
    body = client.get(f"{BASE}/discovery.json", headers={"Host": "evil.example"}).get_json()
    assert body["changeset"] and body["contact"] and body["key_service"]
    (endpoint,) = body["endpoints"]
    assert endpoint["specification"] == "http://wiki.open311.org/GeoReport_v2"
    assert endpoint["url"] == f"{settings.public_url}/open311/v2" != "http://evil.example/open311/v2"
    assert endpoint["type"] == "production"
    assert set(endpoint["formats"]) == {"text/xml", "application/json"}
    root = xml(client.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    ep = root.find("endpoints/endpoint")
    assert ep.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert [f.text for f in ep.findall("formats/format")] == endpoint["formats"]


def test_services_json_and_xml(client, db_session, o311, settings):
    enabled = db_session.scalar(
        sa.select(sa.func.count()).select_from(Category)
        .where(Category.standard_ref == settings.category_standard, Category.enabled.is_(True)))
    services = client.get(f"{BASE}/services.json").get_json()
    assert len(services) == enabled > 100
    by_code = {s["service_code"]: s for s in services}
    cover = db_session.scalar(sa.select(Category).where(
        Category.standard_ref == settings.category_standard, Category.kind == "component", Category.code == "01001"))
    entry = by_code["C01001"]
    assert entry["service_name"] == cover.name
    assert entry["group"] == cover.major_name
    assert entry["metadata"] is False and entry["type"] == "realtime"
    assert cover.name in entry["keywords"].split(",")
    assert any(code.startswith("E") for code in by_code)
    # A disabled category is not offered.
    cover.enabled = False
    db_session.commit()
    assert "C01001" not in {s["service_code"] for s in client.get(f"{BASE}/services.json").get_json()}

    root = xml(client.get(f"{BASE}/services.xml", query_string={"locale": "zh_CN"}))
    assert root.tag == "services"
    items = root.findall("service")
    assert len(items) == enabled - 1
    first = items[0]
    assert first.findtext("metadata") == "false" and first.findtext("type") == "realtime"
    assert first.findtext("service_code") == services[1]["service_code"]
    assert first.findtext("group") and first.findtext("service_name")


def test_service_definition(client, o311, db_session, settings):
    code = some_codes(db_session, settings, 1)[0]
    assert client.get(f"{BASE}/services/{code}.json").get_json() == {"service_code": code, "attributes": []}
    root = xml(client.get(f"{BASE}/services/{code}.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == code
    assert root.find("attributes") is not None and len(root.find("attributes")) == 0
    assert_open311_error(client.get(f"{BASE}/services/E99999.json"), 404, "service_code", "E99999")
    assert_open311_error(client.get(f"{BASE}/services/E99999.xml"), 404, "E99999")
    assert_open311_error(client.get(f"{BASE}/services.json", query_string={"jurisdiction_id": "999999"}),
                         404, "jurisdiction_id")


# -- POST requests ------------------------------------------------------------------------


def test_post_creates_a_private_open311_case(client, db_session, o311, settings, grid):
    code = some_codes(db_session, settings, 1)[0]
    resp = post(client, settings, service_code=code, address_string="金水东路 88 号", device_id="dev-42",
                account_id="acct-7", media_url="https://example.org/p/1.jpg", **CONTACT)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    (answer,) = resp.get_json()
    assert set(answer) == {"service_request_id", "service_notice", "account_id"}
    assert answer["account_id"] is None and answer["service_request_id"] in answer["service_notice"]
    assert resp.headers["Location"].endswith(f"/open311/v2/requests/{answer['service_request_id']}.json")

    case = case_by_number(db_session, answer["service_request_id"])
    assert case.source == "open311" and case.state == "reported"
    assert case.reporter.username == "open311"
    assert case.category.full_code == code and case.address == "金水东路 88 号"
    assert case.cell_code == settings.district_code + "001001001"
    assert case.reporter_contact == {"name": "三丰 张", "email": CONTACT["email"], "phone": CONTACT["phone"],
                                     "device_id": "dev-42", "account_id": "acct-7"}
    event = db_session.scalar(sa.select(CaseEvent).where(CaseEvent.case_id == case.id))
    assert event.data["media_url"] == ["https://example.org/p/1.jpg"]
    assert event.actor == "open311" and event.role == "operator"

    secrets = [CONTACT["email"], CONTACT["phone"], "三丰", "dev-42", "acct-7"]
    number = answer["service_request_id"]
    for path in (f"requests/{number}.json", f"requests/{number}.xml", "requests.json", "requests.xml"):
        text = client.get(f"{BASE}/{path}").get_data(as_text=True)
        assert number in text
        for secret in secrets:
            assert secret not in text, (path, secret)
    (item,) = client.get(f"{BASE}/requests/{number}.json").get_json()
    assert item["media_url"] == "https://example.org/p/1.jpg"
    assert item["address"] == "金水东路 88 号"

    # Through the case loop to a department: the department sees the case, not the reporter.
    # (Each request closes the shared session, so load the case again before acting on it.)
    case = case_by_number(db_session, number)
    calendar = load_calendar(db_session)
    for role, action, payload in (("operator", "accept", {}), ("shift_leader", "file", {}),
                                  ("dispatcher", "dispatch", {"department": "municipal_roads"})):
        user = grid["users"][role]
        case_service.perform_action(db_session, calendar, case_service.Caller.of(user),
                                    Actor(user.id, user.username, role), case, action, case.version, payload)
    db_session.commit()
    dept = client.get(f"/api/v1/cases/{case.id}", headers=token_for(client, "t_department"))
    assert dept.status_code == 200, dept.get_json()
    assert "reporter_contact" not in dept.get_json()
    for secret in secrets[:3]:
        assert secret not in dept.get_data(as_text=True)
    operator = client.get(f"/api/v1/cases/{case.id}", headers=token_for(client, "t_operator")).get_json()
    assert operator["reporter_contact"]["email"] == CONTACT["email"]

    (item,) = client.get(f"{BASE}/requests/{number}.json", query_string={"locale": "zh_CN"}).get_json()
    assert item["status"] == "open"
    assert item["agency_responsible"] == "市政道路"
    assert item["expected_datetime"] == case.handle_deadline.astimezone(
        timezone(timedelta(hours=8))).isoformat(timespec="seconds")
    assert datetime.fromisoformat(item["updated_datetime"]) >= datetime.fromisoformat(item["requested_datetime"])


def test_post_in_xml_and_description_defaults_to_the_service_name(client, db_session, o311, settings):
    code = some_codes(db_session, settings, 1)[0]
    resp = post(client, settings, "xml", service_code=code, description=None)
    assert resp.status_code == 201
    root = xml(resp)
    assert root.tag == "service_requests"
    number = root.findtext("request/service_request_id")
    assert root.find("request/account_id").text is None
    case = case_by_number(db_session, number)
    assert case.description == case.category.name
    assert case.reporter_contact is None


def test_post_errors_answer_in_open311_format_and_store_nothing(client, db_session, o311, settings):
    code = some_codes(db_session, settings, 1)[0]
    before = count(db_session, "cases")
    assert_open311_error(post(client, settings, service_code=code, api_key=None), 403, "api_key")
    assert_open311_error(post(client, settings, "xml", service_code=code, api_key="wrong-key-123456"), 403,
                         "api_key")
    assert_open311_error(post(client, settings, service_code="E99999"), 400, "service_code", "E99999")
    assert_open311_error(post(client, settings), 400, "service_code", "required")
    assert_open311_error(post(client, settings, service_code=code, lat=None, long=None), 400, "lat", "long")
    desc = assert_open311_error(post(client, settings, service_code=code, lat=None, long=None,
                                     address_string="金水东路 88 号"), 400, "address_string")
    assert "geocode" in desc
    assert_open311_error(post(client, settings, service_code=code, long=None), 400, "long")
    assert_open311_error(post(client, settings, service_code=code, lat="north"), 400, "lat", "north")
    assert_open311_error(post(client, settings, service_code=code, long="200"), 400, "long")
    assert_open311_error(post(client, settings, service_code=code, lat="34.0", long="113.0"), 400,
                         "lat", "long", "113.7800")  # the district's extent, in the request's language
    assert_open311_error(post(client, settings, "xml", service_code=code, description="x" * 4001), 400,
                         "description", "4000")
    assert_open311_error(post(client, settings, service_code=code, colour="red"), 400, "colour")
    assert_open311_error(post(client, settings, service_code=code, media_url="ftp://x/y.jpg"), 400, "media_url")
    assert_open311_error(post(client, settings, service_code=code, email="e" * 101), 400, "email")
    assert_open311_error(post(client, settings, service_code=code, jurisdiction_id="000000"), 404,
                         "jurisdiction_id")
    resp = client.post(f"{BASE}/requests.json", json={"api_key": API_KEY, "service_code": code})
    assert_open311_error(resp, 400, "Content-Type")
    # An inactive client is refused like an unknown key.
    db_session.execute(sa.update(Open311Client).where(Open311Client.id == o311.id).values(active=False))
    db_session.commit()
    assert_open311_error(post(client, settings, service_code=code), 403, "api_key")
    assert count(db_session, "cases") == before


def test_attributes_are_accepted_and_idempotency_key_replays(client, db_session, o311, settings):
    code = some_codes(db_session, settings, 1)[0]
    headers = {"Idempotency-Key": "retry-1"}
    first = post(client, settings, service_code=code, headers=headers, **{"attribute[WHISPER]": "1"})
    again = post(client, settings, service_code=code, headers=headers, **{"attribute[WHISPER]": "1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert first.get_json() == again.get_json()
    assert count(db_session, "cases") == 1
    other = post(client, settings, service_code=code, headers=headers, description="另一件事")
    assert_open311_error(other, 400, "Idempotency-Key")
    assert count(db_session, "cases") == 1


# -- GET requests -------------------------------------------------------------------------


@pytest.fixture
def three(client, db_session, o311, settings, grid):
    """Three requests: A (first service), B (second service), C (first service, rejected)."""
    code_a, code_b = some_codes(db_session, settings, 2)
    numbers = []
    for code in (code_a, code_b, code_a):
        resp = post(client, settings, service_code=code)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        numbers.append(resp.get_json()[0]["service_request_id"])
    case_c = case_by_number(db_session, numbers[2])
    op = grid["users"]["operator"]
    case_service.perform_action(db_session, load_calendar(db_session), case_service.Caller.of(op),
                                Actor(op.id, op.username, "operator"), case_c, "reject", case_c.version,
                                {"note": "不属于城市管理范围"})
    db_session.commit()
    return {"numbers": numbers, "codes": (code_a, code_b)}


def ids(resp) -> list[str]:
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return [r["service_request_id"] for r in resp.get_json()]


def test_get_requests_fields_and_status_filter(client, three):
    a, b, c = three["numbers"]
    resp = client.get(f"{BASE}/requests.json")
    assert ids(resp) == [c, b, a]  # newest first
    assert resp.headers["X-Total-Count"] == "3"
    item = resp.get_json()[2]
    assert set(item) == {
        "service_request_id", "status", "status_notes", "service_name", "service_code", "description",
        "agency_responsible", "service_notice", "requested_datetime", "updated_datetime", "expected_datetime",
        "address", "address_id", "zipcode", "lat", "long", "media_url",
    }
    assert item["status"] == "open" and item["status_notes"] == "已受理，待核实"
    assert item["service_code"] == three["codes"][0] and item["description"] == "路面坑洞"
    assert item["agency_responsible"] is None and item["media_url"] is None
    assert item["requested_datetime"].endswith("+08:00") and item["expected_datetime"]
    assert item["lat"] == pytest.approx(34.77, abs=0.01) and item["long"] == pytest.approx(113.78, abs=0.01)
    rejected = client.get(f"{BASE}/requests/{c}.json").get_json()[0]
    assert rejected["status"] == "closed" and rejected["status_notes"] == "不属于城市管理范围"
    assert rejected["updated_datetime"] >= rejected["requested_datetime"]
    assert client.get(f"{BASE}/requests/{a}.json", query_string={"locale": "en"}).get_json()[0][
        "status_notes"] == "Received, awaiting review"

    assert ids(client.get(f"{BASE}/requests.json", query_string={"status": "closed"})) == [c]
    assert ids(client.get(f"{BASE}/requests.json", query_string={"status": "open"})) == [b, a]
    assert ids(client.get(f"{BASE}/requests.json", query_string={"status": "open,closed"})) == [c, b, a]
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"status": "fixed"}), 400, "status")


def test_get_requests_by_service_ids_and_paging(client, three):
    a, b, c = three["numbers"]
    code_a, code_b = three["codes"]
    assert ids(client.get(f"{BASE}/requests.json", query_string={"service_code": code_a})) == [c, a]
    assert ids(client.get(f"{BASE}/requests.json", query_string={"service_code": f"{code_a},{code_b}"})) == [c, b, a]
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"service_code": "X1"}), 400,
                         "service_code")
    # service_request_id overrides every other parameter (here: status).
    got = client.get(f"{BASE}/requests.json", query_string={"service_request_id": f"{a},{c},nope", "status": "open"})
    assert sorted(ids(got)) == sorted([a, c])
    pages = [ids(client.get(f"{BASE}/requests.json", query_string={"page": p, "page_size": 2})) for p in (1, 2, 3)]
    assert pages == [[c, b], [a], []]
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"page_size": 1001}), 400, "page_size")
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string={"page": 0}), 400, "page")


def test_get_requests_date_range(client, db_session, three):
    a, b, c = three["numbers"]
    old = datetime.now(timezone.utc) - timedelta(days=120)
    db_session.execute(sa.update(Case).where(Case.number == a).values(reported_at=old))
    db_session.commit()
    assert ids(client.get(f"{BASE}/requests.json")) == [c, b]  # default: the last 90 days
    window = {"start_date": (old - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ"),
              "end_date": (old + timedelta(days=1)).isoformat()}
    assert ids(client.get(f"{BASE}/requests.json", query_string=window)) == [a]
    assert ids(client.get(f"{BASE}/requests.json", query_string={"start_date": window["start_date"]})) == [a]
    assert ids(client.get(f"{BASE}/requests.json", query_string={"end_date": window["end_date"]})) == [a]
    assert ids(client.get(f"{BASE}/requests/{a}.json")) == [a]  # by id: no date window
    too_long = {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-06-01T00:00:00Z"}
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string=too_long), 400, "end_date", "90")
    backwards = {"start_date": "2026-06-01T00:00:00Z", "end_date": "2026-05-01T00:00:00Z"}
    assert_open311_error(client.get(f"{BASE}/requests.json", query_string=backwards), 400, "end_date")
    assert_open311_error(client.get(f"{BASE}/requests.xml", query_string={"start_date": "last week"}), 400,
                         "start_date")


def test_requests_in_xml_and_missing_request(client, three):
    a, b, c = three["numbers"]
    root = xml(client.get(f"{BASE}/requests.xml"))
    assert root.tag == "service_requests"
    requests = root.findall("request")
    assert [r.findtext("service_request_id") for r in requests] == [c, b, a]
    rejected = requests[0]
    assert rejected.findtext("status") == "closed"
    assert rejected.find("zipcode").text is None
    assert float(rejected.findtext("lat")) == pytest.approx(34.77, abs=0.01)
    one = xml(client.get(f"{BASE}/requests/{b}.xml"))
    assert [r.findtext("service_request_id") for r in one.findall("request")] == [b]
    assert_open311_error(client.get(f"{BASE}/requests/1999.json"), 404, "service_request_id")
    assert_open311_error(client.get(f"{BASE}/requests/1999.xml"), 404, "1999")


def test_unknown_paths_and_formats_answer_in_open311_format(client, o311):
    assert_open311_error(client.get(f"{BASE}/services.csv"), 404, "discovery")
    assert_open311_error(client.get(f"{BASE}/tokens/abc.xml"), 404, "tokens")
    assert client.get(f"{BASE}/").get_json()["endpoints"][0]["specification"].startswith("http://wiki.open311")


def test_a_standard_client_walk(client, db_session, o311, settings):
    """Discovery → services → post → get by id, with documented parameters only, in XML."""
    disco = xml(client.get(f"{BASE}/discovery.xml"))
    endpoint = disco.find("endpoints/endpoint")
    assert "text/xml" in [f.text for f in endpoint.findall("formats/format")]
    base = endpoint.findtext("url").removeprefix(settings.public_url)
    services = xml(client.get(f"{base}/services.xml"))
    service = next(s for s in services.findall("service") if s.findtext("metadata") == "false")
    code = service.findtext("service_code")
    lon, lat = inside(settings, 150, 50)
    created = client.post(f"{base}/requests.xml", data={
        "api_key": API_KEY, "service_code": code, "lat": f"{lat:.7f}", "long": f"{lon:.7f}",
        "address_string": "郑东新区 商务内环路", "email": "citizen@example.net", "first_name": "Li",
        "last_name": "Wei", "phone": "13700000000", "description": "井盖缺失",
        "media_url": "http://example.net/photo.jpg",
    })
    assert created.status_code == 201, created.get_data(as_text=True)
    number = xml(created).findtext("request/service_request_id")
    fetched = xml(client.get(f"{base}/requests/{number}.xml")).find("request")
    assert fetched.findtext("service_request_id") == number
    assert fetched.findtext("service_code") == code
    assert fetched.findtext("service_name") == service.findtext("service_name")
    assert fetched.findtext("status") == "open"
    assert fetched.findtext("description") == "井盖缺失"
    assert fetched.findtext("media_url") == "http://example.net/photo.jpg"
    assert float(fetched.findtext("lat")) == pytest.approx(lat, abs=1e-6)
    assert float(fetched.findtext("long")) == pytest.approx(lon, abs=1e-6)
    assert datetime.fromisoformat(fetched.findtext("requested_datetime")).tzinfo is not None
    assert "citizen@example.net" not in ET.tostring(fetched, encoding="unicode")
    assert case_by_number(db_session, number).cell_code == settings.district_code + "001001004"
