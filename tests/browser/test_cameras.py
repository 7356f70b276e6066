"""Cameras in headless Chromium: the case page and the command centre list the cameras that see a
case, with their stream links, the reporting camera marked."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
import uuid

import pytest

from gis.crs import lonlat_to_storage, storage_to_lonlat
from grid.deviceid import format_device_id
from tests.browser.conftest import DEMO_PASSWORD, sign_in

pytestmark = pytest.mark.browser


class Api:
    """A bearer-token client for one demo user."""

    def __init__(self, base: str, username: str) -> None:
        self.base = base
        self.headers: dict[str, str] = {}
        token = self.send("POST", "/api/v1/auth/token", {"username": username, "password": DEMO_PASSWORD})
        self.headers = {"Authorization": f"Bearer {token['access_token']}"}

    def send(self, method: str, path: str, body=None):
        req = urllib.request.Request(
            self.base + path, method=method, data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json", "Accept": "application/json", **self.headers})
        with urllib.request.urlopen(req, timeout=20) as resp:  # noqa: S310 — loopback test server
            raw = resp.read()
        return json.loads(raw) if raw else None


def _offset(settings, lon: float, lat: float, east_m: float, north_m: float) -> tuple[float, float]:
    x, y = lonlat_to_storage(lon, lat, settings.storage_srid)
    lon2, lat2 = storage_to_lonlat(float(x) + east_m, float(y) + north_m, settings.storage_srid)
    return float(lon2), float(lat2)


def _inside(api: Api, lon: float, lat: float) -> bool:
    try:
        api.send("GET", f"/api/v1/grid/locate?lon={lon}&lat={lat}")
    except urllib.error.HTTPError as exc:
        assert exc.code == 404
        return False
    return True


def test_case_page_and_command_centre_list_the_cameras_that_see_a_case(live_server, browser_settings, page,
                                                                      artifacts):
    admin, operator = Api(live_server, "admin1"), Api(live_server, "operator1")
    # A place where a demo case was reported, with room for the two cameras inside the district.
    for item in operator.send("GET", "/api/v1/cases?page_size=20")["items"]:
        lon, lat = item["location"]["lon"], item["location"]["lat"]
        if all(_inside(operator, *_offset(browser_settings, lon, lat, e, n)) for e, n in ((-40, 0), (0, -25))):
            break
    else:
        pytest.fail("no demo case with room for two cameras around it")
    serial = uuid.uuid4().int % 1_000_000
    reporter_id, watcher_id = format_device_id("41019901", serial), format_device_id("41019901", (serial + 1) % 1_000_000)
    made = []
    try:
        # 40 m west looking east, and 25 m south looking north: both see the place.
        for device, (east, north), azimuth, name in ((reporter_id, (-40, 0), 90, "浏览器测试西侧"),
                                                     (watcher_id, (0, -25), 0, "浏览器测试南侧")):
            clon, clat = _offset(browser_settings, lon, lat, east, north)
            made.append(admin.send("POST", "/api/v1/cameras", {
                "device_id": device, "name": name, "lon": clon, "lat": clat, "azimuth_deg": azimuth,
                "hfov_deg": 60, "range_m": 100, "stream_url": f"https://video.example.invalid/live/{device}.m3u8"}))
        case = operator.send("POST", "/api/v1/cases", {
            "lon": lon, "lat": lat, "category": "E06010", "description": "视频巡查发现暴露垃圾（浏览器测试）",
            "source": "video", "camera_id": reporter_id})["case"]

        pg = page.page
        sign_in(pg, live_server, f"/cases/{case['id']}", "operator1")
        items = pg.locator("#case-cameras li")
        devices = [items.nth(i).get_attribute("data-device") for i in range(items.count())]
        # The reporting camera comes first and is marked; the other one is listed too
        # (demo cameras that also see the place may sit between them, nearest first).
        assert devices[0] == reporter_id and watcher_id in devices
        first = items.nth(0)
        assert "reported" in first.get_attribute("class")
        assert first.locator(".camera-reported").count() == 1
        link = first.locator("a.camera-stream")
        assert link.get_attribute("href") == f"https://video.example.invalid/live/{reporter_id}.m3u8"
        assert link.get_attribute("target") == "_blank"
        assert "noopener" in link.get_attribute("rel").split()
        watcher = pg.locator(f'#case-cameras li[data-device="{watcher_id}"]')
        assert "reported" not in watcher.get_attribute("class")
        assert watcher.locator(".camera-reported").count() == 0
        assert "25" in watcher.inner_text()  # 25 m away
        assert pg.evaluate("window.citygridCase.state.cameraMarkers") == len(devices)
        pg.screenshot(path=str(artifacts / "case-cameras.png"))
        assert page.outside_requests() == []
        assert [e for e in page.errors if "Failed to load resource" not in e] == []

        # The command centre's case detail lists them the same way.
        context = pg.context.browser.new_context(viewport={"width": 1600, "height": 900}, locale="zh-CN")
        try:
            cmd = context.new_page()
            sign_in(cmd, live_server, "/command", "dispatcher1")
            cmd.wait_for_function("() => window.citygridCommand && window.citygridCommand.ready()", timeout=20_000)
            cmd.evaluate(f"window.citygridCommand.select({case['id']}, {{fly: true}})")
            cmd.locator(f'#cmd-cameras li.reported[data-device="{reporter_id}"]').wait_for(timeout=10_000)
            assert cmd.locator(f'#cmd-cameras li[data-device="{watcher_id}"]').count() == 1
            stream = cmd.locator(f'#cmd-cameras li[data-device="{reporter_id}"] a.camera-stream')
            assert stream.get_attribute("target") == "_blank" and "noopener" in stream.get_attribute("rel")
            cmd.screenshot(path=str(artifacts / "command-case-cameras.png"))
        finally:
            context.close()
    finally:
        for camera in made:
            admin.send("DELETE", f"/api/v1/cameras/{camera['id']}")
