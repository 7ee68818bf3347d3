"""The one source of "now" (aware UTC), which tests may freeze or move."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

_frozen: datetime | None = None
# The years a date or time FinCare takes in may fall in: wide enough for any record and any query
# over them, narrow enough that UTC holds every moment of them and days added to one (a deadline, a
# period's end) stay valid dates — a moment of year 1 east of UTC, or of 9999 west of it, has none.
FIRST_YEAR, LAST_YEAR = 1900, 2999
YEARS = f"between the years {FIRST_YEAR} and {LAST_YEAR}"


def in_years(year: int) -> bool:
    """Whether `year` is one FinCare takes dates in (`FIRST_YEAR`..`LAST_YEAR`)."""
    return FIRST_YEAR <= year <= LAST_YEAR


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def frozen(at: datetime) -> Iterator[FrozenClock]:
    """Freeze `now()` at `at` (aware) for the duration of the block."""
    global _frozen
    if at.tzinfo is None:
        raise ValueError("frozen time must be timezone-aware")
    previous, _frozen = _frozen, at.astimezone(UTC)
    try:
        yield FrozenClock()
    finally:
        _frozen = previous


class FrozenClock:
    """Handle on a frozen clock: move it forward."""

    def advance(self, delta: timedelta) -> datetime:
        global _frozen
        assert _frozen is not None
        _frozen = _frozen + delta
        return _frozen

    def set(self, at: datetime) -> datetime:
        global _frozen
        _frozen = at.astimezone(UTC)
        return _frozen
