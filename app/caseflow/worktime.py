"""Working-time calendar: work windows, holidays, make-up days and deadlines counted in working time."""

from __future__ import annotations

import bisect
import csv
import logging
import math
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CN_CALENDAR_CSV",
    "DEFAULT_WINDOWS",
    "LIMIT_UNITS",
    "WorkCalendar",
    "WorkTimeError",
    "deadline",
    "elapsed_fraction",
    "light",
    "load_calendar_csv",
    "remaining_working_minutes",
    "shift_deadline",
]

LOGGER = logging.getLogger(__name__)

#: Windows of a standard office day: 08:30–12:00 and 14:00–18:00 (7.5 h).
_OFFICE_DAY: tuple[tuple[time, time], ...] = ((time(8, 30), time(12, 0)), (time(14, 0), time(18, 0)))

#: Default work windows per weekday (0 = Monday … 6 = Sunday): Mon–Fri office day, weekend off.
DEFAULT_WINDOWS: Mapping[int, tuple[tuple[time, time], ...]] = {
    0: _OFFICE_DAY, 1: _OFFICE_DAY, 2: _OFFICE_DAY, 3: _OFFICE_DAY, 4: _OFFICE_DAY, 5: (), 6: (),
}

#: Units a time limit may be given in; minutes/hours are wall-clock, the others working time.
LIMIT_UNITS: tuple[str, ...] = ("minutes", "hours", "working_hours", "working_days")
_WALL_UNITS = frozenset({"minutes", "hours"})

#: The seeded Chinese public-holiday / make-up-day table shipped with the project.
CN_CALENDAR_CSV: Path = Path(__file__).resolve().parent.parent / "seed" / "calendar_cn.csv"

_CSV_COLUMNS = ("date", "kind", "name", "source", "confidence")
_CSV_KINDS = ("holiday", "workday")

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_US = timedelta(microseconds=1)
_US_PER_MIN = 60_000_000
# A calendar whose next 400 days hold no working time is misconfigured, not just sparse.
_EMPTY_SPAN_DAYS = 400
# The day index grows in steps of this many days; far targets need few steps.
_CHUNK_DAYS = 366
# Hard ceiling on how far ahead add_working_minutes looks, so absurd values fail fast.
_MAX_AHEAD_DAYS = 100 * 366


class WorkTimeError(ValueError):
    """Bad calendar configuration, a naive datetime, or a bad time limit.

    Examples
    --------
    >>> issubclass(WorkTimeError, ValueError)
    True
    """


def _check_date(d: object, what: str) -> date:
    # datetime is a subclass of date; a datetime here is almost always a caller's mistake.
    if not isinstance(d, date) or isinstance(d, datetime):
        raise WorkTimeError(f"{what} must be a datetime.date (not a datetime), got {d!r}")
    return d


def _check_aware(dt: object, what: str) -> datetime:
    if not isinstance(dt, datetime):
        raise WorkTimeError(f"{what} must be a timezone-aware datetime, got {dt!r}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise WorkTimeError(f"{what} must be timezone-aware, got naive {dt.isoformat()}")
    return dt


def _to_us(dt: datetime) -> int:
    """Microseconds since the Unix epoch (exact integer arithmetic for all sums)."""
    return (dt - _EPOCH) // _US


def _check_amount(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise WorkTimeError(f"{what} must be a finite number, got {value!r}")
    if value < 0:
        raise WorkTimeError(f"{what} must be >= 0, got {value!r}")
    return float(value)


def _check_unit(unit: object) -> str:
    if unit not in LIMIT_UNITS:
        raise WorkTimeError(f"unknown time-limit unit {unit!r}; expected one of {', '.join(LIMIT_UNITS)}")
    return unit  # type: ignore[return-value]


def _normalize_windows(
    windows: Mapping[int, Sequence[tuple[time, time]]],
) -> dict[int, tuple[tuple[time, time], ...]]:
    if not isinstance(windows, Mapping):
        raise WorkTimeError(f"windows must be a mapping weekday -> [(start, end), ...], got {windows!r}")
    out: dict[int, tuple[tuple[time, time], ...]] = {wd: () for wd in range(7)}
    for weekday, spans in windows.items():
        if isinstance(weekday, bool) or weekday not in out:
            raise WorkTimeError(f"windows key {weekday!r} is not a weekday number 0 (Mon) .. 6 (Sun)")
        checked: list[tuple[time, time]] = []
        for i, span in enumerate(spans):
            where = f"weekday {weekday} window {i}"
            if not (isinstance(span, (tuple, list)) and len(span) == 2):
                raise WorkTimeError(f"{where}: expected a (start, end) pair of datetime.time, got {span!r}")
            start, end = span
            if not (isinstance(start, time) and isinstance(end, time)):
                raise WorkTimeError(f"{where}: start and end must be datetime.time, got {span!r}")
            if start.tzinfo is not None or end.tzinfo is not None:
                raise WorkTimeError(f"{where}: times must be naive (the calendar tz applies), got {span!r}")
            if not start < end:
                raise WorkTimeError(f"{where}: start {start} must be before end {end}")
            if checked and start < checked[-1][1]:
                raise WorkTimeError(
                    f"{where}: {start}-{end} overlaps or precedes the previous window "
                    f"{checked[-1][0]}-{checked[-1][1]}; windows must be sorted and non-overlapping"
                )
            checked.append((start, end))
        out[weekday] = tuple(checked)
    if not out[0]:
        raise WorkTimeError("weekday 0 (Monday) needs at least one window: it defines the standard working day")
    return out


class WorkCalendar:
    """Work windows per weekday plus public holidays, make-up working days and optional weekend work.

    Rules for a date ``d``, first match wins:

    1. ``d`` in ``holidays`` (法定节假日, including 调休 rest days): no work.
    2. ``d`` in ``workdays`` (调休上班 make-up day): Monday's windows, ``windows[0]``.
    3. ``windows[d.weekday()]`` is non-empty: those windows.
    4. ``weekend_work`` and ``d`` is a Saturday or Sunday: Monday's windows.
    5. Otherwise no work.

    Windows are wall-clock times in ``tz`` and may not cross midnight. Instants are
    handled in UTC internally, so sums stay exact; results are aware datetimes in ``tz``.
    The per-day totals are indexed as prefix sums, so long spans cost a binary search,
    not a walk.

    Parameters
    ----------
    windows : Mapping[int, Sequence[tuple[time, time]]]
        Windows per weekday (0 = Monday … 6 = Sunday); missing weekdays have none.
        Each weekday's windows must be sorted, with ``start < end`` and no overlap.
        Monday must have at least one window (it is the standard working day).
    holidays : Iterable[date]
        Dates off even on a weekday. Holidays beat everything.
    workdays : Iterable[date]
        Make-up working days, normally Saturdays or Sundays.
    tz : str
        IANA time zone of the windows.
    weekend_work : bool
        Whether Saturdays and Sundays that are not holidays are worked (e.g. sanitation).

    Raises
    ------
    WorkTimeError
        For a bad window (naming the weekday and window), a non-date holiday or an unknown tz.

    Examples
    --------
    >>> from datetime import date, datetime, time
    >>> from zoneinfo import ZoneInfo
    >>> cal = WorkCalendar(holidays=[date(2026, 10, 1)], workdays=[date(2026, 10, 10)])
    >>> cal.day_minutes
    450.0
    >>> cal.is_working_day(date(2026, 10, 1)), cal.is_working_day(date(2026, 10, 10))
    (False, True)
    >>> start = datetime(2026, 9, 30, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> cal.add_working_minutes(start, 120).isoformat()
    '2026-10-02T09:30:00+08:00'
    >>> WorkCalendar(windows={0: [(time(12), time(9))]})
    Traceback (most recent call last):
    ...
    app.caseflow.worktime.WorkTimeError: weekday 0 window 0: start 12:00:00 must be before end 09:00:00
    """

    def __init__(
        self,
        windows: Mapping[int, Sequence[tuple[time, time]]] = DEFAULT_WINDOWS,
        holidays: Iterable[date] = (),
        workdays: Iterable[date] = (),
        tz: str = "Asia/Shanghai",
        weekend_work: bool = False,
    ) -> None:
        self._windows = _normalize_windows(windows)
        self._holidays = frozenset(_check_date(d, "holiday") for d in holidays)
        self._workdays = frozenset(_check_date(d, "make-up workday") for d in workdays)
        both = self._holidays & self._workdays
        if both:
            LOGGER.warning("dates listed as both holiday and workday count as holidays: %s",
                           ", ".join(sorted(d.isoformat() for d in both)))
        try:
            self._tz = ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError, TypeError) as exc:
            raise WorkTimeError(f"unknown time zone {tz!r}; expected an IANA name like 'Asia/Shanghai'") from exc
        self._tz_name = tz
        self._weekend_work = bool(weekend_work)
        # Prefix sums of working microseconds per day: _index = (first ordinal, cum) with
        # cum[i] = work on days first .. first+i-1. Replaced whole, so readers need no lock.
        self._index: tuple[int, list[int]] = (0, [0])
        self._index_lock = threading.Lock()
        self._day_cache: dict[int, tuple[tuple[int, int], ...]] = {}

    # -- configuration -------------------------------------------------------------------------

    @property
    def tz(self) -> ZoneInfo:
        """The calendar time zone.

        Examples
        --------
        >>> WorkCalendar().tz.key
        'Asia/Shanghai'
        """
        return self._tz

    @property
    def weekend_work(self) -> bool:
        """Whether non-holiday Saturdays and Sundays are worked.

        Examples
        --------
        >>> WorkCalendar(weekend_work=True).weekend_work
        True
        """
        return self._weekend_work

    @property
    def holidays(self) -> frozenset[date]:
        """Dates off (holidays beat make-up days and weekend work).

        Examples
        --------
        >>> from datetime import date
        >>> sorted(WorkCalendar(holidays=[date(2026, 1, 1)]).holidays)
        [datetime.date(2026, 1, 1)]
        """
        return self._holidays

    @property
    def workdays(self) -> frozenset[date]:
        """Make-up working days (调休上班).

        Examples
        --------
        >>> from datetime import date
        >>> sorted(WorkCalendar(workdays=[date(2026, 1, 4)]).workdays)
        [datetime.date(2026, 1, 4)]
        """
        return self._workdays

    @property
    def windows(self) -> dict[int, tuple[tuple[time, time], ...]]:
        """A copy of the validated windows per weekday (all 7 keys present).

        Examples
        --------
        >>> WorkCalendar().windows[5]
        ()
        """
        return dict(self._windows)

    @property
    def day_minutes(self) -> float:
        """Working minutes of a standard day (the sum of Monday's windows); one working day.

        Examples
        --------
        >>> WorkCalendar().day_minutes
        450.0
        """
        total = sum(
            (datetime.combine(date.min, e) - datetime.combine(date.min, s)) // _US for s, e in self._windows[0]
        )
        return total / _US_PER_MIN

    def with_weekend_work(self, flag: bool = True) -> WorkCalendar:
        """A copy of this calendar with weekend work switched on (or off).

        Parameters
        ----------
        flag : bool
            The new ``weekend_work`` value.

        Returns
        -------
        WorkCalendar
            A new calendar; this one is unchanged.

        Examples
        --------
        >>> from datetime import date
        >>> cal = WorkCalendar()
        >>> cal.with_weekend_work().is_working_day(date(2026, 3, 7)), cal.is_working_day(date(2026, 3, 7))
        (True, False)
        """
        return WorkCalendar(self._windows, self._holidays, self._workdays, self._tz_name, flag)

    def __repr__(self) -> str:
        return (f"WorkCalendar(tz={self._tz_name!r}, holidays={len(self._holidays)}, "
                f"workdays={len(self._workdays)}, weekend_work={self._weekend_work})")

    # -- days ----------------------------------------------------------------------------------

    def _spans_for(self, d: date) -> tuple[tuple[time, time], ...]:
        if d in self._holidays:
            return ()
        if d in self._workdays:
            return self._windows[0]
        own = self._windows[d.weekday()]
        if own:
            return own
        if self._weekend_work and d.weekday() >= 5:
            return self._windows[0]
        return ()

    def is_working_day(self, d: date) -> bool:
        """Whether ``d`` has any work window.

        Parameters
        ----------
        d : date
            A calendar date (not a datetime).

        Returns
        -------
        bool

        Examples
        --------
        >>> from datetime import date
        >>> cal = WorkCalendar(workdays=[date(2026, 2, 14)])
        >>> cal.is_working_day(date(2026, 2, 13)), cal.is_working_day(date(2026, 2, 14))
        (True, True)
        >>> cal.is_working_day(date(2026, 2, 21))
        False
        """
        return bool(self._spans_for(_check_date(d, "d")))

    def windows_on(self, d: date) -> list[tuple[datetime, datetime]]:
        """The work windows of date ``d`` as aware datetimes in the calendar tz.

        Parameters
        ----------
        d : date
            A calendar date (not a datetime).

        Returns
        -------
        list[tuple[datetime, datetime]]
            ``(start, end)`` pairs in time order; empty on a day off.

        Examples
        --------
        >>> from datetime import date
        >>> [(s.strftime("%H:%M"), e.strftime("%H:%M")) for s, e in WorkCalendar().windows_on(date(2026, 3, 2))]
        [('08:30', '12:00'), ('14:00', '18:00')]
        >>> WorkCalendar().windows_on(date(2026, 3, 1))
        []
        """
        _check_date(d, "d")
        return [
            (datetime.combine(d, s, tzinfo=self._tz), datetime.combine(d, e, tzinfo=self._tz))
            for s, e in self._spans_for(d)
        ]

    def _day_us(self, ordinal: int) -> tuple[tuple[int, int], ...]:
        """Windows of day ``ordinal`` as (start, end) microseconds since the epoch."""
        cached = self._day_cache.get(ordinal)
        if cached is None:
            cached = tuple((_to_us(s), _to_us(e)) for s, e in self.windows_on(date.fromordinal(ordinal)))
            self._day_cache[ordinal] = cached
        return cached

    def _day_total(self, ordinal: int) -> int:
        return sum(e - s for s, e in self._day_us(ordinal))

    # -- prefix-sum index ----------------------------------------------------------------------

    def _ensure(self, lo: int, hi: int) -> tuple[int, list[int]]:
        """Index covering day ordinals ``lo`` .. ``hi`` inclusive (extended in whole chunks)."""
        first, cum = self._index
        if len(cum) > 1 and first <= lo and hi < first + len(cum) - 1:
            return first, cum
        with self._index_lock:
            first, cum = self._index
            if len(cum) == 1:
                first = max(1, lo - 7)
                cum = [0]
            if lo < first:
                new_first = max(1, lo - _CHUNK_DAYS)
                head = [0]
                for o in range(new_first, first):
                    head.append(head[-1] + self._day_total(o))
                shift = head[-1]
                cum = head + [c + shift for c in cum[1:]]
                first = new_first
            last = first + len(cum) - 2  # last covered ordinal
            if hi > last:
                stop = min(hi + _CHUNK_DAYS, date.max.toordinal())
                cum = list(cum)
                for o in range(last + 1, stop + 1):
                    cum.append(cum[-1] + self._day_total(o))
            self._index = (first, cum)
            return first, cum

    def _local_ordinal(self, us: int) -> int:
        return (_EPOCH + us * _US).astimezone(self._tz).date().toordinal()

    def _within(self, us: int, ordinal: int) -> int:
        """Working microseconds on day ``ordinal`` before instant ``us``."""
        return sum(min(max(us - s, 0), e - s) for s, e in self._day_us(ordinal))

    # -- working time --------------------------------------------------------------------------

    def working_minutes_between(self, start: datetime, end: datetime) -> float:
        """Working minutes in ``[start, end)``, exact to the microsecond.

        Parameters
        ----------
        start, end : datetime
            Timezone-aware instants, in any zone.

        Returns
        -------
        float
            Minutes of working time; ``0.0`` when ``end <= start``.

        Raises
        ------
        WorkTimeError
            If either datetime is naive.

        Examples
        --------
        >>> from datetime import datetime
        >>> from zoneinfo import ZoneInfo
        >>> sh = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar()
        >>> cal.working_minutes_between(datetime(2026, 3, 6, 11, 0, tzinfo=sh),
        ...                             datetime(2026, 3, 9, 9, 0, tzinfo=sh))  # Fri 11:00 -> Mon 09:00
        330.0
        """
        s_us = _to_us(_check_aware(start, "start"))
        e_us = _to_us(_check_aware(end, "end"))
        if e_us <= s_us:
            return 0.0
        s_day, e_day = self._local_ordinal(s_us), self._local_ordinal(e_us)
        # One snapshot of the index for both ends, so both sums share one origin.
        first, cum = self._ensure(s_day, e_day)
        work = (cum[e_day - first] + self._within(e_us, e_day)) - (cum[s_day - first] + self._within(s_us, s_day))
        return work / _US_PER_MIN

    def add_working_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant at which ``minutes`` of working time have passed since ``start``.

        Counting starts at ``start`` if it is inside a window, else at the next window start.
        A result that falls exactly on a window end is that end (e.g. 12:00), not the next
        window start. Adding ``0`` returns the same instant as ``start`` (in the calendar tz),
        even outside working time.

        Parameters
        ----------
        start : datetime
            Timezone-aware instant.
        minutes : float
            Working minutes to add, ``>= 0``.

        Returns
        -------
        datetime
            Aware datetime in the calendar tz.

        Raises
        ------
        WorkTimeError
            If ``start`` is naive, ``minutes`` is negative or not finite, or the calendar has
            no working time in 400 consecutive days (misconfigured).

        Examples
        --------
        >>> from datetime import datetime
        >>> from zoneinfo import ZoneInfo
        >>> sh = ZoneInfo("Asia/Shanghai")
        >>> cal = WorkCalendar()
        >>> cal.add_working_minutes(datetime(2026, 3, 6, 17, 0, tzinfo=sh), 90).isoformat()  # Fri -> Mon
        '2026-03-09T09:00:00+08:00'
        >>> cal.add_working_minutes(datetime(2026, 3, 9, 7, 0, tzinfo=sh), 210).isoformat()  # ends at lunch
        '2026-03-09T12:00:00+08:00'
        """
        s_us = _to_us(_check_aware(start, "start"))
        m = _check_amount(minutes, "minutes")
        delta = round(m * _US_PER_MIN)
        if delta == 0:
            return start.astimezone(self._tz)
        s_local = start.astimezone(self._tz)
        s_day = s_local.date().toordinal()
        # Target as work counted from the start of day s_day: independent of the index origin,
        # which another thread may move while this one extends the index.
        rel = self._within(s_us, s_day) + delta
        first, cum = self._ensure(s_day, s_day)
        limit_day = min(s_day + _MAX_AHEAD_DAYS, date.max.toordinal())
        while cum[-1] - cum[s_day - first] < rel:
            last = first + len(cum) - 2
            if last >= limit_day:
                raise WorkTimeError(
                    f"adding {m} working minutes to {s_local.isoformat()} goes beyond "
                    f"{_MAX_AHEAD_DAYS} days ahead; expected a limit the calendar can reach"
                )
            first, cum = self._ensure(last + 1, min(last + _CHUNK_DAYS, limit_day))
            end = first + len(cum) - 1  # ordinal after the last covered day
            tail_start = end - _EMPTY_SPAN_DAYS
            if tail_start > s_day and cum[-1] == cum[tail_start - first]:
                _raise_on_gap(first, cum, s_day + 1, end)
        target = cum[s_day - first] + rel
        # cum[k] >= target first at k; the target is reached on day first + k - 1.
        k = bisect.bisect_left(cum, target, lo=s_day - first + 1)
        ordinal = first + k - 1
        if ordinal - s_day > _EMPTY_SPAN_DAYS:  # only long spans can hide such a gap
            _raise_on_gap(first, cum, s_day + 1, ordinal)
        remaining = target - cum[k - 1]
        for ws, we in self._day_us(ordinal):
            length = we - ws
            if remaining <= length:
                return (_EPOCH + (ws + remaining) * _US).astimezone(self._tz)
            remaining -= length
        raise AssertionError("prefix index and day windows disagree")  # pragma: no cover


def _raise_on_gap(first: int, cum: list[int], lo: int, hi: int) -> None:
    """Raise if days ``lo`` .. ``hi - 1`` contain 400 consecutive days without work (misconfigured)."""
    for o in range(lo, hi - _EMPTY_SPAN_DAYS + 1):
        if cum[o + _EMPTY_SPAN_DAYS - first] == cum[o - first]:
            raise WorkTimeError(
                f"no working time in the {_EMPTY_SPAN_DAYS} days from {date.fromordinal(o).isoformat()}; "
                "the calendar looks misconfigured (every day a holiday or without windows?)"
            )


# -- time limits -------------------------------------------------------------------------------


def deadline(calendar: WorkCalendar, start: datetime, value: float, unit: str) -> datetime:
    """The deadline of a limit of ``value`` ``unit`` started at ``start``.

    ``minutes``/``hours`` are wall-clock (the calendar is ignored); ``working_hours`` and
    ``working_days`` count working time, one working day being ``calendar.day_minutes``.

    Parameters
    ----------
    calendar : WorkCalendar
        Calendar for working units; its tz is used for the returned datetime.
    start : datetime
        Timezone-aware start.
    value : float
        Size of the limit, ``>= 0``.
    unit : str
        One of :data:`LIMIT_UNITS`.

    Returns
    -------
    datetime
        Aware datetime in the calendar tz.

    Raises
    ------
    WorkTimeError
        For an unknown unit, a negative or non-finite value, or a naive ``start``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> cal = WorkCalendar()
    >>> fri = datetime(2026, 3, 6, 17, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> deadline(cal, fri, 2, "hours").isoformat()
    '2026-03-06T19:00:00+08:00'
    >>> deadline(cal, fri, 2, "working_hours").isoformat()
    '2026-03-09T09:30:00+08:00'
    >>> deadline(cal, fri, 1, "working_days").isoformat()
    '2026-03-09T17:00:00+08:00'
    >>> deadline(cal, fri, 1, "days")
    Traceback (most recent call last):
    ...
    app.caseflow.worktime.WorkTimeError: unknown time-limit unit 'days'; expected one of minutes, hours, working_hours, working_days
    """
    unit = _check_unit(unit)
    v = _check_amount(value, "time-limit value")
    _check_aware(start, "start")
    if unit in _WALL_UNITS:
        # Elapsed real time: add in UTC so a DST change in another zone cannot skew it.
        step = timedelta(minutes=v) if unit == "minutes" else timedelta(hours=v)
        return (start.astimezone(timezone.utc) + step).astimezone(calendar.tz)
    if unit == "working_hours":
        return calendar.add_working_minutes(start, v * 60)
    return calendar.add_working_minutes(start, v * calendar.day_minutes)


def _used_and_limit(calendar: WorkCalendar, start: datetime, now: datetime, deadline_at: datetime,
                    unit: str) -> tuple[float, float]:
    if unit in _WALL_UNITS:
        s_us = _to_us(start)
        return (_to_us(now) - s_us) / _US_PER_MIN, (_to_us(deadline_at) - s_us) / _US_PER_MIN
    return (calendar.working_minutes_between(start, now),
            calendar.working_minutes_between(start, deadline_at))


def elapsed_fraction(calendar: WorkCalendar, start: datetime, now: datetime, deadline_at: datetime,
                     unit: str) -> float:
    """Share of the limit ``start`` → ``deadline_at`` used at ``now`` (``1.0`` = due now).

    Wall-clock for ``minutes``/``hours``, working time otherwise. ``0.0`` when
    ``now <= start``. A zero-length limit gives ``1.0`` once ``now >= deadline_at``.

    Parameters
    ----------
    calendar : WorkCalendar
        Calendar for working units.
    start, now, deadline_at : datetime
        Timezone-aware instants.
    unit : str
        One of :data:`LIMIT_UNITS`.

    Returns
    -------
    float
        ``>= 0``; above ``1.0`` when overdue.

    Raises
    ------
    WorkTimeError
        For an unknown unit or a naive datetime.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> sh = ZoneInfo("Asia/Shanghai")
    >>> cal = WorkCalendar()
    >>> start = datetime(2026, 3, 6, 17, 0, tzinfo=sh)   # Friday
    >>> due = deadline(cal, start, 2, "working_hours")    # Monday 09:30
    >>> elapsed_fraction(cal, start, datetime(2026, 3, 8, 12, 0, tzinfo=sh), due, "working_hours")
    0.5
    """
    unit = _check_unit(unit)
    for name, dt in (("start", start), ("now", now), ("deadline_at", deadline_at)):
        _check_aware(dt, name)
    if now <= start:
        return 0.0
    used, limit = _used_and_limit(calendar, start, now, deadline_at, unit)
    if limit <= 0:
        return 1.0 if now >= deadline_at else 0.0
    return used / limit


def light(fraction: float) -> str:
    """Warning light for an elapsed fraction: green ≤ 0.8 < yellow ≤ 1.0 < red.

    Parameters
    ----------
    fraction : float
        Result of :func:`elapsed_fraction`.

    Returns
    -------
    str
        ``"green"``, ``"yellow"`` or ``"red"``.

    Raises
    ------
    WorkTimeError
        For a negative or NaN fraction.

    Examples
    --------
    >>> light(0.8), light(0.81), light(1.0), light(1.01)
    ('green', 'yellow', 'yellow', 'red')
    """
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or math.isnan(fraction) or fraction < 0:
        raise WorkTimeError(f"fraction must be a number >= 0, got {fraction!r}")
    if fraction <= 0.8:
        return "green"
    if fraction <= 1.0:
        return "yellow"
    return "red"


def remaining_working_minutes(calendar: WorkCalendar, now: datetime, deadline_at: datetime) -> float:
    """Working minutes left from ``now`` until ``deadline_at`` (``0.0`` when due or overdue).

    Parameters
    ----------
    calendar : WorkCalendar
        The calendar.
    now, deadline_at : datetime
        Timezone-aware instants.

    Returns
    -------
    float

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> sh = ZoneInfo("Asia/Shanghai")
    >>> remaining_working_minutes(WorkCalendar(), datetime(2026, 3, 6, 17, 0, tzinfo=sh),
    ...                           datetime(2026, 3, 9, 9, 30, tzinfo=sh))
    120.0
    """
    return calendar.working_minutes_between(now, deadline_at)


def shift_deadline(calendar: WorkCalendar, paused_from: datetime, resumed_at: datetime,
                   deadline_at: datetime, unit: str) -> datetime:
    """The deadline after a suspension from ``paused_from`` to ``resumed_at``.

    The remaining limit at ``resumed_at`` equals what was left at ``paused_from``: working
    minutes for working units, wall-clock time for ``minutes``/``hours``. A deadline already
    missed when the pause began is not moved (a suspension does not undo overdue time).

    Parameters
    ----------
    calendar : WorkCalendar
        The calendar.
    paused_from, resumed_at : datetime
        Timezone-aware bounds of the pause; ``resumed_at >= paused_from``.
    deadline_at : datetime
        Deadline in force when the pause began.
    unit : str
        One of :data:`LIMIT_UNITS` (the limit's unit).

    Returns
    -------
    datetime
        Aware datetime in the calendar tz.

    Raises
    ------
    WorkTimeError
        For an unknown unit, a naive datetime, or ``resumed_at`` before ``paused_from``.

    Examples
    --------
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> sh = ZoneInfo("Asia/Shanghai")
    >>> cal = WorkCalendar()
    >>> shift_deadline(cal, datetime(2026, 3, 6, 17, 0, tzinfo=sh), datetime(2026, 3, 10, 9, 0, tzinfo=sh),
    ...                datetime(2026, 3, 9, 9, 30, tzinfo=sh), "working_hours").isoformat()
    '2026-03-10T11:00:00+08:00'
    """
    unit = _check_unit(unit)
    for name, dt in (("paused_from", paused_from), ("resumed_at", resumed_at), ("deadline_at", deadline_at)):
        _check_aware(dt, name)
    if resumed_at < paused_from:
        raise WorkTimeError(
            f"resumed_at {resumed_at.isoformat()} is before paused_from {paused_from.isoformat()}"
        )
    if deadline_at <= paused_from:
        return deadline_at.astimezone(calendar.tz)
    if unit in _WALL_UNITS:
        pause = (_to_us(resumed_at) - _to_us(paused_from)) * _US
        return (deadline_at.astimezone(timezone.utc) + pause).astimezone(calendar.tz)
    left = remaining_working_minutes(calendar, paused_from, deadline_at)
    return calendar.add_working_minutes(resumed_at, left)


# -- seed data ---------------------------------------------------------------------------------


def load_calendar_csv(path: str | Path) -> tuple[set[date], set[date]]:
    """Read a holiday / make-up-day table (columns ``date,kind,name,source,confidence``).

    ``kind`` is ``holiday`` (a day off) or ``workday`` (a make-up working day, which must be
    a Saturday or Sunday). Every field is required; each date may appear once.

    Parameters
    ----------
    path : str or Path
        CSV file, UTF-8, with a header row.

    Returns
    -------
    tuple[set[date], set[date]]
        ``(holidays, workdays)``, ready for :class:`WorkCalendar`.

    Raises
    ------
    WorkTimeError
        For a missing column or a bad row, naming the line number and the problem.

    Examples
    --------
    >>> holidays, workdays = load_calendar_csv(CN_CALENDAR_CSV)
    >>> from datetime import date
    >>> date(2026, 10, 1) in holidays, date(2026, 10, 10) in workdays
    (True, True)
    """
    path = Path(path)
    holidays: set[date] = set()
    workdays: set[date] = set()
    seen: dict[date, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        missing = [c for c in _CSV_COLUMNS if c not in header]
        if missing:
            raise WorkTimeError(
                f"{path}: missing column(s) {', '.join(missing)}; expected header {','.join(_CSV_COLUMNS)}"
            )
        for row in reader:
            line = reader.line_num
            where = f"{path}: line {line}"
            if None in row:
                raise WorkTimeError(f"{where}: too many fields; expected {len(header)}")
            for col in _CSV_COLUMNS:
                if not (row.get(col) or "").strip():
                    raise WorkTimeError(f"{where}: empty or missing field {col!r}")
            raw = row["date"].strip()
            try:
                d = date.fromisoformat(raw)
            except ValueError:
                raise WorkTimeError(f"{where}: date {raw!r} is not an ISO date YYYY-MM-DD") from None
            if len(raw) != 10:
                raise WorkTimeError(f"{where}: date {raw!r} is not an ISO date YYYY-MM-DD")
            kind = row["kind"].strip()
            if kind not in _CSV_KINDS:
                raise WorkTimeError(f"{where}: kind {kind!r} is not one of {', '.join(_CSV_KINDS)}")
            if kind == "workday" and d.weekday() < 5:
                raise WorkTimeError(
                    f"{where}: make-up workday {d.isoformat()} is a {d.strftime('%A')}; "
                    "expected a Saturday or Sunday"
                )
            if d in seen:
                raise WorkTimeError(f"{where}: date {d.isoformat()} already listed on line {seen[d]}")
            seen[d] = line
            (holidays if kind == "holiday" else workdays).add(d)
    LOGGER.debug("loaded %d holidays and %d make-up workdays from %s", len(holidays), len(workdays), path)
    return holidays, workdays
