"""Time the command centre and department desk on a loaded demo (issue #4: "fast with 1 M cases").

Run from the repository root after ``citygrid demo --size large``:
``.venv/bin/python bench/pages.py [--database-url URL] [--repeat N] [--browser]``.

Requests go through the real application (Flask, auth, ORM, PostGIS) in this process via
the test client, signed in with bearer tokens of the demo accounts, so network and
gunicorn are left out and the figures are the server's own cost. As a baseline the same
run times the bare SQL that any implementation must run at least once: fetching the open
cases (with the columns the light needs) and the desk's first page. With ``--browser``,
headless Chromium also opens /command and /desk and reports the time until the list and
map are drawn (what a user waits for).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OPEN_STATES_SQL = ("'reported','verifying','pending_filing','filed','dispatched','processing',"
                   "'suspended','handled','checking','pending_close'")
BASELINE_OPEN = f"""
SELECT id, number, state, stage, stage_deadline, stage_limit_minutes, stage_limit_unit, suspended_at,
       cell_code, ST_X(ST_Transform(geom, 4326)), ST_Y(ST_Transform(geom, 4326))
FROM cases WHERE state IN ({OPEN_STATES_SQL})
"""
BASELINE_DESK = """
SELECT id, number, state, stage_deadline FROM cases
WHERE department_id = :dept AND state IN ('dispatched', 'processing')
ORDER BY stage_deadline NULLS LAST, id LIMIT 50
"""


def _stats(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    return f"median {statistics.median(ms):7.1f} ms  p95 {p95:7.1f} ms  (n={len(ms)})"


def _time(fn, repeat: int) -> list[float]:
    fn()  # warm caches (calendar, reference rows, cell shapes) as a running server has them
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="defaults to DATABASE_URL or the local cluster's citygrid database")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--browser", action="store_true", help="also time the pages in headless Chromium")
    args = parser.parse_args(argv)

    import sqlalchemy as sa

    from app import create_app
    from app.config import load_settings

    env = dict(os.environ)
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    env.setdefault("CITYGRID_SECRET_KEY", "bench-pages-secret-key-not-for-production")
    settings = load_settings(env)
    app = create_app({"SETTINGS": settings})
    client = app.test_client()
    password = os.environ.get("CITYGRID_DEMO_PASSWORD", "citygrid-demo")

    def token(username: str) -> dict[str, str]:
        resp = client.post("/api/v1/auth/token", json={"username": username, "password": password})
        if resp.status_code != 201:
            raise SystemExit(f"cannot sign in as {username}: {resp.get_json()}")
        return {"Authorization": f"Bearer {resp.get_json()['access_token']}"}

    engine = app.extensions["citygrid.engine"]
    with engine.connect() as conn:
        total = conn.scalar(sa.text("SELECT count(*) FROM cases"))
        open_n = conn.scalar(sa.text(f"SELECT count(*) FROM cases WHERE state IN ({OPEN_STATES_SQL})"))
        dept = conn.execute(sa.text(
            "SELECT d.id, d.code FROM users u JOIN departments d ON d.id = u.department_id "
            "WHERE u.username = 'department1'")).one()
        bounds = conn.execute(sa.text(
            "SELECT ST_XMin(b), ST_YMin(b), ST_XMax(b), ST_YMax(b) FROM "
            "(SELECT ST_Extent(ST_Transform(geom, 4326))::geometry AS b FROM cells WHERE valid_to IS NULL) e"
        )).one()
        one_case = conn.scalar(sa.text(
            "SELECT id FROM cases WHERE department_id = :d ORDER BY id DESC LIMIT 1"), {"d": dept.id})
    print(f"database: {settings.database_url.rsplit('@', 1)[-1]}: {total:,} cases, {open_n:,} open")

    dispatcher, department = token("dispatcher1"), token("department1")
    w, s, e, n = bounds
    cx, cy = (w + e) / 2, (s + n) / 2
    district = f"{w},{s},{e},{n}"
    block = f"{cx - 0.004},{cy - 0.003},{cx + 0.004},{cy + 0.003}"

    def get(url: str, headers: dict[str, str]):
        def run():
            resp = client.get(url, headers=headers)
            if resp.status_code != 200:
                raise SystemExit(f"{url}: {resp.status_code} {resp.get_data(as_text=True)[:300]}")
            return resp
        return run

    cases_district = get(f"/api/v1/command/cases?bbox={district}&zoom=13", dispatcher)
    body = cases_district().get_json()
    print(f"command view, whole district: map {body['map']['mode']} ({body['map']['total']:,} cases in view, "
          f"{len(body['map']['cells'] or []):,} cells coloured), list page of {len(body['list']['items'])}")

    rows = [
        ("GET /api/v1/command/cases (whole district, zoom 13)", cases_district),
        ("GET /api/v1/command/cases (one block, zoom 17)", get(f"/api/v1/command/cases?bbox={block}&zoom=17",
                                                                dispatcher)),
        ("GET /api/v1/command/cases?light=red&sort=deadline", get(
            f"/api/v1/command/cases?bbox={district}&zoom=13&light=red&sort=deadline", dispatcher)),
        ("GET /command (page)", get("/command", dispatcher)),
        ("GET /desk/data?tab=dispatched (department1)", get("/desk/data?tab=dispatched", department)),
        ("GET /desk/data?tab=all&page=20 (department1)", get("/desk/data?tab=all&page=20", department)),
        ("GET /desk (page)", get("/desk", department)),
        (f"GET /api/v1/cases/{one_case} (detail + timeline)", get(f"/api/v1/cases/{one_case}", dispatcher)),
    ]
    with engine.connect() as conn:
        baseline = [
            ("baseline SQL: every open case with its clock columns",
             lambda: conn.execute(sa.text(BASELINE_OPEN)).all()),
            ("baseline SQL: desk first page",
             lambda: conn.execute(sa.text(BASELINE_DESK), {"dept": dept.id}).all()),
        ]
        results = [(name, _time(fn, args.repeat)) for name, fn in baseline]
    results += [(name, _time(fn, args.repeat)) for name, fn in rows]
    width = max(len(name) for name, _ in results)
    for name, samples in results:
        print(f"{name:<{width}}  {_stats(samples)}")
    base_open = statistics.median(results[0][1])
    cmd = statistics.median(results[2][1])
    print(f"command view / baseline open-case query: {cmd / base_open:.1f}× the bare SQL time")

    if args.browser:
        _browser(app, settings, password)
    return 0


def _browser(app, settings, password: str) -> None:
    """Time /command and /desk until drawn, in headless Debian Chromium."""
    import threading

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    import logging

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access log lines in the report
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            for user, path, ready in (
                ("dispatcher1", "/command",
                 "window.citygridCommand && document.querySelectorAll('.cmd-row').length > 0"),
                ("department1", "/desk",
                 "window.citygridDesk && window.citygridDesk.state.loads >= 1 && !window.citygridDesk.state.loading"),
            ):
                times = []
                for _ in range(3):
                    ctx = browser.new_context(viewport={"width": 1600, "height": 900})
                    page = ctx.new_page()
                    page.goto(f"{base}/login?next={path}")
                    page.fill("input[name=username]", user)
                    page.fill("input[name=password]", password)
                    t0 = time.perf_counter()
                    page.click("button[type=submit]")
                    page.wait_for_function(ready, timeout=60_000)
                    page.wait_for_load_state("networkidle")
                    times.append(time.perf_counter() - t0)
                    ctx.close()
                print(f"browser {path:<9} sign-in click → list drawn, network idle: {_stats(times)}")
            browser.close()
    finally:
        server.shutdown()


if __name__ == "__main__":
    raise SystemExit(main())
