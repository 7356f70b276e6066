"""/api/v1/openapi.json describes every API route the app serves."""

import re


def test_every_api_route_is_documented(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.1")
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            served.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    documented = {path: set(ops) for path, ops in spec["paths"].items()}
    assert served == documented


def test_every_operation_that_requires_a_role_declares_security(app, client):
    """Generic over the URL map: a view wrapped by roles_required carries ``allowed_roles``."""
    spec = client.get("/api/v1/openapi.json").get_json()
    missing = []
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        if not rule.rule.startswith("/api/v1/") or not hasattr(view, "allowed_roles"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            if not spec["paths"][path][method.lower()].get("security"):
                missing.append(f"{method} {path}")
    assert sorted(missing) == []
