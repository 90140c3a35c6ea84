"""Behaviour of the pure business-hours engine in ``sla.calendar``.

Expected datetimes are worked out by hand (see the comments) and written as literals;
the engine is never used to compute its own expectations. Holiday facts were checked
against chinese_calendar 1.11.0:

* 2026 National Day: 10-01 (Thu) .. 10-07 (Wed) off; Sat 10-10 is a make-up working day.
* 2026 Spring Festival: 02-15 (Sun) .. 02-23 (Mon) off; Sat 02-14 and Sat 02-28 work.
* 2026 Qingming 04-04..06 and Labour Day 05-01..05 off; Sat 05-09 works.
* Data covers 2004-2026; 2027 raises NotImplementedError. 2027-01-01 is a Friday.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from sla.calendar import (
    BusinessCalendar,
    WorkingPeriod,
    add_working_time,
    always_open_calendar,
    cn_gov_calendar,
    is_working_day,
    is_working_time,
    next_working_instant,
    statutory_data_covers,
    working_minutes_between,
)

SH = ZoneInfo("Asia/Shanghai")
CN_GOV = cn_gov_calendar()
ALWAYS = always_open_calendar()


def at(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    """An aware Asia/Shanghai datetime, to keep expectations short and literal."""
    return datetime(year, month, day, hour, minute, second, us, tzinfo=SH)


def period(start: str, end: str) -> WorkingPeriod:
    return WorkingPeriod(time.fromisoformat(start), time.fromisoformat(end))


# --- ordinary working days (week of Mon 2026-03-09, no holidays) ---------------------


def test_deadline_within_one_period() -> None:
    # given a report on an ordinary Monday morning
    start = at(2026, 3, 9, 9, 0)
    # when a 60-minute target is applied
    deadline = add_working_time(start, 60, CN_GOV)
    # then the deadline is one wall-clock hour later
    assert deadline == at(2026, 3, 9, 10, 0)


def test_deadline_skips_lunch_break() -> None:
    # given 30 working minutes left before lunch (11:30-12:00)
    start = at(2026, 3, 9, 11, 30)
    # when 60 minutes are needed
    deadline = add_working_time(start, 60, CN_GOV)
    # then the other 30 minutes run from 14:00
    assert deadline == at(2026, 3, 9, 14, 30)


def test_deadline_can_fall_exactly_on_noon() -> None:
    # given exactly 30 minutes of morning left
    start = at(2026, 3, 9, 11, 30)
    # when the target is 30 minutes
    deadline = add_working_time(start, 30, CN_GOV)
    # then the deadline is the end of the morning, not the start of the afternoon
    assert deadline == at(2026, 3, 9, 12, 0)


def test_deadline_can_fall_exactly_on_closing_time() -> None:
    # given exactly 30 minutes of the afternoon left
    start = at(2026, 3, 9, 17, 0)
    # when the target is 30 minutes
    deadline = add_working_time(start, 30, CN_GOV)
    # then the deadline is 17:30 the same day, not 08:30 the next morning
    assert deadline == at(2026, 3, 9, 17, 30)


def test_deadline_rolls_over_to_next_morning() -> None:
    # given 30 minutes left on Monday (17:00-17:30)
    start = at(2026, 3, 9, 17, 0)
    # when 60 minutes are needed
    deadline = add_working_time(start, 60, CN_GOV)
    # then the remaining 30 minutes run from Tuesday 08:30
    assert deadline == at(2026, 3, 10, 9, 0)


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(at(2026, 3, 9, 22, 0), at(2026, 3, 10, 9, 0), id="late-evening"),
        pytest.param(at(2026, 3, 10, 3, 0), at(2026, 3, 10, 9, 0), id="small-hours"),
        pytest.param(at(2026, 3, 9, 17, 30), at(2026, 3, 10, 9, 0), id="exactly-closing"),
    ],
)
def test_report_at_night_starts_counting_next_morning(start: datetime, expected: datetime) -> None:
    # given a report outside office hours
    # when a 30-minute target is applied
    deadline = add_working_time(start, 30, CN_GOV)
    # then counting starts at 08:30 of the next working morning
    assert deadline == expected


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(at(2026, 3, 9, 12, 0), id="noon"),
        pytest.param(at(2026, 3, 9, 12, 30), id="mid-lunch"),
        pytest.param(at(2026, 3, 9, 13, 59, 59), id="just-before-14"),
    ],
)
def test_report_during_lunch_starts_counting_in_afternoon(start: datetime) -> None:
    # given a report during the lunch break
    # when a 30-minute target is applied
    deadline = add_working_time(start, 30, CN_GOV)
    # then counting starts at 14:00
    assert deadline == at(2026, 3, 9, 14, 30)


@pytest.mark.parametrize(
    "start",
    [
        pytest.param(at(2026, 3, 13, 17, 45), id="friday-evening"),
        pytest.param(at(2026, 3, 14, 10, 0), id="saturday"),
        pytest.param(at(2026, 3, 15, 23, 59), id="sunday-night"),
    ],
)
def test_report_on_weekend_starts_counting_monday(start: datetime) -> None:
    # given a report after Friday's close or during the weekend
    # when a 30-minute target is applied
    deadline = add_working_time(start, 30, CN_GOV)
    # then counting starts Monday 2026-03-16 08:30
    assert deadline == at(2026, 3, 16, 9, 0)


def test_seconds_in_start_are_respected() -> None:
    # given a start with seconds
    start = at(2026, 3, 9, 8, 45, 30)
    # when 30 minutes are added
    deadline = add_working_time(start, 30, CN_GOV)
    # then the seconds carry over
    assert deadline == at(2026, 3, 9, 9, 15, 30)


def test_microseconds_carry_over_across_lunch() -> None:
    # given 11:45:30.25, leaving 14 min 29.75 s of morning
    start = at(2026, 3, 9, 11, 45, 30, 250_000)
    # when 30 minutes are added
    deadline = add_working_time(start, 30, CN_GOV)
    # then the remaining 15 min 30.25 s run from 14:00
    assert deadline == at(2026, 3, 9, 14, 15, 30, 250_000)


def test_fractional_minutes_are_supported() -> None:
    # given a start inside working time
    # when half a minute is added
    deadline = add_working_time(at(2026, 3, 9, 9, 0), 0.5, CN_GOV)
    # then the deadline is 30 seconds later
    assert deadline == at(2026, 3, 9, 9, 0, 30)


def test_ten_working_days_span_two_weeks() -> None:
    # given Monday 08:30 and 10 working days (10 x 420 = 4200 minutes)
    # when the target is applied
    deadline = add_working_time(at(2026, 3, 9, 8, 30), 4200, CN_GOV)
    # then it ends at the close of the second Friday
    assert deadline == at(2026, 3, 20, 17, 30)


def test_fifty_working_days_cross_qingming_and_labour_day() -> None:
    # given Monday 2026-03-02 08:30 and 50 working days (21000 minutes)
    # March 2-31: 22 days; April 1-3: 25; Apr 6 off (Qingming); Apr 7-10: 29;
    # Apr 13-17: 34; Apr 20-24: 39; Apr 27-30: 43; May 1-5 off (Labour Day);
    # May 6-8: 46; Sat May 9 make-up: 47; May 11-13: 50.
    # when the target is applied
    deadline = add_working_time(at(2026, 3, 2, 8, 30), 21000, CN_GOV)
    # then it ends at the close of Wednesday 2026-05-13
    assert deadline == at(2026, 5, 13, 17, 30)


# --- zero minutes and next working instant --------------------------------------------


def test_zero_minutes_inside_working_time_returns_start() -> None:
    # given a start inside working time
    start = at(2026, 3, 9, 10, 15, 7)
    # when zero minutes are added
    # then the start itself is the deadline
    assert add_working_time(start, 0, CN_GOV) == start


@pytest.mark.parametrize(
    ("start", "expected"),
    [
        pytest.param(at(2026, 3, 9, 12, 0), at(2026, 3, 9, 14, 0), id="period-end"),
        pytest.param(at(2026, 3, 14, 9, 0), at(2026, 3, 16, 8, 30), id="saturday"),
        pytest.param(at(2026, 9, 30, 17, 30), at(2026, 10, 8, 8, 30), id="before-national-day"),
    ],
)
def test_zero_minutes_outside_working_time_returns_next_period_start(
    start: datetime, expected: datetime
) -> None:
    # given a start outside working time
    # when zero minutes are added
    # then the deadline is the next working instant
    assert add_working_time(start, 0, CN_GOV) == expected
    assert next_working_instant(start, CN_GOV) == expected


def test_next_working_instant_inside_working_time_is_unchanged() -> None:
    # given a working instant
    moment = at(2026, 3, 9, 8, 30)
    # when asking for the next working instant
    # then it is the same instant
    assert next_working_instant(moment, CN_GOV) == moment


# --- time zones and input validation --------------------------------------------------


def test_input_in_another_zone_is_converted_to_calendar_zone() -> None:
    # given 01:00 UTC, which is 09:00 in Shanghai
    start = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    # when 30 minutes are added
    deadline = add_working_time(start, 30, CN_GOV)
    # then the deadline is 09:30 Shanghai time, expressed in the calendar zone
    assert deadline == at(2026, 3, 9, 9, 30)
    assert deadline.tzinfo == SH
    assert deadline.utcoffset() == timedelta(hours=8)


def test_calendar_zone_decides_the_local_date() -> None:
    # given Sunday 20:00 in New York, already Monday 09:00 in Shanghai (EDT, UTC-4)
    start = datetime(2026, 3, 15, 21, 0, tzinfo=ZoneInfo("America/New_York"))
    # when 30 minutes are added
    deadline = add_working_time(start, 30, CN_GOV)
    # then Shanghai's Monday hours apply
    assert deadline == at(2026, 3, 16, 9, 30)


NAIVE = at(2026, 3, 9, 9, 0).replace(tzinfo=None)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda: add_working_time(NAIVE, 30, CN_GOV), id="add_working_time"),
        pytest.param(
            lambda: working_minutes_between(NAIVE, at(2026, 3, 10), CN_GOV), id="between-start"
        ),
        pytest.param(
            lambda: working_minutes_between(at(2026, 3, 8), NAIVE, CN_GOV), id="between-end"
        ),
        pytest.param(lambda: is_working_time(NAIVE, CN_GOV), id="is_working_time"),
        pytest.param(lambda: next_working_instant(NAIVE, CN_GOV), id="next_working_instant"),
        pytest.param(lambda: add_working_time(NAIVE, 30, ALWAYS), id="always-open"),
    ],
)
def test_naive_datetime_rejected(call: Callable[[], object]) -> None:
    # given a naive datetime, whose zone would have to be guessed
    # when it is passed to the engine
    # then it is rejected
    with pytest.raises(ValueError, match="timezone-aware"):
        call()


@pytest.mark.parametrize("minutes", [-1, -0.5, float("nan"), float("inf")])
def test_negative_or_non_finite_minutes_rejected(minutes: float) -> None:
    # given an impossible amount of working time
    # when it is added
    # then it is rejected rather than producing a past or endless deadline
    with pytest.raises(ValueError, match="minutes"):
        add_working_time(at(2026, 3, 9, 9, 0), minutes, CN_GOV)


def test_is_working_day_rejects_datetime() -> None:
    # given a datetime, whose calendar date depends on the zone
    # when asked whether it is a working day
    # then the ambiguity is refused
    with pytest.raises(TypeError):
        is_working_day(at(2026, 3, 9, 9, 0), CN_GOV)


# --- is_working_time / is_working_day -------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(at(2026, 3, 9, 8, 29, 59), False, id="before-opening"),
        pytest.param(at(2026, 3, 9, 8, 30), True, id="opening"),
        pytest.param(at(2026, 3, 9, 11, 59, 59), True, id="last-morning-second"),
        pytest.param(at(2026, 3, 9, 12, 0), False, id="noon"),
        pytest.param(at(2026, 3, 9, 13, 59, 59), False, id="lunch"),
        pytest.param(at(2026, 3, 9, 14, 0), True, id="afternoon-start"),
        pytest.param(at(2026, 3, 9, 17, 29, 59), True, id="last-second"),
        pytest.param(at(2026, 3, 9, 17, 30), False, id="closing"),
        pytest.param(at(2026, 3, 14, 10, 0), False, id="ordinary-saturday"),
        pytest.param(at(2026, 10, 1, 10, 0), False, id="national-day"),
        pytest.param(at(2026, 10, 10, 10, 0), True, id="makeup-saturday"),
    ],
)
def test_is_working_time_uses_half_open_periods(moment: datetime, expected: bool) -> None:
    # given an instant around period boundaries, weekends and holidays
    # when asked whether it is working time
    # then period starts count and period ends do not
    assert is_working_time(moment, CN_GOV) is expected


# --- Chinese statutory holidays and make-up days --------------------------------------


@pytest.mark.parametrize("day", [date(2026, 10, d) for d in range(1, 8)])
def test_national_day_week_is_not_working(day: date) -> None:
    # given a day of the 2026 National Day holiday
    # when asked whether it is a working day
    # then it is not, weekdays included
    assert is_working_day(day, CN_GOV) is False


def test_deadline_skips_national_day_holiday() -> None:
    # given 30 minutes left on Wed 2026-09-30 before the holiday
    start = at(2026, 9, 30, 17, 0)
    # when 60 minutes are needed
    deadline = add_working_time(start, 60, CN_GOV)
    # then the rest runs on Thu 2026-10-08, the first day back
    assert deadline == at(2026, 10, 8, 9, 0)


def test_2100_minutes_across_national_day_week() -> None:
    # given Monday 2026-09-28 08:30 and 5 working days (2100 minutes)
    # Sep 28, 29, 30 work; Oct 1-7 off; Oct 8 and 9 complete the five days.
    # when the target is applied
    deadline = add_working_time(at(2026, 9, 28, 8, 30), 2100, CN_GOV)
    # then it ends at the close of Friday 2026-10-09
    assert deadline == at(2026, 10, 9, 17, 30)


def test_2100_minutes_across_holiday_and_makeup_saturday() -> None:
    # given Wed 2026-09-30 10:00: 330 minutes that day, 1770 left
    # Oct 8: 1350 left; Oct 9: 930; Sat Oct 10 (make-up): 510; Sun Oct 11 off;
    # Mon Oct 12: 90; Tue Oct 13 08:30 + 90 minutes = 10:00.
    # when 2100 minutes are applied
    deadline = add_working_time(at(2026, 9, 30, 10, 0), 2100, CN_GOV)
    # then the deadline is Tuesday 10:00
    assert deadline == at(2026, 10, 13, 10, 0)


def test_makeup_saturday_counts_as_working_day() -> None:
    # given Friday 2026-10-09 with 30 minutes left, followed by make-up Saturday 10-10
    # when 60 minutes are needed
    deadline = add_working_time(at(2026, 10, 9, 17, 0), 60, CN_GOV)
    # then the deadline falls on the Saturday morning
    assert is_working_day(date(2026, 10, 10), CN_GOV) is True
    assert deadline == at(2026, 10, 10, 9, 0)


def test_makeup_saturday_uses_standard_day_hours_with_lunch() -> None:
    # given a report on make-up Saturday at 11:30
    # when 60 minutes are needed
    deadline = add_working_time(at(2026, 10, 10, 11, 30), 60, CN_GOV)
    # then Monday's hours apply, lunch break included
    assert deadline == at(2026, 10, 10, 14, 30)


def test_ordinary_sunday_is_not_working_day() -> None:
    # given make-up Saturday 2026-10-10 closing, then an ordinary Sunday
    # when 60 minutes are needed from 17:00, 30 minutes before the close
    deadline = add_working_time(at(2026, 10, 10, 17, 0), 60, CN_GOV)
    # then Sunday is skipped and the rest runs on Monday 10-12
    assert is_working_day(date(2026, 10, 11), CN_GOV) is False
    assert is_working_day(date(2026, 3, 15), CN_GOV) is False
    assert deadline == at(2026, 10, 12, 9, 0)


def test_deadline_skips_spring_festival() -> None:
    # given make-up Saturday 2026-02-14 at 17:00, then Feb 15-23 off
    # when 60 minutes are needed
    deadline = add_working_time(at(2026, 2, 14, 17, 0), 60, CN_GOV)
    # then the rest runs on Tuesday 2026-02-24
    assert deadline == at(2026, 2, 24, 9, 0)


def test_spring_festival_makeup_saturday_is_working() -> None:
    # given Friday 2026-02-13 with 30 minutes left
    # when 60 minutes are needed
    deadline = add_working_time(at(2026, 2, 13, 17, 0), 60, CN_GOV)
    # then make-up Saturday 02-14 absorbs the rest
    assert deadline == at(2026, 2, 14, 9, 0)
    assert is_working_day(date(2026, 2, 28), CN_GOV) is True


def test_statutory_holidays_can_be_disabled() -> None:
    # given a calendar ignoring statutory data
    calendar = cn_gov_calendar(use_statutory_holidays=False)
    # when National Day (a Thursday) and make-up Saturday are checked
    # then only the weekday rule applies
    assert is_working_day(date(2026, 10, 1), calendar) is True
    assert is_working_day(date(2026, 10, 10), calendar) is False


# --- overrides --------------------------------------------------------------------------


def test_extra_holiday_is_skipped() -> None:
    # given Tuesday 2026-03-10 declared a holiday
    calendar = cn_gov_calendar(extra_holidays=frozenset({date(2026, 3, 10)}))
    # when 60 minutes are needed from Monday 17:00
    deadline = add_working_time(at(2026, 3, 9, 17, 0), 60, calendar)
    # then the rest runs on Wednesday
    assert deadline == at(2026, 3, 11, 9, 0)


def test_extra_workday_turns_ordinary_saturday_into_working_day() -> None:
    # given ordinary Saturday 2026-03-14 declared a make-up working day
    calendar = cn_gov_calendar(extra_workdays=frozenset({date(2026, 3, 14)}))
    # when 60 minutes are needed from Friday 17:00
    deadline = add_working_time(at(2026, 3, 13, 17, 0), 60, calendar)
    # then the rest runs on Saturday with Monday's hours
    assert deadline == at(2026, 3, 14, 9, 0)


def test_removing_statutory_holiday_restores_weekday_hours() -> None:
    # given National Day Monday 2026-10-05 forced back to work
    calendar = cn_gov_calendar(extra_workdays=frozenset({date(2026, 10, 5)}))
    # when 60 minutes are needed from Wed 09-30 17:00
    deadline = add_working_time(at(2026, 9, 30, 17, 0), 60, calendar)
    # then Oct 1-4 are still skipped and the rest runs on Oct 5
    assert deadline == at(2026, 10, 5, 9, 0)


def test_extra_holiday_wins_over_statutory_makeup_day() -> None:
    # given make-up Saturday 2026-10-10 cancelled by an override
    calendar = cn_gov_calendar(extra_holidays=frozenset({date(2026, 10, 10)}))
    # when 60 minutes are needed from Friday 10-09 17:00
    deadline = add_working_time(at(2026, 10, 9, 17, 0), 60, calendar)
    # then Saturday and Sunday are skipped
    assert deadline == at(2026, 10, 12, 9, 0)


def test_holiday_override_wins_over_workday_override() -> None:
    # given the same date in both override sets
    day = date(2026, 3, 10)
    calendar = cn_gov_calendar(extra_holidays=frozenset({day}), extra_workdays=frozenset({day}))
    # when asked whether it is a working day
    # then the holiday wins
    assert is_working_day(day, calendar) is False


def test_explicit_makeup_day_periods_apply_on_makeup_days() -> None:
    # given make-up days that only work 09:00-12:00
    calendar = cn_gov_calendar(makeup_day_periods=(period("09:00", "12:00"),))
    # when 60 minutes are needed from Friday 2026-10-09 17:00
    deadline = add_working_time(at(2026, 10, 9, 17, 0), 60, calendar)
    # then the remaining 30 minutes start at 09:00 on make-up Saturday
    assert deadline == at(2026, 10, 10, 9, 30)


# --- years beyond the statutory data ----------------------------------------------------


@pytest.mark.parametrize(
    ("year", "covered"), [(2003, False), (2004, True), (2026, True), (2027, False), (9999, False)]
)
def test_statutory_data_covers_package_years(year: int, covered: bool) -> None:
    # given chinese_calendar 1.11 (data for 2004-2026)
    # when a year is probed
    # then coverage is reported without raising
    assert statutory_data_covers(year) is covered


def test_chinese_calendar_itself_raises_for_2027() -> None:
    # given the package has no 2027 data
    # when it is queried directly
    # then it raises, which is what the engine must shield callers from
    with pytest.raises(NotImplementedError):
        chinese_calendar.is_workday(date(2027, 1, 1))


def test_deadline_crosses_into_year_without_statutory_data() -> None:
    # given Thu 2026-12-31 17:00 with 30 minutes left, and no 2027 data
    # when 120 minutes are needed
    deadline = add_working_time(at(2026, 12, 31, 17, 0), 120, CN_GOV)
    # then the weekday rule makes Fri 2027-01-01 a working day: 08:30 + 90 = 10:00
    assert deadline == at(2027, 1, 1, 10, 0)
    assert is_working_day(date(2027, 1, 1), CN_GOV) is True
    assert is_working_day(date(2027, 1, 2), CN_GOV) is False


def test_extra_holiday_fills_gap_in_statutory_data() -> None:
    # given New Year 2027 entered manually
    calendar = cn_gov_calendar(extra_holidays=frozenset({date(2027, 1, 1)}))
    # when 120 minutes are needed from Thu 2026-12-31 17:00
    deadline = add_working_time(at(2026, 12, 31, 17, 0), 120, calendar)
    # then Friday and the weekend are skipped: Mon 2027-01-04 08:30 + 90 = 10:00
    assert deadline == at(2027, 1, 4, 10, 0)


def test_deadline_crosses_from_year_before_statutory_data() -> None:
    # given Wed 2003-12-31 17:00 (no data) and New Year 2004 (data: holiday)
    # when 60 minutes are needed
    deadline = add_working_time(at(2003, 12, 31, 17, 0), 60, CN_GOV)
    # then 2004-01-01 is skipped and the rest runs on Fri 2004-01-02
    assert deadline == at(2004, 1, 2, 9, 0)


# --- 24x7 -------------------------------------------------------------------------------


def test_always_open_counts_nights_weekends_and_holidays() -> None:
    # given a report at 23:30 on National Day Saturday
    # when 60 minutes are needed on the 24x7 calendar
    deadline = add_working_time(at(2026, 10, 3, 23, 30), 60, ALWAYS)
    # then the clock simply runs through midnight
    assert deadline == at(2026, 10, 4, 0, 30)


def test_always_open_every_instant_is_working() -> None:
    # given the 24x7 calendar
    # when holidays, weekends and nights are checked
    # then all of them are working time
    assert is_working_day(date(2026, 10, 1), ALWAYS) is True
    assert is_working_day(date(2027, 1, 2), ALWAYS) is True
    assert is_working_time(at(2026, 10, 4, 3, 0), ALWAYS) is True
    assert next_working_instant(at(2026, 10, 4, 3, 0), ALWAYS) == at(2026, 10, 4, 3, 0)


def test_always_open_minutes_between_is_elapsed_time() -> None:
    # given two days on the 24x7 calendar
    # when working minutes are measured
    # then they equal elapsed minutes (2 x 1440)
    assert working_minutes_between(at(2026, 10, 1), at(2026, 10, 3), ALWAYS) == 2880


# --- working_minutes_between -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        # 09:00-12:00 (180) + 14:00-15:00 (60)
        pytest.param(at(2026, 3, 9, 9, 0), at(2026, 3, 9, 15, 0), 240, id="across-lunch"),
        # Fri 17:00-17:30 (30) + Mon 08:30-09:00 (30)
        pytest.param(at(2026, 3, 13, 17, 0), at(2026, 3, 16, 9, 0), 60, id="across-weekend"),
        pytest.param(at(2026, 3, 9, 12, 15), at(2026, 3, 9, 13, 45), 0, id="inside-lunch"),
        # five full days of 420 minutes
        pytest.param(at(2026, 3, 9, 8, 30), at(2026, 3, 13, 17, 30), 2100, id="full-week"),
        # Sep 30 full day only; Oct 1-7 off; ends as Oct 8 opens
        pytest.param(at(2026, 9, 30, 8, 30), at(2026, 10, 8, 8, 30), 420, id="national-day"),
        # 30 s before 09:00 to 09:00
        pytest.param(at(2026, 3, 9, 8, 59, 30), at(2026, 3, 9, 9, 0), 0.5, id="seconds"),
        pytest.param(at(2026, 3, 9, 10, 0), at(2026, 3, 9, 10, 0), 0, id="empty"),
        pytest.param(at(2026, 3, 9, 11, 0), at(2026, 3, 9, 10, 0), 0, id="reversed"),
    ],
)
def test_working_minutes_between_counts_only_working_time(
    start: datetime, end: datetime, expected: float
) -> None:
    # given an interval
    # when its working minutes are measured
    minutes = working_minutes_between(start, end, CN_GOV)
    # then only time inside working periods counts
    assert minutes == expected


def test_working_minutes_between_accepts_mixed_zones() -> None:
    # given 09:00 Shanghai expressed in UTC and 10:00 Shanghai
    start = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)
    # when measured
    # then the instants, not the wall clocks, are compared
    assert working_minutes_between(start, at(2026, 3, 9, 10, 0), CN_GOV) == 60


ROUND_TRIP_STARTS = [
    at(2026, 3, 9, 8, 30),
    at(2026, 3, 9, 11, 59, 59, 999_999),
    at(2026, 3, 9, 12, 0),
    at(2026, 3, 13, 17, 29, 30),
    at(2026, 3, 14, 3, 0),
    at(2026, 9, 30, 16, 45, 12),
    at(2026, 10, 10, 13, 0),
    at(2026, 12, 31, 16, 0),
    at(2027, 6, 15, 7, 0),
]
ROUND_TRIP_MINUTES = [0, 1, 29.5, 30, 210, 420, 421, 2100, 10_000]


@pytest.mark.parametrize("minutes", ROUND_TRIP_MINUTES)
@pytest.mark.parametrize("start", ROUND_TRIP_STARTS, ids=lambda s: s.isoformat())
@pytest.mark.parametrize("calendar", [CN_GOV, ALWAYS], ids=["cn-gov", "24x7"])
def test_working_minutes_between_inverts_add_working_time(
    calendar: BusinessCalendar, start: datetime, minutes: float
) -> None:
    # given a deadline computed from a start
    deadline = add_working_time(start, minutes, calendar)
    # when the working time between start and deadline is measured
    # then it is exactly the target, and the deadline is never before the start
    assert working_minutes_between(start, deadline, calendar) == minutes
    assert deadline >= start


# --- other calendar shapes ------------------------------------------------------------


def test_period_ending_at_midnight_runs_to_end_of_day() -> None:
    # given a night shift 22:00-24:00 every day
    calendar = BusinessCalendar(
        code="night",
        timezone="Asia/Shanghai",
        weekly_periods=dict.fromkeys(range(7), (period("22:00", "00:00"),)),
    )
    # when 60 minutes are needed from 23:30
    deadline = add_working_time(at(2026, 3, 9, 23, 30), 60, calendar)
    # then 30 minutes run until midnight and the rest the next night
    assert deadline == at(2026, 3, 10, 22, 30)
    assert is_working_time(at(2026, 3, 9, 23, 59, 59), calendar) is True


def test_touching_periods_form_one_stretch() -> None:
    # given 08:00-12:00 and 12:00-13:00 on Mondays
    calendar = BusinessCalendar(
        code="touch",
        timezone="Asia/Shanghai",
        weekly_periods={0: (period("12:00", "13:00"), period("08:00", "12:00"))},
    )
    # when noon is checked
    # then it is working time, the periods being contiguous
    assert is_working_time(at(2026, 3, 9, 12, 0), calendar) is True
    assert add_working_time(at(2026, 3, 9, 11, 30), 60, calendar) == at(2026, 3, 9, 12, 30)


def test_makeup_day_without_explicit_periods_uses_first_working_weekday() -> None:
    # given a Tuesday-only calendar and an extra working Saturday
    calendar = BusinessCalendar(
        code="tue",
        timezone="Asia/Shanghai",
        weekly_periods={1: (period("10:00", "11:00"),)},
        extra_workdays=frozenset({date(2026, 3, 14)}),
    )
    # when 30 minutes are needed from Saturday 00:00
    # then Tuesday's hours apply on that Saturday
    assert add_working_time(at(2026, 3, 14), 30, calendar) == at(2026, 3, 14, 10, 30)


# --- construction and immutability ----------------------------------------------------


@pytest.mark.parametrize(("start", "end"), [("12:00", "12:00"), ("14:00", "12:00")])
def test_period_with_start_not_before_end_rejected(start: str, end: str) -> None:
    # given a period that does not move forward
    # when it is built
    # then it is rejected
    with pytest.raises(ValueError, match="before end"):
        period(start, end)


def test_overlapping_periods_rejected() -> None:
    # given two overlapping periods on Monday
    periods = (period("08:00", "12:00"), period("11:00", "13:00"))
    # when a calendar is built
    # then it is rejected
    with pytest.raises(ValueError, match="overlapping"):
        BusinessCalendar(code="x", timezone="Asia/Shanghai", weekly_periods={0: periods})


def test_calendar_without_working_periods_rejected() -> None:
    # given a non-24x7 calendar with no periods at all
    # when it is built
    # then it is rejected instead of looping forever later
    with pytest.raises(ValueError, match="no working periods"):
        BusinessCalendar(code="x", timezone="Asia/Shanghai", weekly_periods={})


@pytest.mark.parametrize("weekday", [7, -1])
def test_invalid_weekday_rejected(weekday: int) -> None:
    # given a weekday key outside 0..6
    # when a calendar is built
    # then it is rejected
    with pytest.raises(ValueError, match="weekday"):
        BusinessCalendar(
            code="x",
            timezone="Asia/Shanghai",
            weekly_periods={weekday: (period("09:00", "10:00"),)},
        )


def test_unknown_timezone_rejected() -> None:
    # given a misspelt zone
    # when a calendar is built
    # then it is rejected
    with pytest.raises(ValueError, match="time zone"):
        cn_gov_calendar(timezone="Asia/Shangai")


def test_calendar_is_immutable_and_isolated_from_input() -> None:
    # given a calendar built from a mutable dict
    periods = {0: (period("09:00", "10:00"),)}
    calendar = BusinessCalendar(code="x", timezone="Asia/Shanghai", weekly_periods=periods)
    # when the dict is changed afterwards
    periods[1] = (period("09:00", "10:00"),)
    # then the calendar is unaffected and cannot be changed itself
    assert 1 not in calendar.weekly_periods
    with pytest.raises(dataclasses.FrozenInstanceError):
        calendar.code = "y"  # type: ignore[misc]
    with pytest.raises(TypeError):
        calendar.weekly_periods[1] = ()  # type: ignore[index]


def test_calendar_is_hashable_comparable_and_picklable() -> None:
    # given two independently built default calendars
    first, second = cn_gov_calendar(), cn_gov_calendar()
    # when compared, hashed and pickled
    restored = pickle.loads(pickle.dumps(first))
    # then they behave as values
    assert first == second
    assert hash(first) == hash(second)
    assert restored == first
    assert add_working_time(at(2026, 3, 9, 11, 30), 60, restored) == at(2026, 3, 9, 14, 30)


def _minutes_by_walking_every_day(start: datetime, end: datetime, calendar) -> float:
    """The definition, one day at a time: what the year prefix sums must reproduce."""
    lower, upper = start.timestamp(), end.timestamp()
    day = start.astimezone(calendar.tzinfo).date()
    total = 0.0
    while day <= end.astimezone(calendar.tzinfo).date():
        for period in calendar.periods_on(day):
            period_start = datetime.combine(day, period.start, tzinfo=calendar.tzinfo)
            period_end = period_start + period.duration
            overlap = min(period_end.timestamp(), upper) - max(period_start.timestamp(), lower)
            total += max(0.0, overlap)
        day += timedelta(days=1)
    return round(total / 60, 6)


@pytest.mark.parametrize("seed", range(5))
def test_long_intervals_count_the_same_minutes_as_walking_every_day(seed):
    import random

    calendar = cn_gov_calendar(extra_holidays={date(2025, 3, 3)}, extra_workdays={date(2024, 3, 2)})
    rng = random.Random(seed)
    for _ in range(40):
        start = datetime(2022, 1, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(2_000_000))
        end = start + timedelta(minutes=rng.randrange(2_000_000))

        minutes = working_minutes_between(start, end, calendar)

        assert round(minutes, 6) == _minutes_by_walking_every_day(start, end, calendar)
