"""HTML pages."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from ..security import current_user

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    """Send signed-in users to the map, others to sign in."""
    if current_user() is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for("pages.map_page"))


from .map_page import map_page  # noqa: E402,F401  (registered on bp)
