"""Shared fixtures: a real PostGIS (never mocked), migrated once per session."""

from __future__ import annotations

import os

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.config import load_settings, local_database_url, normalize_db_url


def server_url() -> str:
    """URL of the PostgreSQL server the tests may create databases on."""
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    return normalize_db_url(url) if url else local_database_url(os.environ)


def database_url(name: str) -> str:
    """URL of database ``name`` on the test server.

    ``CITYGRID_TEST_DB_SUFFIX`` lets several test runs share one server without
    dropping each other's databases.
    """
    name += os.environ.get("CITYGRID_TEST_DB_SUFFIX", "")
    return make_url(server_url()).set(database=name).render_as_string(hide_password=False)


def fresh_database(name: str) -> str:
    """Drop and create database ``name``; return its URL."""
    from app.db import drop_database, ensure_database

    url = database_url(name)
    try:
        drop_database(url)
        ensure_database(url)
    except sa.exc.OperationalError as exc:
        # No skip: a test run without PostGIS is a failed run.
        pytest.fail(
            f"no PostgreSQL server answers at {make_url(url).render_as_string()}: {exc}\n"
            "Run `make test` (it starts the local cluster) or set TEST_DATABASE_URL.",
            pytrace=False,
        )
    return url


@pytest.fixture(scope="session")
def test_db_url() -> str:
    """A freshly migrated database for this test session."""
    from app.cli import run_migrations

    url = fresh_database("citygrid_test")
    run_migrations(url)
    return url


@pytest.fixture(scope="session")
def settings(test_db_url, tmp_path_factory):
    """Settings pointing at the test database."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("CITYGRID_") or k == "CITYGRID_PG_PORT"
    }
    env.update(
        DATABASE_URL=test_db_url,
        CITYGRID_ENV="test",
        CITYGRID_SECRET_KEY="test-secret-key-not-for-production",
        CITYGRID_DATA_DIR=str(tmp_path_factory.mktemp("var")),
    )
    return load_settings(env)


@pytest.fixture(scope="session")
def engine(settings):
    """Engine to the migrated test database."""
    from app.db import make_engine

    eng = make_engine(settings.database_url)
    yield eng
    eng.dispose()


@pytest.fixture
def db_session(engine):
    """A session whose work is rolled back after the test, even if the code commits."""
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
