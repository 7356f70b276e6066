"""Liveness and database health."""

import sqlalchemy as sa
from flask import Blueprint, jsonify

from ..db import get_session

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """Report whether the database and PostGIS answer."""
    try:
        version = get_session().scalar(sa.text("SELECT postgis_lib_version()"))
    except Exception as exc:  # the point of this endpoint is to report, not raise
        resp = jsonify({"status": "error", "database": "unreachable", "detail": type(exc).__name__})
        resp.status_code = 503
        return resp
    return jsonify({"status": "ok", "database": "ok", "postgis": version})
