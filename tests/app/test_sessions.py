"""Server-side sessions: logout, password change and deactivation end them; tokens listed and revoked."""

from __future__ import annotations

import re

import sqlalchemy as sa

from app.models import ApiToken, AuditEntry, User, UserSession
from app.services import accounts
from app.services.audit import SYSTEM
from tests.app.conftest import PASSWORD, assert_problem, login, token_for

WEEK = {"windows": {d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}}


def _page_csrf(client) -> str:
    page = client.get("/map").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def _browser(app, cookie: str):
    """Another browser presenting a copy of a captured session cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other


def _audit(db_session, action):
    return db_session.scalars(sa.select(AuditEntry).where(AuditEntry.action == action)).all()


def test_a_cookie_captured_before_logout_is_refused_after_it(app, client, grid, db_session):
    assert login(client, "t_admin").status_code == 302
    csrf = _page_csrf(client)
    cookie = client.get_cookie("session").value
    # Before logout the copy works, for reads and for writes with the CSRF token.
    assert _browser(app, cookie).get("/api/v1/auth/me").status_code == 200
    resp = _browser(app, cookie).put("/api/v1/calendar/windows", json=WEEK, headers={"X-CSRFToken": csrf})
    assert resp.status_code == 200
    out = client.post("/logout", data={"csrf_token": csrf})
    assert out.status_code == 302 and "/login" in out.headers["Location"]
    # After it: API read 401, page read → sign-in, write refused (the CSRF token went with the session).
    assert_problem(_browser(app, cookie).get("/api/v1/auth/me"), 401)
    page = _browser(app, cookie).get("/map")
    assert page.status_code == 302 and "/login" in page.headers["Location"]
    resp = _browser(app, cookie).put("/api/v1/calendar/windows", json=WEEK, headers={"X-CSRFToken": csrf})
    assert resp.status_code in (400, 401), resp.get_data(as_text=True)
    assert len(_audit(db_session, "calendar.windows")) == 1
    row = db_session.scalar(sa.select(UserSession).where(UserSession.user_id == grid["users"]["admin"].id))
    assert row.ended_at is not None and row.end_reason == "logout"
    [logout] = _audit(db_session, "logout")
    assert logout.actor == "t_admin" and logout.ip == "127.0.0.1"
    assert logout.request_id == out.headers["X-Request-ID"]


def test_login_and_logout_are_audited_with_request_id_and_address(client, grid, db_session):
    resp = login(client, "t_inspector")
    [row] = _audit(db_session, "login")
    assert row.request_id == resp.headers["X-Request-ID"] and row.ip == "127.0.0.1"
    failed = login(client, "t_inspector", "wrong-password")
    [row] = _audit(db_session, "login.failed")
    assert row.request_id == failed.headers["X-Request-ID"]
    out = client.post("/logout", data={"csrf_token": _page_csrf(client)})
    [row] = _audit(db_session, "logout")
    assert row.actor_id == grid["users"]["inspector"].id
    assert row.request_id == out.headers["X-Request-ID"] and row.ip == "127.0.0.1"


def test_token_issue_is_audited_with_address_and_request_id(client, grid, db_session):
    resp = client.post("/api/v1/auth/token", json={"username": "t_inspector", "password": PASSWORD},
                       headers={"X-Request-ID": "phone-7.retry_2"})
    assert resp.status_code == 201
    [row] = _audit(db_session, "token.issue")
    assert row.ip == "127.0.0.1" and row.request_id == "phone-7.retry_2"


def test_password_change_ends_every_session_and_token(app, client, grid, db_session):
    user = grid["users"]["dispatcher"]
    login(client, "t_dispatcher")
    other = app.test_client()
    login(other, "t_dispatcher")
    token = token_for(client, "t_dispatcher")
    assert client.get("/api/v1/auth/me").status_code == 200
    # Requests close the shared session, so work on a freshly loaded user.
    accounts.set_password(db_session, SYSTEM, db_session.get(User, user.id), "a-new-password-2")
    db_session.commit()
    assert_problem(client.get("/api/v1/auth/me"), 401)
    assert_problem(other.get("/api/v1/auth/me"), 401)
    assert_problem(client.get("/api/v1/auth/me", headers=token), 401)
    assert db_session.scalar(sa.select(sa.func.count()).select_from(ApiToken)
                             .where(ApiToken.user_id == user.id, ApiToken.revoked.is_(False))) == 0
    [row] = _audit(db_session, "user.password")
    assert row.detail == {"sessions_ended": 2, "tokens_revoked": 1}
    # The new password works, the old one does not.
    assert client.post("/api/v1/auth/token", json={"username": "t_dispatcher", "password": PASSWORD}).status_code == 401
    assert token_for(client, "t_dispatcher", "a-new-password-2")


def test_deactivation_ends_sessions_and_revokes_tokens(client, grid, db_session):
    user = grid["users"]["leader"]
    login(client, "t_leader")
    token = token_for(client, "t_leader")
    accounts.set_active(db_session, SYSTEM, db_session.get(User, user.id), False)
    db_session.commit()
    assert_problem(client.get("/api/v1/auth/me"), 401)
    assert_problem(client.get("/api/v1/auth/me", headers=token), 401)
    assert db_session.scalar(sa.select(UserSession.end_reason).where(UserSession.user_id == user.id)) == "deactivated"
    # Reactivated, the old token stays revoked.
    accounts.set_active(db_session, SYSTEM, db_session.get(User, user.id), True)
    db_session.commit()
    assert_problem(client.get("/api/v1/auth/me", headers=token), 401)


def _issue(client, username, label):
    resp = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD, "label": label})
    assert resp.status_code == 201
    return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}


def _ids(client, headers) -> dict[str, int]:
    return {t["label"]: t["id"] for t in client.get("/api/v1/auth/tokens", headers=headers).get_json()["tokens"]}


def test_tokens_are_listed_without_secrets_and_revoked_by_owner_or_admin(client, grid, db_session):
    phone = _issue(client, "t_inspector", "phone")
    tablet = _issue(client, "t_inspector", "tablet")
    dispatcher = _issue(client, "t_dispatcher", "desk")
    admin = _issue(client, "t_admin", "admin")
    listed = client.get("/api/v1/auth/tokens", headers=phone).get_json()["tokens"]
    assert [t["label"] for t in listed] == ["tablet", "phone"]  # only the caller's, newest first
    assert set(listed[0]) == {"id", "label", "created_at", "last_used_at", "expires_at", "revoked"}
    secret = phone["Authorization"].split()[1]
    body = client.get("/api/v1/auth/tokens", headers=phone).get_data(as_text=True)
    assert secret not in body and accounts._token_digest(secret) not in body
    mine, desk = _ids(client, phone), _ids(client, dispatcher)["desk"]
    # Someone else's token: 404, as if it did not exist.
    assert_problem(client.delete(f"/api/v1/auth/tokens/{desk}", headers=phone), 404)
    assert_problem(client.delete("/api/v1/auth/tokens/999999", headers=phone), 404)
    assert client.get("/api/v1/auth/me", headers=dispatcher).status_code == 200
    # One's own: revoked at once, listed as revoked.
    assert client.delete(f"/api/v1/auth/tokens/{mine['tablet']}", headers=phone).status_code == 204
    assert_problem(client.get("/api/v1/auth/me", headers=tablet), 401)
    assert {t["label"]: t["revoked"] for t in client.get("/api/v1/auth/tokens", headers=phone).get_json()["tokens"]} \
        == {"tablet": True, "phone": False}
    # An admin may revoke anyone's.
    assert client.delete(f"/api/v1/auth/tokens/{desk}", headers=admin).status_code == 204
    assert_problem(client.get("/api/v1/auth/me", headers=dispatcher), 401)
    rows = _audit(db_session, "token.revoke")
    assert sorted((r.actor, r.entity_id) for r in rows) == sorted([("t_inspector", str(mine["tablet"])),
                                                                    ("t_admin", str(desk))])
    assert_problem(client.get("/api/v1/auth/tokens"), 401)


def test_revoking_over_a_cookie_session_needs_the_csrf_token(client, grid):
    headers = _issue(client, "t_inspector", "phone")
    login(client, "t_inspector")
    token_id = _ids(client, headers)["phone"]
    assert client.delete(f"/api/v1/auth/tokens/{token_id}").status_code == 400
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 200
    resp = client.delete(f"/api/v1/auth/tokens/{token_id}", headers={"X-CSRFToken": _page_csrf(client)})
    assert resp.status_code == 204


def test_a_session_row_is_the_only_thing_that_makes_a_cookie_valid(client, grid, db_session):
    login(client, "t_operator")
    assert client.get("/api/v1/auth/me").status_code == 200
    db_session.execute(sa.update(UserSession).values(expires_at=sa.func.now() - sa.text("interval '1 second'")))
    assert_problem(client.get("/api/v1/auth/me"), 401)
    assert db_session.get(User, grid["users"]["operator"].id).active


def test_a_session_lasts_the_cookie_lifetime_of_12_hours(client, grid, db_session):
    login(client, "t_inspector")
    row = db_session.scalar(sa.select(UserSession).where(UserSession.user_id == grid["users"]["inspector"].id))
    assert abs((row.expires_at - row.created_at).total_seconds() - 12 * 3600) < 1
    assert row.ip == "127.0.0.1" and row.ended_at is None
