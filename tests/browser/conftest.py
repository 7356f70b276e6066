"""Browser fixtures: the app served on a loopback port over the small demo, and headless Chromium."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from ipaddress import ip_address
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from sqlalchemy.orm import Session

from app.config import load_settings
from tests.conftest import fresh_database

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Keep Chromium from phoning home, so "no request leaves the machine" is about our pages only.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DEMO_PASSWORD = "citygrid-demo"


def is_loopback(url: str) -> bool:
    """True for URLs the page may load: loopback hosts and data:/blob: URLs."""
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    host = parts.hostname or ""
    if host == "localhost":
        return True
    try:
        return ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(scope="session")
def browser_settings(tmp_path_factory):
    """Settings for a database holding the small demo, with no base-map tiles."""
    from app.cli import run_migrations
    from app.db import make_engine
    from app.demo import load_demo

    url = fresh_database("citygrid_browser")
    run_migrations(url)
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith("CITYGRID_") or k == "CITYGRID_PG_PORT"
    }
    env.update(
        DATABASE_URL=url,
        CITYGRID_ENV="test",
        CITYGRID_SECRET_KEY="browser-test-secret-key-not-for-production",
        CITYGRID_DATA_DIR=str(tmp_path_factory.mktemp("var")),
        CITYGRID_DEMO_PASSWORD=DEMO_PASSWORD,
    )
    settings = load_settings(env)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine) as session:
            load_demo(session, settings, size="small")
            session.commit()
    finally:
        engine.dispose()
    return settings


@contextmanager
def serving(settings, name: str = "live-server") -> Iterator[str]:
    """Serve the app with ``settings`` from a background thread on a free loopback port."""
    from werkzeug.serving import make_server

    from app import create_app

    app = create_app({"SETTINGS": settings})
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["citygrid.engine"].dispose()


@pytest.fixture(scope="session")
def live_server(browser_settings) -> Iterator[str]:
    """Base URL of the app served over the small demo."""
    with serving(browser_settings) as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """Headless Debian Chromium driven by Playwright (no browser download)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class PageRecorder:
    """A fresh browser page that records every request and console error it sees."""

    def __init__(self, page) -> None:
        self.page = page
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda req: self.requests.append(req.url))
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: self.errors.append(msg.text) if msg.type == "error" else None,
        )

    def outside_requests(self) -> list[str]:
        """Requests that went anywhere but loopback."""
        return [u for u in self.requests if not is_loopback(u)]


@pytest.fixture
def page(browser):
    """A new page in its own context (own cookies), 1280×800, Chinese browser language."""
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    try:
        yield PageRecorder(context.new_page())
    finally:
        context.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Folder for screenshots (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def sign_in(page, base: str, path: str, username: str) -> None:
    """Open ``path``, get sent to the sign-in form, sign in, land back on ``path``."""
    page.goto(base + path)
    page.fill("#username", username)
    page.fill("#password", DEMO_PASSWORD)
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url.startswith(base + path.split("?")[0]), page.url


def set_view(page, lat: float, lon: float, zoom: int, handle: str = "window.citygridMap.map") -> None:
    """Move a Leaflet map to ``lat, lon`` at ``zoom`` and wait until it is there.

    Leaflet silently drops a setView made while a zoom animation runs (the page's own
    fitBounds at start-up, say), so the view is asked for again until it holds.
    """
    page.wait_for_function(
        f"""([lat, lon, zoom]) => {{
            const m = {handle};
            const c = m.getCenter();
            if (m.getZoom() === zoom && Math.abs(c.lat - lat) < 1e-4 && Math.abs(c.lng - lon) < 1e-4) return true;
            if (!m._animatingZoom) m.setView([lat, lon], zoom, {{animate: false}});
            return false;
        }}""",
        arg=[lat, lon, zoom], polling=100, timeout=15_000,
    )
