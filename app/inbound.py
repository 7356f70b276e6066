"""What every request's input must satisfy before a view reads it.

One place for the rules that no endpoint may forget: text that PostgreSQL and UTF-8 can
hold (query, form and path values), JSON bodies of bounded depth whose numbers fit the
database, path ids within the bigint range, and streamed bodies within the size limit.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, request
from flask import json as flask_json
from flask.wrappers import Request
from werkzeug.exceptions import NotFound, RequestEntityTooLarge
from werkzeug.routing import IntegerConverter
from werkzeug.wsgi import LimitedStream

from . import params
from .errors import BadRequest

#: No request body of this system nests deeper (a GeoJSON Feature needs 6 levels).
MAX_JSON_DEPTH = 32
#: JSON integers must fit PostgreSQL's bigint, the widest integer column.
MIN_INT, MAX_INT = -(2**63), 2**63 - 1


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not JSON")


def load_json(raw: str | bytes, field: str = "body") -> Any:
    """Parse a JSON document and check every key and value in it.

    Raises
    ------
    ValueError
        The text is not JSON (NaN and Infinity are not JSON either).
    BadRequest
        It nests deeper than :data:`MAX_JSON_DEPTH` (naming ``field``), or a string holds
        NUL or a lone surrogate, or an integer exceeds 64 bits (naming the member's path,
        e.g. ``reporter.name`` or ``windows.mon[0]``).
    """
    try:
        document = json.loads(raw, parse_constant=_refuse_constant)
    except RecursionError:  # Python's parser recurses: ~1000 levels exhaust the stack
        document, depth_exceeded = None, True
    else:
        depth_exceeded = False
    if depth_exceeded:
        raise BadRequest(f"'{field}' nests deeper than {MAX_JSON_DEPTH} levels", field=field)
    # Iterative walk: the document may be nearly as deep as the parser allowed.
    stack: list[tuple[Any, str, int]] = [(document, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"'{field}' nests deeper than {MAX_JSON_DEPTH} levels", field=field)
        if isinstance(value, dict):
            for key, item in value.items():
                member = f"{path}.{key}" if path else key
                params.check_text(key, member)
                stack.append((item, member, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            params.check_text(value, path or field)
        elif isinstance(value, int) and not isinstance(value, bool) and not MIN_INT <= value <= MAX_INT:
            raise BadRequest(f"'{path or field}' is a whole number beyond 64 bits", field=path or field)
    return document


class _BodyJSON:
    """``json_module`` of requests: ``request.get_json`` parses with :func:`load_json`."""

    @staticmethod
    def loads(raw: str | bytes, **_: Any) -> Any:
        return load_json(raw)

    dumps = staticmethod(flask_json.dumps)


class GuardedRequest(Request):
    """Flask's request, with checked JSON bodies and streamed bodies held to the size limit."""

    @property
    def json_module(self):
        """Bodies are parsed by :func:`load_json` (``get_json`` calls ``json_module.loads``)."""
        return _BodyJSON

    @json_module.setter
    def json_module(self, _value) -> None:
        # Flask's request context assigns app.json here; keep the checked loader.
        pass

    def _check_streamed_size(self) -> None:
        # Werkzeug reads a body without Content-Length (chunked) up to max_content_length
        # and then stops silently: the view would see a truncated body (a 400 for bad JSON
        # or a half form). Reaching the limit means the body was larger: 413.
        stream = self.stream
        if (self.content_length is None and self.max_content_length is not None
                and isinstance(stream, LimitedStream) and stream.limit == self.max_content_length
                and stream.is_exhausted):
            raise RequestEntityTooLarge()

    def get_data(self, cache: bool = True, as_text: bool = False, parse_form_data: bool = False):  # type: ignore[override]
        data = super().get_data(cache=cache, as_text=as_text, parse_form_data=parse_form_data)
        self._check_streamed_size()
        return data

    def _load_form_data(self) -> None:
        # Checked when first read, so that a refused request's body is never parsed.
        super()._load_form_data()
        self._check_streamed_size()
        check_texts(self.form)


class IdConverter(IntegerConverter):
    """``<id:name>``: the id of an ``integer`` key, 1 to 2^31-1; any other number is a 404.

    ``<bigid:name>`` is the same for ``bigint`` keys (cases, photos, components). A number
    beyond the column's range would reach PostgreSQL and fail there (a 500). The 404 is
    raised here rather than by not matching: werkzeug checks methods before converters,
    so a non-match would be a 405 on some routes and a 404 on others.
    """

    largest = params.MAX_INT_ID

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 1 <= number <= self.largest:
            raise NotFound(f"no resource has id {value[:40]}: ids run from 1 to {self.largest}")
        return number


class BigIdConverter(IdConverter):
    """``<bigid:name>``: the id of a ``bigint`` key, 1 to 2^63-1."""

    largest = params.MAX_ID


def check_texts(values) -> None:
    """Refuse NUL / lone surrogates in any name or value of a mapping (400 naming it)."""
    items = values.items(multi=True) if hasattr(values, "getlist") else values.items()
    for name, value in items:
        params.check_text(name, name[:64])
        if isinstance(value, str):
            params.check_text(value, name)


def _check_path_and_query() -> None:
    # Form fields are checked when the form is parsed (GuardedRequest._load_form_data).
    check_texts(request.view_args or {})
    check_texts(request.args)


def init_app(app: Flask) -> None:
    """Install the request class, the ``id``/``bigid`` converters and the text check."""
    app.request_class = GuardedRequest
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["bigid"] = BigIdConverter
    app.before_request(_check_path_and_query)
