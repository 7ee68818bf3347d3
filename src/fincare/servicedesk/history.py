"""A historical ticket as an import reads it, whatever the source's layout: the validated row and
the date rules the layouts share (`servicedesk.importer`, `servicedesk.cfpb`)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo

from fincare.platform import clock
from fincare.platform.config import get_settings
from fincare.platform.errors import Invalid, Message
from fincare.servicedesk.models import Channel, Outcome, Priority, RiskGrade, TicketKind
from fincare.servicedesk.service.intake import EARLIEST_RECEIVED

# whether the institution answered in time, as a source says it
TIMELY = {"yes": True, "no": False, "": None}


@dataclass
class Historical:
    """One validated row, ready to write."""

    line: int
    external_id: str
    customer_external_id: str
    customer_branch: str | None  # for a customer this import creates (CFPB: the State)
    kind: TicketKind
    channel: Channel
    subject: str
    description: str
    received_at: datetime
    risk_grade: RiskGrade | None
    priority: Priority
    codes: tuple[str | None, str | None, str | None]
    timely: bool | None
    outcome: Outcome | None
    closed_at: datetime | None
    reply: str
    event_at: datetime
    event_detail: dict[str, Any] = field(default_factory=dict)
    answered: bool = True  # False: closed without the institution ever answering (CFPB "Untimely response")


_YMD = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T ].*)?$")
_MDY = re.compile(r"^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4}|\d{2})$")


def parse_day(text: str, column: str) -> date:
    """`2020/3/18`, `2020-03-18`, `2020-03-18T00:00:00`, `03/18/2020`, `3/18/20` (US order; 20xx)."""
    value = text.strip()
    try:
        if m := _YMD.match(value):
            day = date(int(m[1]), int(m[2]), int(m[3]))
        elif m := _MDY.match(value):
            year = int(m[3]) + (2000 if len(m[3]) == 2 else 0)
            day = date(year, int(m[1]), int(m[2]))
        else:
            raise ValueError
    except ValueError:
        raise Invalid("not a date (2020/3/18, 2020-03-18, 03/18/2020 or 3/18/20)" if value else "required",
                      field=column) from None
    if not clock.in_years(day.year):  # a day of year 1 has no local midnight in UTC
        raise Invalid(Message("a date between the years {first} and {last}", first=clock.FIRST_YEAR,
                                     last=clock.LAST_YEAR), field=column)
    return day


def local_midnight(day: date) -> datetime:
    """00:00 of `day` on the institution's calendar, in UTC: when a dated paper record was received."""
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(get_settings().timezone)).astimezone(UTC)


def received_on(day: date, column: str, now: datetime) -> datetime:
    """The start of `day` as a receipt time; Invalid (naming `column`) if before 2000 or in the future."""
    moment = local_midnight(day)
    if moment < EARLIEST_RECEIVED:
        raise Invalid("no earlier than 2000-01-01", field=column)
    if moment > now:
        raise Invalid("cannot be in the future", field=column)
    return moment


def shorten(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one an ellipsis when something was cut."""
    return text if len(text) <= limit else text[:limit - 1] + "…"
