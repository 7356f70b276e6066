"""Thin HTTP layer: parse, call a service, shape the response."""

from flask import Flask


def register_blueprints(app: Flask) -> None:
    """Attach every blueprint."""
    from . import (
        admin_api, auth, buildings_api, cameras_api, cases_api, categories_api, command, components_api, desk,
        grid_api, health, live_api, open311, openapi, pages, pipelines_api,
        roads_api,
    )

    for module in (health, auth, grid_api, cases_api, categories_api, admin_api, open311, openapi, pages, desk,
                   live_api, command, cameras_api, pipelines_api, buildings_api, components_api, roads_api):
        app.register_blueprint(module.bp)
