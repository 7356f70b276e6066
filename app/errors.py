"""One exception hierarchy mapped to RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
import re
import uuid
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import Flask, g, jsonify, request
from flask_babel import get_locale, gettext
from werkzeug.exceptions import HTTPException

from gis.errors import GisError
from grid.errors import GridError

from .db import database_unavailable, discard_session

LOGGER = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue; it is translated when the answer is built.

    Problem titles are class attributes, defined before any request has a language.
    """
    return message


class Message:
    """A problem text kept as catalogue msgid + named values, translated when the answer is built.

    Services raise problems without Flask; this lets them still answer in the request's
    language. Outside a request it reads as the English msgid.

    Examples
    --------
    >>> str(Message(N_("case %(number)s has changed"), number="2026120800001"))
    'case 2026120800001 has changed'
    """

    def __init__(self, msgid: str, **values: Any):
        self.msgid = msgid
        self.values = values

    def __str__(self) -> str:
        return gettext(self.msgid, **self.values)

    def __repr__(self) -> str:
        return f"Message({self.msgid!r}, **{self.values!r})"


class Problem(Exception):
    """An error that becomes an RFC 9457 problem document."""

    status = 500
    type_slug = "internal-error"
    title = N_("Internal server error")
    #: Response headers that go with this problem (e.g. Retry-After).
    headers: dict[str, str] = {}

    def __init__(self, detail: str | Message, *, status: int | None = None, **extensions: Any):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.extensions = extensions

    def to_dict(self) -> dict[str, Any]:
        """The problem document's members; the title in the request's language."""
        body = {
            "type": f"/problems/{self.type_slug}",
            "title": gettext(self.title),
            "status": self.status,
            "detail": str(self.detail),
        }
        body.update(self.extensions)
        return body


class BadRequest(Problem):
    """A parameter is missing or malformed; ``field`` names it."""

    status = 400
    type_slug = "bad-request"
    title = N_("Bad request")

    def __init__(self, detail: str, *, field: str | None = None, **ext: Any):
        if field:
            ext["field"] = field
        super().__init__(detail, **ext)


class ValidationProblem(Problem):
    """The request is well-formed but its content fails validation."""

    status = 422
    type_slug = "validation-failed"
    title = N_("Validation failed")

    def __init__(self, detail: str, *, errors: list[dict] | None = None, **ext: Any):
        super().__init__(detail, errors=errors or [], **ext)


class Unauthorized(Problem):
    """No valid credentials."""

    status = 401
    type_slug = "unauthorized"
    title = N_("Authentication required")


class Forbidden(Problem):
    """The caller's role may not do this."""

    status = 403
    type_slug = "forbidden"
    title = N_("Not allowed for your role")


class NotFound(Problem):
    """The resource does not exist (or is not visible to the caller)."""

    status = 404
    type_slug = "not-found"
    title = N_("Resource not found")


class OutOfDistrict(NotFound):
    """A point lies outside every unit grid cell of the district."""

    type_slug = "out-of-district"
    title = N_("Location outside the district's unit grid")


class Conflict(Problem):
    """The request conflicts with the current state."""

    status = 409
    type_slug = "conflict"
    title = N_("Conflict")


class TooManyRequests(Problem):
    """The client must wait before trying again."""

    status = 429
    type_slug = "too-many-requests"
    title = N_("Too many requests")

    def __init__(self, detail: str, *, retry_after: int | None = None, **ext: Any):
        #: Seconds to wait, sent as the Retry-After header.
        self.retry_after = retry_after
        if retry_after is not None:
            ext["retry_after"] = retry_after
            self.headers = {"Retry-After": str(retry_after)}
        super().__init__(detail, **ext)


class ServiceUnavailable(Problem):
    """A service the answer needs (the database) cannot be reached now; retry shortly."""

    status = 503
    type_slug = "service-unavailable"
    title = N_("Service temporarily unavailable")
    #: A few seconds: long enough for a restart or fail-over, short enough for a person.
    headers = {"Retry-After": "5"}


def unavailable_problem(exc: BaseException) -> ServiceUnavailable | None:
    """The 503 problem for a database outage (see :func:`app.db.database_unavailable`), else None."""
    if isinstance(exc, ServiceUnavailable):
        return exc
    if not database_unavailable(exc):
        return None
    LOGGER.warning("database unavailable on %s: %s", request.path, getattr(exc, "orig", None) or exc)
    # Translated when answered: choosing the language may need the caller, so not before the
    # handler has forgotten the failed session's state.
    return ServiceUnavailable(Message(N_("the database cannot be reached right now; try again in a few seconds")))


class PayloadTooLarge(Problem):
    """The request body exceeds the configured limit."""

    status = 413
    type_slug = "payload-too-large"
    title = N_("Payload too large")


class RequestTimeout(Problem):
    """The client did not send its request body in time."""

    status = 408
    type_slug = "request-timeout"
    title = N_("Request timeout")


#: A client's X-Request-ID is kept only if it is this short and plain (it is logged, echoed and
#: stored in varchar(64) audit columns); anything else is replaced by a generated id.
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id_from(client_value: str | None) -> str:
    """The request id to use: the client's ``X-Request-ID`` if it is short and plain, else a new one.

    Examples
    --------
    >>> request_id_from("phone-42.7")
    'phone-42.7'
    >>> len(request_id_from("x" * 65))
    32
    """
    if client_value and _CLIENT_REQUEST_ID.fullmatch(client_value):
        return client_value
    return uuid.uuid4().hex


def _request_id() -> str:
    rid = getattr(g, "request_id", None)
    if rid is None:
        rid = g.request_id = request_id_from(request.headers.get("X-Request-ID"))
    return rid


def encodable(value: Any) -> Any:
    """``value`` with every string made UTF-8 encodable (lone surrogates → ``\\udXXX``).

    Problems echo what the client sent (a field name, a path, a value in the detail); a
    lone surrogate from a JSON ``"\\ud800"`` would make the error response itself fail.
    A :class:`Message` becomes its text in the request's language.
    """
    if isinstance(value, Message):
        value = str(value)
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {encodable(k): encodable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable(v) for v in value]
    return value


def problem_response(body: dict[str, Any]):
    """Turn a problem dict into a Flask response with the right media type."""
    body.setdefault("instance", request.path)
    body["request_id"] = _request_id()
    body = encodable(body)
    resp = jsonify(body)
    resp.status_code = body["status"]
    resp.mimetype = PROBLEM_JSON
    return resp


def wants_html() -> bool:
    """Whether the client is a browser asking for a page rather than the API."""
    if request.path.startswith(("/api/", "/open311/", "/ogcapi/", "/tiles/", "/healthz")):
        return False
    # Pages answer HTML unless the client explicitly prefers JSON.
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best != "application/json" or not request.accept_mimetypes


def register_error_handlers(app: Flask) -> None:
    """Map every error to problem+json (or a plain error page for browsers)."""

    @app.before_request
    def _assign_request_id():
        _request_id()

    @app.after_request
    def _echo_request_id(resp):
        resp.headers["X-Request-ID"] = _request_id()
        return resp

    @app.errorhandler(Problem)
    def _problem(exc: Problem):
        if isinstance(exc, ServiceUnavailable):
            _forget_database_state()
        if wants_html():
            body, status = _html_error(exc.status, exc.title, exc.detail)
            return body, status, exc.headers
        resp = problem_response(exc.to_dict())
        resp.headers.update(exc.headers)
        return resp

    @app.errorhandler(GridError)
    @app.errorhandler(GisError)
    def _library(exc: Exception):
        return problem_response(ValidationProblem(str(exc)).to_dict())

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 413:
            return problem_response(
                PayloadTooLarge(
                    gettext("request body exceeds %(limit)s bytes", limit=app.config.get("MAX_CONTENT_LENGTH"))
                ).to_dict()
            )
        if wants_html():
            return _html_error(exc.code or 500, exc.name, exc.description or "")
        if exc.code == 404:
            # No route: the most common API mistake a page can make, so said in its language.
            title, detail = gettext("Resource not found"), gettext("Nothing is at this address.")
        else:
            title, detail = exc.name, exc.description
        return problem_response({"type": "about:blank", "title": title, "status": exc.code, "detail": detail})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        unavailable = unavailable_problem(exc)
        if unavailable is not None:
            return _problem(unavailable)
        LOGGER.error("unhandled error on %s", request.path, exc_info=exc)
        _choose_language_without_database()
        detail = str(exc) if app.debug else gettext("An unexpected error occurred; it has been logged.")
        return problem_response(Problem(detail).to_dict())


def _same_site_referrer() -> str | None:
    """The page the visitor came from, when it is one of ours and not this one (the Back link)."""
    ref = request.referrer
    if not ref:
        return None
    parts = urlsplit(ref)
    if parts.netloc != request.host or parts.scheme not in ("http", "https") or parts.path == request.path:
        return None
    return ref


def _html_error(status: int, title: str, detail: str):
    """The error page: 403 and 404 say in the page's language what the visitor can do next.

    Their problem detail (which names roles or ids, in English) is for API clients and logs,
    not for a person who followed a link.
    """
    from flask import render_template

    page = render_template("error.html", status=status, title=encodable(gettext(title)), detail=encodable(detail),
                           back=_same_site_referrer(), user=getattr(g, "user", None))
    return page, status


def _choose_language_without_database() -> None:
    """Fix this request's language now without loading anything (the session may be broken).

    The caller's own choice counts only when it is already in memory; else the cookie's or
    the browser's language is used.
    """
    user = getattr(g, "user", None)
    hide = user is not None and "locale" not in sa.inspect(user).dict
    if hide:
        g.user = None
    try:
        get_locale()
    finally:
        if hide:
            g.user = user


def _forget_database_state() -> None:
    """Answer an outage without the database: close the request's session, forget the caller.

    The failed session's objects may be expired, and loading them again would fail again,
    now inside the error handler; so the page renders as for a visitor, in the language
    already chosen for this request (the caller's, when it is known without the database).
    """
    discard_session()
    _choose_language_without_database()  # chosen and kept for this request while the caller is still known
    g.user = None
