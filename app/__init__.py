"""citygrid Flask application factory."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask, g, request, session
from flask_babel import Babel, get_locale

from .config import LOCALES, ROOT, Settings, load_settings

#: Paths of the JSON APIs (ours and Open311): their answers get ``Cache-Control: no-store``.
API_PREFIXES = ("/api/", "/open311/")
#: API endpoints whose answer is the same for everyone and may be cached.
PUBLIC_API_ENDPOINTS = frozenset({"openapi.openapi"})


def select_locale() -> str:
    """The user's chosen language, else the browser's, else the deployment default."""
    chosen = session.get("lang")
    if chosen in LOCALES:
        return chosen
    user = getattr(g, "user", None)
    if user is not None and user.locale in LOCALES:
        return user.locale
    best = request.accept_languages.best_match(["zh", "zh_CN", "en"])
    if best and best.startswith("en"):
        return "en"
    if best and best.startswith("zh"):
        return "zh_CN"
    from flask import current_app

    return current_app.config["SETTINGS"].default_locale


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the application.

    ``config`` may hold ``SETTINGS`` (a :class:`Settings`), an ``ENGINE`` to share (tests),
    and any Flask config keys.
    """
    config = dict(config or {})
    settings: Settings = config.pop("SETTINGS", None) or load_settings()
    engine = config.pop("ENGINE", None)

    from .logconfig import configure_logging

    configure_logging(settings)

    app = Flask(
        __name__,
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(
        SETTINGS=settings,
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_upload_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.session_cookie_secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # Only a changed session is sent back: an API call finishing late must not
        # overwrite a cookie that a page just changed (e.g. the language switch).
        SESSION_REFRESH_EACH_REQUEST=False,
        JSON_AS_ASCII=False,
        BABEL_DEFAULT_LOCALE=settings.default_locale,
        BABEL_TRANSLATION_DIRECTORIES=str(ROOT / "app" / "translations"),
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.json.ensure_ascii = False
    app.config.update(config)

    from . import csp, db, errors, inbound, security
    from .blueprints import register_blueprints

    db.init_app(app, engine)
    errors.register_error_handlers(app)
    inbound.init_app(app)  # before the blueprints: their routes use the <id:…> converter
    security.init_app(app)
    csp.init_app(app)
    Babel(app, locale_selector=select_locale)
    # Flask-Babel 4 does not put get_locale into templates; base.html needs it.
    app.jinja_env.globals["get_locale"] = get_locale
    register_blueprints(app)

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "SAMEORIGIN")
        resp.headers.setdefault("Referrer-Policy", "same-origin")
        if resp.mimetype == "text/html":
            resp.headers.setdefault(
                "Content-Security-Policy",
                csp.policy(g.get("_csp_nonce"), app.config["SETTINGS"].tile_url),
            )
        if request.path.startswith(API_PREFIXES) and request.endpoint not in PUBLIC_API_ENDPOINTS:
            # Answers behind sign-in (cases, people, positions, photos) stay out of every cache;
            # one that asks to be cached (photos) may live in the caller's own cache only.
            if "Cache-Control" not in resp.headers:
                resp.headers["Cache-Control"] = "no-store"
            elif resp.cache_control.public:
                resp.cache_control.public = False
                resp.cache_control.private = True
        if app.config["SESSION_COOKIE_SECURE"]:
            # A Secure cookie means the site is served over HTTPS: browsers keep to it.
            resp.headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        return resp

    return app
