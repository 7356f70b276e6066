"""Engine, one SQLAlchemy session per request, and database bootstrap helpers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from flask import Flask, current_app, g
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker

LOGGER = logging.getLogger(__name__)


def make_engine(url: str | URL, **kw) -> sa.Engine:
    """Create an engine with pool settings suited to a WSGI worker."""
    kw.setdefault("pool_pre_ping", True)
    if "poolclass" not in kw:
        kw.setdefault("pool_size", 10)
        kw.setdefault("max_overflow", 20)
    return sa.create_engine(url, **kw)


def ensure_database(url: str | URL) -> bool:
    """Create the database named in ``url`` when it does not exist; True if created."""
    url = make_url(url)
    admin = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            exists = conn.scalar(
                sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": url.database}
            )
            if exists:
                return False
            conn.execute(sa.text(f'CREATE DATABASE "{_ident(url.database)}"'))
            return True
    finally:
        admin.dispose()


def drop_database(url: str | URL) -> None:
    """Drop the database named in ``url`` if it exists (tests)."""
    url = make_url(url)
    admin = make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{_ident(url.database)}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _ident(name: str | None) -> str:
    """A database name safe to quote; names come from configuration, never requests."""
    if not name or not name.replace("_", "").isalnum():
        raise ValueError(f"database name {name!r}: letters, digits and _ only")
    return name


def init_app(app: Flask, engine: sa.Engine | None = None) -> None:
    """Attach an engine and session factory to the app; close sessions at teardown."""
    settings = app.config["SETTINGS"]
    engine = engine or make_engine(settings.database_url)
    app.extensions["citygrid.engine"] = engine
    # Tests pass SESSION_FACTORY to run every request inside their rolled-back transaction.
    app.extensions["citygrid.sessionmaker"] = app.config.get("SESSION_FACTORY") or sessionmaker(
        bind=engine, expire_on_commit=False
    )
    app.teardown_appcontext(_close_session)


def get_engine() -> sa.Engine:
    """The current app's engine."""
    return current_app.extensions["citygrid.engine"]


def get_session() -> Session:
    """The request's session, opened on first use."""
    if "db_session" not in g:
        factory = current_app.extensions["citygrid.sessionmaker"]
        g.db_session = factory()
    return g.db_session


def _close_session(exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        if exc is not None:
            session.rollback()
        session.close()


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session for CLI commands and jobs: commit on success, roll back on error."""
    session = Session(bind=engine, expire_on_commit=False)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()
