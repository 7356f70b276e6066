"""Sign in and out (pages) and API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..db import get_session
from ..errors import BadRequest, NotFound, TooManyRequests, Unauthorized
from ..security import actor_for, client_address, current_actor, current_user, login_user, logout_user, roles_required
from ..services import accounts, throttle
from ..services.audit import record

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after sign-in."""
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.index")


def _throttled(db, username: str) -> int | None:
    """Count this sign-in attempt per account and per address; seconds to wait if refused.

    Committed at once, so that parallel attempts see each other's counts.
    """
    wait = throttle.reserve(db, _attempt_keys(username))
    db.commit()
    return wait


def _attempt_keys(username: str) -> list[tuple[throttle.Limit, str]]:
    return [(throttle.ACCOUNT, username[:64]), (throttle.ADDRESS, client_address() or "?")]


def _signed_in(db, username: str) -> None:
    """A correct password gives its counted attempt back."""
    throttle.release(db, _attempt_keys(username))


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on POST check the password and start a session."""
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        db = get_session()
        wait = _throttled(db, username)
        if wait is not None:
            error = _("Too many failed sign-ins. Wait 15 minutes and try again.")
            return render_template("login.html", error=error), 429, {"Retry-After": str(wait)}
        user = accounts.authenticate(db, username, password)
        if user is None:
            error = _("Wrong username or password.")
            record(db, actor_for(None, username or "?"), "login.failed", "user", None)
            db.commit()
        else:
            _signed_in(db, username)
            login_user(user)
            record(db, actor_for(user), "login", "user", user.id)
            db.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    """End the session, server-side: the cookie (and its CSRF token) is worthless afterwards."""
    user = current_user()
    db = get_session()
    if logout_user() and user is not None:
        record(db, actor_for(user), "logout", "user", user.id)
    db.commit()
    return redirect(url_for("auth.login"))


@bp.get("/lang/<code>")
def set_language(code: str):
    """Switch the interface language (zh_CN or en) for this browser session."""
    if code in ("zh_CN", "en"):
        session["lang"] = code
    return redirect(_safe_next(request.args.get("next")))


@bp.post("/api/v1/auth/token")
def issue_token():
    """Exchange a username and password for a bearer token."""
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object with 'username' and 'password'", field="body")
    for field in ("username", "password"):
        if not isinstance(data.get(field), str) or not data[field]:
            raise BadRequest(f"'{field}' is required and must be a string", field=field)
    label = data.get("label")
    if label is not None and (not isinstance(label, str) or len(label) > 100):
        raise BadRequest("'label' must be a string of at most 100 characters", field="label")
    db = get_session()
    wait = _throttled(db, data["username"])
    if wait is not None:
        raise TooManyRequests("too many failed sign-ins for this user or address; wait and try again",
                              retry_after=wait)
    user = accounts.authenticate(db, data["username"], data["password"])
    if user is None:
        record(db, actor_for(None, data["username"]), "token.failed", "user", None)
        db.commit()
        raise Unauthorized("wrong username or password")
    _signed_in(db, data["username"])
    ttl = current_app.config["SETTINGS"].token_ttl_hours
    token, row = accounts.issue_token(db, user, ttl, label, actor=actor_for(user))
    db.commit()
    return (
        jsonify(
            {
                "access_token": token,
                "token_type": "Bearer",
                "expires_at": row.expires_at.isoformat(),
                "user": {"username": user.username, "role": user.role},
            }
        ),
        201,
    )


@bp.get("/api/v1/auth/me")
def me():
    """Who the caller is."""
    user = current_user()
    if user is None:
        raise Unauthorized("sign in, or send 'Authorization: Bearer <token>'")
    return jsonify(
        {
            "username": user.username,
            "display_name": user.display_name,
            "role": user.role,
            "department": user.department.code if user.department else None,
            "actor": current_actor().name,
        }
    )


def _token_json(row) -> dict:
    return {
        "id": row.id,
        "label": row.label,
        "created_at": row.created_at.isoformat(),
        "last_used_at": row.last_used_at.isoformat() if row.last_used_at else None,
        "expires_at": row.expires_at.isoformat(),
        "revoked": row.revoked,
    }


@bp.get("/api/v1/auth/tokens")
@roles_required()
def list_tokens():
    """The caller's own API tokens (never their secret)."""
    return jsonify({"tokens": [_token_json(t) for t in accounts.tokens_of(get_session(), current_user())]})


@bp.delete("/api/v1/auth/tokens/<id:token_id>")
@roles_required()
def revoke_token(token_id: int):
    """Revoke one of the caller's tokens (an admin: anyone's)."""
    db = get_session()
    if accounts.revoke_token(db, current_actor(), current_user(), token_id) is None:
        raise NotFound(f"no token {token_id} of yours")
    db.commit()
    return "", 204
