"""Reporting periods in the institution's time zone: a month `2026-10`, a quarter `2026-Q3`, a half
`2026-H2`, a year `2026`, or a custom range `2026-10-01..2026-10-15` (both days included)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fincare.platform import clock
from fincare.platform.config import get_settings
from fincare.platform.errors import Invalid

# ASCII digits only: `\d` would take full-width and other scripts' digits into a label, and a label
# names its download file
_MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
_QUARTER = re.compile(r"^([0-9]{4})-Q([1-4])$")
_HALF = re.compile(r"^([0-9]{4})-H([12])$")
_YEAR = re.compile(r"^([0-9]{4})$")
_RANGE = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})\.\.([0-9]{4}-[0-9]{2}-[0-9]{2})$")
HELP = "a month 2026-10, a quarter 2026-Q3, a half 2026-H2, a year 2026, or 2026-10-01..2026-10-15"


@dataclass(frozen=True)
class Period:
    """[first, last] local days; `since`/`until` are the UTC instants bounding them (until exclusive)."""

    label: str
    kind: str  # month | quarter | half | year | range
    first: date
    last: date

    @property
    def since(self) -> datetime:
        return _start_of(self.first)

    @property
    def until(self) -> datetime:
        return _start_of(self.last + timedelta(days=1))

    def closed(self, now: datetime) -> bool:
        """Over: its figures no longer change except by correction."""
        return self.until <= now

    def previous(self, count: int = 1) -> Period:
        """The period of the same kind `count` before (months for ranges are not defined)."""
        if self.kind == "month":
            year, month = divmod(self.first.year * 12 + self.first.month - 1 - count, 12)
            return parse(f"{year}-{month + 1:02d}")
        if self.kind == "quarter":
            index = self.first.year * 4 + (self.first.month - 1) // 3 - count
            return parse(f"{index // 4}-Q{index % 4 + 1}")
        if self.kind == "half":
            index = self.first.year * 2 + (self.first.month - 1) // 6 - count
            return parse(f"{index // 2}-H{index % 2 + 1}")
        if self.kind == "year":
            return parse(str(self.first.year - count))
        length = (self.last - self.first).days + 1
        return Period(f"{self.first - timedelta(days=length * count)}..{self.last - timedelta(days=length * count)}",
                      "range", self.first - timedelta(days=length * count), self.last - timedelta(days=length * count))

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1


def _zone() -> ZoneInfo:
    return ZoneInfo(get_settings().timezone)


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_zone())


def _month_end(year: int, month: int) -> date:
    return date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)


def parse(text: str, *, field: str = "period") -> Period:
    """A period from its label; Invalid names `field` with the accepted forms."""
    value = (text or "").strip()
    try:
        period = _parse(value)
    except ValueError:
        period = None
    # its bounds are moments in UTC, a day past its end included: in the years FinCare takes dates in
    if period is None or not (clock.in_years(period.first.year) and clock.in_years(period.last.year)):
        raise Invalid(HELP, field=field)
    return period


def _parse(value: str) -> Period | None:
    """The period `value` spells, None if it spells none; ValueError for an impossible date."""
    if m := _MONTH.match(value):
        year, month = int(m[1]), int(m[2])
        return Period(value, "month", date(year, month, 1), _month_end(year, month))
    if m := _QUARTER.match(value):
        year, quarter = int(m[1]), int(m[2])
        return Period(value, "quarter", date(year, 3 * quarter - 2, 1), _month_end(year, 3 * quarter))
    if m := _HALF.match(value):
        year, half = int(m[1]), int(m[2])
        return Period(value, "half", date(year, 6 * half - 5, 1), _month_end(year, 6 * half))
    if m := _YEAR.match(value):
        year = int(m[1])
        return Period(value, "year", date(year, 1, 1), date(year, 12, 31))
    if m := _RANGE.match(value):
        first, last = date.fromisoformat(m[1]), date.fromisoformat(m[2])
        if last < first or (last - first).days > 366 * 5:
            return None
        return Period(value, "range", first, last)
    return None


def current_month(now: datetime) -> Period:
    local = now.astimezone(_zone())
    return parse(f"{local.year}-{local.month:02d}")


def last_month(now: datetime) -> Period:
    return current_month(now).previous()
