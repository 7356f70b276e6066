"""The working calendar from the database (windows, holidays, make-up days), cached briefly."""

from __future__ import annotations

import threading
import time as _time
from collections import defaultdict
from datetime import date, time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..caseflow.worktime import DEFAULT_WINDOWS, WorkCalendar, load_calendar_csv
from ..models import CalendarDay, WorkWindow
from .audit import Actor, record

SEED_CSV = Path(__file__).resolve().parent.parent / "seed" / "calendar_cn.csv"
_TTL_S = 60.0
_lock = threading.Lock()
_cache: dict[str, tuple[float, WorkCalendar]] = {}


def invalidate() -> None:
    """Forget the cached calendar (after an admin edit)."""
    with _lock:
        _cache.clear()


def load_calendar(session: Session) -> WorkCalendar:
    """The deployment's calendar; edits show up within a minute in every process."""
    with _lock:
        hit = _cache.get("calendar")
        if hit and _time.monotonic() - hit[0] < _TTL_S:
            return hit[1]
    windows: dict[int, list[tuple[time, time]]] = defaultdict(list)
    for w in session.scalars(sa.select(WorkWindow).order_by(WorkWindow.weekday, WorkWindow.starts)):
        windows[w.weekday].append((w.starts, w.ends))
    holidays, workdays = set(), set()
    for day, kind in session.execute(sa.select(CalendarDay.day, CalendarDay.kind)):
        (holidays if kind == "holiday" else workdays).add(day)
    calendar = WorkCalendar(
        windows={d: windows.get(d, []) for d in range(7)} if windows else DEFAULT_WINDOWS,
        holidays=holidays,
        workdays=workdays,
    )
    with _lock:
        _cache["calendar"] = (_time.monotonic(), calendar)
    return calendar


def seed_calendar(session: Session, actor: Actor) -> dict[str, int]:
    """Load the default windows and the official holiday table (idempotent)."""
    if session.scalar(sa.select(sa.func.count()).select_from(WorkWindow)) == 0:
        session.execute(
            sa.insert(WorkWindow),
            [
                {"weekday": day, "starts": start, "ends": end}
                for day, spans in DEFAULT_WINDOWS.items()
                for start, end in spans
            ],
        )
    holidays, workdays = load_calendar_csv(SEED_CSV)
    rows = [{"day": d, "kind": "holiday"} for d in sorted(holidays)] + [
        {"day": d, "kind": "workday"} for d in sorted(workdays)
    ]
    names = _names()
    for row in rows:
        row["name"], row["source"] = names.get(row["day"], ("", None))
    from sqlalchemy.dialects.postgresql import insert

    stmt = insert(CalendarDay).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=["day"],
            set_={"kind": stmt.excluded.kind, "name": stmt.excluded.name, "source": stmt.excluded.source},
        )
    )
    record(session, actor, "calendar.seed", "calendar", None, {"days": len(rows)})
    invalidate()
    return {"calendar_days": len(rows)}


def _names() -> dict[date, tuple[str, str | None]]:
    import csv

    with open(SEED_CSV, encoding="utf-8") as fh:
        return {
            date.fromisoformat(r["date"]): (r.get("name") or "", r.get("source") or None)
            for r in csv.DictReader(fh)
        }
