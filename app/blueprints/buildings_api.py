"""Buildings API (being built)."""

from flask import Blueprint

bp = Blueprint("buildings_api", __name__)

OPENAPI_PATHS: dict = {}
