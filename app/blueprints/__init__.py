"""Thin HTTP layer: parse, call a service, shape the response."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    from . import auth, grid_api, health, openapi, pages

    for module in (health, auth, grid_api, openapi, pages):
        app.register_blueprint(module.bp)
