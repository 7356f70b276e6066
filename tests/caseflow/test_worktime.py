"""Working-time calendar: windows, holidays, 调休 make-up days, weekend work, deadlines, lights."""

from __future__ import annotations

import doctest
import random
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import app.caseflow.worktime as worktime
from app.caseflow.worktime import (
    CN_CALENDAR_CSV,
    LIMIT_UNITS,
    WorkCalendar,
    WorkTimeError,
    deadline,
    elapsed_fraction,
    light,
    load_calendar_csv,
    remaining_working_minutes,
    shift_deadline,
)

SH = ZoneInfo("Asia/Shanghai")


def at(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    """An aware Asia/Shanghai datetime."""
    return datetime(y, mo, d, h, mi, s, tzinfo=SH)


@pytest.fixture(scope="module")
def cn() -> WorkCalendar:
    """The default calendar with the seeded Chinese holidays and make-up days."""
    holidays, workdays = load_calendar_csv(CN_CALENDAR_CSV)
    return WorkCalendar(holidays=holidays, workdays=workdays)


PLAIN = WorkCalendar()


def test_doctests():
    result = doctest.testmod(worktime)
    assert result.attempted > 15
    assert result.failed == 0


# -- basic windows ----------------------------------------------------------------------------


def test_default_day_is_seven_and_a_half_hours():
    assert PLAIN.day_minutes == 450.0
    # 2026-03-02 is a Monday, 03-07 a Saturday.
    assert [PLAIN.is_working_day(date(2026, 3, d)) for d in range(2, 9)] == [True] * 5 + [False] * 2
    assert PLAIN.windows_on(date(2026, 3, 2)) == [
        (at(2026, 3, 2, 8, 30), at(2026, 3, 2, 12)),
        (at(2026, 3, 2, 14), at(2026, 3, 2, 18)),
    ]


def test_within_a_window():
    assert PLAIN.add_working_minutes(at(2026, 3, 3, 9, 0), 45) == at(2026, 3, 3, 9, 45)
    assert PLAIN.working_minutes_between(at(2026, 3, 3, 9, 0), at(2026, 3, 3, 9, 45)) == 45.0


def test_start_before_opening_counts_from_opening():
    assert PLAIN.add_working_minutes(at(2026, 3, 3, 6, 0), 30) == at(2026, 3, 3, 9, 0)


def test_start_during_lunch_counts_from_afternoon():
    assert PLAIN.add_working_minutes(at(2026, 3, 3, 12, 30), 60) == at(2026, 3, 3, 15, 0)
    assert PLAIN.working_minutes_between(at(2026, 3, 3, 11, 0), at(2026, 3, 3, 15, 0)) == 120.0


def test_limit_ending_exactly_at_lunch_is_noon_not_two_pm():
    assert PLAIN.add_working_minutes(at(2026, 3, 3, 8, 30), 210) == at(2026, 3, 3, 12, 0)
    assert PLAIN.add_working_minutes(at(2026, 3, 3, 8, 30), 211) == at(2026, 3, 3, 14, 1)


def test_start_after_closing_counts_from_next_morning():
    assert PLAIN.add_working_minutes(at(2026, 3, 3, 19, 0), 60) == at(2026, 3, 4, 9, 30)


def test_friday_evening_rolls_to_monday():
    # 2026-03-06 is a Friday.
    assert PLAIN.add_working_minutes(at(2026, 3, 6, 18, 30), 10) == at(2026, 3, 9, 8, 40)


def test_deadline_crossing_a_weekend():
    # Friday 16:00 + 4 working hours: 2 h on Friday, 2 h on Monday morning.
    assert deadline(PLAIN, at(2026, 3, 6, 16), 4, "working_hours") == at(2026, 3, 9, 10, 30)
    assert PLAIN.working_minutes_between(at(2026, 3, 6, 16), at(2026, 3, 9, 10, 30)) == 240.0


def test_adding_zero_returns_start_even_off_hours():
    sunday = at(2026, 3, 8, 3, 0)
    assert PLAIN.add_working_minutes(sunday, 0) == sunday
    assert deadline(PLAIN, sunday, 0, "working_hours") == sunday


def test_results_are_in_calendar_tz_for_utc_input():
    start = datetime(2026, 3, 3, 1, 0, tzinfo=timezone.utc)  # 09:00 in Shanghai
    end = PLAIN.add_working_minutes(start, 30)
    assert end.tzinfo == SH
    assert (end.hour, end.minute) == (9, 30)
    assert PLAIN.working_minutes_between(start, end) == 30.0


def test_sub_minute_precision():
    start = at(2026, 3, 3, 11, 59, 30)
    assert PLAIN.add_working_minutes(start, 1) == at(2026, 3, 3, 14, 0, 30)
    assert PLAIN.working_minutes_between(start, at(2026, 3, 3, 14, 0, 15)) == 0.75


# -- holidays and 调休 -------------------------------------------------------------------------


def test_seeded_csv_contents(cn):
    holidays, workdays = load_calendar_csv(CN_CALENDAR_CSV)
    assert workdays == {date(2026, 1, 4), date(2026, 2, 14), date(2026, 2, 28), date(2026, 5, 9),
                        date(2026, 9, 20), date(2026, 10, 10)}
    assert {d for d in holidays if date(2026, 2, 1) <= d <= date(2026, 2, 28)} == {
        date(2026, 2, d) for d in range(15, 24)}
    assert sum(1 for d in holidays if d.year == 2026) == 33
    expected_2027 = {date(2027, 1, 1), *(date(2027, 2, d) for d in range(5, 9)), date(2027, 4, 5),
                     date(2027, 5, 1), date(2027, 5, 2), date(2027, 6, 9), date(2027, 9, 15),
                     *(date(2027, 10, d) for d in range(1, 4))}
    assert {d for d in holidays if d.year == 2027} == expected_2027


def test_spring_festival_2026(cn):
    # Fri 2/13 16:00: 2 h left that day; Sat 2/14 is a make-up day (Monday windows, 7.5 h);
    # 2/15-2/23 are holidays; the next working day is Tue 2/24.
    assert cn.is_working_day(date(2026, 2, 14))
    assert not any(cn.is_working_day(date(2026, 2, d)) for d in range(15, 24))
    assert cn.is_working_day(date(2026, 2, 24))
    assert cn.add_working_minutes(at(2026, 2, 13, 16), 120 + 450) == at(2026, 2, 14, 18)
    assert cn.add_working_minutes(at(2026, 2, 13, 16), 120 + 450 + 1) == at(2026, 2, 24, 8, 31)
    # Sat 2/28 is worked too: 5 working days from Tue 2/24 08:30 end on Sat 2/28 18:00.
    assert deadline(cn, at(2026, 2, 24, 8, 30), 5, "working_days") == at(2026, 2, 28, 18)
    assert cn.working_minutes_between(at(2026, 2, 13, 0), at(2026, 3, 2, 0)) == 450 * 7
    # The plain calendar does not know the festival: different answer.
    assert PLAIN.add_working_minutes(at(2026, 2, 13, 16), 121) == at(2026, 2, 16, 8, 31)


def test_national_day_2026(cn):
    # Sun 9/20 is a make-up day; Fri 9/25-Sun 9/27 中秋; Thu 10/1-Wed 10/7 国庆; Sat 10/10 worked.
    assert cn.windows_on(date(2026, 9, 20)) == [
        (at(2026, 9, 20, 8, 30), at(2026, 9, 20, 12)), (at(2026, 9, 20, 14), at(2026, 9, 20, 18))]
    assert cn.add_working_minutes(at(2026, 9, 19, 10), 30) == at(2026, 9, 20, 9, 0)
    assert cn.add_working_minutes(at(2026, 9, 30, 17), 90) == at(2026, 10, 8, 9, 0)
    # Thu 10/8 + Fri 10/9 + Sat 10/10 are the three working days after the break.
    assert deadline(cn, at(2026, 9, 30, 18), 3, "working_days") == at(2026, 10, 10, 18)
    assert cn.working_minutes_between(at(2026, 10, 1), at(2026, 10, 12)) == 3 * 450
    assert not cn.is_working_day(date(2026, 10, 11))


def test_holiday_beats_make_up_and_weekend_work():
    d = date(2026, 3, 7)  # a Saturday
    cal = WorkCalendar(holidays=[d], workdays=[d], weekend_work=True)
    assert not cal.is_working_day(d)
    assert cal.windows_on(d) == []


def test_make_up_day_uses_monday_windows_even_if_saturday_has_its_own():
    windows = {0: [(time(9), time(17))], 1: [(time(9), time(17))], 5: [(time(9), time(11))]}
    cal = WorkCalendar(windows=windows, workdays=[date(2026, 3, 7)])
    assert cal.windows_on(date(2026, 3, 7)) == [(at(2026, 3, 7, 9), at(2026, 3, 7, 17))]
    assert cal.windows_on(date(2026, 3, 14)) == [(at(2026, 3, 14, 9), at(2026, 3, 14, 11))]
    assert cal.day_minutes == 480.0


# -- weekend work -----------------------------------------------------------------------------


def test_weekend_work_department(cn):
    sanitation = cn.with_weekend_work()
    assert sanitation.weekend_work and not cn.weekend_work
    # Friday 17:00 + 2 working hours: Saturday 09:30 for sanitation, Monday 09:30 otherwise.
    assert deadline(sanitation, at(2026, 3, 6, 17), 2, "working_hours") == at(2026, 3, 7, 9, 30)
    assert deadline(cn, at(2026, 3, 6, 17), 2, "working_hours") == at(2026, 3, 9, 9, 30)
    # Public holidays stay off even for weekend workers (Sat 10/3 is in the 国庆 block).
    assert not sanitation.is_working_day(date(2026, 10, 3))
    assert sanitation.is_working_day(date(2026, 10, 17))
    assert not sanitation.with_weekend_work(False).is_working_day(date(2026, 10, 17))


# -- units ------------------------------------------------------------------------------------


def test_one_working_day_from_friday_afternoon():
    # Friday 17:00 → 18:00 gives 60 min; 450 - 60 = 390 min left on Monday:
    # 08:30-12:00 is 210 min, 180 min after 14:00 is 17:00. Same clock time, next working day.
    assert 60 + 210 + 180 == 450
    assert deadline(PLAIN, at(2026, 3, 6, 17), 1, "working_days") == at(2026, 3, 9, 17)
    assert deadline(PLAIN, at(2026, 3, 6, 17), 7.5, "working_hours") == at(2026, 3, 9, 17)
    # Half a working day (225 min) from Monday 08:30: 210 before lunch, 15 after.
    assert deadline(PLAIN, at(2026, 3, 9, 8, 30), 0.5, "working_days") == at(2026, 3, 9, 14, 15)


def test_fifteen_working_days_and_a_long_limit(cn):
    # 违法搭建 15 工作日 from Mon 2026-09-14 09:00 crosses 中秋 and 国庆 with their 调休 days.
    end = deadline(cn, at(2026, 9, 14, 9), 15, "working_days")
    assert cn.working_minutes_between(at(2026, 9, 14, 9), end) == 15 * 450
    working = [d for d in (date(2026, 9, 14) + timedelta(i) for i in range(40)) if cn.is_working_day(d)]
    assert end == at(working[15].year, working[15].month, working[15].day, 9)
    # A year of working days stays fast and exact (prefix sums, not a walk).
    far = deadline(cn, at(2026, 1, 5, 8, 30), 365, "working_days")
    assert cn.working_minutes_between(at(2026, 1, 5, 8, 30), far) == 365 * 450
    assert far.year == 2027


def test_wall_clock_units_ignore_the_calendar(cn):
    sat_night = at(2026, 2, 14, 23, 30)  # before the Spring Festival break
    assert deadline(cn, sat_night, 30, "minutes") == at(2026, 2, 15, 0, 0)
    assert deadline(cn, sat_night, 2, "hours") == at(2026, 2, 15, 1, 30)
    assert deadline(cn, sat_night, 1.5, "minutes") == at(2026, 2, 14, 23, 31, 30)


def test_unit_and_value_errors():
    with pytest.raises(WorkTimeError, match="unknown time-limit unit 'days'.*working_days"):
        deadline(PLAIN, at(2026, 3, 3, 9), 1, "days")
    with pytest.raises(WorkTimeError, match=">= 0, got -1"):
        deadline(PLAIN, at(2026, 3, 3, 9), -1, "working_hours")
    with pytest.raises(WorkTimeError, match="finite"):
        deadline(PLAIN, at(2026, 3, 3, 9), float("nan"), "hours")
    with pytest.raises(WorkTimeError, match="minutes must be >= 0"):
        PLAIN.add_working_minutes(at(2026, 3, 3, 9), -5)
    assert set(LIMIT_UNITS) == {"minutes", "hours", "working_hours", "working_days"}


# -- suspension, postponement, lights ---------------------------------------------------------


def test_suspension_keeps_the_remaining_working_time():
    start = at(2026, 3, 6, 15, 0)
    due = deadline(PLAIN, start, 3, "working_hours")  # Fri 15-18 uses it all: Fri 18:00
    assert due == at(2026, 3, 6, 18, 0)
    due = deadline(PLAIN, at(2026, 3, 6, 16, 0), 3, "working_hours")  # Mon 09:30
    paused = at(2026, 3, 6, 17, 0)
    assert remaining_working_minutes(PLAIN, paused, due) == 120.0
    new_due = shift_deadline(PLAIN, paused, at(2026, 3, 10, 9, 0), due, "working_hours")
    assert new_due == at(2026, 3, 10, 11, 0)
    assert remaining_working_minutes(PLAIN, at(2026, 3, 10, 9, 0), new_due) == 120.0


def test_suspension_wall_clock_and_edge_cases():
    due = at(2026, 3, 6, 20, 0)
    moved = shift_deadline(PLAIN, at(2026, 3, 6, 19, 0), at(2026, 3, 7, 10, 0), due, "hours")
    assert moved == at(2026, 3, 7, 11, 0)
    # A deadline already missed when the pause began does not move.
    assert shift_deadline(PLAIN, at(2026, 3, 9, 10), at(2026, 3, 10, 10),
                          at(2026, 3, 9, 9), "working_hours") == at(2026, 3, 9, 9)
    with pytest.raises(WorkTimeError, match="resumed_at .* is before paused_from"):
        shift_deadline(PLAIN, at(2026, 3, 9, 10), at(2026, 3, 9, 9), due, "working_hours")


def test_postponement_by_working_hours(cn):
    old = at(2026, 9, 30, 16, 0)
    new = deadline(cn, old, 4, "working_hours")
    # 2 h on 9/30, then the 国庆 break; 2 h more on Thu 10/8.
    assert new == at(2026, 10, 8, 10, 30)
    assert cn.working_minutes_between(old, new) == 240.0


def test_elapsed_fraction_and_lights():
    start = at(2026, 3, 6, 16, 0)
    due = deadline(PLAIN, start, 4, "working_hours")  # 120 min Fri + 120 Mon → Mon 10:30
    assert due == at(2026, 3, 9, 10, 30)
    assert elapsed_fraction(PLAIN, start, at(2026, 3, 6, 15, 0), due, "working_hours") == 0.0
    assert elapsed_fraction(PLAIN, start, at(2026, 3, 8, 12, 0), due, "working_hours") == 0.5
    at80 = at(2026, 3, 9, 9, 42)  # 120 + 72 = 192 = 0.8 × 240
    assert elapsed_fraction(PLAIN, start, at80, due, "working_hours") == 0.8
    assert light(elapsed_fraction(PLAIN, start, at80, due, "working_hours")) == "green"
    just_after = at80 + timedelta(seconds=1)
    assert light(elapsed_fraction(PLAIN, start, just_after, due, "working_hours")) == "yellow"
    assert light(elapsed_fraction(PLAIN, start, due, due, "working_hours")) == "yellow"
    assert light(elapsed_fraction(PLAIN, start, due + timedelta(seconds=1), due, "working_hours")) == "red"
    # Wall-clock units count the weekend.
    wall_due = deadline(PLAIN, start, 10, "hours")
    assert elapsed_fraction(PLAIN, start, at(2026, 3, 6, 24 - 3, 0), wall_due, "hours") == 0.5


def test_light_boundaries_and_bad_fraction():
    assert [light(x) for x in (0.0, 0.8, 0.8000001, 1.0, 1.0000001, 5.0)] == [
        "green", "green", "yellow", "yellow", "red", "red"]
    with pytest.raises(WorkTimeError, match="fraction"):
        light(float("nan"))
    with pytest.raises(WorkTimeError, match="fraction"):
        light(-0.1)


def test_zero_length_limit_is_due_at_once():
    start = at(2026, 3, 3, 9, 0)
    due = deadline(PLAIN, start, 0, "minutes")
    assert elapsed_fraction(PLAIN, start, start, due, "minutes") == 0.0
    assert elapsed_fraction(PLAIN, start, start + timedelta(seconds=1), due, "minutes") == 1.0
    # A working limit set on a Saturday with no working time before its deadline.
    sat = at(2026, 3, 7, 10)
    assert elapsed_fraction(PLAIN, sat, at(2026, 3, 7, 11), at(2026, 3, 7, 12), "working_hours") == 0.0
    assert elapsed_fraction(PLAIN, sat, at(2026, 3, 7, 13), at(2026, 3, 7, 12), "working_hours") == 1.0


# -- bad input --------------------------------------------------------------------------------


def test_naive_datetimes_rejected():
    naive = datetime(2026, 3, 3, 9, 0)
    with pytest.raises(WorkTimeError, match="start must be timezone-aware, got naive 2026-03-03T09:00:00"):
        PLAIN.add_working_minutes(naive, 10)
    with pytest.raises(WorkTimeError, match="end must be timezone-aware"):
        PLAIN.working_minutes_between(at(2026, 3, 3, 9), naive)
    with pytest.raises(WorkTimeError, match="now must be timezone-aware"):
        elapsed_fraction(PLAIN, at(2026, 3, 3, 9), naive, at(2026, 3, 3, 10), "hours")
    with pytest.raises(WorkTimeError, match="start must be timezone-aware"):
        deadline(PLAIN, naive, 1, "hours")
    with pytest.raises(WorkTimeError, match="not a datetime"):
        PLAIN.is_working_day(at(2026, 3, 3, 9))
    assert issubclass(WorkTimeError, ValueError)


@pytest.mark.parametrize(
    ("windows", "message"),
    [
        ({0: [(time(12), time(9))]}, "weekday 0 window 0: start 12:00:00 must be before end 09:00:00"),
        ({0: [(time(9), time(12))], 2: [(time(9), time(12)), (time(11), time(13))]},
         "weekday 2 window 1: 11:00:00-13:00:00 overlaps"),
        ({0: [(time(14), time(18)), (time(8), time(12))]}, "weekday 0 window 1: .*sorted"),
        ({0: [(time(9), time(12))], 7: [(time(9), time(12))]}, "key 7 is not a weekday"),
        ({0: [(time(9),)]}, "weekday 0 window 0: expected a \\(start, end\\) pair"),
        ({0: [("09:00", "12:00")]}, "weekday 0 window 0: start and end must be datetime.time"),
        ({1: [(time(9), time(12))]}, "weekday 0 \\(Monday\\) needs at least one window"),
    ],
)
def test_bad_windows(windows, message):
    with pytest.raises(WorkTimeError, match=message):
        WorkCalendar(windows=windows)


def test_touching_windows_and_unknown_tz():
    cal = WorkCalendar(windows={0: [(time(8), time(12)), (time(12), time(13))]})
    assert cal.day_minutes == 300.0
    with pytest.raises(WorkTimeError, match="unknown time zone 'Mars/Olympus'"):
        WorkCalendar(tz="Mars/Olympus")


@pytest.mark.parametrize("days_off", [900, 5000])
def test_calendar_without_work_fails_instead_of_looping(days_off):
    # 900: work resumes in 2028, but a 400-day gap is a configuration error all the same.
    # 5000: the search itself must stop rather than scan ahead for years.
    cal = WorkCalendar(holidays=[date(2026, 1, 1) + timedelta(i) for i in range(days_off)])
    with pytest.raises(WorkTimeError, match="no working time in the 400 days from 2026-01-02"):
        cal.add_working_minutes(at(2026, 1, 1, 9), 1)
    assert cal.working_minutes_between(at(2026, 1, 1), at(2027, 1, 1)) == 0.0


def test_unreachable_limit_fails_fast():
    with pytest.raises(WorkTimeError, match="beyond 36600 days ahead"):
        PLAIN.add_working_minutes(at(2026, 3, 3, 9), 1e9)


def test_shared_calendar_is_consistent_across_threads():
    from concurrent.futures import ThreadPoolExecutor

    cal = WorkCalendar()
    starts = [at(2026, 1, 5, 9) + timedelta(days=37 * i, minutes=13 * i) for i in range(-40, 40)]

    def check(start: datetime) -> bool:
        end = cal.add_working_minutes(start, 6750)
        return abs(cal.working_minutes_between(start, end) - 6750) < 1e-6

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(check, starts))


def test_other_time_zone_calendar():
    berlin = ZoneInfo("Europe/Berlin")
    cal = WorkCalendar(windows={0: [(time(9), time(17))], 6: [(time(1), time(4))]}, tz="Europe/Berlin")
    # 2026-03-29 is the Sunday clocks go 02:00 → 03:00: the 01:00-04:00 window lasts 2 real hours.
    assert cal.working_minutes_between(datetime(2026, 3, 29, tzinfo=berlin),
                                       datetime(2026, 3, 30, tzinfo=berlin)) == 120.0
    end = cal.add_working_minutes(datetime(2026, 3, 29, 0, 30, tzinfo=berlin), 90)
    assert end == datetime(2026, 3, 29, 3, 30, tzinfo=berlin)


# -- CSV loader -------------------------------------------------------------------------------

HEADER = "date,kind,name,source,confidence\n"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("2026-13-01,holiday,x,s,c\n", "line 2: date '2026-13-01' is not an ISO date"),
        ("2026-1-1,holiday,x,s,c\n", "line 2: date '2026-1-1' is not an ISO date"),
        ("2026-01-01,off,x,s,c\n", "line 2: kind 'off' is not one of holiday, workday"),
        ("2026-01-01,holiday,x,s,c\n2026-01-01,holiday,y,s,c\n", "line 3: date 2026-01-01 already listed on line 2"),
        ("2026-01-01,holiday,,s,c\n", "line 2: empty or missing field 'name'"),
        ("2026-01-01,holiday,x,s\n", "line 2: empty or missing field 'confidence'"),
        ("2026-01-01,holiday,x,s,c,extra\n", "line 2: too many fields"),
        ("2026-01-05,workday,x,s,c\n", "line 2: make-up workday 2026-01-05 is a Monday"),
    ],
)
def test_csv_loader_errors(tmp_path, body, message):
    path = tmp_path / "cal.csv"
    path.write_text(HEADER + body, encoding="utf-8")
    with pytest.raises(WorkTimeError, match=message):
        load_calendar_csv(path)


def test_csv_loader_missing_column(tmp_path):
    path = tmp_path / "cal.csv"
    path.write_text("date,kind,name\n2026-01-01,holiday,x\n", encoding="utf-8")
    with pytest.raises(WorkTimeError, match="missing column\\(s\\) source, confidence"):
        load_calendar_csv(path)


def test_csv_loader_reads_a_small_table(tmp_path):
    path = tmp_path / "cal.csv"
    path.write_text(HEADER + "2026-01-01,holiday,元旦,s,c\n2026-01-04,workday,调休,s,c\n", encoding="utf-8")
    assert load_calendar_csv(path) == ({date(2026, 1, 1)}, {date(2026, 1, 4)})


# -- round trip -------------------------------------------------------------------------------


@pytest.mark.parametrize("weekend_work", [False, True])
def test_round_trip_add_then_measure(cn, weekend_work):
    cal = cn.with_weekend_work(weekend_work)
    rng = random.Random(20260214 + weekend_work)
    base = at(2025, 12, 1)
    for _ in range(400):
        start = base + timedelta(seconds=rng.randrange(0, 500 * 86400), microseconds=rng.randrange(10**6))
        minutes = rng.choice([rng.uniform(0, 60), rng.uniform(0, 3000), rng.uniform(0, 100_000),
                              float(rng.randrange(0, 5000))])
        end = cal.add_working_minutes(start, minutes)
        assert end >= start
        assert abs(cal.working_minutes_between(start, end) - minutes) < 1e-6
        if minutes > 0:
            # The result is the earliest such instant: one microsecond earlier is not enough.
            assert cal.working_minutes_between(start, end - timedelta(microseconds=1)) < minutes
