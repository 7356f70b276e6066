"""Demo case history: a year of cases whose lifecycles are driven through the state machine and calendar."""

from __future__ import annotations

import bisect
import json
import logging
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from time import perf_counter
from typing import TYPE_CHECKING, Any

import numpy as np
import shapely
import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..caseflow import machine
from ..caseflow.worktime import WorkCalendar, light
from ..services.cases import limit_minutes
from ..services.categories import resolve_time_limit
from ..services.workcal import load_calendar
from .errors import DemoError

if TYPE_CHECKING:
    from . import DemoContext

__all__ = [
    "BACKLOG_LIGHTS",
    "BACKLOG_STATES",
    "HISTORY_DAYS",
    "LOCAL_TZ",
    "MIX",
    "TABLES",
    "CASE_COLUMNS",
    "EVENT_COLUMNS",
    "CaseHistory",
    "MixEntry",
    "WorkClock",
    "default_history_end",
    "load",
    "simulate",
]

LOGGER = logging.getLogger(__name__)

# Report times, categories, cells and points are drawn vectorised; the lifecycles are a
# plain loop over in-memory records that asks machine.plan for every step and applies its
# effects as app.services.cases.perform_action does, with worktime's deadlines recomputed
# on a flat window index (WorkClock). Rows go in with COPY, without the ORM, so the large
# size (a million cases) loads in minutes. The history is deterministic for a seed and an
# end instant, "now" (ctx.history_end; default the load instant): cases are reported in
# the 365 days before it, and actions that would come after it have not happened yet.
# The current backlog is made on purpose (_Simulator.backlog): a few dozen recent cases
# waiting in every open state, each with its stage clock as far along as the light drawn
# for it, so the command centre opens on the mix a working centre has (see BACKLOG_LIGHTS).

#: Tables this layer fills (idempotency records point at cases, so they go with them).
TABLES = ("cases", "case_events", "case_photos", "idempotency_keys")
HISTORY_DAYS = 365
#: Case numbers use the local date (UTC+8), like :func:`app.services.cases.next_case_number`.
LOCAL_TZ = timezone(timedelta(hours=8))

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_US_PER_MIN = 60_000_000
_MIN = _US_PER_MIN
_HOUR = 60 * _MIN
_DAY = 24 * _HOUR
_NEVER = 1 << 62

# Monthly multipliers (Jan … Dec) of a category's share.
_FLAT = (1.0,) * 12
_SUMMER = (0.7, 0.7, 0.85, 1.0, 1.2, 1.4, 1.5, 1.5, 1.25, 1.0, 0.8, 0.7)
_BBQ = (0.1, 0.1, 0.4, 0.9, 1.8, 2.6, 3.0, 3.0, 2.0, 0.9, 0.3, 0.1)
_RAIN = (0.5, 0.5, 0.7, 0.9, 1.2, 1.6, 2.0, 1.8, 1.2, 0.8, 0.6, 0.5)
_SNOW = (4.0, 3.0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.6, 2.5)
_DUST = (0.8, 0.9, 1.4, 1.5, 1.3, 1.0, 0.9, 0.9, 1.0, 1.1, 1.0, 0.8)
_LEAVES = (1.2, 0.8, 0.6, 0.5, 0.5, 0.5, 0.5, 0.5, 0.8, 1.5, 1.8, 1.5)
_DARK = (1.3, 1.2, 1.0, 0.9, 0.8, 0.7, 0.7, 0.8, 0.9, 1.1, 1.3, 1.4)


@dataclass(frozen=True)
class MixEntry:
    """One category of the demo mix, named as the standards spell it.

    Parameters
    ----------
    kind : str
        ``event`` or ``component``.
    names : tuple of str
        The category's name in the active standard; the first one the standard has wins
        (the 2026 and legacy directories spell some classes differently).
    weight : float
        Share of all cases, before the seasonal multiplier.
    season : tuple of 12 floats
        Multiplier per month, January first.
    self_handle : float
        Share of inspector reports the inspector fixes on the spot (自行处置).
    sensor : bool
        Whether sensors (manhole tilt, fill level, water level) report it.

    Examples
    --------
    >>> MixEntry("event", ("暴露垃圾",), 14.0).season[6]
    1.0
    """

    kind: str
    names: tuple[str, ...]
    weight: float
    season: tuple[float, ...] = _FLAT
    self_handle: float = 0.0
    sensor: bool = False


#: The demo's category mix: mostly street events, some component faults.
MIX: tuple[MixEntry, ...] = (
    MixEntry("event", ("暴露垃圾",), 14.0, _SUMMER, 0.35),
    MixEntry("event", ("道路不洁",), 8.0, _FLAT, 0.25),
    MixEntry("event", ("积存垃圾渣土",), 4.0),
    MixEntry("event", ("占道经营", "无照经营游商"), 7.0, _SUMMER, 0.4),
    MixEntry("event", ("店外经营",), 5.0, _SUMMER, 0.4),
    MixEntry("event", ("机动车乱停放",), 8.0, _FLAT, 0.3),
    MixEntry("event", ("非机动车乱停放",), 5.0, _FLAT, 0.5),
    MixEntry("event", ("共享单车乱象",), 3.0, _SUMMER, 0.5),
    MixEntry("event", ("非法小广告",), 9.0, _FLAT, 0.6),
    MixEntry("event", ("街头散发广告",), 2.0, _FLAT, 0.3),
    MixEntry("event", ("施工占道",), 3.0, _DUST),
    MixEntry("event", ("工地扬尘",), 2.0, _DUST),
    MixEntry("event", ("施工废弃料",), 1.5),
    MixEntry("event", ("道路破损",), 2.5, _RAIN),
    MixEntry("event", ("乱堆杂物", "乱堆物堆料"), 4.0, _FLAT, 0.2),
    MixEntry("event", ("私搭乱建",), 1.5),
    MixEntry("event", ("沿街晾挂",), 1.2, _SUMMER, 0.5),
    MixEntry("event", ("露天烧烤",), 2.0, _BBQ, 0.2),
    MixEntry("event", ("油烟污染",), 1.0),
    MixEntry("event", ("绿地脏乱",), 2.0, _SUMMER, 0.3),
    MixEntry("event", ("废弃车辆",), 0.7),
    MixEntry("event", ("废弃家具设备",), 1.0, _FLAT, 0.1),
    MixEntry("event", ("道路积雪、结冰", "道路积雪结冰"), 1.5, _SNOW),
    MixEntry("event", ("道路积水",), 1.0, _RAIN, 0.0, True),
    MixEntry("event", ("垃圾站（箱）满溢",), 3.0, _SUMMER, 0.1, True),
    MixEntry("event", ("焚烧垃圾、树叶", "焚烧树叶垃圾"), 0.8, _LEAVES, 0.3),
    MixEntry("event", ("噪声扰民", "商业噪音"), 1.0, _SUMMER),
    MixEntry("event", ("施工扰民",), 1.0),
    MixEntry("component", ("雨水箅子",), 1.5, _RAIN, 0.0, True),
    MixEntry("component", ("污水井盖",), 1.2, _RAIN, 0.0, True),
    MixEntry("component", ("雨水井盖",), 1.2, _RAIN, 0.0, True),
    MixEntry("component", ("供水井盖", "上水井盖"), 1.0, _FLAT, 0.0, True),
    MixEntry("component", ("路灯",), 3.0, _DARK),
    MixEntry("component", ("垃圾箱",), 3.0, _SUMMER),
    MixEntry("component", ("行道树",), 1.5, _RAIN),
    MixEntry("component", ("绿地",), 1.0, _SUMMER),
    MixEntry("component", ("公共厕所",), 0.8),
    MixEntry("component", ("交通护栏",), 1.0),
    MixEntry("component", ("交通标志牌", "交通标志牌及标线"), 0.8),
    MixEntry("component", ("路名牌",), 0.5),
    MixEntry("component", ("公交站设施", "公交站亭"), 0.6),
    MixEntry("component", ("街头座椅",), 0.5),
    MixEntry("component", ("宣传栏",), 0.4),
)

#: Reports per local hour of day (relative): patrols by day, the hotline into the evening.
_HOURLY = (0.1, 0.05, 0.05, 0.05, 0.08, 0.2, 0.5, 1.0, 1.8, 2.2, 2.2, 1.8,
           0.9, 0.8, 1.6, 2.0, 2.0, 1.6, 1.0, 0.8, 0.7, 0.5, 0.3, 0.15)
_WEEKDAY = (1.0, 1.0, 1.0, 1.0, 0.95, 0.55, 0.5)
_HOLIDAY = 0.45
_SPRING_FESTIVAL = 0.25
#: Source mix by day (07–22) and by night.
_SOURCES = ("inspector", "hotline", "public", "video", "sensor", "open311", "upper_platform")
_SOURCE_DAY = (0.62, 0.13, 0.08, 0.08, 0.03, 0.04, 0.02)
_SOURCE_NIGHT = (0.15, 0.35, 0.15, 0.25, 0.05, 0.04, 0.01)
_LAND_USE = {"commercial": 2.2, "residential": 1.3, "education": 1.2, "green": 0.5, "industrial": 0.7}
_DUPLICATE_SHARE = 0.04
_URGENT_SHARE = 0.04

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"

#: The current backlog's lights: what a working centre's command screen shows. Most open
#: cases are within 80 % of their stage allowance; the yellow band is the last 20 % before
#: the deadline, where work done "just in time" waits; a few cases are overdue (centres are
#: assessed on on-time rates of 90–95 %, so overdue open cases stay a few per cent). Red is
#: drawn for 3 % only: the natural history adds its own overdue cases, and at night the
#: centre's clock-time stages (the case loop's first-stage limits) have run out since evening.
BACKLOG_LIGHTS = {"green": 0.82, "yellow": 0.15, "red": 0.03}
#: Open states of the backlog: (relative weight, report window in hours). Handling takes
#: days, so most of the backlog is with the departments; the centre's own stages take
#: minutes, so only a few recent cases wait there. Every state gets one case first; the
#: others try their drawn light only, in their state and then in one of the handling states.
BACKLOG_STATES = {
    "reported": (6, 10), "verifying": (3, 2), "pending_filing": (3, 2), "filed": (3, 2),
    "dispatched": (18, 72), "processing": (45, 120), "suspended": (6, 30 * 24),
    "handled": (3, 120), "checking": (5, 120), "pending_close": (8, 120),
}
_HANDLING = ("dispatched", "processing", "processing", "pending_close")


def _never_open(_other: int, _at: int) -> bool:
    return False


def backlog_size(cases: int) -> int:
    """Cases made to wait at the end of the history (the natural backlog comes on top).

    Examples
    --------
    >>> backlog_size(2_000), backlog_size(24_000), backlog_size(1_000_000)
    (100, 120, 400)
    """
    return min(400, max(100, cases // 200))


def _us(dt: datetime) -> int:
    return (dt - _EPOCH) // _US


def _dt(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


def default_history_end(now: datetime | None = None) -> datetime:
    """The default end of the history: ``now`` (the load instant) to the whole second, local time.

    The end is the demo's "now": the lights the command centre shows right after the load
    are measured from it, so it must be the load instant itself, not the start of the day
    (every clock-time stage limit would have run out overnight).

    Examples
    --------
    >>> default_history_end(datetime(2026, 11, 26, 17, 0, 5, 250, tzinfo=timezone.utc)).isoformat()
    '2026-11-27T01:00:05+08:00'
    """
    local = (now or datetime.now(timezone.utc)).astimezone(LOCAL_TZ)
    return local.replace(microsecond=0)


# -- working time on a flat index ------------------------------------------------------------


class WorkClock:
    """A calendar's work windows over a span of days as flat lists, for fast exact deadlines.

    Gives the same instants as :meth:`WorkCalendar.add_working_minutes` and
    :meth:`WorkCalendar.working_minutes_between` (microsecond integers since the Unix
    epoch) with one binary search; outside the indexed span it asks the calendar.

    Parameters
    ----------
    calendar : WorkCalendar
        The calendar (department weekend work already applied).
    first, last : date
        Days to index, inclusive.

    Examples
    --------
    >>> from zoneinfo import ZoneInfo
    >>> clock = WorkClock(WorkCalendar(), date(2026, 3, 1), date(2026, 3, 31))
    >>> fri = datetime(2026, 3, 6, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> _dt(clock.add(_us(fri), 90 * _US_PER_MIN)).astimezone(LOCAL_TZ).isoformat()
    '2026-03-09T09:00:00+08:00'
    """

    def __init__(self, calendar: WorkCalendar, first: date, last: date) -> None:
        if last < first:
            raise DemoError(f"WorkClock span {first} .. {last}: last day before first")
        self.calendar = calendar
        self.day_minutes = calendar.day_minutes
        starts: list[int] = []
        ends: list[int] = []
        before: list[int] = []
        total = 0
        for k in range((last - first).days + 1):
            for s, e in calendar.windows_on(first + timedelta(days=k)):
                a, b = _us(s), _us(e)
                starts.append(a)
                ends.append(b)
                before.append(total)
                total += b - a
        if not starts:
            raise DemoError(f"calendar has no working time between {first} and {last}")
        self._starts, self._ends, self._before = starts, ends, before
        self._after = [w + (e - s) for w, s, e in zip(before, starts, ends)]
        day0 = datetime(first.year, first.month, first.day, tzinfo=calendar.tz)
        self._lo = _us(day0)
        self._hi = ends[-1]

    def _work(self, t: int) -> int:
        """Working microseconds from the index origin up to ``t``."""
        i = bisect.bisect_right(self._starts, t) - 1
        if i < 0:
            return 0
        return self._before[i] + min(t - self._starts[i], self._ends[i] - self._starts[i])

    def add(self, t: int, delta: int) -> int:
        """``t`` plus ``delta`` working microseconds (``add_working_minutes`` semantics)."""
        if delta == 0:
            return t
        if self._lo <= t < self._hi:
            target = self._work(t) + delta
            k = bisect.bisect_left(self._after, target)
            if k < len(self._after):
                return self._starts[k] + (target - self._before[k])
        return _us(self.calendar.add_working_minutes(_dt(t), delta / _US_PER_MIN))

    def between(self, s: int, e: int) -> int:
        """Working microseconds in ``[s, e)`` (0 when ``e <= s``).

        Examples
        --------
        >>> clock = WorkClock(WorkCalendar(), date(2026, 3, 1), date(2026, 3, 31))
        >>> t = _us(datetime(2026, 3, 6, 11, 0, tzinfo=LOCAL_TZ))
        >>> clock.between(t, t + 3 * 86_400_000_000) // _US_PER_MIN  # Fri 11:00 -> Mon 11:00
        450
        """
        if e <= s:
            return 0
        if self._lo <= s and e < self._hi:
            return self._work(e) - self._work(s)
        return round(self.calendar.working_minutes_between(_dt(s), _dt(e)) * _US_PER_MIN)

    def deadline(self, start: int, value: float, unit: str) -> int:
        """:func:`app.caseflow.worktime.deadline` on microseconds.

        Examples
        --------
        >>> clock = WorkClock(WorkCalendar(), date(2026, 3, 1), date(2026, 3, 31))
        >>> fri = _us(datetime(2026, 3, 6, 17, 0, tzinfo=LOCAL_TZ))
        >>> _dt(clock.deadline(fri, 1, "working_days")).astimezone(LOCAL_TZ).isoformat()
        '2026-03-09T17:00:00+08:00'
        """
        if unit == "minutes":
            return start + timedelta(minutes=value) // _US
        if unit == "hours":
            return start + timedelta(hours=value) // _US
        if unit == "working_hours":
            return self.add(start, round(value * 60 * _US_PER_MIN))
        if unit == "working_days":
            return self.add(start, round(value * self.day_minutes * _US_PER_MIN))
        raise DemoError(f"unknown time-limit unit {unit!r}")

    def shift(self, paused: int, resumed: int, due: int, unit: str) -> int:
        """:func:`app.caseflow.worktime.shift_deadline` on microseconds.

        Examples
        --------
        >>> clock = WorkClock(WorkCalendar(), date(2026, 3, 1), date(2026, 3, 31))
        >>> at = lambda d, h: _us(datetime(2026, 3, d, h, 0, tzinfo=LOCAL_TZ))
        >>> due = clock.shift(at(6, 17), at(10, 9), at(9, 9) + 30 * _US_PER_MIN, "working_hours")
        >>> _dt(due).astimezone(LOCAL_TZ).isoformat()
        '2026-03-10T11:00:00+08:00'
        """
        if due <= paused:
            return due
        if unit in ("minutes", "hours"):
            return due + (resumed - paused)
        left = self.between(paused, due) / _US_PER_MIN
        return self.add(resumed, round(left * _US_PER_MIN))

    def is_working(self, t: int) -> bool:
        """Whether ``t`` lies inside a work window.

        Examples
        --------
        >>> clock = WorkClock(WorkCalendar(), date(2026, 3, 1), date(2026, 3, 31))
        >>> clock.is_working(_us(datetime(2026, 3, 6, 9, 0, tzinfo=LOCAL_TZ)))
        True
        """
        i = bisect.bisect_right(self._starts, t) - 1
        return i >= 0 and t < self._ends[i]


# -- the history --------------------------------------------------------------------------------


@dataclass
class CaseHistory:
    """Simulated cases and events as rows ready for COPY (columns :data:`CASE_COLUMNS`, :data:`EVENT_COLUMNS`).

    Times are microseconds since the Unix epoch until they are written.

    Examples
    --------
    >>> CaseHistory([], []).events
    []
    """

    cases: list[tuple]
    events: list[tuple]


CASE_COLUMNS = (
    "id", "number", "district_code", "source", "kind", "category_id", "category_code", "standard_ref",
    "urgency", "description", "address", "geom", "cell_code", "community_code", "street_code", "area_class",
    "state", "department_id", "suggested_department_id", "reporter_id", "reporter_contact", "assignee_id",
    "duplicate_of_id", "self_handled", "camera_id", "pending_request", "stage", "stage_started_at",
    "stage_deadline", "stage_limit_unit", "stage_limit_minutes", "handle_deadline", "suspended_at", "handled_at", "postponements",
    "postponed_minutes", "reworks", "returns", "urges", "close_type", "reported_at", "filed_at",
    "dispatched_at", "closed_at", "updated_at", "version",
)
EVENT_COLUMNS = ("id", "case_id", "at", "actor_id", "actor", "role", "action", "from_state", "to_state", "note", "data")


class _Stop(Exception):
    """The next action lies after the end of the history (or the case is parked there)."""


class _Case:
    """The mutable state of one case while its lifecycle runs (the columns perform_action touches)."""

    __slots__ = (
        "id", "number", "category", "urgency", "area_class", "cell", "self_handled", "state", "stage",
        "stage_started", "stage_deadline", "stage_unit", "limit_minutes", "handle_deadline", "suspended_at",
        "handled_at",
        "pending", "dept", "suggested", "assignee", "postponements", "postponed_minutes", "reworks",
        "returns", "urges", "close_type", "filed_at", "dispatched_at", "closed_at", "updated_at", "version",
        "duplicate_of", "last", "park",
    )


@dataclass(frozen=True)
class _Category:
    id: int
    kind: str
    code: str
    name: str
    standard_ref: str
    department: int | None  # index into departments
    auto_dispatch: bool
    radius_m: float


@dataclass(frozen=True)
class _Dept:
    id: int
    code: str
    weekends: bool
    users: tuple[tuple[int, str], ...]


class _Simulator:
    """Runs lifecycles; every step goes through :func:`machine.plan` and the service's effect rules."""

    def __init__(self, session: Session, calendar: WorkCalendar, categories: list[_Category],
                 depts: list[_Dept], people: dict[str, tuple[int, str, str]], end: int,
                 first_day: date, last_day: date, seed: int) -> None:
        self.session = session
        self.categories = categories
        self.depts = depts
        self.end = end
        self.rng = random.Random(seed)
        self.clock = WorkClock(calendar, first_day, last_day)
        self.weekend_clock = WorkClock(calendar.with_weekend_work(True), first_day, last_day)
        self.plans: dict[tuple, machine.Step] = {}
        self.limits: dict[tuple, tuple[float, str]] = {}
        self.events: list[list] = []
        self.operator = people["operator"]
        self.shift_leader = people["shift_leader"]
        self.dispatcher = people["dispatcher"]
        self.system = (None, "system", "dispatcher")

    # -- the service's rules --------------------------------------------------------------

    def plan(self, c: _Case, action: str, role: str, outcome: str | None) -> machine.Step:
        pending = c.pending["kind"] if c.pending else None
        key = (c.state, action, role, outcome, pending, c.self_handled)
        step = self.plans.get(key)
        if step is None:
            step = self.plans[key] = machine.plan(
                c.state, action, role, outcome=outcome, pending=pending, self_handled=c.self_handled
            )
        return step

    def limit(self, c: _Case, stage: str) -> tuple[float, str]:
        key = (c.category.id, stage, c.urgency, c.area_class)
        hit = self.limits.get(key)
        if hit is None:
            found = resolve_time_limit(self.session, c.category.id, stage, c.urgency, c.area_class)
            if found is None:
                raise DemoError(f"no time limit for stage {stage!r} (category {c.category.code}); seed time_limits first")
            hit = self.limits[key] = (found.value, found.unit)
        return hit

    def clock_for(self, c: _Case) -> WorkClock:
        """``_calendar_for``: handling by a department that works weekends counts weekends."""
        if c.stage == "handle" and c.dept is not None and self.depts[c.dept].weekends:
            return self.weekend_clock
        return self.clock

    def start_stage(self, c: _Case, at: int) -> None:
        c.stage = machine.STAGE_OF_STATE.get(c.state)
        if c.stage is None:
            c.stage_started = c.stage_deadline = c.stage_unit = None
            return
        value, unit = self.limit(c, c.stage)
        clock = self.clock_for(c)
        c.stage_started = at
        c.stage_unit = unit
        c.limit_minutes = limit_minutes(clock.calendar, value, unit)
        c.stage_deadline = clock.deadline(at, value, unit)
        if c.stage == "handle":
            c.handle_deadline = c.stage_deadline

    def act(self, c: _Case, action: str, actor: tuple, at: int, *, outcome: str | None = None,
            note: str | None = None, **payload: Any) -> None:
        """perform_action: one step, or :class:`_Stop` when ``at`` is after the history's end
        or the case is to wait in this state at the end (its ``park``)."""
        if at >= self.end:
            raise _Stop
        if c.park == c.state and actor is not self.system:
            raise _Stop
        at = max(at, c.last + 1_000_000)  # one event per second at most, in order
        if at >= self.end:
            raise _Stop
        step = self.plan(c, action, actor[2], outcome)
        effects = step.effects
        data: dict[str, Any] = {}
        if step.outcome is not None and action in ("verify", "check"):
            data["outcome"] = step.outcome  # as app.services.cases.perform_action records it
        iso = None
        if "set_department" in effects:
            dept = payload.get("department", c.suggested)
            c.dept = dept
            c.dispatched_at = at
            data["department"] = self.depts[dept].code
            data["overrode_suggestion"] = c.suggested not in (None, dept)
        if "assign_inspector" in effects:
            c.assignee = c.cell.inspector
            data["inspector"] = c.cell.inspector[1]
        if "set_pending" in effects:
            iso = _dt(at).isoformat()
            request: dict[str, Any] = {"kind": action.removeprefix("request_"), "by": actor[1], "at": iso, "note": note}
            if request["kind"] == "postpone":
                request["hours"] = float(payload["hours"])
            c.pending = request
            data["request"] = request
        if "clear_pending" in effects:
            data["request"] = c.pending
            if "extend_deadline" in effects:
                hours = float(c.pending["hours"])
                c.stage_deadline = self.clock_for(c).deadline(c.stage_deadline, hours, "working_hours")
                c.handle_deadline = c.stage_deadline
                c.limit_minutes = (c.limit_minutes or 0.0) + hours * 60
                c.postponed_minutes += hours * 60
                data["hours"] = hours
            c.pending = None
        if "count_postpone" in effects:
            c.postponements += 1
        if "count_return" in effects:
            c.returns += 1
        if "clear_department" in effects:
            data["returned_by"] = self.depts[c.dept].code if c.dept is not None else None
            c.dept = None
        if "count_rework" in effects:
            c.reworks += 1
            c.handled_at = None
        if "count_urge" in effects:
            c.urges += 1
        if "mark_handled" in effects:
            c.handled_at = at
        if "link_duplicate" in effects:
            c.duplicate_of = payload["duplicate_of"]
            data["duplicate_of"] = payload["duplicate_number"]
        previous = c.state
        clock = self.clock_for(c)
        if "pause_clock" in effects:
            c.suspended_at = at
        if "resume_clock" in effects and c.suspended_at is not None:
            c.stage_deadline = clock.shift(c.suspended_at, at, c.stage_deadline, c.stage_unit)
            c.handle_deadline = c.stage_deadline
            data["paused_since"] = _dt(c.suspended_at).isoformat()
            c.suspended_at = None
        c.state = step.to_state
        if action == "file":
            c.filed_at = at
        if "start_stage" in effects:
            self.start_stage(c, at)
        if "finish" in effects:
            c.stage = c.stage_started = c.stage_deadline = None
            c.closed_at = at
            if action == "close":
                c.close_type = machine.close_type(step.outcome, c.handle_deadline, c.handled_at)
                data["close_type"] = c.close_type
        c.version += 1
        c.updated_at = at
        c.last = at
        self.events.append([c.id, at, actor[0], actor[1], actor[2], action, previous, c.state, note,
                            json.dumps(data, ensure_ascii=False) if data else None])

    def light_at_end(self, c: _Case) -> str | None:
        """:func:`app.services.cases.warning_light` of the case at the end of the history ("now")."""
        due = c.stage_deadline
        if due is None:
            return None
        if not c.limit_minutes:
            return "red" if self.end > due else "yellow"
        at = c.suspended_at if c.state == "suspended" and c.suspended_at is not None else self.end
        if c.stage_unit in ("minutes", "hours"):
            left = due - at
        else:
            clock = self.clock_for(c)
            left = clock.between(at, due) if at <= due else -clock.between(due, at)
        return light(max(c.limit_minutes - left / _US_PER_MIN, 0.0) / c.limit_minutes)

    def backlog_case(self, make: Callable[[int], tuple[_Case, list]], source: str, state: str,
                     lights: tuple[str, ...], hours: float, tries: int = 200) -> tuple[int, _Case, list[list]] | None:
        """A case reported in the last ``hours`` that waits in ``state`` at the end with light ``lights[0]``.

        Tries report times (weighted like the day's reports) and lifecycles until one gets
        there (the case stops the first time it would act in ``state``), then the other
        ``lights`` in turn (at night no clock-time stage can be green: nobody has acted for
        hours). The lights come out of the same clocks as every other
        case's, so they fit the calendar at whatever instant the history ends. ``make(t)``
        builds the case and its report event. Returns the report time, the case and its
        events, or None.
        """
        events = self.events
        try:
            for n, colour in enumerate(lights):
                for _ in range(tries):
                    # A second choice looks back further: what waits since last evening, or
                    # since before a week of holidays.
                    t = self.report_time(hours if n == 0 else max(2 * hours, 24))
                    c, report = make(t)
                    c.park = state
                    self.events = [report]
                    self.run(c, source, t, None, _never_open)
                    if c.closed_at is None and c.state == state and self.light_at_end(c) == colour:
                        c.park = None
                        return t, c, self.events
        finally:
            self.events = events
        return None

    def report_time(self, hours: float) -> int:
        """A report instant in the last ``hours`` before the end, weighted by the hour of day."""
        top = max(_HOURLY)
        while True:
            t = self.end - 1_000_000 - int(self.rng.random() * hours * _HOUR) // 1_000_000 * 1_000_000
            if self.rng.random() * top < _HOURLY[(t // _HOUR + 8) % 24]:
                return t

    # -- who acts when -------------------------------------------------------------------------

    def centre(self, t: int, lo: float, hi: float) -> int:
        """The command centre and inspectors act after lo–hi minutes, 07:00–23:00 local."""
        at = t + int(self.rng.uniform(lo, hi) * _MIN)
        hour = (at // _HOUR + 8) % 24
        if hour >= 23 or hour < 7:
            day_start = (at + 8 * _HOUR) // _DAY * _DAY - 8 * _HOUR
            morning = day_start + 7 * _HOUR + (_DAY if hour >= 23 else 0)
            at = morning + int(self.rng.uniform(0, 50) * _MIN)
        return at

    def dept_time(self, c: _Case, t: int, lo: float, hi: float) -> int:
        """A department acts after lo–hi working minutes of its own calendar."""
        clock = self.weekend_clock if self.depts[c.dept].weekends else self.clock
        return clock.add(t, int(self.rng.uniform(lo, hi) * _MIN))

    def dept_user(self, c: _Case) -> tuple:
        users = self.depts[c.dept].users
        return users[c.id % len(users)]

    # -- lifecycles ----------------------------------------------------------------------------

    def run(self, c: _Case, source: str, t: int, duplicate: tuple | None,
            is_open: Callable[[int, int], bool]) -> None:
        """Drive one case from its report until it ends or the history does."""
        rng = self.rng
        try:
            if c.self_handled:
                at = self.centre(t, 5, 120)
                if rng.random() < 0.02:
                    self.act(c, "void", self.shift_leader, at, note="现场处置信息有误，作废")
                else:
                    self.act(c, "close", self.shift_leader, at)
                return
            public = source in ("hotline", "public", "open311", "upper_platform")
            r = rng.random()
            at = self.centre(t, 2, 25)
            if duplicate is not None and is_open(duplicate[0], at) and rng.random() < 0.7:
                self.act(c, "mark_duplicate", self.operator, at, note=f"与案件{duplicate[1]}重复",
                         duplicate_of=duplicate[0], duplicate_number=duplicate[1])
                return
            if r < (0.06 if public else 0.04 if source != "inspector" else 0.015):
                self.act(c, "reject", self.operator, at, note="不属于城市管理范围，不予受理")
                return
            if r < (0.7 if public else 0.12 if source != "inspector" else 0.0):
                self.act(c, "send_verify", self.operator, at)
                inspector = c.assignee
                at = self.centre(c.last, 10, 45)
                if rng.random() < 0.12:
                    self.act(c, "verify", inspector, at, outcome="not_found", note="现场未发现所报问题")
                    return
                self.act(c, "verify", inspector, at, outcome="confirmed")
            else:
                self.act(c, "accept", self.operator, at)
            # pending_filing
            at = self.centre(c.last, 2, 30)
            if duplicate is not None and is_open(duplicate[0], at):
                self.act(c, "mark_duplicate", self.shift_leader, at, note=f"与案件{duplicate[1]}重复",
                         duplicate_of=duplicate[0], duplicate_number=duplicate[1])
                return
            if rng.random() < 0.02:
                self.act(c, "void", self.shift_leader, at, note="问题已自行消失，作废")
                return
            self.act(c, "file", self.shift_leader, at)
            if c.category.auto_dispatch and c.suggested is not None:
                self.act(c, "dispatch", self.system, c.last)
            else:
                at = self.centre(c.last, 2, 35)
                if rng.random() < 0.005:
                    self.act(c, "void", self.shift_leader, at, note="重复立案，作废")
                    return
                self._dispatch(c, at, wrong=rng.random() < 0.03)
            self._handle(c)
        except _Stop:
            return

    def _dispatch(self, c: _Case, at: int, wrong: bool) -> None:
        if c.suggested is None or wrong:
            choices = [k for k in range(len(self.depts)) if k != c.suggested]
            self.act(c, "dispatch", self.dispatcher, at, department=self.rng.choice(choices))
        else:
            self.act(c, "dispatch", self.dispatcher, at)

    def _handle(self, c: _Case) -> None:
        rng = self.rng
        while True:
            # dispatched: a wrongly dispatched case is sent back (returned) and dispatched again.
            if c.suggested is not None and c.dept != c.suggested and rng.random() < 0.9:
                self.act(c, "request_return", self.dept_user(c), self.dept_time(c, c.last, 10, 120),
                         note="不属于本单位职责，申请退回")
                if rng.random() < 0.9:
                    self.act(c, "approve", self.dispatcher, self.centre(c.last, 5, 60))
                    self._dispatch(c, self.centre(c.last, 2, 30), wrong=False)
                    continue
                self.act(c, "deny", self.dispatcher, self.centre(c.last, 5, 60), note="经核实属于你单位职责，请处置")
            wall = c.stage_unit in ("minutes", "hours")
            self.act(c, "start", self.dept_user(c), self.dept_time(c, c.last, 1, 15 if wall else 90))
            self._process(c, wall)
            # handled
            self.act(c, "send_check", self.operator, self.centre(c.last, 3, 40))
            at = self.centre(c.last, 10, 80)
            if c.reworks < 2 and rng.random() < 0.06:
                self.act(c, "check", c.cell.inspector, at, outcome="failed", note="核查未通过：问题仍存在")
                continue
            self.act(c, "check", c.cell.inspector, at, outcome="passed")
            at = self.centre(c.last, 5, 180)
            if rng.random() < 0.015:
                self.act(c, "close", self.shift_leader, at, outcome="special", note="涉及产权争议，暂无法处置，特殊结案")
            else:
                self.act(c, "close", self.shift_leader, at)
            return

    def _process(self, c: _Case, wall: bool) -> None:
        """processing → handled, with postponements, suspensions and urging on the way."""
        rng = self.rng
        dept_clock = self.weekend_clock if self.depts[c.dept].weekends else self.clock
        r = rng.random()
        if r < 0.0005:
            fraction = math.inf  # a long-standing overdue case, still open
        elif r < 0.05:
            fraction = rng.uniform(1.02, 1.8)
        else:
            # Most work is done in time, more of it towards the deadline than early.
            fraction = 0.15 + 0.85 * math.sqrt(rng.random())
        r = rng.random()
        if r < 0.06:
            # Postpone before the deadline, most approved.
            at = self._within(c, dept_clock, wall, rng.uniform(0.4, 0.8))
            self.act(c, "request_postpone", self.dept_user(c), at, note="需协调相关单位，申请延期",
                     hours=rng.choice((8, 16, 24, 40)))
            if rng.random() < 0.8:
                self.act(c, "approve", self.dispatcher, self.centre(c.last, 5, 90))
                fraction = min(fraction, rng.uniform(0.5, 0.98)) if rng.random() < 0.85 else fraction
            else:
                self.act(c, "deny", self.dispatcher, self.centre(c.last, 5, 90), note="理由不充分，请按期处置")
        elif r < 0.085:
            at = self._within(c, dept_clock, wall, rng.uniform(0.1, 0.6))
            self.act(c, "request_suspend", self.dept_user(c), at, note="需待管线迁改完成后处置，申请挂账")
            if rng.random() < 0.85:
                self.act(c, "approve", self.dispatcher, self.centre(c.last, 5, 90))
                pause = _NEVER if rng.random() < 0.1 else int(rng.uniform(2, 45) * _DAY)
                if pause == _NEVER:
                    raise _Stop
                self.act(c, "resume", self.dispatcher, self.centre(c.last + pause, 0, 60))
            else:
                self.act(c, "deny", self.dispatcher, self.centre(c.last, 5, 90), note="请先行处置")
        if fraction == math.inf:
            if rng.random() < 0.5:
                self.act(c, "urge", self.dispatcher, self.centre(c.stage_deadline + 2 * _HOUR, 0, 120))
            raise _Stop
        done = self._within(c, dept_clock, wall, fraction)
        if fraction > 1 and rng.random() < 0.6:
            urge_at = self.centre(c.stage_deadline, 30, 480)
            if urge_at < done:
                self.act(c, "urge", self.dispatcher, urge_at)
        self.act(c, "feedback", self.dept_user(c), done, note="已处置完毕")

    def _within(self, c: _Case, clock: WorkClock, wall: bool, fraction: float) -> int:
        """The instant ``fraction`` of the way from the handle stage's start to its deadline."""
        if wall:
            at = c.stage_started + int((c.stage_deadline - c.stage_started) * fraction)
        else:
            at = clock.add(c.stage_started, int(clock.between(c.stage_started, c.stage_deadline) * fraction))
        return max(at, c.last + _MIN)


# -- generation --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Cell:
    code: str
    street: str
    community: str
    area_class: int
    inspector: tuple  # (user id, username, role)
    address: str


def _categories(session: Session, standard: str, depts: dict[int, int]) -> tuple[list[_Category], np.ndarray]:
    """The mix's categories in the active standard and their monthly weights (12 × K)."""
    rows = session.execute(sa.text(
        "SELECT id, kind, code, name, standard_ref, default_department_id, auto_dispatch, duplicate_radius_m "
        "FROM categories WHERE standard_ref = :s AND enabled"
    ), {"s": standard}).all()
    by_name = {(r.kind, r.name): r for r in rows}
    if not by_name:
        raise DemoError(f"no enabled categories of {standard}; load the category directories first")
    picked: dict[int, tuple[_Category, np.ndarray]] = {}
    for entry in MIX:
        row = next((by_name[(entry.kind, n)] for n in entry.names if (entry.kind, n) in by_name), None)
        if row is None:
            continue
        weights = entry.weight * np.asarray(entry.season, dtype=float)
        if row.id in picked:
            picked[row.id] = (picked[row.id][0], picked[row.id][1] + weights)
            continue
        cat = _Category(row.id, row.kind, row.code, row.name, row.standard_ref,
                        depts.get(row.default_department_id), row.auto_dispatch, row.duplicate_radius_m)
        picked[row.id] = (cat, weights)
    if len(picked) < 10:
        raise DemoError(f"only {len(picked)} of the demo mix's categories exist in {standard}")
    cats = [c for c, _ in picked.values()]
    return cats, np.stack([w for _, w in picked.values()], axis=1)


def _day_weights(session: Session, first: date, days: int) -> np.ndarray:
    names = dict(session.execute(sa.text("SELECT day, name FROM calendar_days WHERE kind = 'holiday'")).all())
    out = np.empty(days)
    for k in range(days):
        d = first + timedelta(days=k)
        name = names.get(d)
        out[k] = _WEEKDAY[d.weekday()] if name is None else (_SPRING_FESTIVAL if "春节" in name else _HOLIDAY)
    return out


def _cell_weights(ctx: DemoContext, rng: np.random.Generator) -> np.ndarray:
    """Hotspots: the CBD, a few markets and schools, the main roads; plus a uniform background."""
    cells = ctx.cells
    polys = np.array([c.polygon for c in cells], dtype=object)
    cent = shapely.get_coordinates(shapely.centroid(polys))
    w = np.array([_LAND_USE.get(c.land_use, 1.0) for c in cells])
    cbd = ctx.roads.cbd_centre
    d2 = (cent[:, 0] - cbd.x) ** 2 + (cent[:, 1] - cbd.y) ** 2
    w *= 1.0 + 4.0 * np.exp(-d2 / (2 * 700.0 ** 2))
    spots = [b for b in ctx.blocks if b.land_use in ("commercial", "education") and ctx.extent.contains(b.polygon.centroid)]
    n_spots = min(len(spots), max(3, len(cells) // 150))
    for k in rng.choice(len(spots), size=n_spots, replace=False) if spots else []:
        p = spots[int(k)].polygon.centroid
        sigma = rng.uniform(120.0, 350.0)
        d2 = (cent[:, 0] - p.x) ** 2 + (cent[:, 1] - p.y) ** 2
        w *= 1.0 + rng.uniform(2.0, 6.0) * np.exp(-d2 / (2 * sigma ** 2))
    main = [line for line, cls in zip(ctx.roads.lines, ctx.roads.classes) if cls in ("arterial", "ring")]
    if main:
        near = shapely.intersects(polys, shapely.buffer(shapely.union_all(main), 40.0))
        w *= np.where(near, 1.6, 1.0)
    w /= w.sum()
    return 0.2 / len(cells) + 0.8 * w


def _points_in(polys: np.ndarray, cell_ix: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A uniform random point inside each case's cell (rejection sampling on the bounds)."""
    bounds = shapely.bounds(polys)
    shapely.prepare(polys)
    out = np.empty((len(cell_ix), 2))
    todo = np.arange(len(cell_ix))
    for _ in range(200):
        b = bounds[cell_ix[todo]]
        x = rng.uniform(b[:, 0], b[:, 2])
        y = rng.uniform(b[:, 1], b[:, 3])
        ok = shapely.contains_xy(polys[cell_ix[todo]], x, y)
        out[todo[ok]] = np.column_stack([x[ok], y[ok]])
        todo = todo[~ok]
        if len(todo) == 0:
            return out
    # Slivers where sampling keeps missing: the point on surface.
    out[todo] = shapely.get_coordinates(shapely.point_on_surface(polys[cell_ix[todo]]))
    return out


def _duty_inspectors(ctx: DemoContext) -> dict[str, tuple[int, str, str]]:
    names = {i: u for u, i in ctx.people.user_ids.items()}
    out = {}
    for plan, uid in zip(ctx.duty_grids, ctx.people.inspector_ids):
        for code in plan.cell_codes:
            out[code] = (uid, names[uid], "inspector")
    return out


def _addresses(ctx: DemoContext) -> list[str]:
    """A nearby road name per cell, for the address text."""
    polys = np.array([c.polygon for c in ctx.cells], dtype=object)
    tree = shapely.STRtree(ctx.roads.lines)
    ix = tree.query_nearest(shapely.centroid(polys), return_distance=False, all_matches=False)[1]
    return [f"{ctx.roads.names[int(k)]}" for k in ix]


_TEMPLATES = {
    "inspector": "巡查发现{addr}附近{name}",
    "hotline": "市民来电反映：{addr}附近{name}，请尽快处理",
    "public": "市民通过随手拍反映{addr}附近{name}",
    "video": "视频监控发现{addr}附近{name}",
    "sensor": "传感器报警：{addr}附近疑似{name}",
    "open311": "{addr}附近{name}（Open311 上报）",
    "upper_platform": "上级平台转办：{addr}附近{name}",
}


def _report_order(reported: np.ndarray, columns: tuple[np.ndarray, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Put per-case ``columns`` into report order (ids follow it); the last column holds
    duplicate links (indices, -1 for none), which follow the permutation.

    Returns each old index's new position and the reordered columns.
    """
    perm = np.argsort(reported, kind="stable")
    rank = np.empty(len(reported), dtype=np.int64)
    rank[perm] = np.arange(len(reported))
    out = [a[perm] for a in columns]
    out[-1] = np.where(out[-1] >= 0, rank[np.maximum(out[-1], 0)], -1)
    return rank, out


def simulate(ctx: DemoContext, end: datetime, first_case_id: int) -> CaseHistory:
    """Generate the year of cases before ``end`` and run every lifecycle; no database writes.

    Reads the categories, departments, time limits and calendar from ``ctx.session``.

    Raises
    ------
    DemoError
        When the reference data (categories, calendar, time limits, people) is missing.

    Examples
    --------
    >>> simulate.__name__
    'simulate'
    """
    session, settings, seed = ctx.session, ctx.settings, ctx.seed
    if ctx.people is None:
        raise DemoError("the cases layer needs the demo people; load the core layers first")
    n = ctx.size.cases
    rng = np.random.default_rng([seed, 31])
    end_us = _us(end)
    first_day = (end - timedelta(days=HISTORY_DAYS)).astimezone(LOCAL_TZ).date()
    start_us = _us(datetime(first_day.year, first_day.month, first_day.day, tzinfo=LOCAL_TZ))

    dept_rows = session.execute(sa.text("SELECT id, code, works_weekends FROM departments ORDER BY id")).all()
    users = session.execute(sa.text("SELECT id, username, role, department_id FROM users ORDER BY id")).all()
    dept_users: dict[int, list[tuple[int, str, str]]] = {}
    for u in users:
        if u.role == "department" and u.department_id is not None:
            dept_users.setdefault(u.department_id, []).append((u.id, u.username, u.role))
    depts = [_Dept(r.id, r.code, r.works_weekends, tuple(dept_users.get(r.id, ()))) for r in dept_rows]
    if not depts or any(not d.users for d in depts):
        raise DemoError("every department needs a department user; load the demo people first")
    dept_index = {d.id: k for k, d in enumerate(depts)}
    categories, month_weights = _categories(session, settings.category_standard, dept_index)
    by_name = {u.username: (u.id, u.username, u.role) for u in users}
    people = {role: by_name[f"{role}1"] for role in ("operator", "shift_leader", "dispatcher")}
    open311_user = _open311_user(session) or people["operator"]

    # Report times: day weights x hour-of-day profile, uniform inside the hour.
    day_w = _day_weights(session, first_day, HISTORY_DAYS)
    hour_w = (day_w[:, None] * np.asarray(_HOURLY)[None, :]).ravel()
    hours = np.sort(rng.choice(len(hour_w), size=n, p=hour_w / hour_w.sum()))
    reported = start_us + hours.astype(np.int64) * _HOUR + rng.integers(0, _HOUR // 1_000_000, size=n) * 1_000_000
    reported = np.minimum(np.sort(reported), end_us - 1_000_000)
    local_hour = hours % 24
    months = np.array([(first_day + timedelta(days=int(h // 24))).month - 1 for h in hours])

    cat_ix = np.empty(n, dtype=np.int64)
    for m in range(12):
        sel = np.flatnonzero(months == m)
        if len(sel):
            p = month_weights[m] / month_weights[m].sum()
            cat_ix[sel] = rng.choice(len(categories), size=len(sel), p=p)

    polys = np.array([c.polygon for c in ctx.cells], dtype=object)
    cell_ix = rng.choice(len(ctx.cells), size=n, p=_cell_weights(ctx, rng))
    xy = _points_in(polys, cell_ix, rng)

    day = (local_hour >= 7) & (local_hour < 22)
    src_ix = np.where(
        day,
        rng.choice(len(_SOURCES), size=n, p=_SOURCE_DAY),
        rng.choice(len(_SOURCES), size=n, p=_SOURCE_NIGHT),
    )
    sensor_ok = np.array([_mix_of(c).sensor for c in categories])[cat_ix]
    src_ix[(src_ix == _SOURCES.index("sensor")) & ~sensor_ok] = _SOURCES.index("video")
    self_share = np.array([_mix_of(c).self_handle for c in categories])[cat_ix]
    self_handled = (src_ix == 0) & (rng.random(n) < self_share)
    urgent = rng.random(n) < np.where(sensor_ok, 4 * _URGENT_SHARE, _URGENT_SHARE)

    # Duplicates: a second report of an earlier case's problem, minutes to a day later and a
    # few metres away; the operator links it while the original is still open.
    dups = np.flatnonzero((rng.random(n) < _DUPLICATE_SHARE) & ~self_handled)
    is_dup = np.zeros(n, dtype=bool)
    is_dup[dups] = True
    orig = rng.choice(np.flatnonzero(~is_dup & ~self_handled), size=len(dups))
    delay = np.minimum(rng.exponential(3 * _HOUR, size=len(dups)).astype(np.int64) + 10 * _MIN, _DAY)
    reported[dups] = np.minimum(reported[orig] + delay // 1_000_000 * 1_000_000, end_us - 1_000_000)
    keep = reported[dups] > reported[orig]
    dups, orig = dups[keep], orig[keep]
    cat_ix[dups] = cat_ix[orig]
    cell_ix[dups] = cell_ix[orig]
    jitter = xy[orig] + rng.normal(0.0, 6.0, size=(len(dups), 2))
    inside = shapely.contains_xy(polys[cell_ix[orig]], jitter[:, 0], jitter[:, 1])
    xy[dups] = np.where(inside[:, None], jitter, xy[orig])
    dup_of = np.full(n, -1, dtype=np.int64)
    dup_of[dups] = orig
    # Back into report order (ids follow it); duplicate links follow the permutation.
    rank, (reported, cat_ix, cell_ix, xy, src_ix, self_handled, urgent, dup_of) = _report_order(
        reported, (reported, cat_ix, cell_ix, xy, src_ix, self_handled, urgent, dup_of))
    inspectors = _duty_inspectors(ctx)
    roads = _addresses(ctx)
    cells = [
        _Cell(c.code, c.street_code, c.community_code, c.area_class, inspectors[c.code], roads[k])
        for k, c in enumerate(ctx.cells)
    ]
    cal = load_calendar(session)
    last_day = end.astimezone(LOCAL_TZ).date() + timedelta(days=400)
    sim = _Simulator(session, cal, categories, depts, people, end_us, first_day - timedelta(days=2), last_day,
                     seed * 7919 + 17)

    def new_case(k: int, t: int) -> tuple[_Case, list, tuple, str]:
        """Case ``k`` reported at ``t`` (its index stands in for the id until ids are given), its
        report event and reporter."""
        cat = categories[int(cat_ix[k])]
        cell = cells[int(cell_ix[k])]
        source = _SOURCES[int(src_ix[k])]
        c = _Case()
        c.id, c.number = k, None
        c.category, c.cell = cat, cell
        c.urgency = "urgent" if urgent[k] else "normal"
        c.area_class = cell.area_class
        c.self_handled = bool(self_handled[k])
        c.state = "pending_close" if c.self_handled else "reported"
        c.pending = c.dept = c.assignee = c.duplicate_of = c.park = c.limit_minutes = None
        c.suspended_at = c.close_type = c.filed_at = c.dispatched_at = c.closed_at = None
        c.handle_deadline = None
        c.handled_at = t if c.self_handled else None
        c.suggested = cat.department
        c.postponements = c.reworks = c.returns = c.urges = 0
        c.postponed_minutes = 0.0
        c.version = 1
        c.updated_at = c.last = t
        sim.start_stage(c, t)
        reporter = cell.inspector if source == "inspector" else open311_user if source == "open311" else people["operator"]
        report = [None, t, reporter[0], reporter[1], reporter[2], "report", None, c.state, None,
                  json.dumps({"source": source, "self_handled": c.self_handled})]
        return c, report, reporter, source

    # The current backlog: cases picked across the year (none in a duplicate pair) are
    # re-reported recently and made to wait in their open state at the end; then all go
    # back into report order, as ids and numbers follow it.
    free = np.ones(n, dtype=bool)
    free[dup_of[dup_of >= 0]] = False
    free[dup_of >= 0] = False
    free = np.flatnonzero(free)
    size = min(backlog_size(n), len(free))
    picked = rng.choice(free, size=size, replace=False).tolist() if size else []
    py = random.Random(seed * 31 + 5)
    states, weights = list(BACKLOG_STATES), [w for w, _ in BACKLOG_STATES.values()]
    colours, shares = list(BACKLOG_LIGHTS), list(BACKLOG_LIGHTS.values())
    made: dict[int, tuple[_Case, list[list], tuple]] = {}
    for j, k in enumerate(picked):
        first = py.choices(colours, shares)[0]
        if j < len(states):
            tries = [(states[j], (first, *(c for c in colours if c != first)))]
        else:
            tries = [(py.choices(states, weights)[0], (first,)), (py.choice(_HANDLING), (first,))]
        for state, lights in tries:
            source = _SOURCES[int(src_ix[k])]
            if state == "verifying" and source == "inspector":
                src_ix[k] = _SOURCES.index("hotline")  # inspectors' own reports are not verified
                source = "hotline"
            self_handled[k] = state == "pending_close" and source == "inspector" and py.random() < 0.3
            found = sim.backlog_case(lambda t, k=k: new_case(k, t)[:2], source, state, lights,
                                     BACKLOG_STATES[state][1], tries=600 if j < len(states) else 200)
            if found is not None:
                break
        if found is not None:
            t, c, events = found
            reported[k] = t
            made[k] = (c, events, new_case(k, t)[2])
    rank, (reported, cat_ix, cell_ix, xy, src_ix, self_handled, urgent, dup_of) = _report_order(
        reported, (reported, cat_ix, cell_ix, xy, src_ix, self_handled, urgent, dup_of))
    made = {int(rank[k]): v for k, v in made.items()}
    video_ix = np.flatnonzero(src_ix == _SOURCES.index("video"))
    video_camera = dict(zip(video_ix.tolist(), _reporting_cameras(session, xy[video_ix])))

    ids = first_case_id + np.arange(n)
    closed_at = np.full(n, _NEVER, dtype=np.int64)
    numbers: list[str] = []
    case_rows: list[tuple] = []
    srid = settings.storage_srid
    district = settings.district_code
    started = perf_counter()
    reported_l = reported.tolist()
    xy_l = xy.tolist()
    for k in range(n):
        t = reported_l[k]
        cid = int(ids[k])
        number = f"{_dt(t).astimezone(LOCAL_TZ):%Y%m%d}{cid:08d}"
        numbers.append(number)
        if k in made:
            c, events, reporter = made[k]
            for e in events:
                e[0] = cid
            sim.events.extend(events)
        else:
            c, report, reporter, _ = new_case(k, t)
            report[0] = cid
            sim.events.append(report)
        c.id, c.number = cid, number
        cat, cell, source = c.category, c.cell, _SOURCES[int(src_ix[k])]
        if k not in made:
            o = int(dup_of[k])
            duplicate = (int(ids[o]), numbers[o]) if o >= 0 else None
            sim.run(c, source, t, duplicate,
                    lambda other, at: closed_at[other - first_case_id] > at)
        if c.closed_at is not None:
            closed_at[k] = c.closed_at
        contact = None
        if source in ("hotline", "public", "open311"):
            contact = json.dumps({"name": f"{_SURNAMES[cid % len(_SURNAMES)]}先生" if cid % 2 else
                                  f"{_SURNAMES[cid % len(_SURNAMES)]}女士",
                                  "phone": f"139{cid % 100_000_000:08d}"}, ensure_ascii=False)
        x, y = xy_l[k]
        case_rows.append((
            cid, number, district, source, cat.kind, cat.id, cat.code, cat.standard_ref, c.urgency,
            _TEMPLATES[source].format(addr=cell.address, name=cat.name), f"{cell.address}附近",
            f"SRID={srid};POINT({x!r} {y!r})", cell.code, cell.community, cell.street, cell.area_class,
            c.state, None if c.dept is None else depts[c.dept].id,
            None if c.suggested is None else depts[c.suggested].id, reporter[0], contact,
            None if c.assignee is None else c.assignee[0], c.duplicate_of, c.self_handled,
            video_camera.get(k) if source == "video" else None,
            json.dumps(c.pending, ensure_ascii=False) if c.pending else None,
            c.stage, c.stage_started, c.stage_deadline, c.stage_unit, c.limit_minutes, c.handle_deadline,
            c.suspended_at, c.handled_at, c.postponements, c.postponed_minutes, c.reworks, c.returns, c.urges,
            c.close_type, t, c.filed_at, c.dispatched_at, c.closed_at, c.updated_at, c.version,
        ))
    LOGGER.info("simulated %d cases, %d events in %.1f s", n, len(sim.events), perf_counter() - started)
    return CaseHistory(case_rows, sim.events)


def _reporting_cameras(session: Session, points: np.ndarray) -> list[str | None]:
    """For each storage-CRS point the device id of a video report's camera: the nearest demo
    camera whose view covers it, else the nearest camera (none when the layer is empty)."""
    rows = session.execute(sa.text(
        "SELECT device_id, ST_AsBinary(geom), ST_AsBinary(fov) FROM cameras "
        "WHERE status <> 'retired' ORDER BY device_id")).all()
    if not rows or not len(points):
        return [None] * len(points)
    ids = [r[0] for r in rows]
    where = shapely.from_wkb([bytes(r[1]) for r in rows])
    pts = shapely.points(points)
    pi, ci = shapely.STRtree(shapely.from_wkb([bytes(r[2]) for r in rows])).query(pts, predicate="intersects")
    order = np.lexsort((ci, shapely.distance(pts[pi], where[ci]), pi))  # per point: nearest first
    seen_by: dict[int, int] = {}
    for p, c in zip(pi[order].tolist(), ci[order].tolist()):
        seen_by.setdefault(p, c)
    near_pi, near_ci = shapely.STRtree(where).query_nearest(pts, all_matches=False)
    nearest = dict(zip(near_pi.tolist(), near_ci.tolist()))
    return [ids[seen_by.get(i, nearest[i])] for i in range(len(points))]


def _mix_of(cat: _Category) -> MixEntry:
    for entry in MIX:
        if entry.kind == cat.kind and cat.name in entry.names:
            return entry
    raise DemoError(f"category {cat.name} is not in the demo mix")


def _open311_user(session: Session) -> tuple[int, str, str] | None:
    row = session.execute(sa.text(
        "SELECT u.id, u.username, u.role FROM open311_clients c JOIN users u ON u.id = c.user_id "
        "WHERE c.active ORDER BY c.id LIMIT 1"
    )).first()
    return None if row is None else (row.id, row.username, row.role)


# -- loading -----------------------------------------------------------------------------------

_TIME_COLUMNS_CASES = tuple(
    CASE_COLUMNS.index(c) for c in (
        "stage_started_at", "stage_deadline", "handle_deadline", "suspended_at", "handled_at", "reported_at",
        "filed_at", "dispatched_at", "closed_at", "updated_at",
    )
)


def _copy_cases(raw: Any, rows: list[tuple]) -> None:
    cols = ", ".join(CASE_COLUMNS)
    times = _TIME_COLUMNS_CASES
    with raw.cursor().copy(f"COPY cases ({cols}) FROM STDIN") as copy:
        for row in rows:
            row = list(row)
            for i in times:
                if row[i] is not None:
                    row[i] = _EPOCH + timedelta(microseconds=row[i])
            copy.write_row(row)


def _copy_events(raw: Any, events: list[list], first_id: int) -> None:
    cols = ", ".join(EVENT_COLUMNS)
    epoch = _EPOCH
    with raw.cursor().copy(f"COPY case_events ({cols}) FROM STDIN") as copy:
        for k, e in enumerate(events):
            e[1] = epoch + timedelta(microseconds=e[1])
            copy.write_row((first_id + k, *e))


def load(ctx: DemoContext) -> dict[str, int]:
    """Simulate the history and COPY it into ``cases`` and ``case_events``; reserve the ids used.

    Examples
    --------
    >>> TABLES[:2]
    ('cases', 'case_events')
    """
    session = ctx.session
    end = ctx.history_end or default_history_end()
    started = perf_counter()
    first_case = session.execute(sa.text("SELECT nextval('cases_id_seq')")).scalar_one()
    history = simulate(ctx, end, first_case)
    simulated = perf_counter()
    raw = session.connection().connection.driver_connection
    first_event = session.execute(sa.text("SELECT nextval('case_events_id_seq')")).scalar_one()
    _copy_cases(raw, history.cases)
    _copy_events(raw, history.events, first_event)
    session.execute(sa.text("SELECT setval('cases_id_seq', :v)"), {"v": first_case + max(len(history.cases), 1) - 1})
    session.execute(sa.text("SELECT setval('case_events_id_seq', :v)"),
                    {"v": first_event + max(len(history.events), 1) - 1})
    session.execute(sa.text("ANALYZE cases"))
    session.execute(sa.text("ANALYZE case_events"))
    LOGGER.info("cases layer: simulated in %.1f s, loaded in %.1f s", simulated - started, perf_counter() - simulated)
    return {"cases": len(history.cases), "case_events": len(history.events)}
