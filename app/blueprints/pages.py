"""HTML pages."""

from __future__ import annotations

from flask import Blueprint, redirect, url_for

from ..security import current_user

bp = Blueprint("pages", __name__)

#: Where each role starts its day.
HOME_BY_ROLE = {
    "inspector": "pages.map_page",
    "department": "desk.desk_page",
    "operator": "command.command_page",
    "shift_leader": "command.command_page",
    "dispatcher": "command.command_page",
    "leader": "command.command_page",
    "admin": "command.command_page",
}


@bp.get("/")
def index():
    """Send signed-in users to the map, others to sign in."""
    user = current_user()
    if user is None:
        return redirect(url_for("auth.login"))
    return redirect(url_for(HOME_BY_ROLE.get(user.role, "pages.map_page")))


from .map_page import map_page  # noqa: E402,F401  (registered on bp)
from .building_page import building_page  # noqa: E402,F401  (registered on bp)
