"""Thin HTTP layer: parse, call a service, shape the response."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    from . import auth, grid_api, health, pages

    for module in (health, auth, grid_api, pages):
        app.register_blueprint(module.bp)
