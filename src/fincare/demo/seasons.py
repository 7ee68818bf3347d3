"""When customers get in touch: busy Monday to Friday 09:00–18:00 with a lunch dip, lighter evenings
and weekends, quieter Chinese public holidays (a 调休 Saturday is worked like a weekday), and a
month-to-month drift; plus how busy the desk was each month, which moves handling times."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fincare.sla.calendar import official_day_kind

# relative contact volume per local hour, on a working day and on a day off
WORKDAY_HOURS = (0.05, 0.03, 0.02, 0.02, 0.03, 0.06, 0.15, 0.4, 0.9, 1.6, 1.8, 1.7, 0.9, 1.1, 1.6, 1.7, 1.6, 1.4,
                 1.0, 0.7, 0.6, 0.5, 0.3, 0.12)
DAY_OFF_HOURS = (0.05, 0.03, 0.02, 0.02, 0.02, 0.04, 0.1, 0.25, 0.5, 0.8, 0.9, 0.9, 0.7, 0.7, 0.8, 0.8, 0.75, 0.7,
                 0.6, 0.55, 0.5, 0.4, 0.25, 0.1)


DAY_WEIGHT = {"workday": 1.0, "weekend": 0.42, "holiday": 0.28}


def day_weight(day: date) -> float:
    """Relative volume of a local day; the mean over a year is about 0.8."""
    kind = official_day_kind(day)
    weight = DAY_WEIGHT[kind]
    if kind == "workday" and day.weekday() == 0:
        weight *= 1.12  # Monday catches up on the weekend
    # a gentle yearly drift: busier around the spring festival bills and at the end of the year
    return weight * (1 + 0.08 * math.cos(2 * math.pi * (day.timetuple().tm_yday - 20) / 365))


def count(rng: random.Random, expected: float) -> int:
    """A Poisson draw (normal approximation above 40)."""
    if expected <= 0:
        return 0
    if expected > 40:
        return max(0, round(rng.gauss(expected, math.sqrt(expected))))
    limit, k, p = math.exp(-expected), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def moment(rng: random.Random, day: date, zone: ZoneInfo) -> datetime:
    """A moment of the local `day` following the hour profile of its kind, as aware UTC."""
    hours = WORKDAY_HOURS if official_day_kind(day) == "workday" else DAY_OFF_HOURS
    hour = rng.choices(range(24), weights=hours)[0]
    local = datetime.combine(day, time(hour), zone) + timedelta(seconds=rng.randrange(3600))
    return local.astimezone(UTC)


def month_pressure(seed: int, year: int, month: int) -> float:
    """How stretched the desk was that month (about 0.8 to 1.3): handling times scale with it."""
    draw = random.Random(f"{seed}-pressure-{year}-{month}")
    share: float = draw.random() ** 1.5
    return 0.8 + 0.5 * share


def local_hour(moment_utc: datetime, zone: ZoneInfo) -> tuple[int, str]:
    """The local hour and the kind of day of a moment."""
    local = moment_utc.astimezone(zone)
    return local.hour, official_day_kind(local.date())
