"""Components API (being built)."""

from flask import Blueprint

bp = Blueprint("components_api", __name__)

OPENAPI_PATHS: dict = {}
