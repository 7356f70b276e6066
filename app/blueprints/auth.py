"""Sign in and out (pages) and API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session, url_for
from flask_babel import gettext as _

from ..db import get_session
from ..errors import BadRequest, TooManyRequests, Unauthorized
from ..security import current_actor, current_user, login_user
from ..services import accounts
from ..services.audit import Actor, record

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only same-site relative redirects after sign-in."""
    if target and urlsplit(target).netloc == "" and target.startswith("/") and not target.startswith("//"):
        return target
    return url_for("pages.index")


@bp.route("/login", methods=["GET", "POST"])
def login():
    """Show the sign-in form; on POST check the password and start a session."""
    error = None
    if request.method == "POST":
        username = (request.form.get("username") or "").strip()
        password = request.form.get("password") or ""
        db = get_session()
        if accounts.too_many_failures(db, username, request.remote_addr):
            error = _("Too many failed sign-ins. Wait 15 minutes and try again.")
            return render_template("login.html", error=error), 429
        user = accounts.authenticate(db, username, password)
        if user is None:
            error = _("Wrong username or password.")
            record(db, Actor(None, username[:64] or "?", None, None, request.remote_addr), "login.failed", "user", None)
            db.commit()
        else:
            login_user(user)
            record(db, Actor(user.id, user.username, user.role, None, request.remote_addr), "login", "user", user.id)
            db.commit()
            return redirect(_safe_next(request.args.get("next")))
    return render_template("login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    """End the session."""
    session.clear()
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
    if accounts.too_many_failures(db, data["username"], request.remote_addr):
        raise TooManyRequests("too many failed sign-ins for this user or address; wait 15 minutes")
    user = accounts.authenticate(db, data["username"], data["password"])
    if user is None:
        record(db, Actor(None, data["username"][:64], None, None, request.remote_addr), "token.failed", "user", None)
        db.commit()
        raise Unauthorized("wrong username or password")
    ttl = current_app.config["SETTINGS"].token_ttl_hours
    token, row = accounts.issue_token(db, user, ttl, label)
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
