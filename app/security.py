"""Who is calling: session or bearer token; role checks; CSRF for cookie-authenticated writes."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps

import sqlalchemy as sa
from flask import Flask, g, redirect, request, session, url_for
from flask_wtf.csrf import CSRFProtect

from .db import get_session
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

    @app.before_request
    def _load_caller():
        g.user = None
        g.auth_via = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            user = accounts.user_for_token(get_session(), header[7:].strip())
            if user is None:
                raise Unauthorized("the bearer token is unknown, expired or revoked")
            g.user, g.auth_via = user, "token"
            return None
        uid = session.get("uid")
        if uid is not None:
            user = get_session().get(User, uid)
            if user is not None and user.active and session.get("pw") == user.password_hash[-16:]:
                g.user, g.auth_via = user, "session"
            else:
                session.clear()
        if request.method not in ("GET", "HEAD", "OPTIONS") and request.endpoint not in _CSRF_FREE:
            csrf.protect()
        return None


# Endpoints that take credentials in the body and so have nothing for CSRF to protect.
_CSRF_FREE = {"auth.issue_token", "open311.create_request"}


def current_user() -> User | None:
    """The signed-in user, if any."""
    return getattr(g, "user", None)


def current_actor() -> Actor:
    """The caller as an audit actor."""
    user = current_user()
    rid = getattr(g, "request_id", None)
    ip = request.remote_addr
    if user is None:
        return Actor(None, "anonymous", None, rid, ip)
    return Actor(user.id, user.username, user.role, rid, ip)


def login_user(user: User) -> None:
    """Start a session for ``user``; a password change ends older sessions."""
    session.clear()
    session["uid"] = user.id
    session["pw"] = user.password_hash[-16:]
    session.permanent = True


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
                raise Unauthorized("sign in, or send 'Authorization: Bearer <token>'")
            if user.role not in allowed:
                raise Forbidden(
                    f"role {user.role!r} may not use this; allowed: {', '.join(allowed)}"
                )
            return view(*args, **kwargs)

        wrapper.allowed_roles = tuple(allowed)
        return wrapper

    return decorator


def user_by_name(username: str) -> User | None:
    """Look a user up by name (CLI and tests)."""
    return get_session().scalar(sa.select(User).where(User.username == username))
