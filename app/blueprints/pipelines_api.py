"""Pipelines API (being built)."""

from flask import Blueprint

bp = Blueprint("pipelines_api", __name__)

OPENAPI_PATHS: dict = {}
