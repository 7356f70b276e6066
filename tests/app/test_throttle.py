"""Sign-in and api_key guessing is throttled per account and per address, atomically."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from app import create_app
from app.models import AuditEntry, ThrottleCounter
from app.services import throttle
from tests.app.conftest import PASSWORD, assert_problem, login
from tests.app.test_case_concurrency import at_once
from tests.app.test_open311 import API_KEY, assert_open311_error, o311, post  # noqa: F401  (o311 is a fixture)


def _guess(client, username, password="wrong-guess", **headers):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password}, headers=headers)


@pytest.fixture(scope="module")
def live(settings):
    """An app on a committed database of its own (migrated, two users): each request of each
    thread has its own connection, as in production."""
    from sqlalchemy.orm import Session

    from app.cli import run_migrations
    from app.db import drop_database, make_engine
    from app.models import User
    from app.services.accounts import hash_password
    from tests.conftest import fresh_database

    url = fresh_database("citygrid_test_throttle")
    run_migrations(url)
    engine = make_engine(url)
    with Session(engine) as session:
        password_hash = hash_password(PASSWORD)
        session.add_all([User(username=f"th_{role}", display_name=role, password_hash=password_hash, role=role,
                              district_code=settings.district_code) for role in ("leader", "inspector", "dispatcher")])
        session.commit()
    try:
        yield create_app({"SETTINGS": settings.with_overrides(database_url=url), "ENGINE": engine,
                          "TESTING": True}), engine, url
    finally:
        engine.dispose()
        drop_database(url)


def test_40_parallel_wrong_guesses_evaluate_at_most_the_limit(live):
    app, engine, _ = live
    responses = at_once(*[(lambda: _guess(app.test_client(), "th_leader")) for _ in range(40)])
    codes = sorted(r.status_code for r in responses)
    assert codes.count(401) <= throttle.ACCOUNT.max_attempts and set(codes) == {401, 429}, codes
    refused = next(r for r in responses if r.status_code == 429)
    assert_problem(refused, 429)
    assert 0 < int(refused.headers["Retry-After"]) <= 15 * 60
    with engine.connect() as conn:
        evaluated = conn.scalar(sa.select(sa.func.count()).select_from(AuditEntry)
                                .where(AuditEntry.action == "token.failed", AuditEntry.actor == "th_leader"))
    assert evaluated == codes.count(401)
    # Locked: the right password does not get through either, on the API or the form.
    assert_problem(_guess(app.test_client(), "th_leader", PASSWORD), 429)
    form = login(app.test_client(), "th_leader")
    assert form.status_code == 429 and int(form.headers["Retry-After"]) > 0
    # Everyone shares this address (as behind one proxy): another account still signs in.
    assert _guess(app.test_client(), "th_inspector", PASSWORD).status_code == 201


def test_the_address_limit_is_higher_and_covers_every_account(client, grid, db_session):
    # Other people's failures from this address, short of the address limit: no effect.
    db_session.add(ThrottleCounter(key="address:127.0.0.1", window_start=sa.func.now(),
                                   attempts=throttle.ADDRESS.max_attempts - 1))
    db_session.commit()
    assert throttle.ADDRESS.max_attempts > throttle.ACCOUNT.max_attempts
    assert _guess(client, "t_inspector", PASSWORD).status_code == 201
    assert _guess(client, "t_operator").status_code == 401
    # Now the address is at its limit: every account from it waits, the right password too.
    resp = assert_problem(_guess(client, "t_dispatcher", PASSWORD), 429)
    assert "address" in resp["detail"]
    # A window that has passed starts over.
    db_session.execute(sa.update(ThrottleCounter).values(
        window_start=sa.func.now() - throttle.ADDRESS.window - sa.text("interval '1 second'")))
    db_session.commit()
    assert _guess(client, "t_dispatcher", PASSWORD).status_code == 201


def test_x_forwarded_for_is_ignored_unless_a_proxy_is_trusted(settings, engine, db_session, grid):
    def app_with(**overrides):
        return create_app({"SETTINGS": settings.with_overrides(**overrides), "ENGINE": engine,
                           "SESSION_FACTORY": lambda: db_session, "TESTING": True}).test_client()

    def seen(client):
        _guess(client, "t_nobody", **{"X-Forwarded-For": "203.0.113.9"})
        return db_session.scalars(sa.select(AuditEntry.ip).where(AuditEntry.action == "token.failed")
                                  .order_by(AuditEntry.id.desc())).first()

    assert seen(app_with()) == "127.0.0.1"
    assert db_session.get(ThrottleCounter, "address:203.0.113.9") is None
    assert seen(app_with(trusted_proxies=1)) == "203.0.113.9"
    assert db_session.get(ThrottleCounter, "address:203.0.113.9").attempts == 1


def test_open311_api_key_guessing_is_throttled_per_address(client, db_session, o311, settings):  # noqa: F811
    for i in range(throttle.OPEN311_KEY.max_attempts):
        assert_open311_error(post(client, settings, api_key=f"guess-{i:04d}-abcdef"), 403, "api_key")
    resp = post(client, settings, api_key="guess-last-abcdef")
    assert_open311_error(resp, 429, "api_key")
    assert int(resp.headers["Retry-After"]) > 0
    # The address waits, even with the right key.
    assert_open311_error(post(client, settings, api_key=API_KEY), 429, "api_key")


def test_cli_password_change_ends_sessions_and_tokens(live, tmp_path):
    from click.testing import CliRunner

    from app.cli import main as cli

    app, _, url = live
    browser = app.test_client()
    assert login(browser, "th_dispatcher").status_code == 302
    token = _guess(app.test_client(), "th_dispatcher", PASSWORD).get_json()["access_token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert browser.get("/api/v1/auth/me").status_code == 200
    env = {"DATABASE_URL": url, "CITYGRID_DATA_DIR": str(tmp_path), "CITYGRID_SECRET_KEY": "x" * 32}
    out = CliRunner().invoke(cli, ["user", "password", "th_dispatcher", "--password", "another-pass-9"], env=env)
    assert out.exit_code == 0, out.output
    assert_problem(browser.get("/api/v1/auth/me"), 401)
    assert_problem(app.test_client().get("/api/v1/auth/me", headers=bearer), 401)
    assert _guess(app.test_client(), "th_dispatcher", "another-pass-9").status_code == 201
    out = CliRunner().invoke(cli, ["user", "password", "nobody", "--password", "another-pass-9"], env=env)
    assert out.exit_code != 0 and "no user" in out.output
