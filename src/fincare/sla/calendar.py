"""Business calendars: when the clock runs.

A 24×7 calendar counts every second. A business calendar counts the working hours of working
days in the institution's time zone: Monday to Friday 09:00–18:00 by default (lunch break
configurable), minus Chinese public holidays, plus the 调休 make-up workdays (a Saturday that is
worked counts), both from the State Council notices shipped in `chinese-calendar`; institution
overrides (a branch closed for a typhoon, an extra workday) win over both. Years the package does
not cover yet fall back to Monday–Friday until it is updated.

All arithmetic is exact to the microsecond and additive: ``add(add(t, a), b) == add(t, a + b)``
and ``between(t, add(t, d)) == d`` for any start t, which is what lets a pause extend a due time
by exactly the business time it lasted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

log = logging.getLogger(__name__)
DayKind = Literal["workday", "weekend", "holiday"]
ZERO = timedelta(0)
MAX_DAYS = 3660  # no SLA target spans ten years of working days; stops a runaway loop on bad input


@lru_cache(maxsize=4096)
def official_day_kind(day: date) -> DayKind:
    """"workday" (调休 Saturdays included), "holiday" (a public holiday) or "weekend" on the official
    calendar; in a year the State Council has not published yet, weekdays are workdays."""
    try:
        if chinese_calendar.is_workday(day):
            return "workday"
        _off, name = chinese_calendar.get_holiday_detail(day)
        return "holiday" if name else "weekend"
    except NotImplementedError:
        if day.year not in _unpublished_years:
            _unpublished_years.add(day.year)
            log.warning("chinese-calendar has no public holidays for %d: weekdays count as workdays until it is "
                        "updated; enter that year's holidays and make-up days as calendar overrides", day.year)
        return "workday" if day.weekday() < 5 else "weekend"


_unpublished_years: set[int] = set()  # warned of once per process


def _official_workday(day: date) -> bool:
    return official_day_kind(day) == "workday"


class Calendar:
    """Counts time towards a target. Times in and out are aware datetimes (returned in UTC)."""

    def add(self, start: datetime, duration: timedelta) -> datetime:
        raise NotImplementedError

    def between(self, start: datetime, end: datetime) -> timedelta:
        raise NotImplementedError


class AlwaysOn(Calendar):
    """24×7: every second counts (consultation first response, the statutory calendar days)."""

    name = "24x7"

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return (start + duration).astimezone(UTC)

    def between(self, start: datetime, end: datetime) -> timedelta:
        return max(end - start, ZERO)


@dataclass(frozen=True)
class BusinessHours(Calendar):
    """Working hours of working days in `timezone`, with an optional lunch break."""

    timezone: str = "Asia/Shanghai"
    opens: time = time(9)
    closes: time = time(18)
    lunch: tuple[time, time] | None = None
    overrides: Mapping[date, bool] = field(default_factory=dict)  # True: worked, False: closed
    name: str = "business"

    def __post_init__(self) -> None:
        if not self.opens < self.closes:
            raise ValueError("a business day must open before it closes")
        if self.lunch and not (self.opens <= self.lunch[0] < self.lunch[1] <= self.closes):
            raise ValueError("the lunch break must fall inside opening hours")

    def __hash__(self) -> int:
        return hash((self.timezone, self.opens, self.closes, self.lunch, tuple(sorted(self.overrides.items()))))

    def is_workday(self, day: date) -> bool:
        if day in self.overrides:
            return self.overrides[day]
        return _official_workday(day)

    def _windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The working intervals of one local day, as aware UTC datetimes."""
        if not self.is_workday(day):
            return []
        zone = ZoneInfo(self.timezone)
        spans = [(self.opens, self.lunch[0]), (self.lunch[1], self.closes)] if self.lunch else [
            (self.opens, self.closes)]
        return [(datetime.combine(day, a, zone).astimezone(UTC), datetime.combine(day, b, zone).astimezone(UTC))
                for a, b in spans if a < b]

    def _days_from(self, moment: datetime) -> Iterator[date]:
        day = moment.astimezone(ZoneInfo(self.timezone)).date()
        for offset in range(MAX_DAYS):
            yield day + timedelta(days=offset)

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment `duration` of working time after `start` (a start outside hours waits for opening)."""
        if duration < ZERO:
            raise ValueError("durations are never negative")
        start = start.astimezone(UTC)
        left = duration
        for day in self._days_from(start):
            for opens, closes in self._windows(day):
                if closes <= start:
                    continue
                begin = max(opens, start)
                if left == ZERO:
                    return begin
                available = closes - begin
                if left <= available:
                    return begin + left
                left -= available
        raise ValueError("the target does not fit in ten years of working days")

    def between(self, start: datetime, end: datetime) -> timedelta:
        """Working time from `start` to `end` (zero if `end` is not after `start`)."""
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        if end <= start:
            return ZERO
        total = ZERO
        for day in self._days_from(start):
            windows = self._windows(day)
            for opens, closes in windows:
                if opens >= end:
                    return total
                lo, hi = max(opens, start), min(closes, end)
                if hi > lo:
                    total += hi - lo
            if datetime.combine(day + timedelta(days=1), time(0), ZoneInfo(self.timezone)) >= end:
                return total
        return total
