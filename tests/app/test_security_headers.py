"""Response headers: a nonce Content-Security-Policy on pages, no-store on API answers, HSTS over HTTPS."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask import Response

from app import create_app
from app.csp import tile_source
from tests.app.conftest import login, token_for

NONCE = re.compile(r"script-src 'self' 'nonce-([A-Za-z0-9_-]+)'")


class _Scripts(HTMLParser):
    """The attributes of every <script> element, and every inline event-handler attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.handlers: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.scripts.append(dict(attrs))
        self.handlers += [f"<{tag} {name}>" for name, _ in attrs if name.startswith("on")]


def _scripts(html: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(html)
    return parser


def _nonce(resp) -> str:
    csp = resp.headers["Content-Security-Policy"]
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'self'", "frame-ancestors 'self'",
                      "form-action 'self'", "connect-src 'self'", "img-src 'self' data: blob:"):
        assert directive in csp, csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    match = NONCE.search(csp)
    assert match, csp
    return match.group(1)


def test_every_script_on_the_map_page_carries_the_request_nonce(client, grid):
    login(client, "t_inspector")
    first = client.get("/map")
    assert first.status_code == 200
    nonce = _nonce(first)
    page = _scripts(first.get_data(as_text=True))
    inline = [s for s in page.scripts if "src" not in s and s.get("type") != "application/json"]
    # folium's settings script in the head and its map script in the body.
    assert len(inline) >= 2
    assert all(s.get("nonce") == nonce for s in inline), inline
    assert all(s.get("nonce") == nonce for s in page.scripts if "src" in s and "leaflet" in s["src"])
    assert page.handlers == []
    # A fresh nonce for every answer.
    assert _nonce(client.get("/map")) != nonce


@pytest.mark.parametrize("path", ["/login", "/no-such-page"])
def test_pages_without_inline_script_still_carry_the_policy(client, path):
    resp = client.get(path, headers={"Accept": "text/html"})
    assert resp.mimetype == "text/html"
    assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
    assert _scripts(resp.get_data(as_text=True)).handlers == []


def test_the_base_map_tile_host_may_serve_images(settings, engine, db_session):
    tiles = settings.with_overrides(tile_url="https://{s}.tiles.example.org/{z}/{x}/{y}.png")
    app = create_app({"SETTINGS": tiles, "ENGINE": engine, "SESSION_FACTORY": lambda: db_session, "TESTING": True})
    csp = app.test_client().get("/login").headers["Content-Security-Policy"]
    assert "img-src 'self' data: blob: https://*.tiles.example.org;" in csp


def test_api_answers_are_not_stored(client, grid):
    token = client.post("/api/v1/auth/token", json={"username": "t_operator", "password": "test-password-1"})
    assert token.status_code == 201 and token.headers["Cache-Control"] == "no-store"
    headers = token_for(client, "t_operator")
    assert client.get("/api/v1/cases", headers=headers).headers["Cache-Control"] == "no-store"
    assert client.get("/api/v1/cases").headers["Cache-Control"] == "no-store"  # a 401 problem too
    assert client.get("/open311/v2/services.json").headers["Cache-Control"] == "no-store"
    # The API description is the same for everyone.
    assert "no-store" not in client.get("/api/v1/openapi.json").headers.get("Cache-Control", "")
    assert "Strict-Transport-Security" not in client.get("/login").headers


def test_hsts_when_the_session_cookie_is_secure(settings, engine, db_session):
    https = settings.with_overrides(session_cookie_secure=True)
    app = create_app({"SETTINGS": https, "ENGINE": engine, "SESSION_FACTORY": lambda: db_session, "TESTING": True})
    client = app.test_client()
    for path in ("/login", "/healthz"):
        assert client.get(path).headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_an_api_answer_that_asks_to_be_cached_stays_in_the_callers_cache(app):
    # Case photos answer like this (send_file with max_age): never in a shared cache.
    @app.get("/api/v1/test-cached")
    def cached():
        resp = Response(b"jpeg", mimetype="image/jpeg")
        resp.cache_control.public = True
        resp.cache_control.max_age = 86400
        return resp

    resp = app.test_client().get("/api/v1/test-cached")
    assert resp.cache_control.private and not resp.cache_control.public
    assert resp.cache_control.max_age == 86400


@pytest.mark.parametrize(("url", "source"), [
    ("https://{s}.tile.example.org/{z}/{x}/{y}.png", "https://*.tile.example.org"),
    ("https://tiles.example.org:8443/{z}/{x}/{y}.png", "https://tiles.example.org:8443"),
    ("https://t{s}.example.org/{z}/{x}/{y}.png", "https://*.example.org"),
    ("/tiles/{z}/{x}/{y}.png", None),
    (None, None),
])
def test_tile_source(url, source):
    assert tile_source(url) == source
