"""JSON API for categories (the directory tree, admin edits) and routing rules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from flask_babel import get_locale

from .. import params
from ..db import get_session
from ..errors import BadRequest, NotFound, ValidationProblem
from ..security import current_actor, current_user, roles_required
from ..services import categories as cat_service
from ..services import routing as routing_service

bp = Blueprint("categories_api", __name__, url_prefix="/api/v1")

MAX_Q = 100


def _problem(exc: ValueError) -> Exception:
    """The problem for a service validation error (404 for unknown ids)."""
    if isinstance(exc, (cat_service.CategoryNotFound, routing_service.RoutingRuleNotFound)):
        return NotFound(str(exc), field=exc.field)
    field, message = exc.field, exc.message  # type: ignore[attr-defined]
    return ValidationProblem(str(exc), field=field, errors=[{"field": field, "message": message}])


def _json_object() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("the body must be JSON (Content-Type: application/json)", field="body")
    if not isinstance(body, dict):
        raise BadRequest(f"the body must be a JSON object; got {type(body).__name__}", field="body")
    return body


@bp.get("/categories")
@roles_required()
def list_categories():
    """The category tree kind → major → minor of the active (or a named) standard.

    Names are in the request's language (English where the directory has an English name).
    """
    settings = current_app.config["SETTINGS"]
    standard = request.args.get("standard") or settings.category_standard
    q = request.args.get("q")
    if q is not None and len(q) > MAX_Q:
        raise BadRequest(f"'q' must be at most {MAX_Q} characters; got {len(q)}", field="q")
    kind = request.args.get("kind") or None
    try:
        tree = cat_service.category_tree(
            get_session(), standard, q=q, kind=kind, include_disabled=current_user().role == "admin",
            language=get_locale().language,
        )
    except cat_service.CategoryError as exc:
        raise BadRequest(str(exc), field=exc.field) from None
    return jsonify({"standard": standard, "active_standard": settings.category_standard, "tree": tree})


@bp.get("/categories/<id:category_id>")
@roles_required()
def get_category(category_id: int):
    """One category with its time limits."""
    try:
        return jsonify(cat_service.category_detail(get_session(), category_id, get_locale().language))
    except cat_service.CategoryError as exc:
        raise _problem(exc) from None


@bp.patch("/categories/<id:category_id>")
@roles_required("admin")
def patch_category(category_id: int):
    """Admin edit: default department, auto-dispatch, enabled, radius, names, time limits."""
    body = _json_object()
    db = get_session()
    try:
        cat_service.update_category(db, current_actor(), category_id, body)
    except cat_service.CategoryError as exc:
        db.rollback()
        raise _problem(exc) from None
    db.commit()
    return jsonify(cat_service.category_detail(db, category_id, get_locale().language))


@bp.get("/routing-rules")
@roles_required("admin", "dispatcher")
def get_rules():
    """Routing rules, optionally of one category or department."""
    rules = routing_service.list_rules(
        get_session(), category_id=params.id_value("category_id"), department_code=request.args.get("department") or None
    )
    return jsonify({"rules": [routing_service.rule_dict(r) for r in rules]})


_RULE_FIELDS = ("category_id", "department_code", "street_code", "community_code", "cell_codes", "note")


@bp.post("/routing-rules")
@roles_required("admin")
def post_rule():
    """Create a routing rule category × area → department."""
    body = _json_object()
    for key in body:
        if key not in _RULE_FIELDS:
            raise BadRequest(f"unknown field {key!r}; expected {', '.join(_RULE_FIELDS)}", field=key)
    if "department_code" not in body:
        raise BadRequest("'department_code' is required", field="department_code")
    db = get_session()
    try:
        rule = routing_service.add_rule(
            db, current_actor(),
            category_id=body.get("category_id"),
            department_code=body["department_code"],
            street_code=body.get("street_code"),
            community_code=body.get("community_code"),
            cell_codes=body.get("cell_codes"),
            note=body.get("note"),
        )
    except routing_service.RoutingError as exc:
        db.rollback()
        raise _problem(exc) from None
    out = routing_service.rule_dict(rule)
    db.commit()
    resp = jsonify(out)
    resp.status_code = 201
    return resp


@bp.delete("/routing-rules/<id:rule_id>")
@roles_required("admin")
def remove_rule(rule_id: int):
    """Delete a routing rule."""
    db = get_session()
    try:
        routing_service.delete_rule(db, current_actor(), rule_id)
    except routing_service.RoutingError as exc:
        db.rollback()
        raise _problem(exc) from None
    db.commit()
    return "", 204
