"""Liveness and database health, for load balancers and monitoring."""

import logging

import sqlalchemy as sa
from flask import Blueprint, jsonify

from ..db import get_session
from ..errors import ServiceUnavailable, unavailable_problem

LOGGER = logging.getLogger(__name__)

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz():
    """200 ``{"status": "ok"}`` when the database and PostGIS answer, else 503 problem+json.

    Software versions are not shown: they tell an attacker which vulnerabilities to try.
    """
    try:
        get_session().scalar(sa.text("SELECT postgis_lib_version()"))
    except sa.exc.SQLAlchemyError as exc:
        problem = unavailable_problem(exc)
        if problem is None:  # reachable, but not healthy (e.g. PostGIS missing)
            LOGGER.error("health check failed", exc_info=exc)
            problem = ServiceUnavailable("the database does not pass the PostGIS check")
        raise problem from exc
    return jsonify({"status": "ok"})
