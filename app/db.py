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


#: Seconds to wait for a new database connection (libpq ``connect_timeout``) unless the URL
#: says otherwise: a healthy server answers in milliseconds, and a request should fail fast
#: with 503 rather than hang on a dead network.
CONNECT_TIMEOUT = 5
#: SQLSTATEs (or their class) of a server that cannot serve now rather than of a bad
#: statement: connection exceptions, shutdown or start-up in progress, no connection slot left.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def make_engine(url: str | URL, **kw) -> sa.Engine:
    """Create an engine with pool settings suited to a WSGI worker."""
    kw.setdefault("pool_pre_ping", True)
    if "connect_timeout" not in make_url(url).query:
        kw["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT, **kw.get("connect_args", {})}
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


def database_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` means the database cannot be reached now, not that a statement is wrong.

    True for a connection the driver found broken (SQLAlchemy then invalidates it and the
    pool's other connections, so the next checkout connects afresh), a connection attempt
    that failed (no SQLSTATE: refused, reset, timed out), a server shutting down, starting up
    or out of connection slots, and a pool with no connection free within its timeout.
    Integrity, data and programming errors stay what they are.
    """
    if isinstance(exc, sa.exc.TimeoutError):
        return True
    if not isinstance(exc, sa.exc.DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    if not isinstance(exc, sa.exc.OperationalError):
        return False
    state = getattr(exc.orig, "sqlstate", None)
    return state is None or state.startswith(UNAVAILABLE_SQLSTATES)


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


def discard_session(*, rollback: bool = False) -> None:
    """Close the request's session, if one is open (a later :func:`get_session` opens another).

    A connection found broken here is already invalidated (the pool connects afresh next
    time), so a database outage is logged rather than raised: closing must not turn an
    answer that is already made into a 500.
    """
    session = g.pop("db_session", None)
    if session is None:
        return
    try:
        if rollback:
            session.rollback()
        session.close()
    except sa.exc.DBAPIError as error:
        if not database_unavailable(error):
            raise
        LOGGER.warning("database connection lost while closing the session: %s", error.orig)


def _close_session(exc: BaseException | None) -> None:
    discard_session(rollback=exc is not None)


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
