"""One exception hierarchy mapped to RFC 9457 problem+json responses."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from flask import Flask, g, jsonify, request
from werkzeug.exceptions import HTTPException

from gis.errors import GisError
from grid.errors import GridError

LOGGER = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error that becomes an RFC 9457 problem document."""

    status = 500
    type_slug = "internal-error"
    title = "Internal server error"

    def __init__(self, detail: str, *, status: int | None = None, **extensions: Any):
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        self.extensions = extensions

    def to_dict(self) -> dict[str, Any]:
        """The problem document's members."""
        body = {
            "type": f"/problems/{self.type_slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        body.update(self.extensions)
        return body


class BadRequest(Problem):
    """A parameter is missing or malformed; ``field`` names it."""

    status = 400
    type_slug = "bad-request"
    title = "Bad request"

    def __init__(self, detail: str, *, field: str | None = None, **ext: Any):
        if field:
            ext["field"] = field
        super().__init__(detail, **ext)


class ValidationProblem(Problem):
    """The request is well-formed but its content fails validation."""

    status = 422
    type_slug = "validation-failed"
    title = "Validation failed"

    def __init__(self, detail: str, *, errors: list[dict] | None = None, **ext: Any):
        super().__init__(detail, errors=errors or [], **ext)


class Unauthorized(Problem):
    """No valid credentials."""

    status = 401
    type_slug = "unauthorized"
    title = "Authentication required"


class Forbidden(Problem):
    """The caller's role may not do this."""

    status = 403
    type_slug = "forbidden"
    title = "Not allowed for your role"


class NotFound(Problem):
    """The resource does not exist (or is not visible to the caller)."""

    status = 404
    type_slug = "not-found"
    title = "Not found"


class OutOfDistrict(NotFound):
    """A point lies outside every unit grid cell of the district."""

    type_slug = "out-of-district"
    title = "Location outside the district's unit grid"


class Conflict(Problem):
    """The request conflicts with the current state."""

    status = 409
    type_slug = "conflict"
    title = "Conflict"


class TooManyRequests(Problem):
    """The client must wait before trying again."""

    status = 429
    type_slug = "too-many-requests"
    title = "Too many requests"


class PayloadTooLarge(Problem):
    """The request body exceeds the configured limit."""

    status = 413
    type_slug = "payload-too-large"
    title = "Payload too large"


def _request_id() -> str:
    rid = getattr(g, "request_id", None)
    if rid is None:
        rid = request.headers.get("X-Request-ID") or uuid.uuid4().hex
        g.request_id = rid
    return rid


def encodable(value: Any) -> Any:
    """``value`` with every string made UTF-8 encodable (lone surrogates → ``\\udXXX``).

    Problems echo what the client sent (a field name, a path, a value in the detail); a
    lone surrogate from a JSON ``"\\ud800"`` would make the error response itself fail.
    """
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
        if wants_html():
            return _html_error(exc.status, exc.title, exc.detail)
        return problem_response(exc.to_dict())

    @app.errorhandler(GridError)
    @app.errorhandler(GisError)
    def _library(exc: Exception):
        return problem_response(ValidationProblem(str(exc)).to_dict())

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException):
        if exc.code == 413:
            return problem_response(
                PayloadTooLarge(
                    f"request body exceeds {app.config.get('MAX_CONTENT_LENGTH')} bytes"
                ).to_dict()
            )
        if wants_html():
            return _html_error(exc.code or 500, exc.name, exc.description or "")
        return problem_response(
            {
                "type": "about:blank",
                "title": exc.name,
                "status": exc.code,
                "detail": exc.description,
            }
        )

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        LOGGER.error("unhandled error on %s", request.path, exc_info=exc)
        detail = str(exc) if app.debug else "An unexpected error occurred; it has been logged."
        return problem_response(Problem(detail).to_dict())


def _html_error(status: int, title: str, detail: str):
    from flask import render_template

    return render_template("error.html", status=status, title=encodable(title), detail=encodable(detail)), status
