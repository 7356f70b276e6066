"""Thin HTTP layer: parse, call a service, shape the response."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    from . import admin_api, auth, cases_api, categories_api, grid_api, health, open311, openapi, pages

    for module in (health, auth, grid_api, cases_api, categories_api, admin_api, open311, openapi, pages):
        app.register_blueprint(module.bp)
