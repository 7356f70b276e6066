"""The shared page core (static/js/core.js) in headless Chromium: every page has window.citygrid,
its fmt fills gettext placeholders, el builds text-only elements, time shows China time, and its
api surfaces a problem+json refusal's detail (and status, field) to the caller and sends the CSRF
token with every unsafe request."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

PROBE = """async () => {
  const C = window.citygrid;
  const out = {
    fmt: C.fmt("%(n)s / %(max)s · %(gone)s!", {n: 2, max: 9}),
    el: C.el("p", {class: "x", text: "<b>hi</b>"}, null).outerHTML,
    elShort: C.el("span", "mono", 42).outerHTML,
    esc: C.esc(`<a href="x">'&'</a>`),
    time: C.time.dateTime("2026-01-01T16:30:00Z"),
    short: C.time.short("2026-01-01T16:30:00Z"),
  };
  // The server's own answer, read past the core.
  const raw = await fetch("/api/v1/cases/1", {headers: {Accept: "application/json"}});
  out.rawStatus = raw.status;
  out.problem = await raw.json();
  try {
    await C.api.get("/api/v1/cases/1");
    out.err = null;
  } catch (e) {
    out.err = {message: e.message, status: e.status, name: e.name, type: e.body && e.body.type};
  }
  const called = await C.api.call("/api/v1/cases/1");
  out.call = {ok: called.ok, status: called.status, detail: called.body && called.body.detail};
  // Unsafe methods carry the page's CSRF token; GETs need none.
  const sent = [];
  const realFetch = window.fetch;
  window.fetch = (url, opts) => { sent.push([opts.method, opts.headers["X-CSRFToken"] || null]); return realFetch(url, opts); };
  try {
    await C.api.post("/api/v1/cases", {x: 1}).catch(() => null);
    await C.api.call("/api/v1/cases/1").catch(() => null);
  } finally {
    window.fetch = realFetch;
  }
  out.sent = sent;
  out.token = document.querySelector('meta[name="csrf-token"]').content;
  return out;
}"""


def test_core_formats_builds_and_surfaces_problems(page, live_server):
    pg = page.page
    pg.goto(live_server + "/login")
    out = pg.evaluate(PROBE)
    assert out["fmt"] == "2 / 9 · !"
    assert out["el"] == '<p class="x">&lt;b&gt;hi&lt;/b&gt;</p>'
    assert out["elShort"] == '<span class="mono">42</span>'
    assert out["esc"] == "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
    # 16:30 UTC is half past midnight the next day in China, whatever the browser's zone.
    assert out["time"] == "2026-01-02 00:30"
    assert out["short"] == "01-02 00:30"

    problem = out["problem"]
    assert out["rawStatus"] >= 400 and problem.get("detail")
    assert out["err"] == {
        "message": problem["detail"], "status": out["rawStatus"], "name": "ApiError", "type": problem["type"],
    }
    assert out["call"] == {"ok": False, "status": out["rawStatus"], "detail": problem["detail"]}
    assert out["token"]
    assert out["sent"] == [["POST", out["token"]], ["GET", None]]
    # The refusals asked for above are logged by Chromium as failed loads; nothing else may be.
    assert [e for e in page.errors if "status of 401" not in e] == []
