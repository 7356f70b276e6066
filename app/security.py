"""Who is calling: server-side session (named by the signed cookie) or bearer token; role checks;
CSRF for cookie-authenticated writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from functools import wraps

import sqlalchemy as sa
from flask import Flask, current_app, g, redirect, request, session, url_for
from flask_babel import gettext
from flask_wtf.csrf import CSRFProtect
from sqlalchemy.orm import Session
from werkzeug.middleware.proxy_fix import ProxyFix

from .db import get_engine, get_session
from .errors import Forbidden, Unauthorized, wants_html
from .models import User
from .services import accounts
from .services.audit import Actor

csrf = CSRFProtect()

ALL_ROLES = (
    "inspector", "operator", "shift_leader", "dispatcher", "department",
    "tax_officer", "leader", "admin",
)


def init_app(app: Flask) -> None:
    """Load the caller before each request and enforce CSRF on cookie sessions."""
    # CSRF is checked here rather than by Flask-WTF's default hook, because requests that
    # carry a bearer token have no ambient credentials and need no CSRF token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    csrf.init_app(app)

    # X-Forwarded-For / -Proto are believed only from as many proxy hops as configured:
    # with none, a client cannot choose the address that throttling and the audit log see.
    hops = app.config["SETTINGS"].trusted_proxies
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=0, x_port=0, x_prefix=0)

    @app.before_request
    def _load_caller():
        g.user = None
        g.auth_via = None
        header = request.headers.get("Authorization", "")
        db = get_session()
        if header.startswith("Bearer "):
            found = accounts.caller_for_token(db, header[7:].strip())
            if found is None:
                raise Unauthorized("the bearer token is unknown, expired or revoked")
            g.user, g.auth_via = found[0], "token"
            _touch_if_stale(found[1].last_used_at, token_id=found[1].id)
            return None
        sid = session.get("sid")
        if sid is not None:
            found = accounts.caller_for_session(db, sid) if isinstance(sid, str) else None
            if found is not None:
                g.user, g.auth_via = found[0], "session"
                _touch_if_stale(found[1].last_seen_at, session_id=sid)
            else:
                # Ended or expired: forget everything, the CSRF token included.
                session.clear()
        elif "uid" in session:
            session.clear()  # a cookie from before server-side sessions
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.endpoint not in _CSRF_FREE:
            csrf.protect()
        return None


def _touch_if_stale(last: datetime | None, **which) -> None:
    """Record use of a session or token at most every few minutes, in its own short transaction,
    so that no request holds that row locked."""
    if last is not None and datetime.now(timezone.utc) - last < accounts.TOUCH_EVERY:
        return
    with Session(get_engine()) as own:
        accounts.touch(own, **which)
        own.commit()


# Endpoints that take credentials in the body and so have nothing for CSRF to protect.
_CSRF_FREE = {"auth.issue_token", "open311.create_request"}


def current_user() -> User | None:
    """The signed-in user, if any."""
    return getattr(g, "user", None)


def client_address() -> str | None:
    """The client's address as the app sees it (after ProxyFix, when configured)."""
    return request.remote_addr


def actor_for(user: User | None, name: str | None = None) -> Actor:
    """``user`` (or an anonymous ``name``) as an audit actor, with this request's id and address."""
    rid = getattr(g, "request_id", None)  # set first thing by app.errors
    ip = client_address()
    if user is None:
        return Actor(None, (name or "anonymous")[:64], None, rid, ip)
    return Actor(user.id, user.username, user.role, rid, ip)


def current_actor() -> Actor:
    """The caller as an audit actor."""
    return actor_for(current_user())


def login_user(user: User) -> None:
    """Start a server-side session for ``user`` and name it in a fresh cookie."""
    row = accounts.start_session(get_session(), user, current_app.permanent_session_lifetime, client_address(),
                                 request.headers.get("User-Agent"))
    session.clear()
    session["sid"] = row.id
    session.permanent = True


def logout_user() -> bool:
    """End the current cookie session server-side and clear the cookie; False if none."""
    sid = session.get("sid")
    session.clear()
    return isinstance(sid, str) and accounts.end_session(get_session(), sid, "logout")


def roles_required(*roles: str) -> Callable:
    """Allow the view only to signed-in users with one of ``roles`` (all roles if none)."""
    allowed: Iterable[str] = roles or ALL_ROLES

    def decorator(view: Callable) -> Callable:
        @wraps(view)
        def wrapper(*args, **kwargs):
            user = current_user()
            if user is None:
                if wants_html():
                    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
                raise Unauthorized(gettext("sign in, or send 'Authorization: Bearer <token>'"))
            if user.role not in allowed:
                # The caller's own role says why; the list of roles that may is not theirs to plan with.
                raise Forbidden(gettext("your role (%(role)s) may not use this", role=gettext(user.role)))
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(allowed)
        return wrapper

    return decorator


def user_by_name(username: str) -> User | None:
    """Look a user up by name (CLI and tests)."""
    return get_session().scalar(sa.select(User).where(User.username == username))
