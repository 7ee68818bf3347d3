"""Calendar arithmetic: properties for any start and duration, and the 2026 holidays worked by hand."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fincare.sla import calendar
from fincare.sla.calendar import AlwaysOn, BusinessHours

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLAIN = BusinessHours()
WITH_LUNCH = BusinessHours(lunch=(time(12), time(13, 30)))

moments = st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2026, 12, 20),
                       timezones=st.just(UTC))
durations = st.timedeltas(min_value=timedelta(0), max_value=timedelta(hours=200))
calendars = st.sampled_from([PLAIN, WITH_LUNCH])


@settings(max_examples=150, deadline=None)
@given(calendars, moments, moments, durations)
def test_the_due_time_never_moves_earlier_when_the_start_moves_later(calendar, a, b, duration) -> None:  # type: ignore[no-untyped-def]
    early, late = sorted((a, b))
    assert calendar.add(early, duration) <= calendar.add(late, duration)


@settings(max_examples=150, deadline=None)
@given(calendars, moments, durations)
def test_the_time_between_a_start_and_its_due_time_is_the_duration(calendar, start, duration) -> None:  # type: ignore[no-untyped-def]
    assert calendar.between(start, calendar.add(start, duration)) == duration


@settings(max_examples=150, deadline=None)
@given(calendars, moments, durations, moments, moments)
def test_a_pause_extends_the_due_time_by_exactly_its_business_duration(calendar, start, budget, p1, p2) -> None:  # type: ignore[no-untyped-def]
    pause_start, pause_end = sorted((p1, p2))
    paused = calendar.between(pause_start, pause_end)
    due = calendar.add(start, budget)
    extended = calendar.add(start, budget + paused)
    assert calendar.between(due, extended) == paused
    assert extended >= due


@settings(max_examples=100, deadline=None)
@given(moments, durations)
def test_due_times_fall_inside_working_hours_of_working_days(start, duration) -> None:  # type: ignore[no-untyped-def]
    due = PLAIN.add(start, duration + timedelta(seconds=1)).astimezone(SHANGHAI)
    assert PLAIN.is_workday(due.date())
    assert time(9) < due.time() <= time(18)


@given(moments, durations)
def test_around_the_clock_counts_every_second(start, duration) -> None:  # type: ignore[no-untyped-def]
    assert AlwaysOn().add(start, duration) == start + duration


@pytest.mark.parametrize("holiday", [date(2026, 1, 1), date(2026, 2, 16), date(2026, 5, 1), date(2026, 10, 5)])
def test_public_holidays_are_skipped(holiday: date) -> None:
    morning = datetime.combine(holiday, time(10), SHANGHAI)
    assert PLAIN.between(morning, morning + timedelta(hours=6)) == timedelta(0)


@pytest.mark.parametrize("make_up_day", [date(2026, 2, 14), date(2026, 2, 28), date(2026, 9, 20), date(2026, 10, 10)])
def test_make_up_workdays_on_weekends_count(make_up_day: date) -> None:
    assert make_up_day.weekday() >= 5
    morning = datetime.combine(make_up_day, time(9), SHANGHAI)
    assert PLAIN.between(morning, morning + timedelta(hours=9)) == timedelta(hours=9)


def test_spring_festival_2026_worked_by_hand() -> None:
    # Received Fri 13 Feb 16:00; 24 business hours: Fri 2 h, Sat 14 Feb (调休) 9 h, holiday 15–23 Feb,
    # Tue 24 Feb 9 h, so 4 h on Wed 25 Feb: due 13:00.
    due = PLAIN.add(datetime(2026, 2, 13, 16, tzinfo=SHANGHAI), timedelta(hours=24))
    assert due == datetime(2026, 2, 25, 13, tzinfo=SHANGHAI)


def test_national_day_2026_worked_by_hand() -> None:
    # Received Wed 30 Sep 10:00; 48 business hours: Wed 8 h, holiday 1–7 Oct, Thu 8 Oct 9 h, Fri 9 h,
    # Sat 10 Oct (调休) 9 h, Sun off, Mon 12 Oct 9 h (44 h), 4 h on Tue 13 Oct: due 13:00.
    due = PLAIN.add(datetime(2026, 9, 30, 10, tzinfo=SHANGHAI), timedelta(hours=48))
    assert due == datetime(2026, 10, 13, 13, tzinfo=SHANGHAI)


def test_the_lunch_break_does_not_count() -> None:
    start = datetime(2026, 3, 2, 11, tzinfo=SHANGHAI)  # a Monday
    assert WITH_LUNCH.add(start, timedelta(hours=2)) == datetime(2026, 3, 2, 14, 30, tzinfo=SHANGHAI)


def test_institution_overrides_win() -> None:
    typhoon = BusinessHours(overrides={date(2026, 3, 3): False, date(2026, 3, 7): True})
    assert typhoon.add(datetime(2026, 3, 2, 17, tzinfo=SHANGHAI), timedelta(hours=2)) == datetime(
        2026, 3, 4, 10, tzinfo=SHANGHAI)
    saturday = datetime(2026, 3, 7, 9, tzinfo=SHANGHAI)
    assert typhoon.between(saturday, saturday + timedelta(hours=3)) == timedelta(hours=3)


def test_a_year_the_state_council_has_not_published_counts_weekdays_and_says_so(
        caplog: pytest.LogCaptureFixture) -> None:
    calendar.official_day_kind.cache_clear()
    calendar._unpublished_years.discard(2033)  # another test may have met 2033 first
    with caplog.at_level(logging.WARNING, logger="fincare.sla.calendar"):
        days = [calendar.official_day_kind(date(2033, 1, d)) for d in (3, 4, 8)]  # Mon, Tue, Sat
    assert days == ["workday", "workday", "weekend"]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "2033" in warnings[0] and "overrides" in warnings[0]
