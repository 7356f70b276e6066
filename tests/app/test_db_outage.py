"""The database goes away and comes back: 503 with Retry-After in each client's format, no 500,
and recovery without restarting the app.

The app reaches its committed database through a loopback proxy that the test cuts; the
shared test cluster keeps running.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
import sqlalchemy as sa
from flask import g, jsonify
from sqlalchemy.engine import make_url

from app import create_app
from app.db import database_unavailable, get_session, make_engine
from tests.app.conftest import PASSWORD, assert_problem, committed_database, login
from tests.tcpcut import CuttableProxy


@pytest.fixture(scope="module")
def outage(tmp_path_factory):
    """(app, proxy): an app whose only way to its database is the proxy."""
    with committed_database("citygrid_test_outage", tmp_path_factory, ("operator", "admin"), "o_") as (settings, _):
        real = make_url(settings.database_url)
        proxy = CuttableProxy(real.host, real.port)
        # A short connect timeout keeps the dead-network case fast.
        url = real.set(host="127.0.0.1", port=proxy.port, query={"connect_timeout": "2"})
        engine = make_engine(url)
        try:
            yield create_app({"SETTINGS": settings, "ENGINE": engine, "TESTING": True}), proxy
        finally:
            proxy.close()
            engine.dispose()


def signed_in(app, username):
    """A browser client with a session cookie."""
    browser = app.test_client()
    assert login(browser, username).status_code == 302
    return browser


def bearer(app, username):
    resp = app.test_client().post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 201, resp.get_json()
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def assert_unavailable_problem(resp):
    body = assert_problem(resp, 503)
    assert body["type"] == "/problems/service-unavailable"
    assert int(resp.headers["Retry-After"]) > 0
    return body


def assert_unavailable_page(resp, text):
    assert resp.status_code == 503, resp.get_data(as_text=True)[:500]
    assert resp.mimetype == "text/html"
    assert int(resp.headers["Retry-After"]) > 0
    assert text in resp.get_data(as_text=True)


def assert_open311_unavailable(resp, fmt):
    assert resp.status_code == 503, resp.get_data(as_text=True)[:500]
    assert int(resp.headers["Retry-After"]) > 0
    if fmt == "json":
        assert resp.mimetype == "application/json"
        [error] = resp.get_json()
        assert error["code"] == 503 and error["description"]
    else:
        assert resp.mimetype == "text/xml"
        assert re.search(r"<errors><error><code>503</code><description>[^<]+</description></error></errors>",
                         resp.get_data(as_text=True))


def test_a_database_outage_answers_503_everywhere_and_recovers_by_itself(outage):
    app, proxy = outage
    token = bearer(app, "o_operator")
    browser = signed_in(app, "o_operator")

    def sign_in_by_form():
        anonymous = app.test_client()
        page = anonymous.get("/login").get_data(as_text=True)  # the form itself needs no database
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        return anonymous.post("/login", data={"username": "o_operator", "password": PASSWORD, "csrf_token": csrf})

    def calls():
        """Every kind of client, each needing the database."""
        return {
            "api": app.test_client().get("/api/v1/cases", headers=token),
            "page": browser.get("/map"),
            "page_en": browser.get("/map", headers={"Accept-Language": "en"}),
            "login_signed_in": browser.get("/login"),
            "login_post": sign_in_by_form(),
            "open311_json": app.test_client().get("/open311/v2/requests.json"),
            "open311_xml": app.test_client().get("/open311/v2/requests.xml"),
            "healthz": app.test_client().get("/healthz"),
            "healthz_signed_in": browser.get("/healthz"),
        }

    before = calls()
    assert {k: r.status_code for k, r in before.items()} == {
        "api": 200, "page": 200, "page_en": 200, "login_signed_in": 200, "login_post": 302,
        "open311_json": 200, "open311_xml": 200, "healthz": 200, "healthz_signed_in": 200}

    proxy.cut()
    down = calls()
    assert_unavailable_problem(down["api"])
    for name in ("page", "login_signed_in", "login_post"):
        assert_unavailable_page(down[name], "服务暂时不可用")
    assert_unavailable_page(down["page_en"], "temporarily unavailable")
    assert_open311_unavailable(down["open311_json"], "json")
    assert_open311_unavailable(down["open311_xml"], "xml")
    assert_unavailable_problem(down["healthz"])
    assert_unavailable_problem(down["healthz_signed_in"])

    # A dead network (connections accepted, never answered) ends at the connect timeout.
    proxy.cut(hold=True)
    started = time.monotonic()
    assert_unavailable_problem(app.test_client().get("/api/v1/cases", headers=token))
    assert time.monotonic() - started < 10

    proxy.restore()
    after = calls()
    assert {k: r.status_code for k, r in after.items()} == {k: r.status_code for k, r in before.items()}
    assert after["api"].get_json()["total"] == before["api"].get_json()["total"]


def test_healthz_does_not_show_software_versions(outage):
    app, _ = outage
    for client in (app.test_client(), signed_in(app, "o_admin")):
        resp = client.get("/healthz")
        assert resp.status_code == 200
        assert resp.get_json() == {"status": "ok"}


def test_a_connection_lost_in_the_middle_of_a_request(outage):
    """At the commit → 503; after the answer is made → the answer stands; on a page whose
    caller can no longer be loaded → the outage page, without the caller."""
    app, proxy = outage
    # Views that lose the database half-way, on an app of their own (same settings and engine).
    probe = create_app({"SETTINGS": app.config["SETTINGS"], "ENGINE": app.extensions["citygrid.engine"],
                        "TESTING": True})

    def lose_then(step):
        db = get_session()
        db.execute(sa.text("SELECT 1"))
        proxy.cut()
        if step == "commit":
            db.execute(sa.text("SELECT 1"))
            db.commit()
        elif step == "page":
            db.expire(g.user)  # as after a rollback: rendering the caller needs the database
            db.execute(sa.text("SELECT 1"))
        return jsonify(done=step)

    probe.add_url_rule("/api/v1/probe/<step>", view_func=lose_then)
    probe.add_url_rule("/probe/<step>", view_func=lose_then)
    browser = signed_in(probe, "o_operator")
    try:
        assert_unavailable_problem(probe.test_client().get("/api/v1/probe/commit"))
        proxy.restore()
        answered = probe.test_client().get("/api/v1/probe/answer")
        assert answered.status_code == 200 and answered.get_json() == {"done": "answer"}
        proxy.restore()
        page = browser.get("/probe/page")
        assert_unavailable_page(page, "服务暂时不可用")
        assert "o_operator" not in page.get_data(as_text=True)
    finally:
        proxy.restore()
    assert probe.test_client().get("/healthz").status_code == 200


def test_only_a_database_that_cannot_serve_counts_as_an_outage(outage):
    """Real driver errors: statement errors stay defects (500); connection failures are 503."""
    app, _ = outage
    url = app.config["SETTINGS"].database_url

    def error_of(conn, sql, **params):
        with pytest.raises(sa.exc.SQLAlchemyError) as caught:
            conn.execute(sa.text(sql), params)
        conn.rollback()
        return caught.value

    engine = make_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as conn, engine.connect() as other:
        assert not database_unavailable(error_of(conn, "SELEC 1"))
        assert not database_unavailable(error_of(conn, "SELECT :t::text", t="a\x00b"))
        assert not database_unavailable(error_of(conn, "SELECT 1/0"))
        # Operational errors of a server that is serving: a statement or lock timeout.
        timeout = error_of(conn, "SET LOCAL statement_timeout = 1; SELECT pg_sleep(1)")
        other.execute(sa.text("SELECT pg_advisory_xact_lock(4242)"))
        lock = error_of(conn, "SET LOCAL lock_timeout = 1; SELECT pg_advisory_xact_lock(4242)")
        other.rollback()
        for error in (timeout, lock):
            assert isinstance(error, sa.exc.OperationalError) and not database_unavailable(error)
        pid = conn.scalar(sa.text("SELECT pg_backend_pid()"))
        other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        assert database_unavailable(error_of(conn, "SELECT 1"))  # terminated: the connection broke
    engine.dispose()

    closed = socket.create_server(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    refused = make_engine(make_url(url).set(port=port), poolclass=sa.pool.NullPool)
    with pytest.raises(sa.exc.OperationalError) as caught:
        refused.connect()
    assert database_unavailable(caught.value)

    busy = make_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.1)
    with busy.connect(), pytest.raises(sa.exc.TimeoutError) as caught:
        busy.connect()
    assert database_unavailable(caught.value)
    busy.dispose()
