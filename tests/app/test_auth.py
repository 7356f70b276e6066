"""Sign-in, sessions, CSRF, API tokens, roles and the audit trail."""

import re

import pytest

import sqlalchemy as sa

from app.models import AuditEntry
from tests.app.conftest import PASSWORD, assert_problem, count, login, token_for


def test_password_is_hashed(grid):
    user = grid["users"]["inspector"]
    assert PASSWORD not in user.password_hash
    assert user.password_hash.startswith(("scrypt:", "pbkdf2:"))


def test_login_page_is_chinese_by_default_and_carries_csrf(client):
    page = client.get("/login").get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert "登录" in page


def test_login_with_password_starts_a_session(client, grid, db_session):
    resp = login(client, "t_inspector")
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    me = client.get("/api/v1/auth/me").get_json()
    assert me["username"] == "t_inspector" and me["role"] == "inspector"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "login")) == 1


def test_wrong_password_is_refused_and_audited(client, grid, db_session):
    resp = login(client, "t_inspector", "wrong-password")
    assert resp.status_code == 401
    assert "错误" in resp.get_data(as_text=True)
    assert client.get("/api/v1/auth/me").status_code == 401
    assert db_session.scalar(sa.select(sa.func.count()).select_from(AuditEntry).where(AuditEntry.action == "login.failed")) == 1


def test_login_without_csrf_token_is_refused(client, grid):
    resp = client.post("/login", data={"username": "t_inspector", "password": PASSWORD})
    assert resp.status_code == 400
    assert client.get("/api/v1/auth/me").status_code == 401


def test_open_redirect_is_not_followed(client, grid):
    page = client.get("/login?next=https://evil.example/")
    token = re.search(rb'name="csrf_token" value="([^"]+)"', page.data).group(1).decode()
    resp = client.post("/login?next=https://evil.example/",
                       data={"username": "t_inspector", "password": PASSWORD, "csrf_token": token})
    assert resp.headers["Location"] == "/"


def test_token_flow(client, grid, db_session):
    headers = token_for(client, "t_dispatcher")
    assert client.get("/api/v1/auth/me", headers=headers).get_json()["role"] == "dispatcher"
    row = db_session.execute(sa.text("SELECT token_hash FROM api_tokens")).scalar_one()
    assert headers["Authorization"].split()[1] not in row  # only the digest is stored
    assert count(db_session, "audit_log") >= 2  # import + token issue


def test_token_errors(client, grid):
    assert_problem(client.post("/api/v1/auth/token", json={"username": "t_inspector", "password": "nope"}), 401)
    assert_problem(client.post("/api/v1/auth/token", json={"username": "t_inspector"}), 400, field="password")
    assert_problem(client.post("/api/v1/auth/token", data="not json", content_type="application/json"), 400, field="body")
    assert_problem(client.get("/api/v1/auth/me", headers={"Authorization": "Bearer cg_bogus"}), 401)


def test_revoked_token_is_refused(client, grid, db_session):
    headers = token_for(client, "t_inspector")
    db_session.execute(sa.text("UPDATE api_tokens SET revoked = true"))
    assert_problem(client.get("/api/v1/auth/me", headers=headers), 401)


def test_map_page_requires_login(client, grid):
    resp = client.get("/map")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_unknown_api_path_is_problem_json(client):
    assert_problem(client.get("/api/v1/nothing-here"), 404)


def test_healthz_checks_postgis_without_showing_its_version(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok"}


def test_oversized_body_is_413(app, client, grid):
    app.config["MAX_CONTENT_LENGTH"] = 1000
    resp = client.post("/api/v1/auth/token", data="x" * 5000, content_type="application/json")
    assert_problem(resp, 413)


def test_repeated_failures_lock_sign_in_for_a_while(client, grid):
    for _ in range(10):
        assert client.post("/api/v1/auth/token", json={"username": "t_leader", "password": "guess"}).status_code == 401
    # Even the right password is refused now, on the API and the form.
    assert_problem(client.post("/api/v1/auth/token", json={"username": "t_leader", "password": PASSWORD}), 429)
    resp = login(client, "t_leader")
    assert resp.status_code == 429 and "15" in resp.get_data(as_text=True)


@pytest.mark.parametrize("role, home", [("inspector", "/map"), ("department", "/desk"), ("dispatcher", "/command"),
                                        ("leader", "/command"), ("tax_officer", "/map")])
def test_each_role_starts_on_its_page(client, grid, role, home):
    login(client, f"t_{role}")
    assert client.get("/").headers["Location"] == home


def test_a_long_client_request_id_is_replaced_and_the_write_succeeds(client, grid, db_session):
    admin = token_for(client, "t_admin")
    week = {"windows": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}
    resp = client.put("/api/v1/calendar/windows", json=week, headers={**admin, "X-Request-ID": "r" * 200})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    generated = resp.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", generated)
    row = db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == "calendar.windows")).one()
    assert row.request_id == generated
    # Unsafe characters are not echoed either; a short plain id is kept.
    assert client.get("/healthz", headers={"X-Request-ID": "a b;<x>"}).headers["X-Request-ID"] != "a b;<x>"
    assert client.get("/healthz", headers={"X-Request-ID": "phone-7.retry_2"}).headers["X-Request-ID"] == "phone-7.retry_2"
