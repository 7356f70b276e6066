"""403 and 404 pages, and the API's common problems, in the request's language."""

from __future__ import annotations

import pytest

from tests.app.conftest import assert_problem, login, token_for

#: Every role name in both languages: an error page names none of them but the caller's own.
OTHER_ROLES = ("dispatcher", "shift_leader", "operator", "leader", "admin", "派遣员", "值班长", "受理员", "领导")
EN = {"Accept-Language": "en"}


@pytest.fixture
def inspector(client, grid):
    assert login(client, "t_inspector").status_code == 302
    return client


def page(client, path, **headers):
    resp = client.get(path, headers={"Accept": "text/html", **headers})
    return resp.status_code, resp.get_data(as_text=True)


def test_forbidden_page_says_what_to_do_not_who_may(inspector):
    status, html = page(inspector, "/command", Referer="http://localhost/map")
    assert status == 403
    assert "无权打开此页面" in html and "测试inspector" in html
    assert "换个账号登录" in html and "回到我的首页" in html
    assert 'href="http://localhost/map"' in html and "返回上一页" in html
    assert not [r for r in OTHER_ROLES if r in html]
    inspector.get("/lang/en")
    status, html = page(inspector, "/command")
    assert status == 403 and '<html lang="en">' in html
    assert "You cannot open this page" in html and "Sign in as another user" in html
    assert "Go to my home page" in html and "Go back</a>" not in html  # no referrer: no Back link
    assert not [r for r in OTHER_ROLES if r in html]


def test_missing_page_in_both_languages(client, inspector):
    status, html = page(inspector, "/no-such-page")
    assert status == 404 and "页面不存在" in html and "回到我的首页" in html
    anonymous = client.application.test_client()
    status, html = page(anonymous, "/no-such-page", **EN)
    assert status == 404 and "This page does not exist" in html
    assert "Sign in</a>" in html and "Sign in as another user" not in html


def test_api_problems_speak_the_request_language(client, grid):
    auth = token_for(client, "t_inspector")
    zh = assert_problem(client.get("/api/v1/command/cases", headers=auth), 403)
    assert zh["title"] == "您的角色无权进行此操作" and zh["detail"] == "您的角色（监督员）不能使用此功能"
    en = assert_problem(client.get("/api/v1/command/cases", headers={**auth, **EN}), 403)
    assert en["detail"] == "your role (inspector) may not use this" and "dispatcher" not in en["detail"]
    bad = assert_problem(client.get("/api/v1/grid/locate", query_string={"lon": "east", "lat": "34"},
                                    headers=auth), 400, "lon")
    assert bad["title"] == "请求有误" and bad["detail"] == "“lon”应为数字，收到 'east'"
    missing = assert_problem(client.get("/api/v1/grid/locate", query_string={"lat": "34"}, headers={**auth, **EN}),
                             400, "lon")
    assert missing["detail"] == "query parameter 'lon' is required"
    far = {"lon": "100", "lat": "20"}
    outside = assert_problem(client.get("/api/v1/grid/locate", query_string=far, headers=auth), 404)
    assert outside["type"] == "/problems/out-of-district" and outside["title"] == "位置不在本区单元网格内"
    assert outside["detail"].startswith("点 经度 100.000000、纬度 20.000000（CRS84）不在")
    assert assert_problem(client.get("/api/v1/nothing-here"), 404)["detail"] == "此地址下没有内容。"
    assert assert_problem(client.get("/api/v1/categories"), 401)["title"] == "需要登录"
