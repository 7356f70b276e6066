"""Hostile input answers 4xx naming the field and writes nothing (issue #9 points 10 and 12).

NUL and lone surrogates in any text, ids beyond bigint, mistyped action fields, deep JSON,
years and dates out of range, streamed bodies over the limit, and XML-forbidden characters
in stored text.
"""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from werkzeug.routing import IntegerConverter

from app.models import Case
from app.services.audit import SYSTEM
from app.services.categories import load_categories
from app.services.open311 import ensure_client
from app.services.workcal import seed_calendar
from tests.app.conftest import assert_problem, count, lonlat_of, origin_xy, token_for

API_KEY = "test-open311-key-0001"
CATEGORY = "E06010"
WRITTEN = ("cases", "case_events", "audit_log", "api_tokens")


@pytest.fixture
def api(grid, db_session, client, settings):
    """Categories, calendar, an Open311 client and tokens of the roles these tests use."""
    load_categories(db_session, SYSTEM, standards=(settings.category_standard,))
    seed_calendar(db_session, SYSTEM)
    ensure_client(db_session, SYSTEM, "test app", API_KEY)
    db_session.commit()
    x0, y0 = origin_xy(settings)
    tokens = {role: token_for(client, f"t_{role}") for role in ("operator", "inspector", "admin")}
    return {"tokens": tokens, "point": lonlat_of(settings, x0 + 50, y0 + 150)}


def rows(db_session) -> dict[str, int]:
    return {table: count(db_session, table) for table in WRITTEN}


def report(client, api, **fields):
    lon, lat = api["point"]
    body = {"lon": lon, "lat": lat, "category": CATEGORY, "description": "路边暴露垃圾一堆", **fields}
    return client.post("/api/v1/cases", json=body, headers=api["tokens"]["operator"])


def raw_json(text: str) -> dict:
    """Keyword arguments posting ``text`` as the JSON body (escapes such as \\ud800 kept)."""
    return {"data": text, "content_type": "application/json"}


# -- point 10: NUL and lone surrogates ---------------------------------------------------


def test_nul_and_lone_surrogates_are_400_naming_the_field(client, api, db_session):
    before = rows(db_session)
    op = api["tokens"]["operator"]
    lon, lat = api["point"]
    case_json = f'{{"lon": {lon}, "lat": {lat}, "category": "{CATEGORY}", "description": "垃圾"'
    attempts = [
        ("username", lambda: client.post("/api/v1/auth/token", json={"username": "t_\x00admin", "password": "x"})),
        ("password", lambda: client.post("/api/v1/auth/token",
                                         **raw_json('{"username": "t_admin", "password": "\\ud800"}'))),
        # The field name itself is echoed: the error response must survive it.
        ("\\ud800", lambda: client.post("/api/v1/auth/token", **raw_json('{"\\ud800": 1}'))),
        ("description", lambda: report(client, api, description="垃圾\x00")),
        ("address", lambda: client.post("/api/v1/cases", headers=op,
                                        **raw_json(case_json + ', "address": "\\udfff"}'))),
        ("reporter.name", lambda: client.post("/api/v1/cases", headers=op,
                                              **raw_json(case_json + ', "reporter": {"name": "\\ud83d"}}'))),
        ("description", lambda: client.post(
            "/api/v1/cases", headers=op, content_type="multipart/form-data",
            data={"data": case_json.replace('"垃圾"', '"\\ud800"') + "}"})),
        ("q", lambda: client.get("/api/v1/categories", query_string={"q": "暴露\x00"}, headers=op)),
        ("code", lambda: client.get("/api/v1/grid/cells/4101990010%00", headers=op)),
    ]
    for field, attempt in attempts:
        body = assert_problem(attempt(), 400, field)
        json.dumps(body, ensure_ascii=False).encode()  # what it echoes is encodable
    assert rows(db_session) == before


def test_open311_nul_answers_in_its_own_format_and_stores_nothing(client, api, db_session):
    before = rows(db_session)
    lon, lat = api["point"]
    resp = client.post("/open311/v2/requests.xml", data={
        "api_key": API_KEY, "service_code": CATEGORY, "lat": str(lat), "long": str(lon), "description": "坑\x00"})
    assert resp.status_code == 400 and resp.mimetype == "text/xml"
    error = ET.fromstring(resp.data).find("error")  # parses: the echoed NUL is not in the XML
    assert error.findtext("code") == "400" and error.findtext("description").startswith("description")
    resp = client.get("/open311/v2/requests.json", query_string={"status": "open\x00"})
    assert resp.status_code == 400 and resp.get_json()[0]["description"].startswith("status")
    assert rows(db_session) == before


# -- point 10: ids, action fields, deep JSON, years and dates ------------------------------


BIG = "99999999999999999999"  # > 2^63 - 1


def test_path_ids_beyond_the_key_range_are_404(client, api):
    for method, path in [
        ("get", f"/api/v1/cases/{BIG}"),
        ("post", f"/api/v1/cases/{BIG}/actions"),
        ("get", f"/api/v1/cases/1/photos/{BIG}"),
        ("get", f"/api/v1/cameras/{BIG}"),
        ("delete", f"/api/v1/buildings/{BIG}"),
        ("patch", f"/api/v1/components/{BIG}"),
        ("get", f"/api/v1/pipelines/{BIG}"),
        ("get", f"/api/v1/categories/{BIG}"),
        ("get", f"/api/v1/cases/{2**63}"),
        ("get", "/api/v1/cases/0"),
        # integer (not bigint) keys end at 2^31 - 1
        ("get", f"/api/v1/cameras/{2**31}"),
        ("patch", f"/api/v1/buildings/{2**31}"),
        ("get", f"/api/v1/categories/{2**31}"),
        ("delete", f"/api/v1/routing-rules/{2**31}"),
    ]:
        assert_problem(getattr(client, method)(path, headers=api["tokens"]["admin"], json={}), 404)


def test_every_integer_path_variable_is_a_bounded_id(app):
    """New routes must use <id:…> (<bigid:…> for bigint keys): a bare <int:…> lets 2^64 reach
    PostgreSQL (a 500)."""
    from app.inbound import IdConverter

    loose = [f"{rule.rule} ({name})" for rule in app.url_map.iter_rules()
             for name, conv in rule._converters.items()
             if isinstance(conv, IntegerConverter) and not isinstance(conv, IdConverter)]
    assert loose == []


def test_query_and_body_ids_beyond_the_key_range_are_400(client, api):
    for raw in (BIG, str(2**31)):
        resp = client.get("/api/v1/routing-rules", query_string={"category_id": raw}, headers=api["tokens"]["admin"])
        assert_problem(resp, 400, "category_id")
    assert_problem(report(client, api, category=2**31), 400, "category")
    assert_problem(report(client, api, category=2**63 + 1), 400, "category")


def test_mistyped_action_fields_are_400_and_change_nothing(client, api, db_session):
    reported = report(client, api).get_json()["case"]
    verifying = report(client, api).get_json()["case"]
    verifying = client.post(f"/api/v1/cases/{verifying['id']}/actions", headers=api["tokens"]["operator"],
                            json={"action": "send_verify", "version": verifying["version"],
                                  "inspector": "t_inspector"}).get_json()["case"]
    before = rows(db_session)
    for case, role, action, extra in [
        (reported, "operator", "send_verify", {"inspector": ["t_inspector"]}),
        (reported, "operator", "send_verify", {"inspector": 5}),
        (reported, "operator", "accept", {"department": {"code": "municipal_roads"}}),
        (reported, "operator", "mark_duplicate", {"duplicate_of": 2**64, "note": "重复"}),
        (verifying, "inspector", "verify", {"outcome": ["confirmed"]}),
        (verifying, "inspector", "verify", {"outcome": {"confirmed": True}}),
    ]:
        resp = client.post(f"/api/v1/cases/{case['id']}/actions", headers=api["tokens"][role],
                           json={"action": action, "version": case["version"], **extra})
        assert_problem(resp, 400, next(iter(extra)))
        assert db_session.scalar(sa.select(Case.version).where(Case.id == case["id"])) == case["version"]
    assert rows(db_session) == before


def test_json_nested_5000_deep_is_400(client, api, db_session):
    before = rows(db_session)
    for path in ("/api/v1/auth/token", "/api/v1/cases"):
        deep = '{"description": ' + "[" * 5000 + "]" * 5000 + "}"
        assert_problem(client.post(path, headers=api["tokens"]["operator"], **raw_json(deep)), 400, "body")
        moderately = '{"description": ' + "[" * 40 + "]" * 40 + "}"  # parses, still too deep
        assert_problem(client.post(path, headers=api["tokens"]["operator"], **raw_json(moderately)), 400, "body")
    assert rows(db_session) == before


def test_years_and_dates_out_of_range_are_400(client, api):
    for year in ("-1", "0", "10000", "abc"):
        resp = client.get("/api/v1/calendar", query_string={"year": year}, headers=api["tokens"]["admin"])
        assert_problem(resp, 400, "year")
    resp = client.get("/api/v1/cases", query_string={"from": "9999-12-31T23:59:59-12:00"},
                      headers=api["tokens"]["operator"])
    assert_problem(resp, 400, "from")
    assert_problem(client.put("/api/v1/calendar/days/0001-01-01", json={"kind": "holiday"},
                              headers=api["tokens"]["admin"]), 400, "date")
    for query, field in [
        ({"start_date": "9999-12-31T23:59:59-12:00"}, "start_date"),
        ({"end_date": "0001-01-01T00:00:00+14:00"}, "end_date"),
        ({"start_date": "2099-12-01T00:00:00Z", "end_date": "9999-01-01"}, "end_date"),
    ]:
        resp = client.get("/open311/v2/requests.json", query_string=query)
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert resp.get_json()[0]["description"].startswith(field)


# -- point 12: streamed bodies over the limit, XML-forbidden characters --------------------


def streamed(client, api, body: bytes, content_type: str, url: str = "/api/v1/cases"):
    """POST with a chunked body (no Content-Length), as a proxy streams it."""
    return client.post(url, input_stream=io.BytesIO(body),
                       headers={**api["tokens"]["operator"], "Transfer-Encoding": "chunked",
                                "Content-Type": content_type},
                       environ_overrides={"wsgi.input_terminated": True})


def test_streamed_body_over_the_limit_is_413(client, api, app, db_session):
    """A chunked body larger than MAX_CONTENT_LENGTH: 413 (it was read truncated: a 400)."""
    before = rows(db_session)
    app.config["MAX_CONTENT_LENGTH"] = 4096
    lon, lat = api["point"]
    small = json.dumps({"lon": lon, "lat": lat, "category": CATEGORY, "description": "流式上报"}).encode()
    large = json.dumps({"lon": lon, "lat": lat, "category": CATEGORY, "description": "长" * 5000}).encode()
    for content_type in ("application/json", "multipart/form-data; boundary=x"):
        assert_problem(streamed(client, api, large, content_type), 413)
    form = f"api_key={API_KEY}&service_code={CATEGORY}&lat={lat}&long={lon}&description={'x' * 5000}".encode()
    resp = streamed(client, api, form, "application/x-www-form-urlencoded", "/open311/v2/requests.json")
    assert resp.status_code == 413 and resp.get_json()[0]["code"] == 413  # Open311's error format
    assert rows(db_session) == before
    resp = streamed(client, api, small, "application/json")  # within the limit: read whole
    assert resp.status_code == 201, resp.get_json()


def test_control_characters_in_stored_text_keep_open311_xml_valid(client, api):
    created = report(client, api, description="井盖\x01缺失\x1b[0m\ufffe", address="商务\x0b内环路").get_json()
    number = created["case"]["number"]
    for path in ("/open311/v2/requests.xml", f"/open311/v2/requests/{number}.xml"):
        resp = client.get(path)
        assert resp.status_code == 200
        request = next(r for r in ET.fromstring(resp.data).findall("request")
                       if r.findtext("service_request_id") == number)
        assert request.findtext("description") == "井盖缺失[0m"
        assert request.findtext("address") == "商务内环路"
    # JSON carries the stored text as it is.
    assert client.get(f"/open311/v2/requests/{number}.json").get_json()[0]["description"].startswith("井盖\x01")


# -- point 8: absolute URLs from the configured public URL ---------------------------------


def test_open311_media_url_uses_the_public_url_not_the_host_header(client, api, settings):
    from tests.app.test_cases_api import jpeg

    lon, lat = api["point"]
    data = {"data": json.dumps({"lon": lon, "lat": lat, "category": CATEGORY, "description": "有照片"}),
            "photos": [(io.BytesIO(jpeg()), "p.jpg")]}
    created = client.post("/api/v1/cases", data=data, content_type="multipart/form-data",
                          headers=api["tokens"]["operator"])
    assert created.status_code == 201, created.get_json()
    number = created.get_json()["case"]["number"]
    item = client.get(f"/open311/v2/requests/{number}.json", headers={"Host": "evil.example"}).get_json()[0]
    assert item["media_url"].startswith(f"{settings.public_url}/api/v1/cases/"), item["media_url"]


# -- "Done when": a bounded fuzz over the JSON API's string, number and id parameters -------

#: Values that broke or nearly broke parsers, mixed into the generated ones.
NASTY = ["", " ", "\x00", "-1", "0", "1e400", "-1e400", "NaN", "inf", "99999999999999999999", "1,2,3,4",
         "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00+14:00", "\x1b[0m", "<x>&", "'; --", "2026-02-30"]
#: Query parameters of GET endpoints (the layer contract, filters, paging).
GETS = {
    "/api/v1/grid/locate": ["lon", "lat", "crs"],
    "/api/v1/grid/cells": ["bbox", "limit", "offset", "crs"],
    "/api/v1/cases": ["state", "from", "to", "page", "page_size", "department", "category", "light", "cell"],
    "/api/v1/categories": ["q", "kind", "standard"],
    "/api/v1/routing-rules": ["category_id", "department"],
    "/api/v1/calendar": ["year"],
    "/api/v1/buildings": ["bbox", "bbox-crs", "limit", "offset"],
    "/api/v1/buildings/at": ["lon", "lat", "crs"],
    "/api/v1/cameras": ["bbox", "limit", "offset", "status"],
    "/api/v1/pipelines": ["bbox", "cell", "limit", "class"],
    "/api/v1/pipelines/near": ["lon", "lat", "radius", "crs"],
    "/api/v1/components": ["bbox", "limit", "offset"],
    "/open311/v2/requests.json": ["start_date", "end_date", "status", "service_code", "service_request_id",
                                  "page", "page_size"],
}
#: Path templates with an id (or code) in them.
PATHS = ["/api/v1/cases/{}", "/api/v1/cameras/{}", "/api/v1/buildings/{}", "/api/v1/pipelines/{}",
         "/api/v1/components/{}", "/api/v1/categories/{}", "/api/v1/grid/cells/{}",
         "/api/v1/calendar/days/{}", "/open311/v2/requests/{}.xml", "/api/v1/cases/1/photos/{}"]
#: JSON bodies' fields by endpoint (the case under test gets {case} filled in).
BODIES = {
    "/api/v1/cases": ["lon", "lat", "crs", "category", "description", "address", "urgency", "reporter",
                      "camera_id", "self_handled"],
    "/api/v1/cases/{case}/actions": ["action", "version", "note", "outcome", "department", "inspector",
                                     "hours", "duplicate_of"],
    "/api/v1/auth/token": ["username", "password", "label"],
    "/api/v1/inspectors/me/position": ["lon", "lat", "crs", "on_duty"],
}
OPEN311_POST = ["service_code", "lat", "long", "address_string", "description", "email", "first_name",
                "media_url", "jurisdiction_id"]


def test_fuzzed_parameters_never_answer_5xx(client, api):
    """Hypothesis, derandomized and bounded (~200 requests): every answer is below 500."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    case = report(client, api).get_json()["case"]
    text = st.one_of(st.sampled_from(NASTY), st.text(max_size=20))
    integer = st.one_of(st.integers(min_value=-5, max_value=10**6), st.integers(min_value=2**31 - 2, max_value=2**31 + 2),
                        st.integers(min_value=2**63 - 2, max_value=2**66))
    number = st.one_of(integer, st.floats(allow_nan=True, allow_infinity=True))
    query_value = st.one_of(text, number.map(str))
    scalar = st.one_of(text, number, st.booleans(), st.none(), st.sampled_from(["\ud800", "a\udfff"]))
    value = st.recursive(scalar, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
                         max_leaves=6)

    def bounded(examples):
        return settings(max_examples=examples, derandomize=True, database=None, deadline=None,
                        suppress_health_check=list(HealthCheck), print_blob=False)

    def fields(names, values):
        return st.fixed_dictionaries({}, optional={name: values for name in names})

    def check(resp):
        assert resp.status_code < 500, (resp.request.path, resp.get_data(as_text=True))

    @bounded(70)
    @given(st.sampled_from(sorted(GETS)).flatmap(lambda url: st.tuples(st.just(url), fields(GETS[url], query_value))))
    def query(example):
        url, args = example
        check(client.get(url, query_string=args, headers=api["tokens"]["admin"]))

    @bounded(40)
    @given(st.sampled_from(PATHS), st.one_of(query_value, integer))
    def path(template, raw):
        check(client.get(template.format(quote(str(raw), safe="")), headers=api["tokens"]["admin"]))

    @bounded(70)
    @given(st.sampled_from(sorted(BODIES)).flatmap(lambda url: st.tuples(st.just(url), fields(BODIES[url], value))))
    def body(example):
        url, data = example
        role = "inspector" if "inspectors" in url else "operator"
        # ensure_ascii: lone surrogates travel as \ud800 escapes, as a client would send them
        check(client.post(url.format(case=case["id"]), headers=api["tokens"][role],
                          **raw_json(json.dumps(data, ensure_ascii=True))))

    @bounded(30)
    @given(fields(OPEN311_POST, query_value))
    def open311(form):
        check(client.post("/open311/v2/requests.json", data={"api_key": API_KEY, **form}))

    for probe in (query, path, body, open311):
        probe()
