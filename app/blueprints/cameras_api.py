"""Cameras API (being built)."""

from flask import Blueprint

bp = Blueprint("cameras_api", __name__)

OPENAPI_PATHS: dict = {}
