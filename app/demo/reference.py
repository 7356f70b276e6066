"""Reference data of the case loop for the demo: working calendar, category directories, time limits."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa

from ..services.audit import SYSTEM
from ..services.categories import load_categories
from ..services.open311 import ensure_client
from ..services.workcal import seed_calendar

if TYPE_CHECKING:
    from . import DemoContext

__all__ = ["TABLES", "load"]

#: Tables this layer fills, in insert order (wiped in reverse before the core layers, so
#: categories go before the departments they name and Open311 clients before their users).
TABLES = ("work_windows", "calendar_days", "categories", "time_limits", "routing_rules", "open311_clients")


def load(ctx: DemoContext) -> dict[str, int]:
    """Seed the calendar, both category directories with their time limits, and an Open311 client.

    Categories are loaded after the demo departments exist, so each gets its default
    department. No routing rules are seeded: every case's suggested department is its
    category's default.

    Examples
    --------
    >>> TABLES[0], TABLES[-1]
    ('work_windows', 'open311_clients')
    """
    session = ctx.session
    counts: dict[str, int] = {}
    counts.update(seed_calendar(session, SYSTEM))
    loaded = load_categories(session, SYSTEM)
    counts["categories"] = sum(v for k, v in loaded.items() if "/" in k)
    counts["time_limits"] = loaded["time_limits_added"]
    # Open311 reports in the case history are made as this client's user (created here).
    ensure_client(session, SYSTEM, "Demo Open311 client", "citygrid-demo-open311")
    counts["open311_clients"] = 1
    counts["users"] = session.execute(sa.text("SELECT count(*) FROM users")).scalar_one()
    return counts
